package qmp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// message is any line QEMU sends: a greeting, a reply or an event.
type message struct {
	QMP       *greeting       `json:"QMP"`
	Return    json.RawMessage `json:"return"`
	Error     *wireError      `json:"error"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp *timestamp      `json:"timestamp"`
	ID        json.RawMessage `json:"id"`
}

type greeting struct {
	Version struct {
		QEMU struct {
			Major int `json:"major"`
			Minor int `json:"minor"`
			Micro int `json:"micro"`
		} `json:"qemu"`
		Package string `json:"package"`
	} `json:"version"`
	Capabilities []string `json:"capabilities"`
}

type wireError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

type timestamp struct {
	Seconds      int64 `json:"seconds"`
	Microseconds int64 `json:"microseconds"`
}

func (t *timestamp) time() time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Unix(t.Seconds, t.Microseconds*1000)
}

// Version is the QEMU version announced in the QMP greeting.
type Version struct {
	// Major, Minor and Micro are QEMU's version numbers, e.g. 7, 2, 22.
	Major, Minor, Micro int
	// Package is the distribution's package string, e.g.
	// "Debian 1:7.2+dfsg-7+deb12u18+b3"; empty for a plain build.
	Package string
}

// String returns "major.minor.micro".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Micro)
}

// AtLeast reports whether v is major.minor.micro or newer.
func (v Version) AtLeast(major, minor, micro int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Micro >= micro
}

// encodeCommand renders the start of a command line,
// {"execute":"<command>","arguments":<args>, which [appendID] completes. A
// nil args (or one that encodes as null) omits "arguments".
func encodeCommand(command string, args any) ([]byte, error) {
	if command == "" {
		return nil, fmt.Errorf("empty command name")
	}
	name, err := json.Marshal(command)
	if err != nil {
		return nil, err
	}
	var a []byte
	if args != nil {
		if a, err = json.Marshal(args); err != nil {
			return nil, fmt.Errorf("encode arguments: %w", err)
		}
		if string(a) == "null" {
			a = nil
		} else if a[0] != '{' {
			return nil, fmt.Errorf("arguments must encode as a JSON object, got %.40s", a)
		}
	}
	b := make([]byte, 0, len(`{"execute":,"arguments":,"id":}`)+len(name)+len(a)+24)
	b = append(b, `{"execute":`...)
	b = append(b, name...)
	if a != nil {
		b = append(b, `,"arguments":`...)
		b = append(b, a...)
	}
	return b, nil
}

// appendID completes a line from [encodeCommand] with ,"id":<id>}\n.
func appendID(b []byte, id uint64) []byte {
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, id, 10)
	return append(b, "}\n"...)
}

// parseID returns the numeric id this client put on a command, or false for
// a missing or foreign id.
func parseID(raw json.RawMessage) (uint64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	id, err := strconv.ParseUint(string(raw), 10, 64)
	return id, err == nil
}
