// Package child starts the helper processes of nicplug's tests, demo,
// examples and benchmarks (QEMU, udhcpd) so that they die with this process
// and only then.
//
// # Parent-death signal
//
// On Linux, [Start] sets the child's parent-death signal to SIGKILL
// (SysProcAttr.Pdeathsig, merged into any SysProcAttr the caller set): if
// this process dies without cleaning up, the kernel kills the child. The
// kernel sends that signal when the OS thread that forked the child exits,
// not when the process does. Go ends an OS thread whenever a goroutine exits
// while locked to it, which package netif does on purpose after switching
// a thread into another network namespace; a child forked from an ordinary
// goroutine could be killed by any such exit. Start therefore forks from a
// goroutine locked to its OS thread and keeps it there, waiting, until the
// child has been reaped.
//
// On other systems there is no parent-death signal: Start starts the child
// the same way and callers kill it themselves, as they must anyway.
//
// # Output
//
// [Tail] keeps the last bytes a child writes to its standard error, for
// error messages.
package child
