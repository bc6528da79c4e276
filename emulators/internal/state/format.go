// Package state exports the state of the emulators to a directory and
// imports it back: Pub/Sub topics, subscriptions (configuration, faults,
// backlog) and Bigtable tables (column families, GC rules, rows with every
// cell and timestamp).
//
// A state directory holds manifest.json, written last, and JSON Lines
// files, one record per line, sorted, so two exports diff well:
//
//	manifest.json  {"format": "etl-emulator-state", "version": 1, "service": "pubsub",
//	                "exported_at": "...", "files": {"topics.jsonl": {"lines": 2, "sha256": "..."}, ...}}
//
// Load checks the format, the version and every listed file's line count
// and SHA-256, and parses every record, before anything is applied; an
// incompatible or corrupt directory is refused whole.
package state

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	// Format names the directory layout in manifest.json.
	Format = "etl-emulator-state"
	// Version is the version this code writes and reads. A change that
	// older readers would misread bumps it.
	Version = 1
	// ManifestFile is the manifest's name in a state directory.
	ManifestFile = "manifest.json"
)

// Manifest is manifest.json.
type Manifest struct {
	Format     string              `json:"format"`
	Version    int                 `json:"version"`
	Service    string              `json:"service"` // "pubsub" or "bigtable"
	ExportedAt time.Time           `json:"exported_at"`
	Files      map[string]FileInfo `json:"files"` // by path relative to the directory, with /
	// NextMessageID is the Pub/Sub emulator's next message number, so ids
	// stay unique after an import.
	NextMessageID int64 `json:"next_message_id,omitempty"`
}

// FileInfo identifies a file's content.
type FileInfo struct {
	Lines  int    `json:"lines"`
	SHA256 string `json:"sha256"`
}

// Error is a state directory that cannot be imported.
type Error struct {
	Dir, Problem string
}

func (e *Error) Error() string { return fmt.Sprintf("state %s: %s", e.Dir, e.Problem) }

func problem(dir, format string, args ...any) error {
	return &Error{Dir: dir, Problem: fmt.Sprintf(format, args...)}
}

// writer writes a state directory: JSON Lines files, then the manifest.
type writer struct {
	dir      string
	manifest Manifest
}

// newWriter prepares dir: created if missing; a previous export's manifest
// and files (the manifest's, and everything under subdirs) are removed
// first, so a failed export leaves no manifest and cannot be imported.
func newWriter(dir, service string, subdirs ...string) (*writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if old, err := readManifest(dir); err == nil {
		for name := range old.Files {
			os.Remove(filepath.Join(dir, filepath.FromSlash(name)))
		}
	}
	if err := os.Remove(filepath.Join(dir, ManifestFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, sub := range subdirs {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return nil, err
		}
	}
	return &writer{dir: dir, manifest: Manifest{
		Format: Format, Version: Version, Service: service, ExportedAt: time.Now().UTC(), Files: map[string]FileInfo{},
	}}, nil
}

// lines writes records, one JSON value per line, to name (with /).
func (w *writer) lines(name string, records []any) error {
	var buf bytes.Buffer
	for _, r := range records {
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	path := filepath.Join(w.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	w.manifest.Files[name] = FileInfo{Lines: len(records), SHA256: hex.EncodeToString(sum[:])}
	return nil
}

// finish writes the manifest (to a temporary file, then renamed).
func (w *writer) finish() error {
	data, err := json.MarshalIndent(w.manifest, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(w.dir, ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(w.dir, ManifestFile))
}

func readManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// reader reads a state directory whose manifest was checked.
type reader struct {
	dir      string
	manifest *Manifest
}

// open checks dir's manifest: format, version, service, and every listed
// file's presence, line count and checksum.
func open(dir, service string) (*reader, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, problem(dir, "no %s: not a state directory, or its export did not finish", ManifestFile)
		}
		return nil, problem(dir, "%v", err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, problem(dir, "%s is corrupt: %v", ManifestFile, err)
	}
	switch {
	case m.Format != Format:
		return nil, problem(dir, "%s: format %q, want %q", ManifestFile, m.Format, Format)
	case m.Version != Version:
		return nil, problem(dir, "%s: format version %d, this emulator reads version %d only", ManifestFile, m.Version, Version)
	case m.Service != service:
		return nil, problem(dir, "%s: an export of the %s emulator, not of %s", ManifestFile, m.Service, service)
	}
	for _, name := range sortedKeys(m.Files) {
		info := m.Files[name]
		if strings.Contains(name, "..") || filepath.IsAbs(name) {
			return nil, problem(dir, "%s: bad file name %q", ManifestFile, name)
		}
		content, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, problem(dir, "%s: %v", name, err)
		}
		sum := sha256.Sum256(content)
		if hex.EncodeToString(sum[:]) != info.SHA256 {
			return nil, problem(dir, "%s is corrupt: its SHA-256 is not the one in %s", name, ManifestFile)
		}
		if n := bytes.Count(content, []byte{'\n'}); n != info.Lines {
			return nil, problem(dir, "%s is corrupt: %d lines, %s says %d", name, n, ManifestFile, info.Lines)
		}
	}
	return &reader{dir: dir, manifest: &m}, nil
}

// each decodes every line of name (which must be in the manifest; missing
// means no records when optional) into a new T, strictly.
func each[T any](r *reader, name string, optional bool, fn func(line int, v *T) error) error {
	if _, ok := r.manifest.Files[name]; !ok {
		if optional {
			return nil
		}
		return problem(r.dir, "%s lists no %s", ManifestFile, name)
	}
	f, err := os.Open(filepath.Join(r.dir, filepath.FromSlash(name)))
	if err != nil {
		return problem(r.dir, "%s: %v", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for n := 1; sc.Scan(); n++ {
		v := new(T)
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return problem(r.dir, "%s:%d: %v", name, n, err)
		}
		if err := fn(n, v); err != nil {
			return problem(r.dir, "%s:%d: %v", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return problem(r.dir, "%s: %v", name, err)
	}
	return nil
}

// files lists the manifest's files under prefix (with /), sorted.
func (r *reader) files(prefix string) []string {
	var out []string
	for name := range r.manifest.Files {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
