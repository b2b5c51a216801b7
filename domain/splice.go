package domain

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// Splice returns orig, the document old was parsed from, with the
// <interface> element of each NIC that differs between old and d replaced
// by d's ([NIC.Marshal], its lines indented like the element it replaces).
// Every other byte of orig is kept: the XML declaration, comments,
// processing instructions, quoting, namespace prefixes, the other
// elements and the unchanged interfaces. d must have the same NICs as old,
// in the same order (an update changes NICs, it does not add or remove
// them). When nothing differs, orig is returned unchanged.
func Splice(orig []byte, old, d *Domain) ([]byte, error) {
	if old == nil || d == nil || len(old.NICs) != len(d.NICs) {
		return nil, errors.New("domain: splice: the domains do not have the same NICs")
	}
	spans, err := interfaceSpans(orig)
	if err != nil {
		return nil, fmt.Errorf("domain: splice: %w", err)
	}
	if len(spans) != len(d.NICs) {
		return nil, fmt.Errorf("domain: splice: the document has %d <interface> elements, the domain %d NICs", len(spans), len(d.NICs))
	}
	var out bytes.Buffer
	copied := 0
	for i, n := range d.NICs {
		was, err := old.NICs[i].Marshal()
		if err != nil {
			return nil, fmt.Errorf("domain: splice: %w", err)
		}
		now, err := n.Marshal()
		if err != nil {
			return nil, fmt.Errorf("domain: splice: %w", err)
		}
		if bytes.Equal(was, now) {
			continue
		}
		sp := spans[i]
		out.Write(orig[copied:sp.start])
		out.Write(bytes.ReplaceAll(now, []byte("\n"), append([]byte("\n"), indentBefore(orig, sp.start)...)))
		copied = sp.end
	}
	if copied == 0 {
		return orig, nil
	}
	out.Write(orig[copied:])
	return out.Bytes(), nil
}

// span is the byte range of an element in a document.
type span struct{ start, end int }

// interfaceSpans returns the byte ranges of the <domain><devices><interface>
// elements, start tag to end tag, in document order.
func interfaceSpans(data []byte) ([]span, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	path := []string{"domain", "devices", "interface"}
	var stack []string
	var spans []span
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if err == io.EOF {
			return spans, nil
		}
		if err != nil {
			return nil, fmt.Errorf("malformed XML: %w", clipErr(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			if matchPath(stack, path) {
				spans = append(spans, span{start: before})
			}
		case xml.EndElement:
			if matchPath(stack, path) {
				spans[len(spans)-1].end = int(dec.InputOffset())
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// indentBefore returns the spaces and tabs between the start of the line
// holding offset at and at ("" when other text precedes it on the line).
func indentBefore(data []byte, at int) []byte {
	i := at
	for i > 0 && (data[i-1] == ' ' || data[i-1] == '\t') {
		i--
	}
	if i > 0 && data[i-1] != '\n' {
		return nil
	}
	return data[i:at]
}
