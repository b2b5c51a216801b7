package qemuproc_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/nicplug/nicplug/internal/qemuproc"
)

// Start a paused QEMU with one NIC and no backend, then talk QMP to it.
func ExampleStart() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q, err := qemuproc.Start(ctx, &qemuproc.Config{
		Args: []string{"-netdev", "hubport,id=hostnet0,hubid=0", "-device", "virtio-net-pci,id=net0,netdev=hostnet0"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Kill()
	fmt.Println("QMP listens on", q.Socket())
}
