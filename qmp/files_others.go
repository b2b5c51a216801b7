//go:build !unix

package qmp

import (
	"fmt"
	"os"
	"runtime"
)

// unixRights reports that descriptor passing needs a unix system.
func unixRights(files []*os.File) ([]byte, func(), error) {
	return nil, nil, fmt.Errorf("passing file descriptors is unsupported on %s", runtime.GOOS)
}
