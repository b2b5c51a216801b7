// Package domain reads and writes the libvirt XML side of nicplug: whole
// <domain> documents and single <interface> elements (UpdateDevice-style),
// including the backend-less `type='none'` (and libvirt's own `type='null'`)
// that libvirtxml alone cannot round-trip.
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
// by MAC (libvirt's virDomainNetFindIdx rules). [Diff] turns old and new into
// a [ChangeSet] or an error worded like libvirt's for what cannot change live.
package domain
