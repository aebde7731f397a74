package format

import (
	"reflect"
	"strings"
	"text/template"
	"unicode"
)

// Headerer is implemented by row types that want other column headers than
// the ones derived from their field and method names, e.g.
// {"ID": "SERVICE ID"}. Names it leaves out keep their derived header.
// Keys may be dotted paths for nested fields, e.g. "Spec.Name".
type Headerer interface {
	Headers() map[string]string
}

// headerData builds what a table's header is rendered against: every field
// the template refers to and every exported field and method of the rows'
// type gets its derived header; then the first row's Headers and, last,
// extra override those.
func headerData(tmpl *template.Template, rows []any, extra map[string]string) headerCell {
	root := headerCell{}
	for _, t := range tmpl.Templates() {
		if t.Tree != nil {
			walkFields(t.Tree.Root, root, root)
		}
	}
	var first any
	for _, r := range rows {
		if r != nil {
			first = r
			break
		}
	}
	if first != nil {
		memberNames(reflect.TypeOf(first), func(name string) { root.child(name) })
		if hr, ok := first.(Headerer); ok {
			for k, v := range hr.Headers() {
				root.path(strings.Split(k, ".")).setLabel(v)
			}
		}
	}
	for k, v := range extra {
		root.path(strings.Split(k, ".")).setLabel(v)
	}
	return root
}

// memberNames reports the exported fields and methods of t, looking
// through one level of pointer for the fields.
func memberNames(t reflect.Type, add func(string)) {
	for i := range t.NumMethod() {
		add(t.Method(i).Name)
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for _, f := range reflect.VisibleFields(t) {
		if f.IsExported() {
			add(f.Name)
		}
	}
}

// headerName derives a column header from a Go name: split into words at
// CamelCase boundaries, upper-cased and joined with spaces, so that
// ManagerStatus is headed "MANAGER STATUS", NodeID "NODE ID" and
// TLSStatus "TLS STATUS".
func headerName(name string) string {
	r := []rune(name)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && startsWord(r, i) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return b.String()
}

// startsWord reports whether r[i] begins a new word: an upper-case letter
// after a lower-case letter or digit ("nodeID" -> node|ID), or the last
// capital of an acronym followed by a lower-case word ("TLSStatus" ->
// TLS|Status, while "IDs" and "IPv6" stay whole).
func startsWord(r []rune, i int) bool {
	if !unicode.IsUpper(r[i]) {
		return false
	}
	prev := r[i-1]
	if unicode.IsLower(prev) || unicode.IsDigit(prev) {
		return true
	}
	return unicode.IsUpper(prev) && i+2 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsLower(r[i+2])
}
