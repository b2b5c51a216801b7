package guest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// kernelPkgRE matches a versioned kernel image package name.
var kernelPkgRE = regexp.MustCompile(`^linux-image-[0-9][^ ]*$`)

// aptRun runs an apt tool and returns its standard output; the error holds
// its standard error.
func aptRun(ctx context.Context, dir string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// resolveKernel returns the versioned package behind pkg (itself when pkg
// is already versioned) and its candidate version.
func resolveKernel(ctx context.Context, pkg string) (name, version string, err error) {
	name = pkg
	if !kernelPkgRE.MatchString(pkg) {
		out, err := aptRun(ctx, "", "apt-cache", "depends", pkg)
		if err != nil {
			return "", "", err
		}
		name = ""
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			dep, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends: ")
			if ok && kernelPkgRE.MatchString(dep) {
				name = dep
				break
			}
		}
		if name == "" {
			return "", "", fmt.Errorf("package %s depends on no linux-image-<version> package", pkg)
		}
	}
	out, err := aptRun(ctx, "", "apt-cache", "show", "--no-all-versions", name)
	if err != nil {
		return "", "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Version: "); ok {
			return name, strings.TrimSpace(v), nil
		}
	}
	return "", "", fmt.Errorf("apt-cache show %s: no Version field", name)
}

// aptUpdate refreshes apt's package lists; it needs root.
func aptUpdate(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("apt package lists are missing or stale and apt-get update needs root: run `sudo apt-get update`")
	}
	_, err := aptRun(ctx, "", "apt-get", "update", "-qq")
	return err
}

// aptDownload fetches name=version into dir and returns the .deb's path.
func aptDownload(ctx context.Context, dir, name, version string) (string, error) {
	// As root, apt drops to the _apt user for downloads and warns when that
	// user cannot write dir; downloading as root is what we want here.
	if _, err := aptRun(ctx, dir, "apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", name+"="+version); err != nil {
		return "", err
	}
	debs, err := filepath.Glob(filepath.Join(dir, "*.deb"))
	if err != nil {
		return "", err
	}
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download %s=%s left %d .deb files", name, version, len(debs))
	}
	return debs[0], nil
}
