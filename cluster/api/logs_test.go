package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
)

func TestLogSplitter(t *testing.T) {
	long := strings.Repeat("y", maxSplitLine+5)
	cases := []struct {
		name   string
		writes []string
		out    string
		errs   []string
	}{
		{"log lines pass", []string{"a | 1\n", "b | 2\n"}, "a | 1\nb | 2\n", nil},
		{"an error line", []string{"a | 1\n" + LogErrorMark + "task x on node h3: node is down\n", "b | 2\n"}, "a | 1\nb | 2\n",
			[]string{"task x on node h3: node is down"}},
		{"lines split across writes", []string{"a |", " 1\n\x00err", "or\x00 boom\nb | 2", "\n"}, "a | 1\nb | 2\n", []string{"boom"}},
		{"a last line without newline", []string{"a | 1\nb | 2"}, "a | 1\nb | 2", nil},
		{"a mark inside a line is a log line", []string{"a | x" + LogErrorMark + "y\n"}, "a | x" + LogErrorMark + "y\n", nil},
		{"a long line passes in pieces, whatever it holds", []string{long, LogErrorMark + "\n"}, long + LogErrorMark + "\n", nil},
		{"two errors", []string{LogErrorMark + "one\n" + LogErrorMark + "two\n"}, "", []string{"one", "two"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			var errs []string
			s := &LogSplitter{Out: &out, OnError: func(m string) { errs = append(errs, m) }}
			for _, w := range tc.writes {
				if n, err := s.Write([]byte(w)); err != nil || n != len(w) {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.out {
				t.Fatalf("out %.100q, want %.100q", out.String(), tc.out)
			}
			if fmt.Sprint(errs) != fmt.Sprint(tc.errs) || s.Errors() != len(tc.errs) {
				t.Fatalf("errors %q (%d), want %q", errs, s.Errors(), tc.errs)
			}
		})
	}
}

// logsBackend serves one service's tasks; Logs writes a line per task, or
// fails for the tasks in fail.
type logsBackend struct {
	Backend
	st   *store.Store
	fail map[string]bool
}

func (b *logsBackend) Store(context.Context) (*store.Store, error) { return b.st, nil }

func (b *logsBackend) Logs(_ context.Context, t *types.Task, _ bool, _ string, w io.Writer) error {
	if b.fail[t.ID] {
		return errors.New("task " + t.ID + " on node h3: node is down\nsecond line")
	}
	_, err := fmt.Fprintf(w, "%s | hello\n", t.ID)
	return err
}

// TestLogsErrorLines: a task whose logs fail is one error line in the
// stream, the others' lines still come, and a client's LogSplitter tells
// them apart.
func TestLogsErrorLines(t *testing.T) {
	st := store.New()
	task := func(id string) *types.Task {
		return &types.Task{ID: id, ServiceID: "s1", ServiceName: "web", NodeID: "n1", Status: types.TaskStatus{ContainerID: "c-" + id}}
	}
	if err := st.Replace(1, store.Objects{Cluster: &types.Cluster{ID: "c1"},
		Services: []*types.Service{{ID: "s1", Spec: types.ServiceSpec{Name: "web"}}},
		Tasks:    []*types.Task{task("t1"), task("t2"), task("t3")}}); err != nil {
		t.Fatal(err)
	}
	srv := NewServer(&logsBackend{st: st, fail: map[string]bool{"t3": true}}, slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	srv.http.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/logs?service=web", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	var out strings.Builder
	var errs []string
	s := &LogSplitter{Out: &out, OnError: func(m string) { errs = append(errs, m) }}
	if _, err := io.Copy(s, rec.Body); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	sort.Strings(got)
	if fmt.Sprint(got) != "[t1 | hello t2 | hello]" {
		t.Fatalf("log lines %q", got)
	}
	if len(errs) != 1 || errs[0] != "task t3 on node h3: node is down second line" {
		t.Fatalf("errors %q", errs)
	}
}
