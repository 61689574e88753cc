package gateway

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Vamp's pattern was `^\s*(\d{1,3})\s*%\s*$`; Turnout adds up to two
// decimals. Any digit count is matched so that "150%" gets the range error
// rather than the format one.
var percentPattern = regexp.MustCompile(`^\s*(\d+)(?:\.(\d+))?\s*%\s*$`)

// ParseWeight parses a percentage such as "50%", " 33.33 % " or "0.5%"
// into basis points (10000 = 100%).
func ParseWeight(s string) (Weight, error) {
	return parsePercent("weight", s)
}

// parsePercent parses "N%" for the named field (weight, condition_strength).
func parsePercent(field, s string) (Weight, error) {
	m := percentPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%s must be a percentage like \"50%%\", got %q", field, s)
	}
	if len(m[2]) > 2 {
		return 0, fmt.Errorf("%s must be a percentage like \"50%%\" with at most 2 decimals, got %q", field, s)
	}
	whole := strings.TrimLeft(m[1], "0")
	if len(whole) > 3 {
		return 0, fmt.Errorf("%s must be between 0%% and 100%%, got %q", field, s)
	}
	n, _ := strconv.Atoi("0" + whole)
	frac, _ := strconv.Atoi((m[2] + "00")[:2])
	w := Weight(n*100 + frac)
	if w > Full {
		return 0, fmt.Errorf("%s must be between 0%% and 100%%, got %q", field, s)
	}
	return w, nil
}

// Percent is the weight in percent, 12.5 for 12.5%.
func (w Weight) Percent() float64 { return float64(w) / 100 }

// String formats w the way Vamp wrote weights, "50%", with decimals only
// when needed: "0.5%", "33.33%".
func (w Weight) String() string {
	sign := ""
	if w < 0 {
		sign, w = "-", -w
	}
	whole, frac := int(w)/100, int(w)%100
	switch {
	case frac == 0:
		return fmt.Sprintf("%s%d%%", sign, whole)
	case frac%10 == 0:
		return fmt.Sprintf("%s%d.%d%%", sign, whole, frac/10)
	default:
		return fmt.Sprintf("%s%d.%02d%%", sign, whole, frac)
	}
}
