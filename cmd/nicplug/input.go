package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"

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

// readInterface reads and parses an <interface> file.
func readInterface(path string) (*domain.NIC, []byte, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	n, err := domain.ParseInterface(b, nil)
	if err != nil {
		return nil, nil, usageErrorf("%s: %w", path, err)
	}
	return n, b, nil
}

// checkUpdate checks, without QEMU, that update can apply to d live.
func checkUpdate(d *domain.Domain, update *domain.NIC, path string) error {
	if _, err := d.WithUpdate(update); err != nil {
		return usageErrorf("%s: %w", path, err)
	}
	return nil
}

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
