package domain

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDocumentSize is the largest XML document, in bytes, that
// [ParseDomain] and [ParseInterface] accept: 1 MiB, some twenty times a
// large libvirt domain. Parsing takes up to about 50 times the document's
// size in memory while it runs.
const MaxDocumentSize = 1 << 20

// MaxNICs is the most <interface> elements a domain may have: nicplug puts
// every NIC on the root PCI bus, 32 slots of 8 functions.
const MaxNICs = 256

// MaxNameLen is the longest domain <name>, in bytes. The name goes into
// the owner tag of every host device nicplug creates for the VM, which the
// kernel keeps to 255 bytes.
const MaxNameLen = 64

// maxQuoted is how many bytes of an input value an error message quotes.
const maxQuoted = 64

// ErrTooLarge is matched by the error for a document larger than
// [MaxDocumentSize].
var ErrTooLarge = errors.New("domain: document too large")

// ErrUnknownNetwork is matched by the error for an <interface
// type='network'> naming a network that no [NetworkResolver] resolves (or
// when there is no resolver at all).
var ErrUnknownNetwork = errors.New("domain: unknown network")

// unknownNetworkError is a network no resolver knows.
type unknownNetworkError struct{ name string }

func (e *unknownNetworkError) Error() string {
	return fmt.Sprintf("type network: network '%s' is not defined (no network definitions were given)", clip(e.name))
}

func (e *unknownNetworkError) Is(target error) bool { return target == ErrUnknownNetwork }

// checkSize refuses a document larger than MaxDocumentSize.
func checkSize(data []byte) error {
	if len(data) > MaxDocumentSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d (1 MiB)", ErrTooLarge, len(data), MaxDocumentSize)
	}
	return nil
}

// CheckName validates a domain name as nicplug uses it, in the owner tags
// of host devices and in file names: 1 to [MaxNameLen] bytes of printable
// UTF-8, without '/' and without "..".
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("domain: the domain name is empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("domain: the domain name %q is %d bytes long, the limit is %d", cut(name, maxQuoted), len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("domain: the domain name %q is not valid UTF-8", name)
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("domain: the domain name %q contains '/' (nicplug names host devices and files with it)", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("domain: the domain name %q contains \"..\" (nicplug names host devices and files with it)", name)
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }); i >= 0 {
		return fmt.Errorf("domain: the domain name %q contains a non-printable character", name)
	}
	return nil
}

// clip makes an input value fit in a one-line error message: control
// characters escaped as in a Go string, at most maxQuoted bytes, cut with
// an ellipsis.
func clip(s string) string { return clipN(s, maxQuoted) }

// clipN is clip to n bytes.
func clipN(s string, n int) string {
	r := prefix(s, 4*n)
	cutOff := len(r) < len(s)
	if strings.IndexFunc(r, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 || !utf8.ValidString(r) {
		q := strconv.Quote(r)
		r = q[1 : len(q)-1]
	}
	if len(r) > n {
		r, cutOff = prefix(r, n), true
	}
	if cutOff {
		r += "…"
	}
	return r
}

// cut shortens s to at most n bytes, at a rune boundary, with an ellipsis.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return prefix(s, n) + "…"
}

// prefix is the longest prefix of s of at most n bytes ending at a rune
// boundary.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// clippedError bounds the text of an error from a decoder, which may quote
// input at any length; the cause stays reachable.
type clippedError struct{ err error }

// maxErrorText bounds a decoder's error text.
const maxErrorText = 200

func (e *clippedError) Error() string {
	var ne *strconv.NumError
	if errors.As(e.err, &ne) {
		want := "a number"
		switch ne.Func {
		case "ParseUint":
			want = "a non-negative integer"
		case "ParseInt":
			want = "an integer"
		}
		return fmt.Sprintf("the value %q is not %s in range", cut(ne.Num, maxQuoted), want)
	}
	return clipN(e.err.Error(), maxErrorText)
}

func (e *clippedError) Unwrap() error { return e.err }

// clipErr wraps a decoder's error in a clippedError.
func clipErr(err error) error {
	if err == nil {
		return nil
	}
	return &clippedError{err}
}
