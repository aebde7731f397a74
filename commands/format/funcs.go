package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// rowFuncs are the functions every template may call, named as docker's.
// println is text/template's own builtin.
var rowFuncs = template.FuncMap{
	"json":     jsonString,
	"join":     join,
	"split":    strings.Split,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"title":    title,
	"truncate": truncate,
	"pad":      pad,
}

// headerFuncs replace rowFuncs when a table's header is rendered, so that a
// column written as {{upper .Name}} or {{truncate .ID 3}} is still headed
// NAME or ID. pad is kept so headers stay aligned with padded cells.
var headerFuncs = template.FuncMap{
	"json":     func(v any) string { return headerText(v) },
	"join":     func(v any, _ string) string { return headerText(v) },
	"split":    func(v any, _ string) string { return headerText(v) },
	"lower":    func(v any) string { return headerText(v) },
	"upper":    func(v any) string { return headerText(v) },
	"title":    func(v any) string { return headerText(v) },
	"truncate": func(v any, _ int) string { return headerText(v) },
	"pad":      func(v any, left, right int) string { return pad(headerText(v), left, right) },
}

// headerText returns the header a value stands for while a table's header
// renders: a header cell's or string's text, and nothing for anything else.
func headerText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case fmt.Stringer:
		return v.String()
	}
	return ""
}

// jsonString marshals v as compact JSON without escaping <, > and &, which
// would only obscure image names and port arrows such as "*:80->80/tcp".
func jsonString(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// join concatenates the elements of a list, separated by sep. Besides
// []string it accepts any slice or array, printing elements with fmt.
func join(list any, sep string) (string, error) {
	switch l := list.(type) {
	case nil:
		return "", nil
	case []string:
		return strings.Join(l, sep), nil
	}
	v := reflect.ValueOf(list)
	if k := v.Kind(); k != reflect.Slice && k != reflect.Array {
		return "", fmt.Errorf("join: want a list, got %T", list)
	}
	parts := make([]string, v.Len())
	for i := range parts {
		parts[i] = fmt.Sprint(v.Index(i).Interface())
	}
	return strings.Join(parts, sep), nil
}

// title upper-cases the first letter of every word; anything but letters,
// digits, underscores and apostrophes separates words, so
// "node.role=manager" becomes "Node.Role=Manager".
func title(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	startOfWord := true
	for _, r := range s {
		if startOfWord {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(r)
		}
		startOfWord = !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_' || r == '\'')
	}
	return b.String()
}

// truncate keeps the first n characters of s (n <= 0 keeps none).
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// pad surrounds a non-empty s with left and right spaces; an empty s stays
// empty, as in docker, so that absent values do not leave blank padding.
func pad(s string, left, right int) string {
	if s == "" {
		return ""
	}
	return strings.Repeat(" ", max(left, 0)) + s + strings.Repeat(" ", max(right, 0))
}
