package qmp_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/nicplug/nicplug/qmp"
)

// Connecting and running a command. (Needs a QEMU started with
// -qmp unix:/run/vm0.qmp,server=on,wait=off.)
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, "/run/vm0.qmp", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("QEMU", c.Version())
	st, err := c.QueryStatus(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Status, st.Running)
}

// Attaching a tap backend to a NIC's hub: pass the fd, consume its name in
// netdev_add, and roll the name back with closefd if that fails.
func ExampleClient_GetFD() {
	ctx := context.Background()
	c, err := qmp.Dial(ctx, "/run/vm0.qmp", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	tap, err := os.OpenFile("/dev/tap42", os.O_RDWR, 0) // a macvtap, or a tap from TUNSETIFF
	if err != nil {
		log.Fatal(err)
	}
	defer tap.Close() // QEMU has its own copy once GetFD returns
	if err := c.GetFD(ctx, "be0fd", tap); err != nil {
		log.Fatal(err)
	}
	if err := c.NetdevAdd(ctx, map[string]any{"type": "tap", "id": "be0", "fd": "be0fd"}); err != nil {
		_ = c.CloseFD(ctx, "be0fd") // not consumed: release it
		log.Fatal(err)
	}
	if err := c.NetdevAdd(ctx, map[string]any{"type": "hubport", "id": "be0-hp", "hubid": 0, "netdev": "be0"}); err != nil {
		_ = c.NetdevDel(ctx, "be0")
		log.Fatal(err)
	}
	if err := c.SetLink(ctx, "net0", true); err != nil {
		log.Fatal(err)
	}
}

// Waiting for the event a command causes: watch first, then send.
func ExampleClient_Watch() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, "/run/vm0.qmp", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	w := c.Watch(qmp.DeviceDeleted("net1"))
	defer w.Stop()
	if err := c.DeviceDel(ctx, "net1"); err != nil {
		log.Fatal(err)
	}
	if _, err := w.Wait(ctx); err != nil {
		log.Fatal(err) // the guest did not release the device in time
	}
	fmt.Println("net1 is gone")
}

// Following all events with a bounded buffer.
func ExampleClient_Subscribe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := qmp.Dial(ctx, "/run/vm0.qmp", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	sub := c.Subscribe(ctx, 128)
	for ev := range sub.Events() { // ends when ctx ends or the client closes
		fmt.Println(ev.Time.Format(time.RFC3339Nano), ev.Name, string(ev.Data))
	}
	if n := sub.Dropped(); n > 0 {
		fmt.Println("missed", n, "events")
	}
}

// Telling QMP error classes apart.
func ExampleCommandError() {
	var err error = &qmp.CommandError{Command: "netdev_del", Class: "DeviceNotFound", Desc: "Device 'x' not found"}
	err = fmt.Errorf("detach: %w", err)

	var ce *qmp.CommandError
	if errors.As(err, &ce) {
		fmt.Println(ce.Class)
	}
	fmt.Println(qmp.IsClass(err, "DeviceNotFound"))
	fmt.Println(err)
	// Output:
	// DeviceNotFound
	// true
	// detach: qmp: netdev_del: DeviceNotFound: Device 'x' not found
}

func ExampleVersion_AtLeast() {
	v := qmp.Version{Major: 7, Minor: 2, Micro: 22}
	fmt.Println(v, v.AtLeast(4, 0, 0), v.AtLeast(9, 2, 3))
	// Output:
	// 7.2.22 true false
}
