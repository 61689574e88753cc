package api

import (
	"context"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/turnout/turnout/core/store"
)

// Who made a change and why: the author is the name of the token the
// request carried (see requireToken), the reason its X-Turnout-Reason.

// ReasonHeader carries an operator's reason for a change.
const ReasonHeader = "X-Turnout-Reason"

// maxReason bounds a reason: a sentence, kept with every revision.
const maxReason = 500

// Authors of requests without a named token.
const (
	// AuthorToken: the single unnamed token (--token, --token-file).
	AuthorToken = "token"
	// AuthorAnonymous: no token is configured (a loopback listener).
	AuthorAnonymous = "anonymous"
)

type authorKey struct{}

type reasonKey struct{}

func withAuthor(r *http.Request, name string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), authorKey{}, name))
}

// author is who sent r.
func author(r *http.Request) string {
	if a, ok := r.Context().Value(authorKey{}).(string); ok && a != "" {
		return a
	}
	return AuthorAnonymous
}

// reason is the request's checked X-Turnout-Reason ("" if none).
func reason(r *http.Request) string {
	s, _ := r.Context().Value(reasonKey{}).(string)
	return s
}

// withReason checks X-Turnout-Reason and keeps it in the request: one
// line of printable UTF-8 text, at most maxReason bytes.
func withReason(r *http.Request) (*http.Request, error) {
	s := r.Header.Get(ReasonHeader)
	if s == "" {
		return r, nil
	}
	if len(s) > maxReason {
		return nil, errorf(http.StatusBadRequest, "%s is %d bytes long; at most %d", ReasonHeader, len(s), maxReason)
	}
	if !utf8.ValidString(s) {
		return nil, errorf(http.StatusBadRequest, "%s is not UTF-8 text", ReasonHeader)
	}
	for i, c := range s {
		if !unicode.IsPrint(c) && c != ' ' {
			return nil, errorf(http.StatusBadRequest, "%s has a control character (%U) at byte %d: give one line of text", ReasonHeader, c, i)
		}
	}
	return r.WithContext(context.WithValue(r.Context(), reasonKey{}, s)), nil
}

// attributed is c with the request's reason and author.
func attributed(r *http.Request, c store.Change) store.Change {
	c.Reason, c.Author = reason(r), author(r)
	return c
}
