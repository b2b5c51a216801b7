package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

// readFile reads an XML input file, at most domain.MaxDocumentSize bytes
// of it (a larger file, or /dev/zero, is refused after reading that much);
// failing is bad input. A FIFO nobody writes to reads as empty instead of
// blocking the command for good (see openInput), and a pipe or FIFO whose
// writer does not write is read until ctx ends (--timeout, SIGINT): that
// error is not bad input but the command's timeout or interruption.
func readFile(ctx context.Context, path string) ([]byte, error) {
	f, err := openInput(path)
	if err != nil {
		return nil, usageError(err)
	}
	defer f.Close()
	// A pipe is read through Go's poller, which a deadline wakes; other
	// files (regular files, /dev/zero) take none and do not block.
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	b, err := io.ReadAll(io.LimitReader(f, domain.MaxDocumentSize+1))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("%s: reading: %w", path, cerr)
		}
		return nil, usageError(err)
	}
	if len(b) > domain.MaxDocumentSize {
		return nil, usageErrorf("%s: larger than 1 MiB, the limit for XML files", path)
	}
	return b, nil
}

// readDomain reads and parses a <domain> file.
func readDomain(ctx context.Context, path string, opts *domain.ParseOptions) (*domain.Domain, []byte, error) {
	b, err := readFile(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	d, err := domain.ParseDomain(b, opts)
	if err != nil {
		return nil, nil, usageErrorf("%s: %w", path, err)
	}
	return d, b, nil
}

// rereadDomain reads the DOMAIN.xml at path again, once the VM's lock is
// held, when it is a regular file (whose read never blocks): another
// command may have saved it while this one waited for the lock, and no
// command may plan from, or save over, a DOMAIN.xml read before another
// saved its own. A pipe or FIFO, read once, keeps before.
func rereadDomain(ctx context.Context, path string, before []byte) ([]byte, error) {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return before, nil
	}
	return readFile(ctx, path)
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

// liveInput is what a command on a running VM reads before it takes the
// VM's lock (see [connFlags.begin]), so that an input that never comes
// (a pipe nobody writes to) holds no lock: DOMAIN.xml and the
// <interface> update, both checked without QEMU. Under the lock,
// DOMAIN.xml is read again ([liveInput.reread]).
type liveInput struct {
	domPath, ifPath string
	dom             *domain.Domain // nil without --domain
	domXML, ifXML   []byte
}

// reread reads DOMAIN.xml again under the VM's lock (see [rereadDomain])
// and, when another command changed it meanwhile, checks the update
// against what it says now.
func (in *liveInput) reread(ctx context.Context, cf *connFlags) error {
	if in.domPath == "" {
		return nil
	}
	b, err := rereadDomain(ctx, in.domPath, in.domXML)
	if err != nil || bytes.Equal(b, in.domXML) {
		return err
	}
	d, err := domain.ParseDomain(b, cf.nets.opts)
	if err != nil {
		return usageErrorf("%s: %w", in.domPath, err)
	}
	in.dom, in.domXML = d, b
	if in.ifPath == "" {
		return nil
	}
	return checkUpdate(d, in.ifXML, in.ifPath, cf.nets.opts)
}

// readLive reads and checks the DOMAIN.xml at domPath (none if "") and
// the <interface> update at ifPath (none if "").
func readLive(ctx context.Context, cf *connFlags, domPath, ifPath string) (*liveInput, error) {
	in := &liveInput{domPath: domPath, ifPath: ifPath}
	var err error
	if domPath != "" {
		if in.dom, in.domXML, err = readDomain(ctx, domPath, cf.nets.opts); err != nil {
			return nil, err
		}
	}
	if ifPath == "" {
		return in, nil
	}
	if in.ifXML, err = readFile(ctx, ifPath); err != nil {
		return nil, err
	}
	if in.dom != nil {
		return in, checkUpdate(in.dom, in.ifXML, ifPath, cf.nets.opts)
	}
	if _, err := domain.ParseInterface(in.ifXML, cf.nets.opts); err != nil {
		return nil, usageErrorf("%s: %w", ifPath, err)
	}
	return in, nil
}
