// Package domain reads and writes the libvirt XML side of nicplug: whole
// <domain> documents and single <interface> elements (UpdateDevice-style),
// including the backend-less `type='none'` (and libvirt's own `type='null'`)
// that libvirtxml alone cannot round-trip, and turns them into QEMU
// arguments, identities and change sets.
//
// # Types
//
// Accepted interface types and what they become ([Backend]):
//
//   - none, null: no backend, link down ("cable unplugged")
//   - user: QEMU user-mode networking (slirp)
//   - direct: a host macvtap, <source dev='eth0' mode='bridge|vepa|private|passthrough'/>
//     (mode defaults to vepa, as in libvirt)
//   - ethernet: an existing host tap, <target dev='tap0' managed='no'/>
//   - bridge: a tap nicplug creates and enslaves to <source bridge='br0'/>
//   - server, client, mcast: socket netdevs, <source address=… port=…/>
//     (IPv4 addresses or host names: QEMU's socket netdev takes no IPv6, IPv4-mapped
//     ::ffff:a.b.c.d included)
//   - udp: <source address=… port=…><local address=… port=…/></source>
//   - network: only through [ParseOptions].Resolver; without one, or for a
//     name it does not know, the error matches [ErrUnknownNetwork]
//
// vhostuser and vdpa bypass QEMU's net layer (no hub can sit between NIC and
// backend) and hostdev is PCI passthrough, not a QEMU NIC: those, and any
// unknown type, fail with a [*TypeError]. Elements nicplug does not act on
// (<filterref>, <bandwidth>, <script>, <virtualport>, …) are refused rather
// than silently ignored.
//
// # None and null
//
// libvirtxml drops an unknown type attribute: `type='none'` parses, is
// written back without a type attribute, and the output no longer parses;
// `type='null'` gains an empty <source/>. This package pre-scans each type
// attribute with encoding/xml before libvirtxml decodes, keeps it in
// [NIC].Spelling, leaves XML.Source nil for both spellings, and writes the
// attribute back with the caller's spelling ([NIC.Marshal],
// [Domain.Marshal]).
//
// # Identity
//
// Every NIC has a stable QEMU device id (its alias name, else "net<index>"),
// a hub of its own (hub id = its index in the domain) and a NIC-side hub port
// whose netdev id is derived from the device id. Ids nicplug derives use '.'
// as separator; device ids may not contain '.', so derived ids never collide
// with a user's alias.
//
// # Updates
//
// An update is a new <interface> for an existing NIC, matched by alias, else
// by MAC (libvirt's virDomainNetFindIdx rules, [Domain.Find]). [Diff] turns
// old and new into a [ChangeSet] (link state and backend) or a
// [*ChangeError] worded like libvirt's qemuDomainChangeNet for what cannot
// change live (MAC, model, driver, PCI address, rom, boot order, MTU, …).
//
// # QEMU arguments
//
// [Domain.QEMUArgs] emits, per NIC, only the NIC device and its NIC-side
// hub port, in QEMU's JSON option syntax. The boot-time backend is attached
// by nicplug's start plan over QMP before `cont`, through the same code path
// as a runtime plug; [Domain.InitialLinks] says which links to set down
// first. Every value that reaches QEMU is validated at parse time (ids,
// unicast MACs, interface names, known models, addresses), so no XML value
// can inject QEMU options or name host paths.
//
// # Limits
//
// A document may be up to [MaxDocumentSize] (1 MiB) long ([ErrTooLarge]
// beyond), a domain up to [MaxNICs] (256) interfaces, a domain name up to [MaxNameLen] (64) bytes, without '/' or ".."
// ([CheckName]). Error messages quote at most 64 bytes of an input value,
// control characters escaped, cut with an ellipsis, so they stay one
// bounded line.
package domain
