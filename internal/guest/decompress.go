package guest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// decompressModule returns a kernel module uncompressed: busybox's insmod in
// the guest loads only plain .ko files. name's suffix selects the format.
func decompressModule(ctx context.Context, name string, b []byte) ([]byte, error) {
	switch {
	case strings.HasSuffix(name, ".ko"):
		return b, nil
	case strings.HasSuffix(name, ".ko.gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("decompress %s: %w", name, err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("decompress %s: %w", name, err)
		}
		return out, nil
	case strings.HasSuffix(name, ".ko.xz"):
		// xz-utils, else busybox's own unxz (busybox-static is needed anyway).
		return filter(ctx, name, b, [][]string{{"xz", "-dc"}, {"busybox", "unxz", "-c"}})
	case strings.HasSuffix(name, ".ko.zst"):
		return filter(ctx, name, b, [][]string{{"zstd", "-dcq"}})
	default:
		return nil, fmt.Errorf("decompress %s: unknown module format", name)
	}
}

// filter pipes b through the first of tools found on PATH.
func filter(ctx context.Context, name string, b []byte, tools [][]string) ([]byte, error) {
	for _, t := range tools {
		bin, err := exec.LookPath(t[0])
		if err != nil {
			continue
		}
		cmd := exec.CommandContext(ctx, bin, t[1:]...)
		cmd.Stdin = bytes.NewReader(b)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("decompress %s with %s: %w: %s", name, t[0], err, strings.TrimSpace(stderr.String()))
		}
		return out.Bytes(), nil
	}
	var names []string
	for _, t := range tools {
		names = append(names, t[0])
	}
	return nil, fmt.Errorf("decompress %s: none of %s found on PATH", name, strings.Join(names, ", "))
}
