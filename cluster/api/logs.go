package api

import (
	"bytes"
	"io"
	"strings"
)

// A logs stream (GET /v1/logs) is text lines: the log lines of the tasks,
// each whole and prefixed with its task ("web.1.abcdef123456@host1    | "),
// and among them error lines, one for each task whose logs could not be
// read (its node is down or unreachable, say). An error line starts with
// LogErrorMark, its message after it; a log line never does, as it starts
// with its task's name. Client.Logs hands the stream on as it comes: read
// it through a LogSplitter to tell the two apart.
const LogErrorMark = "\x00error\x00 "

// writeLogError writes msg to a logs stream as one error line.
func writeLogError(w io.Writer, msg string) error {
	_, err := io.WriteString(w, LogErrorMark+strings.ReplaceAll(msg, "\n", " ")+"\n")
	return err
}

// maxSplitLine is the longest line a LogSplitter holds back whole; a
// longer one is passed on in pieces (and is a log line, however it
// starts).
const maxSplitLine = 64 << 10

// LogSplitter is an io.Writer that splits a logs stream: log lines go on
// to Out, each as soon as it is complete, and each error line's message
// to OnError. Call Flush at the end for a last line without a newline.
// It is not safe for concurrent use.
type LogSplitter struct {
	Out io.Writer
	// OnError, if set, gets the message of every error line.
	OnError func(msg string)

	errors  int
	partial []byte // the start of a line not yet complete
	long    bool   // partial's line was too long: its start went to Out
}

// Write takes the next bytes of the stream.
func (s *LogSplitter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.partial = append(s.partial, p...)
			if len(s.partial) > maxSplitLine {
				if err := s.out(); err != nil {
					return 0, err
				}
				s.long = true
			}
			break
		}
		s.partial = append(s.partial, p[:i+1]...)
		p = p[i+1:]
		if !s.long && bytes.HasPrefix(s.partial, []byte(LogErrorMark)) {
			s.errors++
			if s.OnError != nil {
				s.OnError(string(bytes.TrimSuffix(s.partial[len(LogErrorMark):], []byte("\n"))))
			}
			s.partial = s.partial[:0]
		} else if err := s.out(); err != nil {
			return 0, err
		}
		s.long = false
	}
	return n, nil
}

// out hands the line held so far to Out.
func (s *LogSplitter) out() error {
	_, err := s.Out.Write(s.partial)
	s.partial = s.partial[:0]
	return err
}

// Flush hands on a last line that has no newline.
func (s *LogSplitter) Flush() error {
	if len(s.partial) == 0 {
		return nil
	}
	s.long = false
	return s.out()
}

// Errors is how many error lines the stream has had so far.
func (s *LogSplitter) Errors() int { return s.errors }
