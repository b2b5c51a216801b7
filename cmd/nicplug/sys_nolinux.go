//go:build !linux

package main

import "errors"

// checkNetns refuses any --netns: nicplug's network namespaces are
// Linux's.
func checkNetns(path string) error {
	if path == "" {
		return nil
	}
	return usageErrorf("--netns %s: %w", cutString(path, 200), errors.ErrUnsupported)
}
