package api

import _ "embed"

// openAPIDoc is the OpenAPI 3.0 description of the gateway API, served at
// /api/v1/openapi.json. It is written by hand; openapi_test.go checks it
// against the routes table so the two cannot drift apart.
//
//go:embed openapi.json
var openAPIDoc []byte
