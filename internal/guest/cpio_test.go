package guest_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/internal/guest"
)

// readNewc parses a newc archive back into entries (trailer excluded).
func readNewc(t *testing.T, b []byte) []guest.CPIOEntry {
	t.Helper()
	var out []guest.CPIOEntry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("header field %d at %d: %v", i, off, err)
		}
		return uint32(v)
	}
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off+110 > len(b) {
			t.Fatalf("truncated archive at %d", off)
		}
		if m := string(b[off : off+6]); m != "070701" {
			t.Fatalf("magic at %d: %q", off, m)
		}
		mode, size, rmaj, rmin, nsize := field(1), field(6), field(9), field(10), field(11)
		name := string(b[off+110 : off+110+int(nsize)-1])
		if b[off+110+int(nsize)-1] != 0 {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		data := align(off + 110 + int(nsize))
		next := align(data + int(size))
		if name == "TRAILER!!!" {
			if next != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-next)
			}
			return out
		}
		e := guest.CPIOEntry{Name: name, Mode: fs.FileMode(mode & 0o777), Major: rmaj, Minor: rmin}
		switch mode &^ 0o7777 {
		case 0o040000:
			e.Mode |= fs.ModeDir
		case 0o120000:
			e.Mode |= fs.ModeSymlink
		case 0o020000:
			e.Mode |= fs.ModeDevice | fs.ModeCharDevice
		case 0o100000:
		default:
			t.Fatalf("%s: mode %o", name, mode)
		}
		if size > 0 {
			e.Data = append([]byte(nil), b[data:data+int(size)]...)
		}
		out = append(out, e)
		off = next
	}
}

func TestCPIOWriter(t *testing.T) {
	tests := []struct {
		name    string
		entries []guest.CPIOEntry
		list    string // `cpio -it` output
	}{
		{"empty", nil, ""},
		{"tree", []guest.CPIOEntry{
			{Name: "bin", Mode: fs.ModeDir | 0o755},
			{Name: "bin/busybox", Mode: 0o755, Data: []byte("#!x\n")},
			{Name: "bin/sh", Mode: fs.ModeSymlink | 0o777, Data: []byte("busybox")},
			{Name: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
			{Name: "a", Mode: 0o644, Data: []byte("x")},       // 1 byte: 3 bytes of padding
			{Name: "abcd", Mode: 0o644, Data: []byte("1234")}, // aligned data
			{Name: "empty", Mode: 0o600},
		}, "bin\nbin/busybox\nbin/sh\ndev/console\na\nabcd\nempty\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := guest.NewCPIOWriter(&buf)
			for _, e := range tt.entries {
				if err := w.WriteEntry(e); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if buf.Len()%4 != 0 {
				t.Errorf("archive length %d is not a multiple of 4", buf.Len())
			}
			want, got := tt.entries, readNewc(t, buf.Bytes())
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("entries read back (-want +got):\n%s", diff)
			}
			out := guest.ListArchive(t, buf.Bytes())
			if diff := cmp.Diff(tt.list, string(out)); diff != "" {
				t.Errorf("cpio -it listing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCPIOWriterErrors(t *testing.T) {
	tests := []struct {
		entry guest.CPIOEntry
		want  string
	}{
		{guest.CPIOEntry{Name: "", Mode: 0o644}, "invalid entry name"},
		{guest.CPIOEntry{Name: "/abs", Mode: 0o644}, "invalid entry name"},
		{guest.CPIOEntry{Name: "TRAILER!!!", Mode: 0o644}, "invalid entry name"},
		{guest.CPIOEntry{Name: "a\x00b", Mode: 0o644}, "invalid entry name"},
		{guest.CPIOEntry{Name: "p", Mode: fs.ModeNamedPipe | 0o644}, "unsupported file type"},
		{guest.CPIOEntry{Name: "d", Mode: fs.ModeDir | 0o755, Data: []byte("x")}, "cannot have data"},
		{guest.CPIOEntry{Name: "l", Mode: fs.ModeSymlink | 0o777}, "has no target"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.entry.Name), func(t *testing.T) {
			var buf bytes.Buffer
			err := guest.NewCPIOWriter(&buf).WriteEntry(tt.entry)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "guest: cpio: ") {
				t.Errorf("WriteEntry(%+v) = %v, want an error containing %q", tt.entry, err, tt.want)
			}
		})
	}
	w := guest.NewCPIOWriter(&bytes.Buffer{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEntry(guest.CPIOEntry{Name: "x", Mode: 0o644}); err == nil {
		t.Error("WriteEntry after Close succeeded")
	}
}
