// Package pinned checks that unexported fields of a dependency (pstest,
// bttest) are where a declared layout says they are, and gives their
// offsets to the seam packages that reach them.
//
// A layout lists fields as "type.field": the field's type as reflect prints
// it ("map[string]*pstest.subscription"). Check starts from root structs
// (pstest.GServer) and reaches the others through the fields it checks: a
// checked field whose type holds a named struct of the roots' package (by
// pointer, map value, slice, array or channel element) makes that struct
// known under its name. Check fails, naming every field that differs, when
// the layout is not the real one, as after an upgrade of the dependency;
// the seam packages (internal/pstestx, internal/bttestx) then refuse to
// start, naming the dependency's version (Version).
//
// This package only checks and reports: the seam packages add the offsets
// to addresses, so that they alone import unsafe (nothing else under
// internal/ does).
package pinned

import (
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
)

// Layout is a checked layout: where each declared field is, and its type.
type Layout struct {
	fields  map[string]reflect.StructField
	structs map[string]reflect.Type
}

// Check compares the layout want with the structs reached from roots. Its
// error starts with pin, which names the dependency and its pinned version,
// e.g. "pstest internals changed (admin API pinned to pstest v2.9.0)".
func Check(pin string, want map[string]string, roots ...reflect.Type) (*Layout, error) {
	l := &Layout{fields: map[string]reflect.StructField{}, structs: map[string]reflect.Type{}}
	pkg := ""
	for _, r := range roots {
		l.structs[r.Name()] = r
		pkg = r.PkgPath()
	}
	var problems []string
	// In passes: a struct is known once a field holding it has been checked.
	pending := slices.Sorted(maps.Keys(want))
	for len(pending) > 0 {
		var unreached []string
		for _, path := range pending {
			typ, name, _ := strings.Cut(path, ".")
			st, ok := l.structs[typ]
			if !ok {
				unreached = append(unreached, path)
				continue
			}
			f, ok := st.FieldByName(name)
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s is missing, want %s", path, want[path]))
			case len(f.Index) != 1:
				problems = append(problems, fmt.Sprintf("%s is promoted from an embedded struct, want a field of %s", path, typ))
			case f.Type.String() != want[path]:
				problems = append(problems, fmt.Sprintf("%s is %v, want %s", path, f.Type, want[path]))
			default:
				l.fields[path] = f
				if s := held(f.Type); s != nil && s.PkgPath() == pkg && s.Name() != "" {
					l.structs[s.Name()] = s
				}
			}
		}
		if len(unreached) == len(pending) {
			for _, path := range unreached {
				typ, _, _ := strings.Cut(path, ".")
				problems = append(problems, fmt.Sprintf("%s: no struct %s reached from the checked fields", path, typ))
			}
			break
		}
		pending = unreached
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", pin, strings.Join(problems, "; "))
	}
	return l, nil
}

// held is the struct t holds through pointers, maps (their values), slices,
// arrays and channels; nil if none.
func held(t reflect.Type) reflect.Type {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Array, reflect.Chan:
			t = t.Elem()
		case reflect.Struct:
			return t
		default:
			return nil
		}
	}
}

// Struct is the struct named name (unqualified, as in the layout's paths).
// It panics if Check did not reach it.
func (l *Layout) Struct(name string) reflect.Type {
	t, ok := l.structs[name]
	if !ok {
		panic("pinned: no struct " + name + " in the layout")
	}
	return t
}

func (l *Layout) field(path string) reflect.StructField {
	f, ok := l.fields[path]
	if !ok {
		panic("pinned: " + path + " is not in the layout")
	}
	return f
}

// OffsetOf is where the field path starts in its struct, after checking
// that T is its type, or an unsafe pointer type for a field that is a
// pointer (to an unexported type, which cannot be named). It panics for a
// path not in the layout or another T. The seam packages add the offset to
// a struct's address: they alone do unsafe arithmetic.
func OffsetOf[T any](l *Layout, path string) uintptr {
	f := l.field(path)
	if t := reflect.TypeFor[T](); t != f.Type && (t.Kind() != reflect.UnsafePointer || f.Type.Kind() != reflect.Pointer) {
		panic(fmt.Sprintf("pinned: %s is %v, not %v", path, f.Type, t))
	}
	return f.Offset
}

// MapOffset is where the map field path starts in its struct, and its
// type; it panics if path is not in the layout or not a map.
func (l *Layout) MapOffset(path string) (uintptr, reflect.Type) {
	f := l.field(path)
	if f.Type.Kind() != reflect.Map {
		panic(fmt.Sprintf("pinned: %s is %v, not a map", path, f.Type))
	}
	return f.Offset, f.Type
}

// Version is the version of module linked into this binary: from the build
// information, or, where that lists no dependencies (test binaries), from
// the path of the source file fn (a function of the module) was compiled
// from, which the module cache names "module@version/..."; "an unknown
// version" if neither says.
func Version(module string, fn any) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == module {
				return dep.Version
			}
		}
	}
	if f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()); f != nil {
		file, _ := f.FileLine(f.Entry())
		if _, rest, ok := strings.Cut(file, module+"@"); ok {
			if v, _, ok := strings.Cut(rest, "/"); ok {
				return v
			}
		}
	}
	return "an unknown version"
}
