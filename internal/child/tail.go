package child

import "sync"

// Tail is an io.Writer that keeps the last bytes written to it, such as a
// child's standard error for an error message. It is safe for concurrent
// use: a reader may call String while the child writes.
type Tail struct {
	max int

	mu sync.Mutex // protects b
	b  []byte
}

// NewTail returns a Tail that keeps the last n bytes (at least one).
func NewTail(n int) *Tail { return &Tail{max: max(n, 1)} }

// Write appends p, dropping the oldest bytes beyond the limit. It never
// fails.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(p) >= t.max {
		t.b = append(t.b[:0], p[len(p)-t.max:]...)
		return len(p), nil
	}
	if drop := len(t.b) + len(p) - t.max; drop > 0 {
		t.b = t.b[:copy(t.b, t.b[drop:])]
	}
	t.b = append(t.b, p...)
	return len(p), nil
}

// String returns the bytes kept.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
