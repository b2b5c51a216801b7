package qmp

import (
	"log/slog"
)

// DefaultEventBuffer is the buffer size of a [Subscription] when neither
// [Subscribe]'s argument nor [Config.EventBuffer] gives one.
const DefaultEventBuffer = 64

// Config tunes a [Client]. A nil *Config is the same as a zero Config; the
// doc of each field says what its zero value does.
type Config struct {
	// EventBuffer is the number of events a [Subscription] buffers when
	// [Client.Subscribe] is called with buf <= 0. Zero means
	// [DefaultEventBuffer]. Each event is one monitor line, so a
	// subscription holds at most EventBuffer × MaxLine bytes.
	EventBuffer int

	// Enable lists QMP capabilities to enable with qmp_capabilities, e.g.
	// "oob". Zero (nil) enables none, which is what nicplug needs: file
	// descriptor passing does not need "oob". Enabling "oob" lets QEMU
	// queue several commands at once, which makes concurrent getfd calls
	// racy inside QEMU; do not combine the two.
	Enable []string

	// MaxLine is the longest line, in bytes, accepted from the monitor: a
	// longer one closes the connection with an error matching
	// [ErrLineTooLong], after at most about twice that much memory was
	// used to read it. Zero means [DefaultMaxLine].
	MaxLine int

	// Logger receives debug records about discarded input (unparseable
	// lines, replies nobody waits for) and warnings. Nil discards them.
	Logger *slog.Logger
}

func (c *Config) eventBuffer() int {
	if c == nil || c.EventBuffer <= 0 {
		return DefaultEventBuffer
	}
	return c.EventBuffer
}

func (c *Config) logger() *slog.Logger {
	if c == nil || c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// DefaultMaxLine is the longest line a [Client] accepts from the monitor
// when [Config.MaxLine] is zero: 16 MiB, eighty times QEMU's longest reply
// (query-qmp-schema, about 200 KB).
const DefaultMaxLine = 16 << 20

func (c *Config) maxLine() int {
	if c == nil || c.MaxLine <= 0 {
		return DefaultMaxLine
	}
	return c.MaxLine
}
