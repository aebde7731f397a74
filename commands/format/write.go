package format

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
)

// Table layout, as docker's: columns at least 10 characters wide including
// padding, separated by at least 3 spaces.
const (
	tableMinWidth = 10
	tableTabWidth = 1
	tablePadding  = 3
)

// Write renders rows to w as opts describes. Rows are structs, or pointers
// to structs, whose exported fields and methods templates reach as
// {{.Field}}.
//
// A table prints a header line, even when there are no rows, then one line
// per row, aligned in columns with no trailing spaces. "json" prints one
// compact JSON object per row and line. Any other template is executed
// once per row, each followed by a newline.
//
// Output is written only once every row has rendered, so a bad template
// never leaves half a table on the terminal. Errors read as docker's:
// "template parsing error: ...", naming the offending field or function.
func Write(w io.Writer, opts Options, rows []any) error {
	m, text, err := opts.resolve()
	if err != nil {
		return err
	}
	tmpl, err := parseTemplate(text, rowFuncs)
	if err != nil {
		return err
	}

	var body bytes.Buffer
	for _, row := range rows {
		if err := tmpl.Execute(&body, row); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		body.WriteByte('\n')
	}

	if m == modePlain {
		_, err := body.WriteTo(w)
		return err
	}

	header, err := parseTemplate(text, headerFuncs)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	tw := tabwriter.NewWriter(&out, tableMinWidth, tableTabWidth, tablePadding, ' ', 0)
	// As in docker, a header that cannot be fully rendered (say, for a
	// method called with arguments) is not an error: the rows matter more.
	_ = header.Execute(tw, headerData(tmpl, rows, opts.Headers))
	if _, err := io.WriteString(tw, "\n"); err != nil {
		return err
	}
	if _, err := body.WriteTo(tw); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = io.WriteString(w, trimLines(out.String()))
	return err
}

// parseTemplate parses text with the given functions; like docker, the
// template is unnamed so errors point at ":line:col".
func parseTemplate(text string, funcs template.FuncMap) (*template.Template, error) {
	t, err := template.New("").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}

// trimLines strips trailing spaces and tabs from every line of s, which
// tabwriter leaves after the last non-empty cell of a short row.
func trimLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	b.Grow(len(s))
	for _, l := range lines {
		nl := strings.HasSuffix(l, "\n")
		b.WriteString(strings.TrimRight(strings.TrimSuffix(l, "\n"), " \t"))
		if nl {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
