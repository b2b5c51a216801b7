package testenv

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestLogBuffer(t *testing.T) {
	var b LogBuffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); log.Info("record", "n", i) }()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "msg=record"); got != 8 {
		t.Errorf("String holds %d records, want 8:\n%s", got, b.String())
	}
	if got := strings.Count(b.Take(), "\n"); got != 8 {
		t.Errorf("Take returned %d lines, want 8", got)
	}
	fmt.Fprint(&b, "after")
	if got := b.Take(); got != "after" {
		t.Errorf("Take after Take = %q, want only what came since", got)
	}
	if got := b.String(); got != "" {
		t.Errorf("String after Take = %q, want empty", got)
	}
}
