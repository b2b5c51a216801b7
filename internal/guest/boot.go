package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nicplug/nicplug/internal/child"
	"github.com/nicplug/nicplug/internal/qemuproc"
)

// Defaults used by [Boot] for zero Config fields.
const (
	DefaultMachine = "q35,accel=tcg"
	DefaultMemory  = "128M"
)

// DefaultKernelArgs is the guest kernel's command line before
// Config.KernelArgs. cryptomgr.notests saves about 0.5 s of boot under TCG;
// panic=-1 with QEMU's -no-reboot makes a guest whose /init dies exit.
var DefaultKernelArgs = []string{"console=ttyS0", "quiet", "cryptomgr.notests", "panic=-1", "8250.nr_uarts=2"}

// Config configures [Boot].
type Config struct {
	// Assets are the kernel and initramfs from [Build]. Required.
	Assets *Assets
	// QMPSocket is the path where QEMU's QMP server listens; the caller
	// connects to it. Empty means a socket in the guest's temporary
	// directory, see [Guest.QMPSocket].
	QMPSocket string
	// ExtraArgs are appended to QEMU's arguments: the caller's NICs and
	// backends, e.g. "-netdev", "user,id=u0", "-device",
	// "virtio-net-pci,netdev=u0,id=net0". The guest's /init watches eth0,
	// the first NIC.
	ExtraArgs []string
	// Memory is the guest's RAM (QEMU -m). Empty means DefaultMemory.
	Memory string
	// Paused starts QEMU with -S: the guest runs after a QMP "cont". Use
	// it to set a NIC's link down before the guest looks at it.
	Paused bool
	// Machine is QEMU's -machine value. Empty means DefaultMachine.
	Machine string
	// KernelArgs are appended to DefaultKernelArgs.
	KernelArgs []string
	// QEMU is the emulator binary. Empty means $NICPLUG_QEMU, else
	// qemu-system-x86_64, from PATH (see qemuproc.Binary).
	QEMU string
	// Stderr receives QEMU's standard error as well as the guest's own
	// record of it (shown in errors). Nil means only the record.
	Stderr io.Writer
	// ExtraFiles are inherited by QEMU as fds 3, 4, … (exec.Cmd's
	// ExtraFiles): the queues of fixed taps passed with fds=…. The
	// caller may close them once Boot returned.
	ExtraFiles []*os.File
	// CPUs is the guest's vCPU count (QEMU -smp). 0 means QEMU's default
	// (1). A multiqueue virtio-net NIC uses min(queues, CPUs) queue pairs
	// unless the guest raises it with ethtool -L.
	CPUs int
	// RunAs, when set, runs QEMU as that user and group (no supplementary
	// groups; the caller needs the privilege to switch): Boot gives the
	// guest's temporary directory and sockets to that user and copies the
	// kernel and initrd into it, so that QEMU can reach them.
	// Assets.Disk and QMPSocket's directory must be usable by that user.
	// ExtraFiles are inherited whatever the user. Unix only.
	RunAs *RunAs
}

// RunAs is the user and group QEMU runs as (Config.RunAs).
type RunAs struct {
	UID, GID int
	// ByWrapper means that Config.QEMU is a wrapper that switches to the
	// user itself (say after entering a namespace with setpriv): Boot
	// only gives the guest's files to the user and starts the wrapper
	// with its own credentials.
	ByWrapper bool
}

// Guest is a running QEMU guest booted by [Boot]. Its methods are safe for
// concurrent use.
type Guest struct {
	proc   *child.Process // QEMU, nil until started
	dir    string         // temporary directory, removed by Close
	qmp    string
	stderr *child.Tail
	done   <-chan struct{} // proc.Done(): closed once QEMU is reaped

	con, ctl net.Conn // console (ttyS0) and command channel (ttyS1)
	readers  sync.WaitGroup

	mu sync.Mutex // protects the fields below
	// console is everything read from ttyS0.
	console bytes.Buffer
	// events is the parsed event log, events[i].Seq == i.
	events []Event
	// changed is closed and replaced when events grows or conEnded is set.
	changed chan struct{}
	// conEnded is set when the console reader stopped (QEMU gone).
	conEnded bool
	// closed is set by Close.
	closed bool

	exec execState

	closeOnce sync.Once
	closeErr  error
}

// Boot starts qemu-system-x86_64 on the assets with the caller's extra
// arguments, connects the guest's console and command channel, and returns
// once QEMU runs (unless Paused, the guest is booting then: wait for a
// KindReady event). ctx bounds the start only; the guest runs until Close.
// On error nothing is left behind.
func Boot(ctx context.Context, cfg *Config) (_ *Guest, err error) {
	if cfg == nil || cfg.Assets == nil {
		return nil, newOpError("boot", errors.New("Config.Assets is required"))
	}
	for _, p := range []string{cfg.Assets.Kernel, cfg.Assets.Initrd} {
		if _, err := os.Stat(p); err != nil {
			return nil, newOpError("boot", err)
		}
	}
	bin := cfg.QEMU
	if bin == "" {
		bin = qemuproc.Binary()
	}
	bin, err = exec.LookPath(bin)
	if err != nil {
		return nil, newOpError("boot", err)
	}
	dir, err := os.MkdirTemp("", "nicplug-guest-")
	if err != nil {
		return nil, newOpError("boot", err)
	}
	g := &Guest{
		dir:     dir,
		qmp:     cfg.QMPSocket,
		stderr:  child.NewTail(64 << 10),
		changed: make(chan struct{}),
	}
	g.exec.init()
	if g.qmp == "" {
		g.qmp = filepath.Join(dir, "qmp.sock")
	}
	var listeners []*net.UnixListener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
		if err != nil {
			g.Close()
		}
	}()
	if cfg.RunAs != nil {
		if cfg, err = giveTo(cfg, dir); err != nil {
			return nil, newOpError("boot", err)
		}
	}
	socks := []string{filepath.Join(dir, "console.sock"), filepath.Join(dir, "command.sock")}
	for _, s := range socks {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: s, Net: "unix"})
		if err != nil {
			return nil, newOpError("boot", err)
		}
		listeners = append(listeners, l)
		if u := cfg.RunAs; u != nil {
			if err := os.Chown(s, u.UID, u.GID); err != nil {
				return nil, newOpError("boot", err)
			}
		}
	}

	cmd := exec.Command(bin, qemuArgs(cfg, g.qmp, socks)...)
	if cfg.RunAs != nil && !cfg.RunAs.ByWrapper {
		if err := setCredential(cmd, cfg.RunAs); err != nil {
			return nil, newOpError("boot", err)
		}
	}
	cmd.Stderr = g.stderr
	cmd.ExtraFiles = cfg.ExtraFiles
	if cfg.Stderr != nil {
		cmd.Stderr = io.MultiWriter(g.stderr, cfg.Stderr)
	}
	// Forked from a locked thread with a parent-death signal: safe from
	// goroutines that end threads (package netif), see package child.
	if g.proc, err = child.Start(cmd); err != nil {
		return nil, newOpError("boot", err)
	}
	g.done = g.proc.Done()

	conns := make([]net.Conn, len(listeners))
	for i, l := range listeners {
		if conns[i], err = g.accept(ctx, l); err != nil {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
			return nil, newOpError("boot", err)
		}
	}
	g.con, g.ctl = conns[0], conns[1]
	g.readers.Add(2)
	go g.readConsole()
	go g.readCommands()
	// QMP answers once QEMU's machine and devices exist: a bad device
	// argument fails Boot.
	if err := qemuproc.WaitQMP(ctx, g.qmp, g.done); errors.Is(err, qemuproc.ErrExited) {
		return nil, newOpError("boot", g.exitError())
	} else if err != nil {
		return nil, newOpError("boot", err)
	}
	return g, nil
}

// giveTo prepares dir for a QEMU that runs as cfg.RunAs: dir is given to
// that user, and the kernel and initrd are copied into it (the asset cache
// may sit in a home directory that user cannot enter). It returns cfg with
// Assets pointing at the copies.
func giveTo(cfg *Config, dir string) (*Config, error) {
	u := cfg.RunAs
	if err := os.Chown(dir, u.UID, u.GID); err != nil {
		return nil, err
	}
	c, a := *cfg, *cfg.Assets
	for i, p := range []*string{&a.Kernel, &a.Initrd} {
		dst := filepath.Join(dir, []string{"kernel", "initrd"}[i])
		if err := copyFile(dst, *p); err != nil {
			return nil, err
		}
		*p = dst
	}
	c.Assets = &a
	return &c, nil
}

// copyFile copies src to a new file dst, mode 0644.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// qemuArgs returns QEMU's command line.
func qemuArgs(cfg *Config, qmp string, socks []string) []string {
	machine := cfg.Machine
	if machine == "" {
		machine = DefaultMachine
	}
	mem := cfg.Memory
	if mem == "" {
		mem = DefaultMemory
		if cfg.Assets.Disk != "" {
			mem = DistroMemory
		}
	}
	kargs := append([]string{}, DefaultKernelArgs...)
	if cfg.Assets.Disk != "" {
		kargs = append(kargs, DistroKernelArgs...)
	}
	kargs = append(kargs, cfg.KernelArgs...)
	args := []string{
		"-machine", machine, "-nodefaults", "-display", "none", "-no-reboot",
		"-m", mem,
		"-kernel", cfg.Assets.Kernel, "-initrd", cfg.Assets.Initrd,
		"-append", strings.Join(kargs, " "),
		// QMP first: chardevs are created in order, so QMP listens before
		// QEMU connects the serial sockets that Boot waits for.
		"-qmp", "unix:" + qmp + ",server=on,wait=off",
		"-chardev", "socket,id=nicplug-console,path=" + socks[0],
		"-serial", "chardev:nicplug-console",
		"-chardev", "socket,id=nicplug-command,path=" + socks[1],
		"-serial", "chardev:nicplug-command",
	}
	if cfg.Assets.Disk != "" {
		args = append(args, "-drive", "file="+cfg.Assets.Disk+",if=virtio,format=raw,snapshot=on")
	}
	if cfg.Paused {
		args = append(args, "-S")
	}
	if cfg.CPUs > 0 {
		args = append(args, "-smp", strconv.Itoa(cfg.CPUs))
	}
	return append(args, cfg.ExtraArgs...)
}

// accept waits for QEMU to connect to l, for QEMU to exit, or for ctx.
func (g *Guest) accept(ctx context.Context, l *net.UnixListener) (net.Conn, error) {
	for {
		if err := l.SetDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
			return nil, err
		}
		c, err := l.Accept()
		if err == nil {
			return c, nil
		}
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			return nil, err
		}
		select {
		case <-g.done:
			return nil, g.exitError()
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for qemu to connect its serial ports: %w", ctx.Err())
		default:
		}
	}
}

// exitError describes QEMU's exit; call it only after done is closed.
func (g *Guest) exitError() error {
	msg := strings.TrimSpace(g.stderr.String())
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Errorf("%w (%v)%s", ErrExited, g.proc.Err(), msg)
}

// QMPSocket returns the path of QEMU's QMP socket.
func (g *Guest) QMPSocket() string { return g.qmp }

// Pid returns QEMU's process id.
func (g *Guest) Pid() int { return g.proc.Pid() }

// Done is closed when QEMU has exited and been reaped.
func (g *Guest) Done() <-chan struct{} { return g.done }

// Stderr returns the last 64 KiB QEMU wrote to its standard error.
func (g *Guest) Stderr() string { return g.stderr.String() }

// Close kills QEMU, waits for it and for the guest's goroutines, and removes
// its temporary files and QMP socket. It is safe to call more than once.
func (g *Guest) Close() error {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		if g.proc != nil {
			g.proc.Kill()
		}
		for _, c := range []net.Conn{g.con, g.ctl} {
			if c != nil {
				c.Close()
			}
		}
		g.readers.Wait()
		// A killed QEMU leaves its QMP socket file behind.
		if fi, err := os.Lstat(g.qmp); err == nil && fi.Mode().Type() == os.ModeSocket {
			os.Remove(g.qmp)
		}
		g.closeErr = newOpError("close", os.RemoveAll(g.dir))
	})
	return g.closeErr
}
