package consul

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// query is one service query: what a ref names, with the plugin's
// defaults applied. Equal queries share one watch.
type query struct {
	service string
	tags    []string // sorted: the tag filter is an AND, order is noise
	dc      string
	near    string
	passing bool
}

// key identifies a query among the plugin's watches.
func (q query) key() string {
	return strings.Join([]string{q.service, strings.Join(q.tags, ","), q.dc, q.near, strconv.FormatBool(q.passing)}, "\x00")
}

func (q query) String() string {
	s := q.service
	v := url.Values{}
	for _, t := range q.tags {
		v.Add("tag", t)
	}
	if q.dc != "" {
		v.Set("dc", q.dc)
	}
	if q.near != "" {
		v.Set("near", q.near)
	}
	if !q.passing {
		v.Set("passing", "false")
	}
	if len(v) > 0 {
		s += "?" + v.Encode()
	}
	return s
}

// parseRef reads "NAME[?tag=T&dc=D&near=N&passing=false]". tag may
// repeat (an instance must carry every one); the others may not.
func parseRef(ref string) (query, error) {
	name, raw, _ := strings.Cut(ref, "?")
	q := query{service: name, passing: true}
	if name == "" {
		return q, errors.New("consul: empty service name in ref " + strconv.Quote(ref))
	}
	if i := strings.IndexFunc(name, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune("/#&=%", r)
	}); i >= 0 {
		return q, fmt.Errorf("consul: service name %q has %q, which Consul names never have", name, name[i:i+1])
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("consul: ref %q: bad query: %w", ref, err)
	}
	for k, vs := range vals {
		if k != "tag" && len(vs) > 1 {
			return q, fmt.Errorf("consul: ref %q: %s given %d times", ref, k, len(vs))
		}
		switch k {
		case "tag":
			for _, t := range vs {
				if t == "" {
					return q, fmt.Errorf("consul: ref %q: empty tag", ref)
				}
			}
			q.tags = append([]string(nil), vs...)
			sort.Strings(q.tags)
		case "dc":
			if vs[0] == "" {
				return q, fmt.Errorf("consul: ref %q: empty dc", ref)
			}
			q.dc = vs[0]
		case "near":
			if vs[0] == "" {
				return q, fmt.Errorf("consul: ref %q: empty near", ref)
			}
			q.near = vs[0]
		case "passing":
			b, err := strconv.ParseBool(vs[0])
			if err != nil {
				return q, fmt.Errorf("consul: ref %q: passing must be true or false, not %q", ref, vs[0])
			}
			q.passing = b
		default:
			return q, fmt.Errorf("consul: ref %q: unknown query key %q (known: tag, dc, near, passing)", ref, k)
		}
	}
	return q, nil
}
