package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// procStats are this process's resources.
type procStats struct {
	fds, goroutines int
	rssKB, hwmKB    int64 // VmRSS, VmHWM
	heapInuse       uint64
}

func readProcStats() procStats {
	runtime.GC()
	var s procStats
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		s.fds = len(ents) - 1 // the directory being read
	}
	s.goroutines = runtime.NumGoroutine()
	s.rssKB = statusKB("self", "VmRSS")
	s.hwmKB = statusKB("self", "VmHWM")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.heapInuse = ms.HeapInuse
	return s
}

// statusKB reads a "kB" field of /proc/<pid>/status, 0 when unknown.
func statusKB(pid, field string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// settle waits up to 5 s for fds and goroutines to come back to base and
// returns the final counts; leaks lists what did not.
func settle(what string, base procStats) (procStats, []string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := readProcStats()
		if s.fds <= base.fds && s.goroutines <= base.goroutines {
			return s, nil
		}
		if time.Now().After(deadline) {
			var leaks []string
			if s.fds > base.fds {
				leaks = append(leaks, fmt.Sprintf("%s: %d fds, baseline %d", what, s.fds, base.fds))
			}
			if s.goroutines > base.goroutines {
				leaks = append(leaks, fmt.Sprintf("%s: %d goroutines, baseline %d", what, s.goroutines, base.goroutines))
			}
			return s, leaks
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mb(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }
