package api

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/internal/jsonyaml"
)

// Media types the gateway API reads and writes.
const (
	typeJSON       = "application/json"
	typeYAML       = "application/x-yaml"
	typeMergePatch = "application/merge-patch+json"
)

// yamlTypes are the names YAML goes by; all are read, typeYAML is written.
var yamlTypes = map[string]bool{"application/x-yaml": true, "application/yaml": true, "text/yaml": true, "text/x-yaml": true}

// mediaType is the request's Content-Type without parameters, lowercased
// ("" when absent or unparsable).
func mediaType(r *http.Request) (string, bool) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false
	}
	return mt, true
}

// checkDocumentType accepts a gateway document's Content-Type: JSON, YAML,
// or none at all (the decoder reads both, so a curl without -H works).
func checkDocumentType(r *http.Request) error {
	mt, ok := mediaType(r)
	if ok && (mt == "" || mt == typeJSON || yamlTypes[mt]) {
		return nil
	}
	return errorf(http.StatusUnsupportedMediaType,
		"unsupported content type %q: use application/json or application/x-yaml", r.Header.Get("Content-Type"))
}

// checkMergePatchType accepts only RFC 7396's type: a PATCH body is not a
// gateway, and guessing would turn a full document into a merge by mistake.
func checkMergePatchType(r *http.Request) error {
	if mt, ok := mediaType(r); ok && mt == typeMergePatch {
		return nil
	}
	if r.Header.Get("Content-Type") == "" {
		return errorf(http.StatusUnsupportedMediaType, "missing content type: PATCH takes application/merge-patch+json")
	}
	return errorf(http.StatusUnsupportedMediaType,
		"unsupported content type %q: PATCH takes application/merge-patch+json", r.Header.Get("Content-Type"))
}

// wantsYAML reads Accept: YAML when a YAML type ranks above JSON (by q,
// then by order); JSON otherwise, including */* and no Accept at all.
func wantsYAML(r *http.Request) bool {
	bestQ, yamlBest := 0.0, false
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				q = v
			}
		}
		isYAML := yamlTypes[mt]
		if !isYAML && mt != typeJSON && mt != "application/*" && mt != "*/*" {
			continue
		}
		if q > bestQ {
			bestQ, yamlBest = q, isYAML
		}
	}
	return yamlBest
}

// render writes v as JSON or YAML per Accept. Gateways are written through
// their own marshalers so routes keep their order and a GET can be PUT back.
func render(w http.ResponseWriter, r *http.Request, status int, v any) {
	var body []byte
	var err error
	ct := typeJSON
	if wantsYAML(r) {
		ct = typeYAML
		body, err = encodeYAML(v)
	} else {
		body, err = encodeJSON(v)
	}
	if err != nil {
		// Our own values always encode; a failure is a bug worth a 500.
		http.Error(w, `{"message":"internal server error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	w.Write(body)
}

func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	switch v := v.(type) {
	case *gateway.Gateway:
		j, err := v.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b.Write(j)
	case []*gateway.Gateway:
		// Written by hand: encoding/json would HTML-escape conditions.
		b.WriteByte('[')
		for i, g := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			j, err := g.MarshalJSON()
			if err != nil {
				return nil, err
			}
			b.Write(j)
		}
		b.WriteByte(']')
	default:
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// encodeYAML is the JSON answer converted: YAML-encoding the Go values
// would differ from their JSON (a json.RawMessage as a list of bytes, an
// `any` holding a struct without yaml tags), so both forms are one
// structure by construction.
func encodeYAML(v any) ([]byte, error) {
	j, err := encodeJSON(v)
	if err != nil {
		return nil, err
	}
	return jsonyaml.FromJSON(j)
}
