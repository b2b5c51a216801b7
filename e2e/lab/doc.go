// Package lab sets up what nicplug's end-to-end tests and its demo need
// around a real guest. It is test support, not part of nicplug's API.
//
// # Guests
//
// Boot boots an internal/guest guest from an OS thread that stays locked to
// its goroutine until QEMU exits. QEMU is started with Pdeathsig, which the
// kernel fires when the forking thread exits, and nicplug's host code (package
// netif) ends the OS threads it switched into other namespaces on purpose: a
// QEMU forked from an ordinary goroutine could be killed by the next macvtap
// open.
//
// # Networks
//
// NewNetwork makes a throw-away LAN for macvtaps: two fresh network
// namespaces, a veth pair between them, the macvtap parent (veth0) in one,
// and in the other the peer (veth1) with the router address and busybox
// udhcpd serving leases whose router option is that address. Pass
// Network.Netns as nicplug's Config.Netns and Network.Parent as the
// <source dev=…> of a type='direct' interface. Close removes everything.
//
// # Waiting for the guest
//
// WaitConnected and WaitDisconnected wait for the sequence of guest events a
// plug, switch or unplug must cause, and return them with their host
// timestamps so callers can measure latencies.
package lab
