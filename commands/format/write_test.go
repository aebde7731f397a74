package format

import (
	"bytes"
	"strings"
	"testing"
)

// service is shaped like a "service ls" row.
type service struct {
	ID, Name, Mode, Replicas, Image, Ports string
}

// node is shaped like a "node ls" row, with methods beside fields.
type node struct {
	ID, Hostname, Status, Availability string
	Leader                             bool
	Version                            string
}

func (n node) ManagerStatus() string {
	if n.Leader {
		return "Leader"
	}
	return ""
}

func (n *node) EngineVersion() string { return n.Version }

// task has a nested field, as API objects do.
type task struct {
	ID   string
	Spec taskSpec
}

type taskSpec struct{ Name string }

// network overrides its ID header, as "network ls" shows NETWORK ID.
type network struct{ ID, Name string }

func (network) Headers() map[string]string { return map[string]string{"ID": "NETWORK ID"} }

const serviceTable = `table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}`

var services = []any{
	service{ID: "kq3pz8m1x0ab", Name: "web", Mode: "replicated", Replicas: "3/3", Image: "nginx:1.27", Ports: "*:8080->80/tcp"},
	&service{ID: "9f2ka01bcd7e", Name: "worker-long-name", Mode: "global", Replicas: "2/2", Image: "busybox:latest"},
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		rows []any
		want string
	}{
		{
			name: "default table aligns columns 3 spaces apart, no trailing spaces",
			opts: Options{Default: serviceTable},
			rows: services,
			want: "" +
				"ID             NAME               MODE         REPLICAS   IMAGE            PORTS\n" +
				"kq3pz8m1x0ab   web                replicated   3/3        nginx:1.27       *:8080->80/tcp\n" +
				"9f2ka01bcd7e   worker-long-name   global       2/2        busybox:latest\n",
		},
		{
			name: "bare table means the default",
			opts: Options{Format: "table", Default: serviceTable},
			rows: services[:1],
			want: "" +
				"ID             NAME      MODE         REPLICAS   IMAGE        PORTS\n" +
				"kq3pz8m1x0ab   web       replicated   3/3        nginx:1.27   *:8080->80/tcp\n",
		},
		{
			name: "custom table, columns at least 10 wide",
			opts: Options{Format: `table {{.ID}}\t{{.Name}}`, Default: serviceTable},
			rows: []any{service{ID: "a", Name: "b"}},
			want: "ID        NAME\na         b\n",
		},
		{
			name: "table with no rows prints the header only",
			opts: Options{Default: serviceTable},
			rows: nil,
			want: "ID        NAME      MODE      REPLICAS   IMAGE     PORTS\n",
		},
		{
			name: "headers split CamelCase, for fields and methods",
			opts: Options{Default: `table {{.ID}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}`},
			rows: []any{
				&node{ID: "n1*", Hostname: "mgr-1", Status: "Ready", Availability: "Active", Leader: true, Version: "28.5.2"},
				&node{ID: "n2", Hostname: "wrk-1", Status: "Down", Availability: "Drain", Version: "28.5.2"},
			},
			want: "" +
				"ID        HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n" +
				"n1*       mgr-1      Ready     Active         Leader           28.5.2\n" +
				"n2        wrk-1      Down      Drain                           28.5.2\n",
		},
		{
			name: "row type overrides a header",
			opts: Options{Default: `table {{.ID}}\t{{.Name}}`},
			rows: []any{network{ID: "3c9e1f2a7b8d", Name: "ingress"}},
			want: "NETWORK ID     NAME\n3c9e1f2a7b8d   ingress\n",
		},
		{
			name: "options override headers even with no rows",
			opts: Options{Default: `table {{.ID}}\t{{.Name}}`, Headers: map[string]string{"ID": "NETWORK ID"}},
			want: "NETWORK ID   NAME\n",
		},
		{
			name: "functions leave headers intact",
			opts: Options{Format: `table {{upper .Name}}\t{{truncate .ID 4}}\t{{lower .Mode}}`},
			rows: []any{service{ID: "kq3pz8m1x0ab", Name: "web", Mode: "Global"}},
			want: "NAME      ID        MODE\nWEB       kq3p      global\n",
		},
		{
			name: "nested fields are headed by their last name",
			opts: Options{Format: `table {{.ID}}\t{{.Spec.Name}}`},
			rows: []any{task{ID: "t1", Spec: taskSpec{Name: "web.1"}}},
			want: "ID        NAME\nt1        web.1\n",
		},
		{
			name: "a ranged column is headed once and filled per row",
			opts: Options{Format: `table {{.Name}}\t{{range $i, $p := .Ports}}{{if $i}},{{end}}{{$p}}{{end}}`},
			rows: []any{struct {
				Name  string
				Ports []string
			}{"web", []string{"80", "443"}}},
			want: "NAME      PORTS\nweb       80,443\n",
		},
		{
			name: "json prints one compact object per line",
			opts: Options{Format: "json", Default: serviceTable},
			rows: []any{service{ID: "a", Name: "<web>", Ports: "*:80->80/tcp"}, network{ID: "b", Name: "ingress"}},
			want: `{"ID":"a","Name":"<web>","Mode":"","Replicas":"","Image":"","Ports":"*:80->80/tcp"}` + "\n" +
				`{"ID":"b","Name":"ingress"}` + "\n",
		},
		{
			name: "json with no rows prints nothing",
			opts: Options{Format: "json"},
			want: "",
		},
		{
			name: `plain template with \t and \n typed in a shell`,
			opts: Options{Format: `{{.ID}}\t{{.Name}}\n--`, Default: serviceTable},
			rows: services,
			want: "kq3pz8m1x0ab\tweb\n--\n9f2ka01bcd7e\tworker-long-name\n--\n",
		},
		{
			name: "plain template keeps the user's spacing",
			opts: Options{Format: `{{.Name}}: {{.Ports}}`},
			rows: services,
			want: "web: *:8080->80/tcp\nworker-long-name: \n",
		},
		{
			name: "quiet prints IDs instead of the default table",
			opts: Options{Quiet: true, Default: serviceTable},
			rows: services,
			want: "kq3pz8m1x0ab\n9f2ka01bcd7e\n",
		},
		{
			name: "quiet with --format table prints IDs",
			opts: Options{Quiet: true, Format: "table", Default: serviceTable},
			rows: services,
			want: "kq3pz8m1x0ab\n9f2ka01bcd7e\n",
		},
		{
			name: "quiet with no rows prints nothing",
			opts: Options{Quiet: true, Default: serviceTable},
			want: "",
		},
		{
			name: "an explicit template wins over quiet",
			opts: Options{Quiet: true, Format: "{{.Name}}", Default: serviceTable},
			rows: services,
			want: "web\nworker-long-name\n",
		},
		{
			name: "an explicit table wins over quiet",
			opts: Options{Quiet: true, Format: `table {{.Name}}`, Default: serviceTable},
			rows: services[:1],
			want: "NAME\nweb\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Write(&out, tt.opts, tt.rows); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			if m, _, _ := tt.opts.resolve(); m != modeTable {
				return
			}
			for i, line := range strings.Split(out.String(), "\n") {
				if strings.TrimRight(line, " \t") != line {
					t.Errorf("table line %d has trailing whitespace: %q", i+1, line)
				}
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		rows []any
		want []string // substrings of the error
	}{
		{
			name: "unclosed action",
			opts: Options{Format: "{{.ID"},
			rows: services,
			want: []string{"template parsing error: ", "unclosed action"},
		},
		{
			name: "unknown function",
			opts: Options{Format: `table {{nope .ID}}`},
			rows: services,
			want: []string{"template parsing error: ", `function "nope" not defined`},
		},
		{
			name: "missing field in a plain template",
			opts: Options{Format: "{{.ID}} {{.Nope}}"},
			rows: services,
			want: []string{"template parsing error: ", "Nope"},
		},
		{
			name: "missing field in a table after good rows",
			opts: Options{Format: `table {{.ID}}\t{{.Hostname}}`},
			rows: []any{&node{ID: "n1", Hostname: "a"}, service{ID: "s1"}},
			want: []string{"can't evaluate field Hostname"},
		},
		{
			name: "no default format",
			opts: Options{},
			want: []string{"no default output format"},
		},
		{
			name: "bare table with no default",
			opts: Options{Format: "table"},
			want: []string{"no default output format"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Write(&out, tt.opts, tt.rows)
			if err == nil {
				t.Fatalf("Write succeeded, printing %q", out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if out.Len() != 0 {
				t.Errorf("printed %q before failing", out.String())
			}
		})
	}
}
