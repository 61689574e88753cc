package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Pagination as Vamp did: page from 1, per_page 30 by default, at most 100.
const (
	defaultPerPage = 30
	maxPerPage     = 100
)

func pagination(q url.Values) (page, perPage int, err error) {
	num := func(key string, dflt int) (int, error) {
		s := q.Get(key)
		if s == "" {
			return dflt, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, errorf(http.StatusBadRequest, "%s must be a whole number from 1, got %q", key, s)
		}
		return n, nil
	}
	if page, err = num("page", 1); err != nil {
		return 0, 0, err
	}
	if perPage, err = num("per_page", defaultPerPage); err != nil {
		return 0, 0, err
	}
	// Clamped rather than refused, as GitHub does: the client still gets
	// a page and the Link header tells it the real size.
	return page, min(perPage, maxPerPage), nil
}

// links is the Link header: first, prev, next and last pages, as Vamp
// (and GitHub) wrote it; other query parameters are kept.
func links(u *url.URL, page, perPage, total int) string {
	last := max(1, (total+perPage-1)/perPage)
	link := func(p int, rel string) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf(`<%s?%s>; rel="%s"`, u.Path, q.Encode(), rel)
	}
	ls := []string{link(1, "first")}
	if page > 1 {
		ls = append(ls, link(min(page-1, last), "prev"))
	}
	if page < last {
		ls = append(ls, link(page+1, "next"))
	}
	ls = append(ls, link(last, "last"))
	return strings.Join(ls, ", ")
}
