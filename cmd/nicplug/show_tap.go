package main

import (
	"fmt"
	"strings"

	"github.com/nicplug/nicplug"
)

// pluggedInto describes what a fixed tap is plugged into.
func pluggedInto(t *nicplug.TapState) string {
	p := t.Plug
	var parts []string
	if t.Missing {
		return tapNotHere
	}
	if p.Master != "" {
		s := "bridge " + p.Master
		if p.VLAN != 0 {
			s += fmt.Sprintf(" (vlan %d)", p.VLAN)
		}
		parts = append(parts, s)
	}
	if p.Redirect != "" {
		s := "ethernet " + p.Redirect
		if mv, ok := t.Macvlans[p.Redirect]; ok {
			s = fmt.Sprintf("macvlan %s on %s (%s)", mv.Name, mv.Parent, mv.Mode)
		}
		if !p.Back {
			s += " (one way only: an interrupted plan; the next update completes or removes it)"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " and ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
