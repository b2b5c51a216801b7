package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeMonitor listens on a fresh unix socket and runs serve on every
// connection until the test ends.
func fakeMonitor(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "npfake")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "qmp.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serve(c)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		os.RemoveAll(dir)
	})
	return path
}

const fakeGreeting = `{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}` + "\r\n"

// garbageAfterGreeting greets, accepts qmp_capabilities, then answers every
// command with a line that is not QMP.
func garbageAfterGreeting(c net.Conn) {
	answerAfterGreeting(c, func(string) string { return "ERROR: unknown command\t(" + strings.Repeat("x", 500) + ")" })
}

// answerAfterGreeting greets, accepts qmp_capabilities, then answers every
// command with the line answer makes of its id.
func answerAfterGreeting(c net.Conn, answer func(id string) string) {
	c.Write([]byte(fakeGreeting))
	r := bufio.NewReader(c)
	first := true
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if first {
			first = false
			id := line[strings.Index(line, `"id":`)+5 : strings.LastIndex(line, "}")]
			c.Write([]byte(`{"return": {}, "id": ` + id + "}\r\n"))
			continue
		}
		id := line[strings.Index(line, `"id":`)+5 : strings.LastIndex(line, "}")]
		c.Write([]byte(answer(id) + "\r\n"))
	}
}

// TestMonitorDefects (issue 13, item 6): a --qmp path that is a regular
// file says "not a socket"; a monitor that answers garbage is reported as
// such, with a quoted excerpt, not as a bare timeout; a monitor line beyond
// the limit is reported. Nothing is left behind (no goroutine, no lock
// file beside a --qmp that is no socket).
func TestMonitorDefects(t *testing.T) {
	file := writeTemp(t, "qmp.sock", []byte("not a socket"))
	garbage := fakeMonitor(t, garbageAfterGreeting)
	hmp := fakeMonitor(t, func(c net.Conn) {
		c.Write([]byte("QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) "))
		time.Sleep(100 * time.Millisecond)
	})
	huge := fakeMonitor(t, func(c net.Conn) {
		chunk := []byte(strings.Repeat("{", 1<<20))
		for i := 0; i < 64; i++ {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	idOnly := fakeMonitor(t, func(c net.Conn) {
		answerAfterGreeting(c, func(id string) string { return `{"id": ` + id + `}` })
	})
	badReturn := fakeMonitor(t, func(c net.Conn) {
		answerAfterGreeting(c, func(id string) string { return `{"return": "` + strings.Repeat("r", 300) + `", "id": ` + id + `}` })
	})
	before := runtime.NumGoroutine()
	runCases(t, []cliCase{
		{name: "regular file", args: []string{"show", "--qmp", file}, code: 1,
			stderr: "nicplug: show: qmp: dial: " + file + " is not a socket (a regular file)"},
		{name: "regular file update", args: []string{"update", "--qmp", file, "--domain", "testdata/domain.xml", "testdata/iface-user.xml"}, code: 1,
			stderr: "is not a socket (a regular file)"},
		{name: "garbage answers", args: []string{"show", "--qmp", garbage, "--timeout", "1s"}, code: 1,
			stderr: `nicplug: show: read back: qmp: query-status: no reply, the monitor sent 1 line that is not QMP: "ERROR: unknown command\t(` + strings.Repeat("x", 36) + `"… (context deadline exceeded) (is --qmp QEMU's QMP socket`,
			not:    "raise --timeout"},
		{name: "garbage answers to start", args: []string{"start", "--qmp", garbage, "--timeout", "1s", "testdata/domain.xml"}, code: 1,
			stderr: "the monitor sent 1 line that is not QMP: "},
		// Found re-testing issue 13: a reply with neither return nor
		// error, or a return value of the wrong type, says so at once.
		{name: "reply without return or error", args: []string{"show", "--qmp", idOnly, "--timeout", "1m"}, code: 1,
			stderr: `nicplug: show: read back: qmp: query-status: malformed reply from the monitor: neither "return" nor "error": "{\"id\": 1}" (is --qmp QEMU's QMP socket`,
			not:    "deadline"},
		{name: "return of the wrong type", args: []string{"show", "--qmp", badReturn, "--timeout", "1m"}, code: 1,
			stderr: `nicplug: show: read back: qmp: query-status: malformed reply from the monitor: json: cannot unmarshal string into Go value of type struct`,
			not:    "deadline"},
		{name: "human monitor", args: []string{"show", "--qmp", hmp, "--timeout", "5s"}, code: 1,
			stderr: `bad greeting`},
		{name: "huge line", args: []string{"show", "--qmp", huge}, code: 1,
			stderr: "monitor sent a line longer than 16 MiB"},
	})
	// A --qmp that is no socket gets no lock file beside it.
	if _, err := os.Stat(file + lockSuffix); !os.IsNotExist(err) {
		t.Errorf("lock file beside a --qmp that is a regular file: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines after the commands, %d before", runtime.NumGoroutine(), before)
			break
		}
	}
}
