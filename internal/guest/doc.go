// Package guest boots a tiny Linux guest under qemu-system-x86_64 (TCG) for
// nicplug's end-to-end tests, demo and benchmarks, and reports what the
// guest sees of its network as a stream of timestamped events.
//
// # Assets
//
// [Build] makes a kernel and an initramfs, cached between runs under
// $NICPLUG_GUEST_CACHE (else ~/.cache/nicplug/guest) and keyed by kernel
// package version and a hash of the guest's scripts and busybox. The kernel
// is Debian's cloud kernel (linux-image-cloud-amd64 resolved to its
// versioned package), fetched with apt-get download and read with dpkg-deb
// without installing it; the initramfs is a newc cpio written in Go holding
// the host's busybox-static, the virtio network modules and the scripts in
// rootfs/. Once a kernel is cached, Build uses the one apt resolved last
// without asking apt again (which takes seconds); set BuildConfig.Refresh to
// look for a newer one.
//
// # Booting
//
// [Boot] starts QEMU with the caller's extra arguments (its NICs) and a QMP
// socket the caller connects to. Boot with Config.Paused, set the NIC's
// link down over QMP, then "cont": the guest then starts with its cable
// unplugged. [Start] does the same for a test and cleans up after it.
// QEMU is started through package internal/child: it dies with this
// process, and code that ends OS threads (package netif's namespace
// switches) cannot kill it.
//
// # Events
//
// The guest's /init prints one line per event on its serial console, e.g.
//
//	NICPLUG-EV ready mac=52:54:00:12:34:56 up=1.73
//	NICPLUG-EV carrier 1 up=1.73
//	NICPLUG-EV lease 10.0.2.15/24 router=10.0.2.2 dns=10.0.2.3 lease=86400 up=1.90
//	NICPLUG-EV ping 10.0.2.2 ok up=1.93
//	NICPLUG-EV carrier 0 up=9.12
//	NICPLUG-EV deconfig up=9.13
//
// It polls eth0's carrier every 10 ms; on carrier up it runs udhcpc, which
// configures each lease and pings the router once; on carrier loss it stops
// udhcpc and flushes eth0's addresses. [Guest.WaitEvent] waits for an event
// after a sequence number: take [Guest.Seq] before acting (a QMP set_link)
// and wait for what follows it.
//
// # Distribution guests
//
// [BuildDistro] builds a Debian bookworm guest whose network is run by a
// real stack (systemd-networkd or NetworkManager): mmdebstrap from the
// host's apt sources, the image's own cloud kernel and initramfs, an ext4
// root file system booted read-only (Assets.Disk; QEMU's snapshot=on). A
// reporter service prints the same ready and carrier events, plus addr,
// deladdr and ping (of the default gateway after each new address), addr6
// and deladdr6 (IPv6 addresses, not link-local), and
// the command channel works as below. [StartDistro] is [Start] for them.
//
// # Commands
//
// [Guest.Exec] runs a shell command in the guest over its second serial
// port and returns its output and exit status; [Guest.ExecLines] also
// streams the output line by line while the command runs.
//
// # Go tests in a guest
//
// [RunGoTests] runs nicplug's own test binaries as root inside a
// distribution guest, for tests that need a kernel feature the host's
// kernel lacks (the host's and CI's kernel has neither bridge VLAN
// filtering nor vhost-net; Debian's has both): each binary is built with [CompileTest], carried in on a
// second read-only disk ([MakeDataDisk]; the cloud kernel has no 9p), run
// with NICPLUG_CI=1 and its output logged as it arrives. A test fails when
// a binary fails or a required test did not pass. [StackNetworkdQEMU]
// adds Debian's QEMU (and busybox-static and radvd, for package lab's
// networks) to the guest for tests that start QEMU themselves; a test
// binary that boots the busybox guest in there (GoTest.Guest) gets the
// host's build of it on the same disk, named by $NICPLUG_GUEST_ASSETS
// ([AssetsVar], which [Start] reads instead of building).
package guest
