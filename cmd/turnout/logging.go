package main

import "log/slog"

// readableDurations writes durations as Go writes them ("30s", "1.5ms")
// in both log formats: slog's JSON handler would write nanoseconds, a
// number without its unit.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
