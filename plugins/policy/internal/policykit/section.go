package policykit

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Section reads a policy section: a mapping of keys to their values,
// left for the policy to read.
func Section(who string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: the policy section must be a mapping: %w", who, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%s: the policy section must be a mapping, got null", who)
	}
	return m, nil
}

// NoSettings accepts an empty plugin configuration and refuses any key:
// the policy is set per gateway, in its policy section.
func NoSettings(who string, raw json.RawMessage) error {
	if s := strings.TrimSpace(string(raw)); s == "" || s == "null" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: configuration: %w", who, err)
	}
	for k := range m {
		return fmt.Errorf("%s: the plugin has no settings (%q given); it is set in each gateway's policy section", who, k)
	}
	return nil
}

// Text reads a string.
func Text(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("must be a string, got %s", raw)
	}
	return s, nil
}

// Percent reads 10, 2.5, "10" or "10%". example is the number the error
// shows ("10": want a percentage like 10 or "10%").
func Percent(raw json.RawMessage, example string) (float64, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
	}
	return 0, fmt.Errorf(`want a percentage like %s or "%s%%", got %s`, example, example, raw)
}

// ErrorRate reads max_error_rate: a percentage (see Percent) from 0 to
// 100.
func ErrorRate(raw json.RawMessage, example string) (float64, error) {
	f, err := Percent(raw, example)
	if err == nil && (f < 0 || f > 100) {
		err = fmt.Errorf("must be a percentage from 0 to 100, got %s", Pct(f))
	}
	return f, err
}

// Whole reads a whole number of at least least.
func Whole(raw json.RawMessage, least int) (int, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || f < float64(least) || f > math.MaxInt32 {
		return 0, fmt.Errorf("must be a whole number of at least %d, got %s", least, raw)
	}
	return int(f), nil
}

// Duration reads a duration as text; example is one for the error
// (`"500ms"`).
func Duration(raw json.RawMessage, example string) (time.Duration, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
	}
	return 0, fmt.Errorf("want a duration like %s, got %s", example, raw)
}

// Pct writes a percentage without trailing zeros: 1%, 2.5%.
func Pct(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) + "%" }

// LoadState reads the state Turnout kept from the last decision into st;
// no state (none, or null) leaves st as it is.
func LoadState(who string, raw json.RawMessage, st any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, st); err != nil {
		return fmt.Errorf("%s: state: %w", who, err)
	}
	return nil
}
