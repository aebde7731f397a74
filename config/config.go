// Package config is the daemon's typed configuration. Values come, in
// rising precedence, from defaults, a config file (--config, else
// /etc/sw/daemon.yaml or $HOME/.sw/daemon.yaml), SW_* environment
// variables, and command-line flags.
package config

import (
	"errors"
	"fmt"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/viper"
)

// Daemon configures `sw daemon`.
type Daemon struct {
	DataDir     string `mapstructure:"data-dir"`
	Host        string `mapstructure:"host"`
	Hostname    string `mapstructure:"hostname"`
	IngressAddr string `mapstructure:"ingress-addr"`
	LogLevel    string `mapstructure:"log-level"`
	// MinFreeDisk is the space a manager keeps free in its data dir: with
	// less, it refuses writes (they fail clearly, nothing is half
	// written) until space is freed. A size: "64MiB", "1GB", "0" for none.
	MinFreeDisk string `mapstructure:"min-free-disk"`
}

// MinFreeBytes parses MinFreeDisk.
func (d Daemon) MinFreeBytes() (int64, error) {
	n, err := units.RAMInBytes(d.MinFreeDisk)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("config: min-free-disk %q: want a size such as 64MiB", d.MinFreeDisk)
	}
	return n, nil
}

// Defaults.
const (
	DefaultDataDir = "/var/lib/sw"
	DefaultHost    = "unix:///run/sw/sw.sock"
	// DefaultMinFreeDisk is the space a manager keeps free by default.
	DefaultMinFreeDisk = "64MiB"
)

// Load reads the configuration; flags holds the flags the user set.
func Load(file string, flags map[string]string) (Daemon, error) {
	v := viper.New()
	v.SetDefault("data-dir", DefaultDataDir)
	v.SetDefault("host", DefaultHost)
	v.SetDefault("hostname", "")
	v.SetDefault("ingress-addr", "")
	v.SetDefault("log-level", "info")
	v.SetDefault("min-free-disk", DefaultMinFreeDisk)
	v.SetEnvPrefix("SW")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if file != "" {
		v.SetConfigFile(file)
	} else {
		v.SetConfigName("daemon")
		v.AddConfigPath("/etc/sw/")
		v.AddConfigPath("$HOME/.sw/")
	}
	if err := v.ReadInConfig(); err != nil {
		var nf viper.ConfigFileNotFoundError
		if file != "" || !errors.As(err, &nf) {
			return Daemon{}, fmt.Errorf("config: %w", err)
		}
	}
	for k, val := range flags {
		v.Set(k, val)
	}
	var d Daemon
	if err := v.Unmarshal(&d); err != nil {
		return Daemon{}, fmt.Errorf("config: %w", err)
	}
	if _, err := d.MinFreeBytes(); err != nil {
		return Daemon{}, err
	}
	if !strings.HasPrefix(d.Host, "unix://") || d.SocketPath() == "" {
		return Daemon{}, fmt.Errorf("config: host %q: want unix:///path/to/sw.sock", d.Host)
	}
	return d, nil
}

// SocketPath returns the filesystem path of a unix:// host.
func (d Daemon) SocketPath() string { return strings.TrimPrefix(d.Host, "unix://") }
