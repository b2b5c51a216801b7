package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

// readFile reads an XML input file, at most domain.MaxDocumentSize bytes
// of it (a larger file, or /dev/zero, is refused after reading that much);
// failing is bad input. A FIFO nobody writes to reads as empty instead of
// blocking the command for good (see openInput).
func readFile(path string) ([]byte, error) {
	f, err := openInput(path)
	if err != nil {
		return nil, usageError(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, domain.MaxDocumentSize+1))
	if err != nil {
		return nil, usageError(err)
	}
	if len(b) > domain.MaxDocumentSize {
		return nil, usageErrorf("%s: larger than 1 MiB, the limit for XML files", path)
	}
	return b, nil
}

// readDomain reads and parses a <domain> file.
func readDomain(path string, opts *domain.ParseOptions) (*domain.Domain, []byte, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	d, err := domain.ParseDomain(b, opts)
	if err != nil {
		return nil, nil, usageErrorf("%s: %w", path, err)
	}
	return d, b, nil
}

// checkUpdate checks, without QEMU, that the <interface> update in file
// path can apply to d live, with the library's checks.
func checkUpdate(d *domain.Domain, ifXML []byte, path string, opts *domain.ParseOptions) error {
	return inFile(path, nicplug.CheckUpdate(d, ifXML, opts))
}

// inFile names the file that a library input error (nicplug.ErrBadInput)
// is about: "d.xml: domain: malformed XML …". Other errors pass unchanged.
func inFile(path string, err error) error {
	var ie *nicplug.InputError
	if !errors.As(err, &ie) {
		return err
	}
	return &fileError{path: path, err: ie}
}

// fileError is a library input error about a file.
type fileError struct {
	path string
	err  *nicplug.InputError
}

func (e *fileError) Error() string { return e.path + ": " + e.err.Err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// rootElement returns the name of the document's root element.
func rootElement(data []byte) (string, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return "", errors.New("no XML element")
		}
		if err != nil {
			return "", err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local, nil
		}
	}
}
