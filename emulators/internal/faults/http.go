package faults

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// Routes adds the faults API to mux:
//
//	GET    /v1/faults?project=P                                   every subscription with faults set (now or before)
//	GET    /v1/projects/{project}/subscriptions/{subscription}/faults
//	PUT    /v1/projects/{project}/subscriptions/{subscription}/faults  body: Input as JSON
//	DELETE /v1/projects/{project}/subscriptions/{subscription}/faults
//
// exists tells whether a subscription (full name) exists: the three last
// answer 404 for one that does not.
func (r *Registry) Routes(mux *http.ServeMux, exists func(name string) bool) {
	mux.HandleFunc("GET /v1/faults", func(w http.ResponseWriter, req *http.Request) {
		prefix := ""
		if p := req.URL.Query().Get("project"); p != "" {
			prefix = "projects/" + p + "/subscriptions/"
		}
		out := []Status{}
		for _, s := range r.All() {
			if strings.HasPrefix(s.Subscription, prefix) {
				out = append(out, s)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"faults": out})
	})
	const path = "/v1/projects/{project}/subscriptions/{subscription}/faults"
	one := func(handle func(w http.ResponseWriter, req *http.Request, name string)) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			name := "projects/" + req.PathValue("project") + "/subscriptions/" + req.PathValue("subscription")
			if !exists(name) {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": "no subscription " + name})
				return
			}
			handle(w, req, name)
		}
	}
	mux.HandleFunc("GET "+path, one(func(w http.ResponseWriter, _ *http.Request, name string) {
		s, _ := r.Get(name)
		writeJSON(w, http.StatusOK, s)
	}))
	mux.HandleFunc("PUT "+path, one(func(w http.ResponseWriter, req *http.Request, name string) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<16))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		cfg, err := ParseJSON(body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		r.Set(name, cfg)
		s, _ := r.Get(name)
		writeJSON(w, http.StatusOK, s)
	}))
	mux.HandleFunc("DELETE "+path, one(func(w http.ResponseWriter, _ *http.Request, name string) {
		r.Clear(name)
		s, _ := r.Get(name)
		writeJSON(w, http.StatusOK, s)
	}))
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body) //nolint:errcheck // the client went away
}
