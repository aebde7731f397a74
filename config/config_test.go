package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envKeys are the variables Load reads.
var envKeys = []string{"SW_DATA_DIR", "SW_HOST", "SW_HOSTNAME", "SW_INGRESS_ADDR", "SW_LOG_LEVEL"}

// isolate points HOME at an empty directory and clears the SW_* variables
// (an empty variable counts as unset), so that only what a test sets is
// seen. It skips when a system-wide config file would leak in.
func isolate(t *testing.T) string {
	t.Helper()
	if m, _ := filepath.Glob("/etc/sw/daemon.*"); len(m) > 0 {
		t.Skipf("a system config file exists (%v): defaults cannot be tested here", m)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range envKeys {
		t.Setenv(k, "")
	}
	return home
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const fileYAML = `data-dir: /srv/sw
host: unix:///srv/sw/sw.sock
hostname: file-host
ingress-addr: 10.0.0.1
log-level: debug
`

func TestLoad(t *testing.T) {
	defaults := Daemon{DataDir: DefaultDataDir, Host: DefaultHost, LogLevel: "info", MinFreeDisk: DefaultMinFreeDisk}
	fromFile := Daemon{DataDir: "/srv/sw", Host: "unix:///srv/sw/sw.sock", Hostname: "file-host", IngressAddr: "10.0.0.1", LogLevel: "debug", MinFreeDisk: DefaultMinFreeDisk}
	tests := []struct {
		name     string
		file     string // written to a temporary directory as daemon.yaml when set
		fileName string // the file's name, when not daemon.yaml
		homeFile string // written to $HOME/.sw/daemon.yaml when set
		env      map[string]string
		flags    map[string]string
		want     Daemon
		wantErr  string
	}{
		{name: "defaults", want: defaults},
		{name: "file", file: fileYAML, want: fromFile},
		{name: "partial file keeps defaults", file: "data-dir: /data\n",
			want: Daemon{DataDir: "/data", Host: DefaultHost, LogLevel: "info", MinFreeDisk: DefaultMinFreeDisk}},
		{name: "yml extension", file: "hostname: h\n", fileName: "sw.yml",
			want: Daemon{DataDir: DefaultDataDir, Host: DefaultHost, Hostname: "h", LogLevel: "info", MinFreeDisk: DefaultMinFreeDisk}},
		{name: "json file", file: `{"data-dir": "/j", "log-level": "warn"}`, fileName: "daemon.json",
			want: Daemon{DataDir: "/j", Host: DefaultHost, LogLevel: "warn", MinFreeDisk: DefaultMinFreeDisk}},
		{name: "file in HOME found without --config", homeFile: "hostname: home-host\n",
			want: Daemon{DataDir: DefaultDataDir, Host: DefaultHost, Hostname: "home-host", LogLevel: "info", MinFreeDisk: DefaultMinFreeDisk}},
		{name: "--config wins over HOME", file: fileYAML, homeFile: "hostname: home-host\n", want: fromFile},
		{name: "env over defaults",
			env: map[string]string{"SW_DATA_DIR": "/env", "SW_HOSTNAME": "env-host", "SW_INGRESS_ADDR": "127.0.0.1",
				"SW_LOG_LEVEL": "error", "SW_HOST": "unix:///env.sock"},
			want: Daemon{DataDir: "/env", Host: "unix:///env.sock", Hostname: "env-host", IngressAddr: "127.0.0.1", LogLevel: "error", MinFreeDisk: DefaultMinFreeDisk}},
		{name: "env over file", file: fileYAML,
			env:  map[string]string{"SW_DATA_DIR": "/env", "SW_LOG_LEVEL": "warn"},
			want: Daemon{DataDir: "/env", Host: "unix:///srv/sw/sw.sock", Hostname: "file-host", IngressAddr: "10.0.0.1", LogLevel: "warn", MinFreeDisk: DefaultMinFreeDisk}},
		{name: "flags over env over file", file: fileYAML,
			env:   map[string]string{"SW_DATA_DIR": "/env", "SW_HOSTNAME": "env-host"},
			flags: map[string]string{"data-dir": "/flag", "log-level": "debug", "host": "unix:///flag.sock"},
			want:  Daemon{DataDir: "/flag", Host: "unix:///flag.sock", Hostname: "env-host", IngressAddr: "10.0.0.1", LogLevel: "debug", MinFreeDisk: DefaultMinFreeDisk}},
		{name: "flags over defaults",
			flags: map[string]string{"hostname": "flag-host", "ingress-addr": "0.0.0.0"},
			want:  Daemon{DataDir: DefaultDataDir, Host: DefaultHost, Hostname: "flag-host", IngressAddr: "0.0.0.0", LogLevel: "info", MinFreeDisk: DefaultMinFreeDisk}},
		{name: "bad host scheme in file", file: "host: tcp://127.0.0.1:2375\n", wantErr: `host "tcp://127.0.0.1:2375"`},
		{name: "bad host scheme in env", env: map[string]string{"SW_HOST": "/run/sw.sock"}, wantErr: `host "/run/sw.sock"`},
		{name: "bad host scheme in flags", flags: map[string]string{"host": "http://x"}, wantErr: "want unix:///path/to/sw.sock"},
		{name: "flag fixes a bad host from the file", file: "host: tcp://x\n", flags: map[string]string{"host": "unix:///ok.sock"},
			want: Daemon{DataDir: DefaultDataDir, Host: "unix:///ok.sock", LogLevel: "info", MinFreeDisk: DefaultMinFreeDisk}},
		{name: "host without a path", flags: map[string]string{"host": "unix://"}, wantErr: `host "unix://"`},
		{name: "bad YAML", file: "data-dir: [unclosed\n", wantErr: "config:"},
		{name: "min free disk from a flag", flags: map[string]string{"min-free-disk": "1GiB"},
			want: Daemon{DataDir: DefaultDataDir, Host: DefaultHost, LogLevel: "info", MinFreeDisk: "1GiB"}},
		{name: "bad min free disk", env: map[string]string{"SW_MIN_FREE_DISK": "lots"}, wantErr: `min-free-disk "lots"`},
		{name: "bad file in HOME", homeFile: "data-dir: [unclosed\n", wantErr: "config:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.homeFile != "" {
				writeFile(t, filepath.Join(home, ".sw", "daemon.yaml"), tt.homeFile)
			}
			file := ""
			if tt.file != "" {
				name := tt.fileName
				if name == "" {
					name = "daemon.yaml"
				}
				file = writeFile(t, filepath.Join(t.TempDir(), name), tt.file)
			}
			got, err := Load(file, tt.flags)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				if got != (Daemon{}) {
					t.Errorf("Load returned %+v with its error, want the zero value", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got != tt.want {
				t.Errorf("Load:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadMissingExplicitFile(t *testing.T) {
	isolate(t)
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(missing, nil)
	if err == nil {
		t.Fatal("Load of a missing --config file succeeded")
	}
	if !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("error %q does not start with \"config: \"", err)
	}
}

// A missing file in the default places is fine; only an explicit one must
// exist.
func TestLoadNoDefaultFile(t *testing.T) {
	isolate(t)
	if _, err := Load("", nil); err != nil {
		t.Fatalf("Load with no config file anywhere: %v", err)
	}
}

func TestLoadDoesNotModifyFlags(t *testing.T) {
	isolate(t)
	flags := map[string]string{"data-dir": "/x"}
	if _, err := Load("", flags); err != nil {
		t.Fatal(err)
	}
	if len(flags) != 1 || flags["data-dir"] != "/x" {
		t.Errorf("flags changed: %v", flags)
	}
}

func TestSocketPath(t *testing.T) {
	tests := []struct{ host, want string }{
		{DefaultHost, "/run/sw/sw.sock"},
		{"unix:///tmp/a.sock", "/tmp/a.sock"},
		{"unix://rel.sock", "rel.sock"},
	}
	for _, tt := range tests {
		if got := (Daemon{Host: tt.host}).SocketPath(); got != tt.want {
			t.Errorf("SocketPath(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}
