package api

import (
	"fmt"
	"net/http"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// The named artefacts the API serves (see named.go).
var (
	conditionKind = &namedKind{
		kind: store.KindCondition, noun: "condition", plural: "conditions",
		decode: func(doc []byte) (named, error) {
			c, err := gateway.DecodeCondition(doc, "")
			if err != nil {
				return nil, err
			}
			return namedCondition{c}, nil
		},
		refs: (*gateway.Gateway).ConditionRefs,
		reason: func(old, next named) string {
			var was string
			if old != nil {
				was = old.(namedCondition).Condition
			}
			c := next.(namedCondition)
			return fmt.Sprintf("named condition %q changed: %q -> %q", c.Name, was, c.Condition)
		},
	}
	routeKind = &namedKind{
		kind: store.KindRoute, noun: "stored route", plural: "routes",
		decode: func(doc []byte) (named, error) {
			r, err := gateway.DecodeRoute(doc, "")
			if err != nil {
				return nil, err
			}
			return storedRoute{r}, nil
		},
		refs:  (*gateway.Gateway).RouteRefs,
		check: checkStoredRoute,
		reason: func(_, next named) string {
			return fmt.Sprintf("stored route %q changed", next.artefactName())
		},
	}
	namedKinds = []*namedKind{conditionKind, routeKind}
)

type namedCondition struct{ *gateway.NamedCondition }

func (c namedCondition) artefactName() string { return c.Name }

type storedRoute struct{ *gateway.NamedRoute }

func (r storedRoute) artefactName() string { return r.Name }

// checkStoredRoute refuses a stored route whose named condition does not
// exist: no gateway could use it.
func checkStoredRoute(st *state, n named) error {
	ref := n.(storedRoute).Route.ConditionRef
	if ref == "" {
		return nil
	}
	if _, ok := findEntry(st.conds, ref); !ok {
		return errorf(http.StatusBadRequest, "condition.reference: %v %q (create it with PUT /api/v1/conditions/%s)", gateway.ErrUnknownCondition, ref, ref)
	}
	return nil
}
