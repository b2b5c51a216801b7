package nicplug

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/nicplug/nicplug/qmp"
	"strings"
	"text/tabwriter"

	"github.com/nicplug/nicplug/backend"
)

// PlanVersion is the version of the JSON form of a [Plan]. It changes only
// when a field changes meaning or goes away; new optional fields keep it.
const PlanVersion = 1

// PlanKind says what a plan does to a NIC.
type PlanKind string

// Plan kinds.
const (
	// KindNoop changes nothing: the plan has no steps.
	KindNoop PlanKind = "noop"
	// KindStart attaches boot backends, sets initial link states and
	// resumes the VM with cont.
	KindStart PlanKind = "start"
	// KindPlug attaches a backend to a NIC that has none.
	KindPlug PlanKind = "plug"
	// KindUnplug detaches a NIC's backend and leaves its link down.
	KindUnplug PlanKind = "unplug"
	// KindSwitch moves a NIC from one backend to another, make-before-break.
	KindSwitch PlanKind = "switch"
	// KindLink only changes the NIC's link state.
	KindLink PlanKind = "link"
	// KindCleanup only removes leftovers of an interrupted plan.
	KindCleanup PlanKind = "cleanup"
)

// ActionType is what executes an [Action].
type ActionType string

// Action types.
const (
	// ActionQMP is a QMP command sent to QEMU.
	ActionQMP ActionType = "qmp"
	// ActionHost is a host operation on a network device.
	ActionHost ActionType = "host"
	// ActionWait waits for Duration (carrier hold).
	ActionWait ActionType = "wait"
)

// HostOp is a host operation.
type HostOp string

// Host operations, each a method of [backend.Host].
const (
	OpCreateMacvtap   HostOp = "create-macvtap"
	OpCreateBridgeTap HostOp = "create-bridge-tap"
	OpOpenMacvtap     HostOp = "open-macvtap"
	OpOpenTap         HostOp = "open-tap"
	OpDeleteLink      HostOp = "delete-link"
)

// Host operations of the tap datapath, each a method of [backend.TapHost]
// acting on a NIC's fixed tap or the links it is joined to.
const (
	OpCheckBridge   HostOp = "check-bridge"
	OpCheckTarget   HostOp = "check-target"
	OpSetMaster     HostOp = "set-master"
	OpSetVLAN       HostOp = "set-vlan"
	OpCreateMacvlan HostOp = "create-macvlan"
	OpAddRedirect   HostOp = "add-redirect"
	OpDelRedirect   HostOp = "del-redirect"
)

// A Plan is an ordered list of steps that take a VM's NICs from their live
// state to the desired one. It is plain data: print it with [Plan.String],
// encode it with encoding/json (schema below), apply it with [VM.Apply].
//
// # JSON schema (version 1)
//
//	{
//	  "version": 1,                  // PlanVersion
//	  "kind": "switch",              // noop|start|plug|unplug|switch|link|cleanup
//	  "vm": "demo",                  // domain name
//	  "device": "net0",              // NIC device id; absent for start plans
//	  "steps": [ STEP, … ],          // [] for noop
//	  "missing": [ "np1a2b3c4d5e" ]  // host links expected but not found; absent: none
//	}
//	STEP = {
//	  "step": 3,                     // 1-based position, as in errors
//	  "phase": "prepare",            // cleanup|prepare|arm|down|detach|attach|hold|up|announce|finish|link|resume
//	  "do": ACTION,
//	  "undo": [ ACTION, … ]          // absent: nothing to undo
//	}
//	ACTION = {
//	  "type": "qmp"|"host"|"wait",
//	  "command": "netdev_add",       // qmp: command name
//	  "args": { … },                 // qmp: arguments, exactly as sent
//	  "fd": "np.net0.b1.h….fd0",     // qmp getfd: the host fd it sends;
//	                                 // qmp closefd: the name it closes;
//	                                 // host open-*: the fd it produces
//	  "consumes": [ "…fd0" ],        // qmp: fd names the command consumes
//	  "op": "create-macvtap",        // host: create-macvtap|create-bridge-tap|open-macvtap|open-tap|delete-link
//	                                 // tap datapath: check-bridge|check-target|set-master|set-vlan|create-macvlan|add-redirect|del-redirect
//	  "link": "np1a2b3c4d5e",        // host: the link acted on
//	  "parent": "eth0", "mode": "bridge", "mac": "52:54:…",  // create-macvtap, create-macvlan
//	  "bridge": "br0",               // create-bridge-tap, check-bridge, set-master ("" or absent: release)
//	  "vlan": 10,                    // set-vlan (absent: the bridge's default), create-bridge-tap,
//	                                 // check-bridge (present: the bridge must filter VLANs)
//	  "target": "np5e6f7a8b9c0d",    // add-redirect: where frames received on "link" go;
//	                                 // check-target: the fixed tap "link" is to be joined to
//	  "owner": {"vm": "demo", "nic": "net0"},               // create-*; check-target: the NIC
//	  "duration": "8s",              // wait: the longest it lasts
//	  "until": "NIC_RX_FILTER_CHANGED", // wait: ends early when QEMU
//	                                 // reports this event, with data
//	                                 // matching "args", after "min"
//	  "min": "50ms"                  // wait with until: the shortest
//	}
//
// File descriptors flow by name: a host open action produces an fd under
// the name in "fd", and the getfd that sends it names the same "fd". A
// netdev_add that lists the name in "consumes" uses it up; names still
// passed to QEMU and unconsumed when a plan ends or fails are closed with
// closefd.
type Plan struct {
	// Version is PlanVersion.
	Version int `json:"version"`
	// Kind is what the plan does.
	Kind PlanKind `json:"kind"`
	// VM is the domain name.
	VM string `json:"vm"`
	// Device is the NIC's device id; empty for start plans.
	Device string `json:"device,omitempty"`
	// Steps run in order.
	Steps []Step `json:"steps"`
	// Missing are host links the live state says exist (a backend in
	// QEMU uses them) but the host did not list in its network namespace:
	// the plan deletes nothing for them. They may live in another
	// namespace than [Config.Netns], or have been deleted behind
	// nicplug's back.
	Missing []string `json:"missing,omitempty"`

	// commit records the plan's effect in the VM once applied; nil for a
	// plan not made by a VM.
	commit func(v *VM)
	// owner is the VM that made the plan.
	owner *VM
	// epoch is owner's epoch when the plan was computed.
	epoch uint64
	// basis is what owner knew of QEMU when it computed the plan from
	// that, not from a read-back; applying the plan checks QEMU against it
	// first (see readcache.go). nil for a plan computed from a read-back.
	basis *State
	// check is the `info network` PlanUpdate started for the check, while
	// its reply is due; nil when it must be read at apply.
	check *qmp.Call
}

// Step is one step of a plan: an action and what undoes it.
type Step struct {
	// Num is the step's 1-based position.
	Num int `json:"step"`
	// Phase groups steps by purpose (prepare, detach, attach, …).
	Phase string `json:"phase"`
	// Do is the action.
	Do Action `json:"do"`
	// Undo runs, in order, when a later step fails; empty means nothing to
	// undo.
	Undo []Action `json:"undo,omitempty"`
}

// Action is one QMP command, host operation or wait.
type Action struct {
	// Type is qmp, host or wait.
	Type ActionType `json:"type"`
	// Command is the QMP command (qmp).
	Command string `json:"command,omitempty"`
	// Args are the QMP arguments (qmp).
	Args json.RawMessage `json:"args,omitempty"`
	// FD is the fd name a getfd sends, a closefd closes, or a host open
	// produces.
	FD string `json:"fd,omitempty"`
	// Consumes lists fd names a QMP command uses up.
	Consumes []string `json:"consumes,omitempty"`
	// Op is the host operation (host).
	Op HostOp `json:"op,omitempty"`
	// Link is the host link acted on (host).
	Link string `json:"link,omitempty"`
	// Parent is the macvtap's lower device (create-macvtap).
	Parent string `json:"parent,omitempty"`
	// Mode is the macvtap mode (create-macvtap).
	Mode string `json:"mode,omitempty"`
	// MAC is the guest MAC (create-macvtap, create-bridge-tap).
	MAC string `json:"mac,omitempty"`
	// Bridge is the bridge to join (create-bridge-tap, set-master; ""
	// in set-master releases the link) or to check (check-bridge).
	Bridge string `json:"bridge,omitempty"`
	// VLAN is the access VLAN (set-vlan; create-bridge-tap when not 0).
	VLAN int `json:"vlan,omitempty"`
	// Target is where a redirect sends the frames received on Link
	// (add-redirect), or the fixed tap Link is checked for
	// (check-target).
	Target string `json:"target,omitempty"`
	// Owner is the owner tag of a created link, or the NIC a
	// check-target is for.
	Owner *backend.Owner `json:"owner,omitempty"`
	// Duration is how long a wait lasts, in time.Duration syntax; with
	// Until, the longest.
	Duration string `json:"duration,omitempty"`
	// Until, on a wait, is the QMP event that ends it early (its data
	// matching Args), once Min has passed: the guest showed it noticed
	// the carrier loss (see [Planner.FixedHold]).
	Until string `json:"until,omitempty"`
	// Min is the shortest a wait with Until lasts.
	Min string `json:"min,omitempty"`
}

// String renders the action the way it appears in [Plan.String].
func (a Action) String() string {
	switch a.Type {
	case ActionQMP:
		s := a.Command
		if len(a.Args) > 0 {
			s += " " + compactJSON(a.Args)
		}
		if a.Command == "getfd" && a.FD != "" {
			s += " <- fd " + a.FD
		}
		return s
	case ActionHost:
		s := string(a.Op) + " " + a.Link
		switch a.Op {
		case OpCreateMacvtap:
			s += fmt.Sprintf(" parent=%s mode=%s mac=%s", a.Parent, a.Mode, a.MAC)
		case OpCreateBridgeTap:
			s += fmt.Sprintf(" bridge=%s mac=%s", a.Bridge, a.MAC)
			if a.VLAN != 0 {
				s += fmt.Sprintf(" vlan=%d", a.VLAN)
			}
		case OpCreateMacvlan:
			s += fmt.Sprintf(" parent=%s mode=%s mac=%s", a.Parent, a.Mode, a.MAC)
		case OpCheckBridge:
			s = string(a.Op) + " " + a.Bridge
			if a.VLAN != 0 {
				s += " vlan_filtering"
			}
		case OpSetMaster:
			if a.Bridge == "" {
				s += " nomaster"
			} else {
				s += " master=" + a.Bridge
			}
		case OpSetVLAN:
			if a.VLAN == 0 {
				s += " vlan=default"
			} else {
				s += fmt.Sprintf(" vlan=%d", a.VLAN)
			}
		case OpAddRedirect, OpCheckTarget:
			s += " -> " + a.Target
		case OpOpenMacvtap, OpOpenTap:
			s += " -> fd " + a.FD
		}
		if a.Owner != nil {
			s += fmt.Sprintf(" owner=%s/%s", a.Owner.VM, a.Owner.NIC)
		}
		return s
	case ActionWait:
		if a.Until != "" {
			return fmt.Sprintf("%s, or from %s on until %s %s", a.Duration, a.Min, a.Until, compactJSON(a.Args))
		}
		return a.Duration
	}
	return string(a.Type)
}

// String renders the plan as a transcript, one line per step:
//
//	plan switch vm1 net0: 9 steps
//	  3  prepare  qmp   netdev_add {"type":"tap",…}   undo: netdev_del {"id":…}
func (p *Plan) String() string {
	var b strings.Builder
	target := p.VM
	if p.Device != "" {
		target += " " + p.Device
	}
	switch len(p.Steps) {
	case 0:
		fmt.Fprintf(&b, "plan %s %s: no steps\n", p.Kind, target)
		p.writeMissing(&b)
		return b.String()
	case 1:
		fmt.Fprintf(&b, "plan %s %s: 1 step\n", p.Kind, target)
	default:
		fmt.Fprintf(&b, "plan %s %s: %d steps\n", p.Kind, target, len(p.Steps))
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, s := range p.Steps {
		line := fmt.Sprintf("%3d\t%s\t%s\t%s", s.Num, s.Phase, s.Do.Type, s.Do)
		if len(s.Undo) > 0 {
			undo := make([]string, len(s.Undo))
			for i, u := range s.Undo {
				undo[i] = u.String()
			}
			line += "   undo: " + strings.Join(undo, "; ")
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	p.writeMissing(&b)
	return b.String()
}

func (p *Plan) writeMissing(b *strings.Builder) {
	for _, l := range p.Missing {
		fmt.Fprintf(b, "  missing host link %s: not in the host's network namespace, nothing deleted\n", l)
	}
}

// MarshalIndent is json.MarshalIndent of the plan with two-space indent.
func (p *Plan) MarshalIndent() ([]byte, error) {
	return json.MarshalIndent(p, "", "  ")
}

// compactJSON is raw without insignificant space (raw itself when it is
// not valid JSON).
func compactJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}
