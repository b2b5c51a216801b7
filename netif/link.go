package netif

import (
	"net"
	"os"
	"sync"
)

// Link is a host device created or listed by netif.
type Link struct {
	// Name is the device name.
	Name string
	// Index is the ifindex in the device's namespace.
	Index int
	// Netns is the namespace path the device lives in ("" = the caller's).
	Netns string
	// Kind is KindMacvtap, KindTap, KindMacvlan, or the kernel's link
	// type for other kinds of owned devices found by ListOwned.
	Kind string
	// Owner is the guest NIC the device belongs to.
	Owner Owner
	// MAC is the device's MAC address.
	MAC net.HardwareAddr
	// Parent is a macvtap's or macvlan's lower device, "" for other kinds.
	Parent string
	// Mode is a macvtap's or macvlan's mode as [MacvtapMode.String]
	// spells it (bridge, vepa, private, passthrough), "" for other kinds.
	Mode string
	// Master is the bridge the device is enslaved to, "" if none.
	Master string

	// mu protects files.
	mu sync.Mutex
	// files are the queues Open returned; Delete closes those still open.
	files []*os.File
}

// track remembers files so that Delete can close them.
func (l *Link) track(files []*os.File) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.files = append(l.files, files...)
}

// closeFiles closes the files Open returned; closing a file the caller has
// already closed is not an error.
func (l *Link) closeFiles() {
	l.mu.Lock()
	files := l.files
	l.files = nil
	l.mu.Unlock()
	for _, f := range files {
		_ = f.Close() // os.ErrClosed when the caller closed it already
	}
}
