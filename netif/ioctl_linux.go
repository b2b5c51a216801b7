package netif

import (
	"bytes"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tunFlags are the TUNSETIFF flags for a tap queue.
func tunFlags(vnetHdr, multiQueue bool) uint16 {
	f := uint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if vnetHdr {
		f |= unix.IFF_VNET_HDR
	}
	if multiQueue {
		f |= unix.IFF_MULTI_QUEUE
	}
	return f
}

// tunFeatureMask are the TUNGETIFF bits compared after TUNSETIFF.
const tunFeatureMask = unix.IFF_TAP | unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR | unix.IFF_MULTI_QUEUE

// tunSetIff runs TUNSETIFF with name (ignored by macvtap) and flags.
func tunSetIff(fd int, name string, flags uint16) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint16(flags)
	return unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
}

// tunGetIff runs TUNGETIFF and returns the device's name and flags.
func tunGetIff(fd int) (string, uint16, error) {
	var ifr unix.Ifreq
	if err := unix.IoctlIfreq(fd, unix.TUNGETIFF, &ifr); err != nil {
		return "", 0, err
	}
	return ifr.Name(), ifr.Uint16(), nil
}

// ifreqHW is struct ifreq with its union read as a struct sockaddr.
type ifreqHW struct {
	name   [unix.IFNAMSIZ]byte
	family uint16
	data   [14]byte
	_      [8]byte
}

// tapHWAddr runs SIOCGIFHWADDR on a macvtap queue: the macvtap's MAC.
func tapHWAddr(fd int) (net.HardwareAddr, error) {
	var r ifreqHW
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFHWADDR, uintptr(unsafe.Pointer(&r)))
	if errno != 0 {
		return nil, errno
	}
	return net.HardwareAddr(bytes.Clone(r.data[:6])), nil
}
