// Package qmp is a client for the QEMU Machine Protocol (QMP), the JSON
// monitor through which nicplug drives QEMU.
//
// # Connecting
//
// [Dial] connects to a QMP unix socket (or [New] takes a connected one),
// reads the greeting — [Client.Version], [Client.Capabilities] — and leaves
// capabilities negotiation mode. A nil [*Config] means defaults.
//
// # Commands
//
// [Client.Execute] runs any command. Every command carries a unique "id" and
// its reply is matched by it, so a Client is safe for concurrent use. Every
// call takes a context: cancelling it returns at once (a late reply is
// discarded and the client stays usable), also while a write is blocked on
// a stopped QEMU. A line may be up to [Config.MaxLine] long (default
// [DefaultMaxLine], 16 MiB; query-qmp-schema is ~200 KB): a longer one
// closes the connection with an error matching [ErrLineTooLong]. Lines that
// are not QMP messages are discarded; a command that then gets no reply
// fails, when its context ends, with an error matching [ErrNotQMP] that
// quotes the last one.
// Hand-written helpers cover what nicplug needs: [Client.GetFD],
// [Client.CloseFD], [Client.NetdevAdd], [Client.NetdevDel],
// [Client.SetLink], [Client.DeviceAdd], [Client.DeviceDel],
// [Client.QOMGet], [Client.QOMSet], [Client.QOMList], [Client.HMP],
// [Client.Cont], [Client.Stop], [Client.QueryStatus] and
// [Client.AnnounceSelf].
//
// # File descriptors
//
// Files given to Execute (or [Client.GetFD]) travel as SCM_RIGHTS in the
// same sendmsg as the command's JSON, which is what getfd expects; no "oob"
// capability is needed. The caller keeps its files.
//
// # Errors
//
// A QMP error reply is a [*CommandError] carrying the command, QEMU's error
// class ("GenericError", "DeviceNotFound", …) and description. Other
// failures are [*OpError]s. A reply to a command's id that is malformed
// (neither "return" nor "error", an "error" without a "class", members
// of the wrong type) or whose return value a helper cannot decode
// ([DecodeReturn]) fails that command at once with an error matching
// [ErrMalformedReply] that quotes the reply, cut. Once the connection is closed — by
// [Client.Close] or because QEMU went away — every pending and later call
// fails promptly with an error matching [ErrClosed], and [Client.Done] is
// closed.
//
// # Events
//
// Events never block command replies. [Client.Subscribe] delivers all
// events through a bounded buffer that drops the oldest event when the
// consumer is slow and counts the drops. To wait for the event a command
// causes (DEVICE_DELETED, NIC_RX_FILTER_CHANGED, SHUTDOWN), call
// [Client.Watch] before sending the command and [Watcher.Wait] after it:
// the watcher keeps the first matching event, however late Wait is called.
// [Client.WaitEvent] waits for a matching event from now on.
package qmp
