package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

// readFile reads an input file; failing is bad input.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError(err)
	}
	return b, nil
}

// readDomain reads and parses a <domain> file.
func readDomain(path string) (*domain.Domain, []byte, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	d, err := domain.ParseDomain(b, nil)
	if err != nil {
		return nil, nil, usageErrorf("%s: %w", path, err)
	}
	return d, b, nil
}

// checkUpdate checks, without QEMU, that the <interface> update in file
// path can apply to d live, with the library's checks.
func checkUpdate(d *domain.Domain, ifXML []byte, path string) error {
	return inFile(path, nicplug.CheckUpdate(d, ifXML, nil))
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

// writeFileAtomic replaces path with data, keeping its permissions.
func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp := path + ".nicplug-tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}
