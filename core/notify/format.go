package notify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Format is the body a receiver of format gets for n: Slack's incoming
// webhook message (text and an attachment with fields), Teams' connector
// MessageCard, or for a generic webhook the Notice itself.
func Format(format string, n Notice) any {
	switch format {
	case "slack":
		return slack(n)
	case "teams":
		return teams(n)
	}
	return n
}

// title is the notice in one line.
func title(n Notice) string {
	return fmt.Sprintf("Gateway %s: %s rollout %s", n.Gateway, n.Policy, n.Event)
}

// colours by event: good news green, steps blue, stops amber, bad red.
func colour(event string) string {
	switch event {
	case Promoted:
		return "2EB886"
	case Paused:
		return "DAA038"
	case RolledBack, Failed:
		return "A30200"
	}
	return "439FE0"
}

type fact struct{ name, value string }

// facts are the notice's details, in order.
func facts(n Notice) []fact {
	out := []fact{{"Phase", n.Phase}, {"Step", strconv.Itoa(n.Step)}}
	if len(n.Weights) > 0 {
		routes := make([]string, 0, len(n.Weights))
		for r := range n.Weights {
			routes = append(routes, r)
		}
		slices.Sort(routes)
		for i, r := range routes {
			routes[i] = r + " " + n.Weights[r]
		}
		out = append(out, fact{"Weights", strings.Join(routes, ", ")})
	}
	for _, c := range n.Checks {
		mark := "passed"
		if !c.Passed {
			mark = "failed"
		}
		out = append(out, fact{"Check " + c.Name, fmt.Sprintf("%s %g (limit %g) %s", c.Route, c.Value, c.Limit, mark)})
	}
	if n.Author != "" {
		out = append(out, fact{"By", n.Author})
	}
	return out
}

// slack is a Slack incoming webhook message
// (https://api.slack.com/messaging/webhooks, with a legacy attachment for
// the colour and fields).
func slack(n Notice) map[string]any {
	var fields []map[string]any
	for _, f := range facts(n) {
		fields = append(fields, map[string]any{"title": f.name, "value": f.value, "short": len(f.value) < 40})
	}
	return map[string]any{
		"text": title(n),
		"attachments": []map[string]any{{
			"color":  "#" + colour(n.Event),
			"text":   n.Reason,
			"fields": fields,
			"footer": "turnout",
			"ts":     n.Time.Unix(),
		}},
	}
}

// teams is a Microsoft Teams connector MessageCard
// (https://learn.microsoft.com/outlook/actionable-messages/message-card-reference).
func teams(n Notice) map[string]any {
	var fs []map[string]string
	for _, f := range facts(n) {
		fs = append(fs, map[string]string{"name": f.name, "value": f.value})
	}
	return map[string]any{
		"@type":      "MessageCard",
		"@context":   "https://schema.org/extensions",
		"summary":    title(n),
		"themeColor": colour(n.Event),
		"title":      title(n),
		"text":       n.Reason,
		"sections":   []map[string]any{{"facts": fs}},
	}
}
