package bench

import (
	"testing"

	"github.com/nicplug/nicplug/domain"
)

func TestDatapathIface(t *testing.T) {
	for _, c := range []struct {
		b    domain.Backend
		tap  bool
		want domain.Datapath
	}{
		{dpB0, false, domain.DatapathHub},
		{dpB0, true, domain.DatapathTap},
		{dpDirect, true, domain.DatapathTap},
		{bNone, true, domain.DatapathTap},
	} {
		dom, err := domain.ParseDomain(domainXML("nph3t", dpIface(dpMACTap, c.b, c.tap)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(dom.NICs) != 1 || dom.NICs[0].Datapath() != c.want {
			t.Errorf("%v tap=%v: NICs %d, datapath %s, want %s", c.b, c.tap, len(dom.NICs), dom.NICs[0].Datapath(), c.want)
		}
		if c.tap && dom.NICs[0].Queues() != 2 {
			t.Errorf("tap NIC has %d queues, want 2", dom.NICs[0].Queues())
		}
	}
}

func TestDatapathFormat(t *testing.T) {
	s := &dpStats{steps: []int{6, 6}, hostOps: []int{4, 4}, qmpCmds: []int{2, 2}}
	if got := countsOf(s); got != "6 = 4 + 2" {
		t.Errorf("countsOf = %q", got)
	}
	s.steps = []int{6, 7}
	if got := countsOf(s); got != "6–7 = 4 + 2" {
		t.Errorf("countsOf varying = %q", got)
	}
	if got := countsOf(&dpStats{}); got != "" {
		t.Errorf("countsOf empty = %q", got)
	}
	for _, tt := range []struct {
		v    []int
		want int
	}{{nil, 0}, {[]int{7}, 7}, {[]int{5, 1, 3}, 3}, {[]int{5, 1, 3, 9}, 4}, {[]int{6, 1}, 4}, {[]int{2, 4}, 3}, {[]int{-1, -4}, -3}} {
		if got := medianInt(tt.v); got != tt.want {
			t.Errorf("medianInt(%v) = %d, want %d", tt.v, got, tt.want)
		}
	}
	if got := typesOf(map[string]int{"NEWLINK": 9, "DELLINK": 3}, 3); got != "DELLINK 1.0, NEWLINK 3.0" {
		t.Errorf("typesOf = %q", got)
	}
	if got := typesOf(nil, 0); got != "-" {
		t.Errorf("typesOf none = %q", got)
	}
}
