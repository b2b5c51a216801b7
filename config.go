package nicplug

import (
	"log/slog"
	"time"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// Config tunes a [VM]. A nil *Config means all defaults.
type Config struct {
	// Netns is the network namespace (path, e.g. /run/netns/x) where
	// host devices (macvtaps, taps, bridges) are created and looked up.
	// "" means the caller's.
	Netns string
	// CarrierHold is the longest a NIC's link stays down while it
	// switches backends, so that the guest notices and re-runs DHCP, see
	// [Planner.CarrierHold]; the hold ends earlier once the guest reacts
	// (see [Planner.FixedHold]). Zero means [DefaultCarrierHold] (8 s);
	// negative ([NoCarrierHold]) means no hold, which most guests do not
	// notice. A hold is stretched until a Linux guest's linkwatch hands
	// the drop to userspace, up to a second after the guest's previous
	// link change the VM caused (README "Carrier hold").
	CarrierHold time.Duration
	// FixedCarrierHold holds the link down for the whole CarrierHold
	// instead of ending the hold once the guest shows it noticed the
	// carrier loss ([Planner.FixedHold]).
	FixedCarrierHold bool
	// Announce sends announce-self after a plug or switch.
	Announce bool
	// Logger receives a debug record per step and warnings for failed
	// undos. nil discards.
	Logger *slog.Logger
	// Resolver resolves <interface type='network'>; nil makes it an error.
	// Its errors are runtime failures unless they wrap [ErrBadInput].
	Resolver domain.NetworkResolver
	// Host does the host side. nil means the netif-backed host in Netns.
	Host backend.Host
	// QMP tunes the monitor connection; nil means qmp's defaults.
	QMP *qmp.Config
	// UndoTimeout bounds the QMP part of a rollback, which runs even after
	// the caller's context is cancelled. Zero means 30 s.
	UndoTimeout time.Duration
	// UnknownLinks are device ids whose link state the caller does not
	// know although the domain says one, e.g. after a failed rollback:
	// the first plan of each sets its link explicitly, as after
	// [AttachRunning], and [VM.Interfaces] reports it unknown until then.
	UnknownLinks []string
	// HostUndoTimeout bounds the host part of a rollback (deleting the
	// devices a failed plan created), counting only the time host undos
	// take: a monitor that hangs through UndoTimeout does not use it up,
	// even between two host undos. UndoTimeout likewise counts only the
	// QMP undos' time. Zero means 10 s.
	HostUndoTimeout time.Duration
}
