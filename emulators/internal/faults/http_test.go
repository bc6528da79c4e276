package faults_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/etl-pipeline/emulators/internal/faults"
	"github.com/etl-pipeline/emulators/internal/pubsubadmin"
)

func TestAdminAPI(t *testing.T) {
	e := newEnv(t)
	sub := e.subscription("api", nil, nil)
	handler, err := pubsubadmin.Handler(e.srv.Fake(), pubsubadmin.WithFaults(e.reg))
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(handler)
	defer api.Close()
	call := func(method, path, body string, wantCode int, out any) {
		t.Helper()
		req, err := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		e.must(err)
		resp, err := http.DefaultClient.Do(req)
		e.must(err)
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantCode {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, data, wantCode)
		}
		if out != nil {
			e.must(json.Unmarshal(data, out))
		}
	}
	const path = "/v1/projects/p/subscriptions/api/faults"

	var st faults.Status
	call("GET", path, "", 200, &st)
	if st.Subscription != sub || st.Faults != nil {
		t.Errorf("before: %+v", st)
	}
	call("PUT", path, `{"duplicate": 1, "seed": 7}`, 200, &st)
	if st.Faults == nil || *st.Faults != (faults.Config{Duplicate: 1, Seed: 7}) {
		t.Errorf("after PUT: %+v", st)
	}
	e.publish(sub, 2, "")
	if got := e.pull(sub, 10); len(got) != 4 {
		t.Errorf("pulled %d, want 4 (duplicates on)", len(got))
	}

	var list struct {
		Subscriptions []struct {
			Name        string         `json:"name"`
			Faults      *faults.Config `json:"faults"`
			FaultsFired faults.Counts  `json:"faults_fired"`
		} `json:"subscriptions"`
	}
	call("GET", "/v1/subscriptions?project=p", "", 200, &list)
	if len(list.Subscriptions) != 1 || list.Subscriptions[0].Faults == nil || list.Subscriptions[0].FaultsFired.Duplicate != 2 {
		t.Errorf("listing %+v", list)
	}
	var all struct{ Faults []faults.Status }
	call("GET", "/v1/faults?project=p", "", 200, &all)
	if len(all.Faults) != 1 || all.Faults[0].Fired.Duplicate != 2 {
		t.Errorf("GET /v1/faults: %+v", all)
	}
	call("GET", "/v1/faults?project=q", "", 200, &all)
	if len(all.Faults) != 0 {
		t.Errorf("project q: %+v", all)
	}

	call("DELETE", path, "", 200, &st)
	if st.Faults != nil || st.Fired.Duplicate != 2 {
		t.Errorf("after DELETE: %+v (counts are kept)", st)
	}
	e.publish(sub, 1, "")
	if got := e.pull(sub, 10); len(got) != 1 {
		t.Errorf("pulled %d after DELETE, want 1", len(got))
	}

	var bad map[string]string
	call("PUT", path, `{"duplicate": 3}`, 400, &bad)
	if !strings.Contains(bad["error"], "faults.duplicate must be 0-1") {
		t.Errorf("bad body: %v", bad)
	}
	call("PUT", path, `{"dupe": 1}`, 400, &bad)
	call("PUT", "/v1/projects/p/subscriptions/nope/faults", `{}`, 404, &bad)
	call("GET", "/v1/projects/p/subscriptions/nope/faults", "", 404, &bad)
}
