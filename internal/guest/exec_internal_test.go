package guest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExecParser(t *testing.T) {
	type result struct {
		Tok    string
		Output string
		Status int
	}
	tests := []struct {
		name   string
		stream string
		hello  bool
		want   []result
	}{
		{"hello only", "NICPLUG-X hello\n", true, nil},
		{"noise before hello", "garbage\nNICPLUG-X hello\n", true, nil},
		{"output with newline",
			"NICPLUG-X c1 begin\nhello\n\nNICPLUG-X c1 end 0\n", false,
			[]result{{"c1", "hello\n", 0}}},
		{"output without newline",
			"NICPLUG-X c1 begin\nabc\nNICPLUG-X c1 end 3\n", false,
			[]result{{"c1", "abc", 3}}},
		{"empty output",
			"NICPLUG-X c2 begin\n\nNICPLUG-X c2 end 0\n", false,
			[]result{{"c2", "", 0}}},
		{"blank lines kept",
			"NICPLUG-X c1 begin\na\n\nb\n\n\nNICPLUG-X c1 end 0\n", false,
			[]result{{"c1", "a\n\nb\n\n", 0}}},
		{"other token's end marker is output",
			"NICPLUG-X c2 begin\nNICPLUG-X c1 end 0\n\nNICPLUG-X c2 end 1\n", false,
			[]result{{"c2", "NICPLUG-X c1 end 0\n", 1}}},
		{"bad status is output",
			"NICPLUG-X c1 begin\nNICPLUG-X c1 end x\n\nNICPLUG-X c1 end 0\n", false,
			[]result{{"c1", "NICPLUG-X c1 end x\n", 0}}},
		{"two commands",
			"NICPLUG-X hello\nNICPLUG-X c1 begin\n1\nNICPLUG-X c1 end 0\nstray\nNICPLUG-X c2 begin\n2\nNICPLUG-X c2 end 0\n", true,
			[]result{{"c1", "1", 0}, {"c2", "2", 0}}},
		{"bad begin lines ignored",
			"NICPLUG-X  begin\nNICPLUG-X a b begin\nNICPLUG-X c1 begin\nx\nNICPLUG-X c1 end 0\n", false,
			[]result{{"c1", "x", 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streamed := map[string][]string{}
			p := execParser{line: func(tok, line string) { streamed[tok] = append(streamed[tok], line) }}
			var got []result
			hello := false
			for _, l := range strings.SplitAfter(tt.stream, "\n") {
				if l == "" {
					continue
				}
				h, done, tok, res := p.feed(strings.TrimSuffix(l, "\n"))
				hello = hello || h
				if done {
					got = append(got, result{tok, res.output, res.status})
				}
			}
			if want, got := tt.hello, hello; want != got {
				t.Errorf("hello = %v, want %v", got, want)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			// The streamed lines are the output's lines, each once.
			for _, r := range got {
				if want, got := strings.TrimSuffix(r.Output, "\n"), strings.Join(streamed[r.Tok], "\n"); got != want {
					t.Errorf("%s: streamed lines %q, want the output's %q", r.Tok, got, want)
				}
			}
		})
	}
}
