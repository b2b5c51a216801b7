package child_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/nicplug/nicplug/internal/child"
)

func ExampleStart() {
	cmd := exec.Command("echo", "hello from the child")
	cmd.Stdout = os.Stdout
	p, err := child.Start(cmd)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Kill() // a no-op once the child is reaped
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fmt.Println("exit:", p.Wait(ctx))
	// Output:
	// hello from the child
	// exit: <nil>
}

func ExampleTail() {
	stderr := child.NewTail(12)
	cmd := exec.Command("sh", "-c", "echo an error message >&2; exit 1")
	cmd.Stderr = stderr
	p, err := child.Start(cmd)
	if err != nil {
		fmt.Println(err)
		return
	}
	<-p.Done()
	fmt.Printf("%v: %q\n", p.Err(), stderr.String())
	// Output:
	// exit status 1: "ror message\n"
}
