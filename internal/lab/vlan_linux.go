package lab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// makeBridge creates bridge in namespace ns through addLink: no STP and
// forward_delay 0, so that a port forwards as soon as it is up; with
// vlanFiltering, vlan_filtering 1 too, or, when bridge is already there
// (another Network's), it checks that it filters VLANs and joins it.
func makeBridge(ctx context.Context, ns, bridge string, vlanFiltering bool, addLink func(string, ...string) error) error {
	args := []string{"type", "bridge", "stp_state", "0", "forward_delay", "0"}
	if !vlanFiltering {
		return addLink(bridge, args...)
	}
	out, err := exec.CommandContext(ctx, "ip", "-n", ns, "-d", "link", "show", "dev", bridge).CombinedOutput()
	if err == nil {
		if !bytes.Contains(out, []byte(" vlan_filtering 1 ")) {
			return fmt.Errorf("lab: bridge %s is already there and does not filter VLANs", bridge)
		}
		return nil
	}
	if err := addLink(bridge, append(args, "vlan_filtering", "1")...); err != nil {
		if strings.Contains(err.Error(), "Operation not supported") {
			return fmt.Errorf("%w: %w", ErrNoVLANFiltering, err)
		}
		return err
	}
	return nil
}

// accessPort makes port, a port of a VLAN-filtering bridge in namespace
// ns, an access port of vid: vid is its PVID and untagged, and it leaves
// VLAN 1, the default PVID a bridge created by makeBridge gave it.
func accessPort(ctx context.Context, ns, port string, vid int) error {
	v := strconv.Itoa(vid)
	steps := [][]string{{"-n", ns, "vlan", "add", "dev", port, "vid", v, "pvid", "untagged"}}
	if vid != 1 {
		steps = append(steps, []string{"-n", ns, "vlan", "del", "dev", port, "vid", "1"})
	}
	for _, args := range steps {
		if out, err := exec.CommandContext(ctx, "bridge", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("lab: bridge %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}
