package bench

import (
	"strings"
	"testing"
)

func TestRTMName(t *testing.T) {
	if got := rtmName(44); got != "NEWTFILTER" {
		t.Errorf("rtmName(44) = %q", got)
	}
	if !strings.HasPrefix(rtmName(999), "type") {
		t.Errorf("rtmName(999) = %q", rtmName(999))
	}
}
