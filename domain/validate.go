package domain

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// aliasRE is what a device id (an <alias name=…/>) may look like: a QEMU id
// without '.', which nicplug reserves for the ids it derives.
var aliasRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// ValidDeviceID reports whether id can be a NIC's device id (its alias):
// a letter, then up to 63 letters, digits, '_' or '-'.
func ValidDeviceID(id string) bool { return aliasRE.MatchString(id) }

func checkDeviceID(id string) error {
	if !ValidDeviceID(id) {
		return fmt.Errorf("alias name %q is invalid: want a letter then up to 63 letters, digits, '_' or '-' (no '.', nicplug derives ids with it)", cut(id, maxQuoted))
	}
	return nil
}

// checkIfname validates a host network interface name: 1 to 15 bytes, no
// '/', ':', whitespace or control characters, not "." or "..", and nothing
// that QEMU's option syntax gives a meaning to (',', '=', quotes).
func checkIfname(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is missing", what)
	case len(name) > 15:
		return fmt.Errorf("%s %q is longer than 15 bytes", what, cut(name, maxQuoted))
	case name == "." || name == "..":
		return fmt.Errorf("%s %q is not an interface name", what, name)
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`/:,="'\`, r) {
			return fmt.Errorf("%s %q contains %q, not allowed in an interface name", what, name, r)
		}
	}
	return nil
}

// parseMAC returns the canonical lowercase form of a unicast 6-octet MAC.
func parseMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 || strings.Count(s, ":") != 5 {
		return "", fmt.Errorf("mac address %q is invalid: want six colon-separated hex octets", cut(s, maxQuoted))
	}
	if hw[0]&1 != 0 {
		return "", fmt.Errorf("mac address %q is multicast: a NIC needs a unicast address", s)
	}
	if string(hw) == "\x00\x00\x00\x00\x00\x00" {
		// QEMU would silently give the NIC 52:54:00:12:34:56 instead.
		return "", fmt.Errorf("mac address %q is all zeros: a NIC needs a unicast address", s)
	}
	return hw.String(), nil
}

// hostRE is a DNS name (letters, digits, '-' and '.').
var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$`)

// checkHost validates a socket endpoint address: an IP address or a DNS name.
func checkHost(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is missing", what)
	}
	if ip := net.ParseIP(s); ip != nil {
		if ip.To4() == nil {
			return fmt.Errorf("%s %q is an IPv6 address: QEMU's socket netdev takes IPv4 only (7.2 and 10.0 cannot resolve \"[::1]\")", what, s)
		}
		return checkNotMapped(what, s, ip)
	}
	if len(s) > 253 || !hostRE.MatchString(s) {
		return fmt.Errorf("%s %q is neither an IPv4 address nor a host name", what, cut(s, maxQuoted))
	}
	return nil
}

// checkNotMapped refuses an IPv4-mapped IPv6 address (::ffff:127.0.0.1),
// which net.ParseIP gives as the IPv4 address ip but which QEMU's socket
// netdev gets as an IPv6 one and refuses ("can't resolve host address
// '['"), as it refuses ::1.
func checkNotMapped(what, s string, ip net.IP) error {
	if strings.Contains(s, ":") {
		return fmt.Errorf("%s %q is an IPv4-mapped IPv6 address: QEMU's socket netdev takes IPv4 only: give %s", what, s, ip.To4())
	}
	return nil
}

func checkPort(what string, p uint) error {
	if p == 0 || p > 65535 {
		return fmt.Errorf("%s %d is out of range 1-65535", what, p)
	}
	return nil
}
