// Package e2e holds nicplug's end-to-end tests: a real Linux guest booted
// under QEMU (TCG) with the NIC arguments of [domain.Domain.QEMUArgs], driven
// only through nicplug's public API (Attach, AttachRunning, Start,
// UpdateDevice, Interfaces),
// and judged by what the guest itself reports: carrier changes, DHCP leases
// and pings (see package internal/guest).
//
// # Tests
//
//   - TestIntegrationUser: boot unplugged (type='none'), plug user
//     networking, unplug, plug again.
//   - TestIntegrationBootUser: boot plugged (type='user'), link down and up.
//   - TestIntegrationDirect (root): plug a macvtap on a veth whose peer runs a
//     DHCP server in another network namespace, switch direct→user and
//     user→direct live, the kernel's own SLAAC across a move (old address
//     kept; an ip link down/up fixes it), a
//     failing plan that leaves the guest's network working, unplug.
//   - TestIntegrationBootDirect (root): boot with a macvtap backend.
//   - TestIntegrationRestartedManager (root): the managing process goes
//     away; a new one without the domain XML (AttachRunning) recovers the
//     macvtap's spec from the host and moves the guest to user and back.
//   - TestIntegrationHubOffloadFeatures: the guest sees the same virtio
//     feature bits with nicplug's explicit offloads as QEMU's defaults give.
//   - TestIntegrationDistroMoves (root): Debian guests with
//     systemd-networkd and NetworkManager, default carrier hold: plug user,
//     move to a macvtap LAN and back, unplug; the hold ends on the guest's
//     reaction; after each step the guest has an IPv6 address (SLAAC) in
//     the new network's prefix only, and pings its router over IPv6.
//   - TestIntegrationTapFeatures (root): a hub NIC and a tap-datapath NIC
//     (queues='4', 4 vCPUs): the tap NIC has the checksum, TSO and MQ
//     feature bits the hub NIC lacks, and 4 rx and 4 tx queues.
//   - TestIntegrationTapMoves (root): a tap-datapath NIC boots unplugged,
//     is plugged into a bridge, moved to a direct backend, to another
//     bridge and back, and unplugged; each LAN's router answers only while
//     the guest is on it.
//   - TestIntegrationTapVhost (root): a vhost-net NIC (<driver
//     name='vhost' queues='2'/>) moved unplugged → bridge → direct →
//     bridge → unplugged, QEMU's vhost-net use checked at each step
//     (its /dev/vhost-net fds, the vhost-<pid> workers,
//     x-query-virtio-status) and the guest leasing and pinging on each LAN.
//   - TestIntegrationTapVLANGuest, TestIntegrationHubVLANGuest (root): a
//     booted guest on each datapath plugged into a VLAN-filtering bridge
//     as an access port of VLAN 10, moved to VLAN 20 and unplugged,
//     leasing and pinging on each VLAN and cut off from the other.
//
// This machine's kernel has neither vhost-net nor bridge VLAN filtering:
// there those three check nicplug's refusal of a vhost NIC or the lab's
// of a VLAN bridge and log NOT TESTED HERE. Package internal/kernelvm
// runs them in a guest with Debian's kernel, with NICPLUG_VHOST_NET and
// NICPLUG_VLAN_FILTERING set (a missing feature fails there), the
// busybox guest booted under nested TCG and the waits stretched by
// NICPLUG_TIME_SCALE.
//   - TestIntegrationTapFailedPlans (root): updates to a missing parent or
//     bridge fail, roll back, and leave the guest on its bridge.
//   - TestIntegrationTapUnprivilegedFDs, TestIntegrationTapUnprivilegedIfname
//     (root): QEMU runs as nobody and gets the tap's queues as inherited
//     fds, or opens the tap by name (in its netns, with a private tun node).
//
// The network namespaces, veth pairs, bridges, DHCP servers and radvd come from
// package lab.
//
// # Running
//
// The tests need qemu-system-x86_64 and busybox-static, build the guest's
// assets on first use (apt-get download of Debian's cloud kernel, cached), and
// need root for the macvtap parts. They skip otherwise, or fail when
// NICPLUG_CI is set:
//
//	go test -count=1 -v ./e2e/
package e2e
