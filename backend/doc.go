// Package backend knows, for every kind of network backend nicplug can put
// behind a NIC's hub, what it needs on the host and how QEMU creates it.
//
// It is the pure, QEMU-version-aware vocabulary the plan engine in package
// nicplug is built from: no QMP connection, no netlink, no state.
//
// # Kinds
//
// [Needs] tells what a [domain.Backend] needs from the host: a macvtap that
// nicplug creates and opens (direct), an existing tap that nicplug only opens
// (ethernet), a tap that nicplug creates and enslaves to a bridge (bridge),
// or nothing (user and the socket kinds, which live inside QEMU).
// [NetdevArgs] returns the validated netdev_add arguments for a kind.
//
// # Identifiers
//
// Every QEMU object nicplug creates has a deterministic, parseable id, so the
// live wiring can be read back from QEMU without any state kept elsewhere:
//
//	np.<dev>.nic                   the NIC-side hub port (from package domain)
//	np.<dev>.b<gen>.h<hash>        a backend netdev, generation gen
//	np.<dev>.p<gen>                the hub port joining that backend to the hub
//	                               (an older nicplug: np.<dev>.b<gen>.h<hash>.hp)
//	np.<dev>.b<gen>.h<hash>.fd<q>  the getfd name of its queue q
//
// hash is [SpecHash] of the backend's canonical spec, so the id alone tells
// which backend is attached. The generation grows by one per attach, so two
// generations can coexist while a NIC switches backends. [ParseNetdevID]
// parses them back; [LinkName] names the host links nicplug creates.
//
// # Host
//
// [Host] is the small host-side interface the plan engine drives (create,
// open and delete macvtaps and taps, list the links nicplug owns).
// [NewNetifHost] implements it with package netif.
//
// # Read-back
//
// [ParseInfoNetwork] parses the output of the HMP command `info network`
// (QEMU has no QMP query for netdevs before 9.x), the only way to see hubs,
// their ports and what is attached to them.
package backend
