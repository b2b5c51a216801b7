//go:build !unix

package guest

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
)

// setCredential fails: Config.RunAs is Unix only.
func setCredential(cmd *exec.Cmd, u *RunAs) error {
	return fmt.Errorf("Config.RunAs on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
