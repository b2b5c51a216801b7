// Package bench measures what a live network move costs with nicplug, side
// by side with the alternatives, and prints the figures as one table
// (docs/performance.md holds a run's results and how to reproduce them).
//
// # Measurements
//
// Run executes the parts named in Options.Parts, each comparing nicplug
// with a baseline measured in the same run:
//
//   - plan: Planner.Update per plan kind (ns/op, allocs/op), pure CPU.
//   - qmp: a qmp.Client query-status round trip against a hand-written
//     loop on a raw unix socket, on the same QEMU.
//   - apply: VM.UpdateDevice per plan kind (plug, unplug, switch between
//     slirp and a host macvtap, macvtap to macvtap) on a guest-less QEMU,
//     p50/p99 over many iterations, against the minimal hand-written QMP
//     sequence doing the same change on a twin QEMU; the link-down window of
//     a switch (set_link false reply to set_link true reply) and the median
//     time of every plan step.
//   - scale: many guest-less QEMUs (paused with -S, 64 MB each) switched
//     concurrently from one process: total time, per-VM p99, the process's
//     memory, and its fds and goroutines before and after.
//   - guest: on a real guest (internal/guest), the time from a plug or
//     switch to the guest's carrier, DHCP lease and first ping, against
//     device_del + device_add of a hot-pluggable NIC.
//   - throughput: guest-to-host TCP throughput through the hub against a
//     tap peered directly with the NIC.
//   - stacks: distribution guests (systemd-networkd, NetworkManager) moved
//     between networks per carrier hold.
//   - datapath: a NIC on the tap datapath (<driver queues='2'/>, a fixed
//     host tap re-plumbed on the host) against one on the hub, side by
//     side: apply time, link-down window, steps / host ops / QMP commands,
//     host steps alone and RTNL notifications of bridge→direct,
//     direct→bridge and bridge→bridge moves on guest-less QEMUs; TCP
//     throughput both ways and the negotiated virtio features on busybox
//     guests.
//
// # Privileges
//
// Parts that need host devices (macvtaps in a private network namespace,
// a host tap) need root; without it their rows say "needs root" and the
// rest still runs. Every QEMU, namespace, link and helper process a part
// creates is removed before Run returns.
//
// # Reproducing
//
//	make bench                          # go run ./bench/cmd/benchtable
//	go test -run '^$' -bench . ./bench  # the go test benchmarks
package bench
