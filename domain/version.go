package domain

import (
	"fmt"
	"strconv"
	"strings"
)

// QEMUVersion is a QEMU release, as `qemu-system-x86_64 --version` or QMP's
// query-version reports it. The zero value means "unknown": arguments are
// then generated for the oldest QEMU nicplug supports (7.2).
type QEMUVersion struct {
	Major, Minor, Micro int
}

// ParseQEMUVersion parses "10.0.2", "7.2", or the first line of
// `qemu-system-x86_64 --version` ("QEMU emulator version 10.0.2 (Debian …)").
func ParseQEMUVersion(s string) (QEMUVersion, error) {
	s = strings.TrimSpace(s)
	if line, _, _ := strings.Cut(s, "\n"); line != "" {
		s = line
	}
	if rest, ok := strings.CutPrefix(s, "QEMU emulator version "); ok {
		s, _, _ = strings.Cut(rest, " ")
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return QEMUVersion{}, fmt.Errorf("domain: QEMU version %q: want MAJOR.MINOR[.MICRO]", cut(s, 40))
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 999 {
			return QEMUVersion{}, fmt.Errorf("domain: QEMU version %q: want MAJOR.MINOR[.MICRO]", cut(s, 40))
		}
		n[i] = v
	}
	return QEMUVersion{n[0], n[1], n[2]}, nil
}

// AtLeast reports whether v is major.minor or newer.
func (v QEMUVersion) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// IsZero reports whether v is unknown.
func (v QEMUVersion) IsZero() bool { return v == QEMUVersion{} }

// String returns "MAJOR.MINOR.MICRO", or "unknown".
func (v QEMUVersion) String() string {
	if v.IsZero() {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Micro)
}
