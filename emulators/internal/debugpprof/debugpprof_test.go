package debugpprof

import (
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestOffByDefault(t *testing.T) {
	var f Flag
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	addr, stop, err := f.Start()
	if err != nil || addr != "" {
		t.Fatalf("off by default: got %q, %v", addr, err)
	}
	stop()
}

func TestRefusesAPortOutOfRange(t *testing.T) {
	if _, _, err := (Flag{port: 70000}).Start(); err == nil || !strings.Contains(err.Error(), "pprof-port") {
		t.Fatalf("got %v, want an error naming --pprof-port", err)
	}
}

func TestServesTheProfilerOnLoopbackOnly(t *testing.T) {
	addr, stop, err := Flag{port: 0}.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("bound %s, want 127.0.0.1", addr)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("index: %d %.200q", resp.StatusCode, body)
	}
}
