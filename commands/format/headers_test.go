package format

import (
	"strings"
	"testing"
)

func TestHeaderName(t *testing.T) {
	tests := map[string]string{
		"ID":            "ID",
		"Name":          "NAME",
		"ManagerStatus": "MANAGER STATUS",
		"EngineVersion": "ENGINE VERSION",
		"CurrentState":  "CURRENT STATE",
		"DesiredState":  "DESIRED STATE",
		"NodeID":        "NODE ID",
		"NodeIDs":       "NODE IDS",
		"TLSStatus":     "TLS STATUS",
		"HTTPPort":      "HTTP PORT",
		"IPv6Address":   "IPV6 ADDRESS",
		"URLs":          "URLS",
		"X":             "X",
		"":              "",
	}
	for in, want := range tests {
		if got := headerName(in); got != want {
			t.Errorf("headerName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTableHeaders(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		headers map[string]string
		want    string
	}{
		{"fields", `{{.ID}}\t{{.CurrentState}}`, nil, "ID        CURRENT STATE"},
		{"nested field", `{{.ID}}\t{{.Spec.Name}}\t{{.Image}}`, nil, "ID        NAME      IMAGE"},
		{"nested override", `{{.ID}}\t{{.Spec.Name}}`, map[string]string{"Spec.Name": "SERVICE"}, "ID        SERVICE"},
		{"if and else", `{{if .Leader}}{{.ManagerStatus}}{{else}}{{.Status.State}}{{end}}\t{{.ID}}`, nil, "MANAGER STATUS   ID"},
		{"with", `{{with .Node}}{{.Hostname}}{{end}}\t{{.ID}}`, nil, "HOSTNAME   ID"},
		{"with and root", `{{with .Node}}{{$.ID}}:{{.Hostname}}{{end}}`, nil, "ID:HOSTNAME"},
		{"range", `{{.ID}}\t{{range .Ports}}{{.Published}}->{{.Target}}{{end}}\t{{.Name}}`, nil, "ID        PUBLISHED->TARGET   NAME"},
		{"range with variables", `{{range $i, $p := .Ports}}{{if $i}},{{end}}{{.Target}}{{end}}\t{{.ID}}`, nil, "TARGET    ID"},
		{"range of strings", `{{range .Labels}}{{.}},{{end}}\t{{.ID}}`, nil, "LABELS,   ID"},
		{"range override", `{{range .Labels}}{{.}}{{end}}`, map[string]string{"Labels": "TAGS"}, "TAGS"},
		{"chain", `{{(.Status).State}}\t{{.ID}}`, nil, "STATE     ID"},
		{"functions pass headers through", `{{json .Ports}}\t{{join .Labels ","}}\t{{title .Mode}}\t{{join (split .Image ":") " "}}`, nil, "PORTS     LABELS    MODE      IMAGE"},
		{"pad keeps alignment", `{{pad .ID 2 0}}\t{{.Name}}`, nil, "  ID      NAME"},
		{"printf of a field", `{{printf "%s!" .Name}}`, nil, "NAME!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			if err := Write(&out, Options{Format: "table " + tt.format, Headers: tt.headers}, nil); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got := out.String(); got != tt.want+"\n" {
				t.Errorf("got %q, want %q", got, tt.want+"\n")
			}
		})
	}
}
