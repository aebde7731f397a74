package hooks

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestErrorOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var e ErrorOnce
	steps := []error{nil, errors.New("a"), errors.New("a"), errors.New("b"), nil, nil, errors.New("a")}
	for _, err := range steps {
		e.Report(log, "x failed", err)
	}
	got := strings.Count(buf.String(), "x failed")
	recovered := strings.Count(buf.String(), "recovered")
	if got != 4 || recovered != 1 {
		t.Fatalf("logged %d lines (%d recoveries), want a, b, recovered, a:\n%s", got, recovered, buf.String())
	}
}
