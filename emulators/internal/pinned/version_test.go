package pinned_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/etl-pipeline/emulators/internal/bttestx"
	"github.com/etl-pipeline/emulators/internal/pstestx"
)

// The seams name the versions go.mod requires (in a test binary, which
// lists no dependencies, found through the module cache path).
func TestSeamsNameTheVersionsGoModRequires(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for module, version := range map[string]string{pstestx.Module: pstestx.Version, bttestx.Module: bttestx.Version} {
		want := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + ` (v\S+)`).FindSubmatch(mod)
		if want == nil || version != string(want[1]) {
			t.Errorf("%s: version %q, go.mod requires %s", module, version, want)
		}
	}
}
