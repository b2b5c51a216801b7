// Package netif owns every host-side network device nicplug touches: the
// macvtaps, taps and bridge ports that back a guest NIC, and the file
// descriptors QEMU takes over QMP (getfd, then netdev_add type=tap fd=…).
//
// # Devices
//
// [CreateMacvtap] creates a macvtap on a named parent in a network namespace
// (by path, "" for the caller's), with the guest NIC's MAC, a non-zero tx
// queue length, an owner tag and a name of nicplug's own (prefix
// [MacvtapPrefix], random suffix, retried on collision), and brings it up.
// [CreateBridgeTap] does the same for a persistent tap enslaved to a bridge
// (libvirt's type='bridge'); the tap's MAC is the guest's with the first
// byte set to 0xfe, as libvirt does, so the bridge never adopts it.
// [OpenTap] opens a tap somebody else created (libvirt's type='ethernet').
//
// # Ownership
//
// A device nicplug creates carries the tag "nicplug:<vm>/<nic>" in its
// IFLA_IFALIAS, set in the same netlink message that creates it (taps get it
// right after creation). [ListOwned] returns only tagged devices, [Sweep]
// deletes the tagged devices whose [Owner] the caller reports dead, and
// [DeleteLink] refuses a device that is not tagged ([ErrNotOwned]).
//
// # Opening a macvtap
//
// A macvtap's character device is named /dev/tap<ifindex> in the single,
// global devtmpfs, while ifindexes are per network namespace: /dev/tap5 can
// be the macvtap of another namespace, or be missing. netif never opens
// /dev/tapN. It reads the device number from the macvtap's own namespace
// (sysfs mounted inside a private mount namespace on a throw-away OS thread
// that has joined the link's network namespace), creates the node in a
// private tmpfs that only that thread can see, opens it once per queue and
// checks every descriptor with TUNGETIFF (name) and SIOCGIFHWADDR (MAC)
// before returning it. The node, the tmpfs and the mount namespace vanish
// with the thread; nothing is ever left in the host's file system.
//
// # Namespaces and threads
//
// Netlink work in another namespace uses a handle whose sockets were created
// inside that namespace. Creating them, and opening /dev/net/tun for a tap
// in another namespace, happens on a goroutine locked to its OS thread; if
// the thread's namespace cannot be restored the goroutine exits still
// locked, so the Go runtime destroys the thread instead of reusing it.
//
// # Errors
//
// Every error is an [*OpError] naming the operation and the link. A missing
// parent, bridge, link or namespace matches os.ErrNotExist with errors.Is,
// invalid input matches os.ErrInvalid, a name already taken matches
// os.ErrExist. Invalid input is rejected before anything is created; a
// failure half-way undoes what was done.
//
// netif works on Linux only; elsewhere every function returns an error
// matching errors.ErrUnsupported.
package netif
