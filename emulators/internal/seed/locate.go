package seed

import (
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// lines maps entries ("pubsub.subscriptions[4]") and their keys
// ("pubsub.subscriptions[4].ack_deadline_seconds"; top-level keys bare) to
// the line they are written on, so validation errors can point at it.
type lines map[string]int

// locate scans a document that already decoded without error.
func locate(data []byte) lines {
	at := lines{}
	counts := map[string]int{}
	entry := ""
	p := unstable.Parser{}
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		keys, line := keyOf(&p, e)
		path := strings.Join(keys, ".")
		switch e.Kind {
		case unstable.ArrayTable:
			entry = fmt.Sprintf("%s[%d]", path, counts[path])
			counts[path]++
			at[entry] = line
		case unstable.Table:
			entry = path
			at[entry] = line
		case unstable.KeyValue:
			for i := range keys {
				at.setOnce(join(entry, strings.Join(keys[:i+1], ".")), line)
			}
		}
	}
	return at
}

// keyOf returns the dotted key of a table header or key/value and its line.
func keyOf(p *unstable.Parser, e *unstable.Node) ([]string, int) {
	var keys []string
	line := 0
	it := e.Key()
	for it.Next() {
		keys = append(keys, string(it.Node().Data))
		if line == 0 {
			line = p.Shape(it.Node().Raw).Start.Line
		}
	}
	return keys, line
}

func (at lines) setOnce(key string, line int) {
	if _, ok := at[key]; !ok {
		at[key] = line
	}
}

// of is the line of key in entry, else of the entry, else 0.
func (at lines) of(entry, key string) int {
	for k := key; k != ""; k = parent(k) {
		if n, ok := at[join(entry, k)]; ok {
			return n
		}
	}
	return at[entry]
}

func parent(key string) string {
	i := strings.LastIndexByte(key, '.')
	if i < 0 {
		return ""
	}
	return key[:i]
}

func join(entry, key string) string {
	if entry == "" {
		return key
	}
	return entry + "." + key
}
