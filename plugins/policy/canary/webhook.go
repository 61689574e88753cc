package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/turnout/turnout/plugins/sdk"
)

// payload is the JSON body of a webhook call: Flagger's fields (name,
// phase, metadata) plus what a gateway adds.
type payload struct {
	Name     string            `json:"name"`
	Phase    string            `json:"phase"`
	Webhook  string            `json:"webhook"`
	Type     string            `json:"type"`
	Metadata map[string]string `json:"metadata"`
	Canary   string            `json:"canary"`
	// Weight is the canary's current weight in percent.
	Weight float64 `json:"weight"`
}

// hookResult is one webhook call's outcome, as a check.
type hookResult struct {
	ok    bool
	check sdk.Check
	// text is the outcome in words: "pre-rollout webhook load-test: HTTP 200".
	text string
}

// call POSTs the payload to a webhook. A 2xx answer passes; any other
// answer, no answer, or no answer within the hook's timeout fails.
func (p *policy) call(ctx context.Context, h webhook, body payload) hookResult {
	body.Webhook, body.Type = h.name, h.typ
	if body.Metadata == nil {
		body.Metadata = map[string]string{}
	}
	for k, v := range h.metadata {
		body.Metadata[k] = v
	}
	r := hookResult{check: sdk.Check{Name: "webhook:" + h.name, Route: body.Canary}}
	done := func(why string) hookResult {
		r.text = fmt.Sprintf("%s webhook %s: %s", h.typ, h.name, why)
		r.check.Detail = r.text
		return r
	}
	doc, err := json.Marshal(body)
	if err != nil {
		return done(err.Error())
	}
	hctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(hctx, http.MethodPost, h.url, bytes.NewReader(doc))
	if err != nil {
		return done(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return done(fmt.Sprintf("no answer within %s", h.timeout))
		}
		return done(err.Error())
	}
	defer resp.Body.Close()
	// A little of the body tells people why a gate said no.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r.check.Value = float64(resp.StatusCode)
	why := "HTTP " + fmt.Sprint(resp.StatusCode)
	if msg := strings.Join(strings.Fields(string(head)), " "); msg != "" && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		why += ": " + msg
	}
	r.ok = resp.StatusCode >= 200 && resp.StatusCode <= 299
	r.check.Passed = r.ok
	return done(why)
}
