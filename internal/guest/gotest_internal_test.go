package guest

import (
	"os/exec"
	"slices"
	"testing"
)

func TestMissingPasses(t *testing.T) {
	out := "=== RUN   TestA\n--- PASS: TestA (0.01s)\n=== RUN   TestB\n    --- SKIP: TestB (0.00s)\n" +
		"=== RUN   TestC\n    --- PASS: TestC/sub (0.00s)\n--- FAIL: TestC (0.1s)\nok\n"
	got := missingPasses(out, []string{"TestA", "TestB", "TestC", "TestC/sub", "TestD"})
	if want := []string{"TestB", "TestC", "TestD"}; !slices.Equal(got, want) {
		t.Errorf("missingPasses = %q, want %q", got, want)
	}
}

func TestShellJoin(t *testing.T) {
	words := []string{"-test.run", "^(A|B)$", "it's", "", "a b"}
	out, err := exec.Command("/bin/sh", "-c", `for w in `+shellJoin(words)+`; do printf '%s\n' "[$w]"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "[-test.run]\n[^(A|B)$]\n[it's]\n[]\n[a b]\n"; got != want {
		t.Errorf("sh saw %q, want %q", got, want)
	}
}
