package bench

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// rtnlMonitor is a route netlink socket in a namespace subscribed to the
// link, neighbour, TC and address groups: it counts the notifications the
// kernel sends for every change made under RTNL there.
type rtnlMonitor struct {
	fd       int
	overruns int
}

const rtnlGroups = unix.RTMGRP_LINK | unix.RTMGRP_NEIGH | unix.RTMGRP_TC | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR

func newRTNLMonitor(nsPath string) (*rtnlMonitor, error) {
	m := &rtnlMonitor{fd: -1}
	err := inNetns(nsPath, func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		m.fd = fd
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		return unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: rtnlGroups})
	})
	if err != nil {
		if m.fd >= 0 {
			unix.Close(m.fd)
		}
		return nil, fmt.Errorf("bench: rtnl monitor: %w", err)
	}
	return m, nil
}

// drain reads every queued notification and returns their count by type.
func (m *rtnlMonitor) drain() map[string]int {
	counts := map[string]int{}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(m.fd, buf, unix.MSG_DONTWAIT)
		if err == unix.ENOBUFS {
			m.overruns++
			continue
		}
		if err != nil || n <= 0 {
			return counts
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, msg := range msgs {
			counts[rtmName(msg.Header.Type)]++
		}
	}
}

func rtmName(t uint16) string {
	switch t {
	case unix.RTM_NEWLINK:
		return "NEWLINK"
	case unix.RTM_DELLINK:
		return "DELLINK"
	case unix.RTM_NEWNEIGH:
		return "NEWNEIGH"
	case unix.RTM_DELNEIGH:
		return "DELNEIGH"
	case unix.RTM_NEWQDISC:
		return "NEWQDISC"
	case unix.RTM_DELQDISC:
		return "DELQDISC"
	case unix.RTM_NEWTFILTER:
		return "NEWTFILTER"
	case unix.RTM_DELTFILTER:
		return "DELTFILTER"
	case unix.RTM_NEWCHAIN:
		return "NEWCHAIN"
	case unix.RTM_DELCHAIN:
		return "DELCHAIN"
	case unix.RTM_NEWADDR:
		return "NEWADDR"
	case unix.RTM_DELADDR:
		return "DELADDR"
	}
	return fmt.Sprintf("type%d", t)
}

func (m *rtnlMonitor) close() { unix.Close(m.fd) }
