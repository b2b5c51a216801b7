package guest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// execPrefix starts the framing lines of the command channel.
const execPrefix = "NICPLUG-X "

// maxCommand bounds a command line: the guest reads it from a serial tty.
const maxCommand = 4000

// execState is the host side of the command channel on the guest's second
// serial port.
type execState struct {
	hello chan struct{} // closed when the guest's command loop started
	ended chan struct{} // closed when the channel's reader stopped

	wmu sync.Mutex // serializes writes to the channel

	mu      sync.Mutex // protects the fields below
	seq     int
	pending map[string]*execWait
}

// execWait is a command waiting for its result.
type execWait struct {
	ch chan execResult // receives the result, buffered

	mu   sync.Mutex   // held while line runs; protects gone
	line func(string) // ExecLines' callback, nil for Exec
	gone bool         // set when the caller stopped waiting
}

// deliver passes an output line to the waiter's callback unless it stopped
// waiting.
func (w *execWait) deliver(line string) {
	if w.line == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.gone {
		w.line(line)
	}
}

// leave stops callbacks: once it returns, line is not running and is not
// called again.
func (w *execWait) leave() {
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
}

func (x *execState) init() {
	x.hello = make(chan struct{})
	x.ended = make(chan struct{})
	x.pending = make(map[string]*execWait)
}

// execResult is one finished command.
type execResult struct {
	output string
	status int
}

// execParser splits the command channel's lines into command results.
// Lines outside a begin/end frame, and frames of tokens nobody waits for
// any more, are dropped by the caller.
type execParser struct {
	tok   string   // token of the frame being read, "" outside one
	lines []string // the frame's lines so far

	// line, when set, receives each line of a frame's output as soon as
	// it is known to be output: a line when the next one arrives (the
	// last captured line may be the newline the guest adds before the
	// end line), the last one at the end unless it is empty.
	line func(tok, line string)
}

// feed consumes one line (without its newline). It reports hello for the
// loop's greeting, and done with the token, output and status at the end of
// a frame.
func (p *execParser) feed(line string) (hello, done bool, tok string, res execResult) {
	if p.tok == "" {
		if line == execPrefix+"hello" {
			return true, false, "", execResult{}
		}
		if rest, ok := strings.CutPrefix(line, execPrefix); ok {
			if t, ok := strings.CutSuffix(rest, " begin"); ok && t != "" && !strings.Contains(t, " ") {
				p.tok, p.lines = t, p.lines[:0]
			}
		}
		return false, false, "", execResult{}
	}
	if rest, ok := strings.CutPrefix(line, execPrefix+p.tok+" end "); ok {
		if st, err := strconv.Atoi(rest); err == nil {
			// The guest prints "\n" before the end line, so the last
			// captured line is that newline's: joining restores the
			// output byte for byte.
			out := strings.Join(p.lines, "\n")
			tok := p.tok
			if n := len(p.lines); p.line != nil && n > 0 && p.lines[n-1] != "" {
				p.line(tok, p.lines[n-1])
			}
			p.tok, p.lines = "", p.lines[:0]
			return false, true, tok, execResult{output: out, status: st}
		}
	}
	if n := len(p.lines); p.line != nil && n > 0 {
		p.line(p.tok, p.lines[n-1])
	}
	p.lines = append(p.lines, line)
	return false, false, "", execResult{}
}

// readCommands reads the command channel until QEMU closes it.
func (g *Guest) readCommands() {
	defer g.readers.Done()
	defer close(g.exec.ended)
	r := bufio.NewReaderSize(g.ctl, 64<<10)
	p := execParser{line: func(tok, line string) {
		g.exec.mu.Lock()
		w := g.exec.pending[tok]
		g.exec.mu.Unlock()
		if w != nil {
			w.deliver(line)
		}
	}}
	helloed := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return // a partial last line cannot end a frame
		}
		hello, done, tok, res := p.feed(strings.TrimSuffix(line, "\n"))
		if hello && !helloed {
			helloed = true
			close(g.exec.hello)
		}
		if done {
			g.exec.mu.Lock()
			w := g.exec.pending[tok]
			delete(g.exec.pending, tok)
			g.exec.mu.Unlock()
			if w != nil {
				w.ch <- res
			}
		}
	}
}

// Exec runs cmd with /bin/sh in the guest (busybox; stdin /dev/null,
// stderr merged into the output) and returns its output and exit status. It
// waits for the guest's command loop to start, so it can be called right
// after Boot. cmd is one line. Commands run one at a time in the guest, in
// the order sent; when ctx ends first, Exec returns ctx's error but the
// command keeps running in the guest and delays later ones, so bound
// commands with their own timeouts (ping -W, timeout …).
func (g *Guest) Exec(ctx context.Context, cmd string) (output string, exitCode int, err error) {
	return g.exec1(ctx, cmd, nil)
}

// ExecLines is [Guest.Exec] that also passes each line of the output
// (without its newline) to line while the command runs: for long commands
// such as a test binary whose progress should be seen as it happens. line
// runs on the channel's reader goroutine, one call at a time, and must not
// block; it is not called any more once ExecLines returned.
func (g *Guest) ExecLines(ctx context.Context, cmd string, line func(string)) (output string, exitCode int, err error) {
	return g.exec1(ctx, cmd, line)
}

// exec1 runs one command for Exec and ExecLines.
func (g *Guest) exec1(ctx context.Context, cmd string, line func(string)) (output string, exitCode int, err error) {
	if g.isClosed() {
		return "", 0, newOpError("exec", ErrClosed)
	}
	if cmd == "" || strings.ContainsAny(cmd, "\n\r\x00") {
		return "", 0, newOpError("exec", fmt.Errorf("command %q must be one non-empty line", cmd))
	}
	if len(cmd) > maxCommand {
		return "", 0, newOpError("exec", fmt.Errorf("command of %d bytes is longer than %d", len(cmd), maxCommand))
	}
	select {
	case <-g.exec.hello:
	case <-g.exec.ended:
		return "", 0, g.execEnded()
	case <-ctx.Done():
		return "", 0, newOpError("exec", fmt.Errorf("wait for the guest's command loop: %w", ctx.Err()))
	}

	w := &execWait{ch: make(chan execResult, 1), line: line}
	defer w.leave()
	g.exec.mu.Lock()
	g.exec.seq++
	tok := "c" + strconv.Itoa(g.exec.seq)
	g.exec.pending[tok] = w
	g.exec.mu.Unlock()
	forget := func() {
		g.exec.mu.Lock()
		delete(g.exec.pending, tok)
		g.exec.mu.Unlock()
	}

	if err := g.send(ctx, tok+" "+cmd+"\n"); err != nil {
		forget()
		if g.isClosed() {
			return "", 0, newOpError("exec", ErrClosed)
		}
		select {
		case <-g.done: // a write to a QEMU that is gone: say so
			return "", 0, newOpError("exec", g.exitError())
		case <-time.After(time.Second):
			return "", 0, newOpError("exec", err)
		}
	}
	select {
	case res := <-w.ch:
		return res.output, res.status, nil
	case <-g.exec.ended:
		forget()
		return "", 0, g.execEnded()
	case <-ctx.Done():
		forget()
		return "", 0, newOpError("exec", fmt.Errorf("%q: %w", cmd, ctx.Err()))
	}
}

// send writes a line to the command channel.
func (g *Guest) send(ctx context.Context, line string) error {
	g.exec.wmu.Lock()
	defer g.exec.wmu.Unlock()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Time{}
	}
	if err := g.ctl.SetWriteDeadline(dl); err != nil {
		return err
	}
	_, err := g.ctl.Write([]byte(line))
	return err
}

// execEnded is Exec's error once the command channel is gone.
func (g *Guest) execEnded() error {
	if g.isClosed() {
		return newOpError("exec", ErrClosed)
	}
	select {
	case <-g.done:
		return newOpError("exec", g.exitError())
	case <-time.After(time.Second):
		return newOpError("exec", errors.New("command channel closed"))
	}
}

// isClosed reports whether Close was called.
func (g *Guest) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}
