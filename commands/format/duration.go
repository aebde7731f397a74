package format

import (
	"fmt"
	"time"
)

const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
	year  = 365 * day
)

// HumanDuration describes d the way docker does in "Running 18 minutes
// ago" or "Up 3 days": whole seconds and minutes are truncated, larger
// units rounded to the nearest, and a unit is used from twice its size
// ("47 hours", then "2 days"). Negative durations read "Less than a
// second".
func HumanDuration(d time.Duration) string {
	switch s := int64(d / time.Second); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	switch m := int64(d / time.Minute); {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	switch h := nearest(d, time.Hour); {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	}
	switch {
	case d < 2*week:
		return fmt.Sprintf("%d days", nearest(d, day))
	case d < 2*month:
		return fmt.Sprintf("%d weeks", nearest(d, week))
	case d < 2*year:
		return fmt.Sprintf("%d months", nearest(d, month))
	}
	return fmt.Sprintf("%d years", nearest(d, year))
}

// nearest returns d in whole units, rounding halves up; d is positive.
func nearest(d, unit time.Duration) int64 {
	return int64((d + unit/2) / unit)
}
