// Reconcile is a small controller: it keeps a running VM's NICs wired as a
// directory of desired <interface> XML files says, one file per NIC.
// Every --interval it rereads the files that changed (by mtime) and, for
// every file, computes the plan from the desired interface and the live
// state read back from QEMU (VM.PlanUpdate). A non-empty plan is printed and
// applied; so edits to the files are applied, and so is drift: a backend
// someone removed behind nicplug's back, leftovers of a crashed apply.
//
//	go run ./examples/reconcile --dir DESIRED/ [--domain DOMAIN.xml --qmp SOCK] [--once]
//
// Without --qmp it starts its own QEMU (-S, the domain's arguments) and
// kills it on exit; with --qmp it attaches to a QEMU started with
// `nicplug qemu-args DOMAIN.xml`. A VM still paused at -S is started
// first. --once reconciles once and exits (status 1 if anything failed).
//
// A failed apply has been rolled back; it is retried on the next tick.
// A file that cannot be parsed or asks for a change that cannot happen live
// is reported once per version of the file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/examples/internal/exenv"
	"github.com/nicplug/nicplug/internal/qemuproc"
)

// defaultDomain is used without --domain: two unplugged NICs.
const defaultDomain = `<domain type='qemu'>
  <name>reconcile</name>
  <devices>
    <interface type='none'>
      <mac address='52:54:00:00:00:01'/>
      <model type='virtio'/>
      <alias name='ua-lan'/>
    </interface>
    <interface type='none'>
      <mac address='52:54:00:00:00:02'/>
      <model type='virtio'/>
      <alias name='ua-wan'/>
    </interface>
  </devices>
</domain>`

func main() {
	qemuBin := flag.String("qemu", qemuproc.Binary(), "QEMU binary ($NICPLUG_QEMU, else qemu-system-x86_64) (when starting one)")
	sock := flag.String("qmp", "", "QMP socket of a running QEMU (default: start one)")
	domPath := flag.String("domain", "", "the VM's domain XML (default: two unplugged NICs, ua-lan and ua-wan)")
	dir := flag.String("dir", "", "directory of desired <interface> XML files (required)")
	interval := flag.Duration("interval", time.Second, "how often to reconcile")
	once := flag.Bool("once", false, "reconcile once and exit")
	flag.Parse()
	if *dir == "" || *interval <= 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "reconcile: need --dir and a positive --interval (see -h)")
		os.Exit(2)
	}
	domXML := []byte(defaultDomain)
	if *domPath != "" {
		b, err := os.ReadFile(*domPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "reconcile:", err)
			os.Exit(2)
		}
		domXML = b
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *qemuBin, *sock, domXML, *dir, *interval, *once); err != nil {
		fmt.Fprintln(os.Stderr, "reconcile:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, qemuBin, sock string, domXML []byte, dir string, interval time.Duration, once bool) error {
	if sock == "" {
		dom, err := domain.ParseDomain(domXML, nil)
		if err != nil {
			return err
		}
		args, err := exenv.QEMUArgs(ctx, qemuBin, dom, nil)
		if err != nil {
			return err
		}
		q, err := exenv.StartQEMU(ctx, qemuBin, "", args)
		if err != nil {
			return err
		}
		defer func() {
			q.Stop()
			fmt.Fprintf(w, "stopped QEMU pid %d\n", q.Pid)
		}()
		fmt.Fprintf(w, "started QEMU pid %d, QMP %s\n", q.Pid, q.Socket)
		sock = q.Socket
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	vm, err := nicplug.Attach(actx, sock, domXML, nil)
	if err != nil {
		return err
	}
	defer vm.Close()
	st, err := vm.State(actx)
	if err != nil {
		return err
	}
	if !st.Running {
		p, err := vm.PlanStart(actx)
		if err != nil {
			return err
		}
		if err := exenv.Apply(actx, w, vm, p); err != nil {
			return err
		}
	}

	r := &reconciler{vm: vm, dir: dir, w: w, files: map[string]*desired{}}
	if once {
		return r.pass(ctx)
	}
	fmt.Fprintf(w, "watching %s every %v\n", dir, interval)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := r.pass(ctx); err != nil {
			fmt.Fprintf(w, "reconcile: %v\n", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// desired is one file's desired interface.
type desired struct {
	mtime time.Time
	size  int64
	xml   []byte
	// bad is set when this version of the file was refused; it is not
	// retried until the file changes.
	bad bool
}

type reconciler struct {
	vm    *nicplug.VM
	dir   string
	w     io.Writer
	files map[string]*desired
}

// pass reconciles every file once and returns the failures joined.
func (r *reconciler) pass(ctx context.Context) error {
	names, err := filepath.Glob(filepath.Join(r.dir, "*.xml"))
	if err != nil {
		return err
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		if err := r.reconcile(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(name), err))
		}
	}
	for name := range r.files {
		if !slices.Contains(names, name) {
			delete(r.files, name) // removing a file leaves the NIC as it is
		}
	}
	return errors.Join(errs...)
}

// reconcile brings the NIC that file name describes to it.
func (r *reconciler) reconcile(ctx context.Context, name string) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	d := r.files[name]
	if d == nil || !fi.ModTime().Equal(d.mtime) || fi.Size() != d.size {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		d = &desired{mtime: fi.ModTime(), size: fi.Size(), xml: b}
		r.files[name] = d
		// Refuse, once, what no retry can fix: bad XML, an unknown NIC,
		// a change that cannot happen live.
		upd, err := domain.ParseInterface(b, nil)
		if err == nil {
			_, err = r.vm.Domain().WithUpdate(upd)
		}
		if err != nil {
			d.bad = true
			return err
		}
	}
	if d.bad {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := r.vm.PlanUpdate(ctx, d.xml)
	if err != nil {
		return err
	}
	if p.Kind == nicplug.KindNoop {
		return nil
	}
	fmt.Fprintf(r.w, "%s: ", filepath.Base(name))
	if err := exenv.Apply(ctx, r.w, r.vm, p); err != nil {
		return err
	}
	fmt.Fprintf(r.w, "applied %s %s\n", p.Kind, p.Device)
	return nil
}
