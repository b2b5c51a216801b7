// Command nicplug boots QEMU NICs with their cable unplugged and plugs,
// unplugs or moves them between networks while the guest runs, driven by
// libvirt domain and <interface> XML.
//
// # Usage
//
//	nicplug qemu-args [--shell] DOMAIN.xml
//	nicplug start  --qmp SOCK DOMAIN.xml
//	nicplug plan   (--qmp SOCK --domain DOMAIN.xml | --from OLD.xml) [--json] IFACE.xml
//	nicplug update --qmp SOCK --domain DOMAIN.xml IFACE.xml
//	nicplug show   --qmp SOCK [--domain DOMAIN.xml] [--json]
//	nicplug help [COMMAND]
//
// Start QEMU with -S and the arguments qemu-args prints, run start, then
// update with new <interface> elements. Every command takes -h, and
// --networks DIR: libvirt <network> definitions (DIR/*.xml) that resolve
// <interface type='network'>. Boolean flags take their value after '='
// (--save=false). XML files may be up to 1 MiB.
//
// # Exit status
//
//	0  done
//	1  failed and nothing changed: an apply failed and was rolled back, or
//	   QEMU could not be reached or read
//	2  bad usage or input, nothing changed: flags, unreadable files,
//	   invalid XML, an update that cannot happen live (model, MAC, …) or
//	   matches no NIC (the library's nicplug.ErrBadInput)
//	3  inconsistent: an apply failed and its rollback failed too, or it
//	   was applied but left an fd in QEMU (nicplug.ErrInconsistent), or it
//	   was applied but DOMAIN.xml could not be saved, or it was
//	   interrupted twice (see below); check with show and apply the
//	   update again
//
// SIGINT or SIGTERM stops a command: what it changed is rolled back
// (within --timeout's margin) and it exits 1. A second signal does not
// wait for that rollback: the command exits 3 at once, and the next
// command converges from what it reads back.
//
// Errors are printed on standard error as one line starting with
// "nicplug: COMMAND: ".
package main

import "os"

func main() {
	ctx, stop := interruptContext(commandPrefix(os.Args[1:]), os.Stderr, os.Exit)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
