package hooks

import "log/slog"

// ErrorOnce logs a retried operation's failure once per distinct error,
// and its recovery once, so a plugin retrying every few seconds does not
// flood the log. The zero value is ready; it is not safe for concurrent use.
type ErrorOnce struct{ last string }

// Report logs err at level Error with msg if it differs from the last one
// reported, or "<msg>: recovered" if err is nil after a failure.
func (e *ErrorOnce) Report(log *slog.Logger, msg string, err error) {
	switch {
	case err != nil && err.Error() != e.last:
		log.Error(msg, "err", err)
		e.last = err.Error()
	case err == nil && e.last != "":
		log.Info(msg + ": recovered")
		e.last = ""
	}
}
