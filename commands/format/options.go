package format

import (
	"errors"
	"strings"
)

// Format keys with a special meaning in Options.Format.
const (
	// TableKey selects the command's default table, or, followed by a
	// template, a table whose columns that template describes.
	TableKey = "table"
	// JSONKey prints each row as one compact JSON object per line.
	JSONKey = "json"
	// QuietFormat is the template -q uses: the row's ID, one per line.
	QuietFormat = "{{.ID}}"
	// jsonFormat is the template JSONKey stands for.
	jsonFormat = "{{json .}}"
)

// Options says how Write renders rows, mirroring a command's --format and
// --quiet flags.
type Options struct {
	// Format is the --format flag: "" (use Default), "table" (the default
	// table), "table <template>", "json", or any Go template such as
	// "{{.ID}}: {{.Name}}". The two-character sequences \t and \n, as
	// typed in a shell, stand for a tab and a newline.
	Format string
	// Quiet is the -q flag. As in docker, it prints QuietFormat instead of
	// the table when Format is "" or "table"; an explicit template or
	// "json" given with --format still wins.
	Quiet bool
	// Default is the command's default format, normally a table such as
	// "table {{.ID}}\t{{.Name}}\t{{.Mode}}".
	Default string
	// Headers optionally overrides column headers by field name, e.g.
	// {"ID": "NETWORK ID"}. It takes precedence over a row's Headers
	// method and, unlike it, also applies when there are no rows.
	Headers map[string]string
}

// mode is how a resolved format is rendered.
type mode int

const (
	modePlain mode = iota // one template execution per row, no header
	modeTable             // header plus rows, aligned in columns
)

// errNoDefault reports a command that relies on a default format it does
// not set; it is a programming error rather than a user one.
var errNoDefault = errors.New("format: no default output format is set for this command")

// resolve turns the options into a rendering mode and the template text to
// parse, applying docker's rules for -q, "table" and "json", then trimming
// spaces and expanding the shell-typed \t and \n sequences.
func (o Options) resolve() (mode, string, error) {
	f := o.Format
	if o.Quiet && (f == "" || f == TableKey) {
		return modePlain, QuietFormat, nil
	}
	if f == "" {
		if o.Default == "" {
			return 0, "", errNoDefault
		}
		f = o.Default
	}

	m, text := modePlain, f
	switch {
	case f == JSONKey:
		text = jsonFormat
	case strings.HasPrefix(f, TableKey):
		m = modeTable
		text = f[len(TableKey):]
		if strings.TrimSpace(text) == "" {
			// A bare "table" means the command's default columns.
			text = strings.TrimPrefix(o.Default, TableKey)
			if strings.TrimSpace(text) == "" {
				return 0, "", errNoDefault
			}
		}
	}
	return m, unescape(strings.Trim(text, " ")), nil
}

// shellEscapes expands the backslash sequences a shell user types inside
// quotes, since the shell itself passes them through verbatim.
var shellEscapes = strings.NewReplacer(`\t`, "\t", `\n`, "\n")

func unescape(s string) string { return shellEscapes.Replace(s) }
