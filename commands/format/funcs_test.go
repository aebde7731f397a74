package format

import (
	"bytes"
	"testing"
)

func TestTemplateFuncs(t *testing.T) {
	type row struct {
		Name   string
		Labels []string
		Ports  []int
		Env    map[string]string
	}
	r := row{Name: "web front", Labels: []string{"a=1", "b=2"}, Ports: []int{80, 443}, Env: map[string]string{"A": "<1>"}}
	tests := []struct {
		format string
		want   string
	}{
		{`{{json .Labels}}`, `["a=1","b=2"]`},
		{`{{json .Env}}`, `{"A":"<1>"}`},
		{`{{join .Labels ", "}}`, "a=1, b=2"},
		{`{{join .Ports "/"}}`, "80/443"},
		{`{{join (split .Name " ") "-"}}`, "web-front"},
		{`{{upper .Name}}`, "WEB FRONT"},
		{`{{lower "MiXeD"}}`, "mixed"},
		{`{{title .Name}}`, "Web Front"},
		{`{{title "node.role=manager"}}`, "Node.Role=Manager"},
		{`{{truncate .Name 3}}`, "web"},
		{`{{truncate .Name 99}}`, "web front"},
		{`{{truncate "héllo" 2}}`, "hé"},
		{`{{truncate .Name -1}}`, ""},
		{`[{{pad .Name 1 2}}]`, "[ web front  ]"},
		{`[{{pad "" 1 2}}]`, "[]"},
		{`{{println .Name}}`, "web front\n"},
		{`{{range .Labels}}{{println .}}{{end}}`, "a=1\nb=2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var out bytes.Buffer
			if err := Write(&out, Options{Format: tt.format}, []any{r}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got, want := out.String(), tt.want+"\n"; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestJoinRejectsNonLists(t *testing.T) {
	var out bytes.Buffer
	err := Write(&out, Options{Format: `{{join .Name ","}}`}, []any{struct{ Name int }{1}})
	if err == nil || out.Len() != 0 {
		t.Fatalf("got %q, %v; want an error and no output", out.String(), err)
	}
}
