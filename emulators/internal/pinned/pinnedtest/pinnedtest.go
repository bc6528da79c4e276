// Package pinnedtest is for the tests of pinned and of the packages that
// reach a dependency's internals through it (bttestx, pstestx): it checks
// how a changed layout is refused.
package pinnedtest

import (
	"strings"
	"testing"
)

// WantRefused fails t unless err, the outcome of checking a changed
// layout, is an error that says each of says.
func WantRefused(t testing.TB, err error, says ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("a changed layout was accepted")
	}
	for _, want := range says {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
