package state

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"sync"
	"time"
)

// ExportHandler serves POST ...?dir=DIR: export calls export(DIR) (an
// absolute path on the emulator's machine or container) and answers
// {"dir": DIR, "exported_at": "...", "elapsed_ms": N}, 400 without an
// absolute dir, 500 {"error": "..."} if the export failed.
func ExportHandler(export func(dir string) error) http.HandlerFunc {
	var one sync.Mutex // one export at a time
	return func(w http.ResponseWriter, r *http.Request) {
		dir := r.URL.Query().Get("dir")
		if dir == "" || !filepath.IsAbs(dir) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "dir must be an absolute path on the emulator's side, got " + `"` + dir + `"`})
			return
		}
		one.Lock()
		defer one.Unlock()
		start := time.Now()
		if err := export(dir); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"dir": dir, "exported_at": start.UTC().Format(time.RFC3339Nano), "elapsed_ms": time.Since(start).Milliseconds()})
	}
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body) //nolint:errcheck // the client went away
}
