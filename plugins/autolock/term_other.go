//go:build !linux

package autolock

import "os"

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// noEcho is not implemented here: the key is echoed.
func noEcho(*os.File) func() { return func() {} }
