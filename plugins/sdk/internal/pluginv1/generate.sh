#!/usr/bin/env bash
# Regenerates the plugin protocol's Go code from its .proto files with
# protoc (Debian's protobuf-compiler) and the generators pinned as tools in
# go.mod. With an output directory argument it writes there instead, for the
# staleness check (fresh_test.go).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
out="${1:-.}"
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$bin/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc
protoc --plugin=protoc-gen-go="$bin/protoc-gen-go" --plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
  --go_out="$out" --go_opt=module=github.com/turnout/turnout \
  --go-grpc_out="$out" --go-grpc_opt=module=github.com/turnout/turnout \
  -I plugins/sdk/internal/pluginv1 plugins/sdk/internal/pluginv1/*.proto
