#!/usr/bin/env bash
# Usage: build-jaeger.sh: called by build.sh (after the control plane), or on its own.
# Builds Jaeger's all-in-one (the local trace backend: OTLP in, the query API out, spans kept in
# memory) from the module pinned in go-jaeger/go.mod (written by pin-jaeger.sh) into
# $KUBEFN_CACHE/bin/jaeger-all-in-one. Skipped when the binary was built from the same go.mod,
# go.sum and Go version (its own stamp: a new Jaeger pin never rebuilds the control plane).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${KUBEFN_CACHE:-$root/.cache/controlplane}/bin
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

version=$(awk '$1=="github.com/jaegertracing/jaeger"{print $2; exit}' "$here/go-jaeger/go.mod")
stamp=$( (cat "$here/go-jaeger/go.mod" "$here/go-jaeger/go.sum"; go env GOVERSION) | sha256sum | cut -c1-16)
if [ -x "$bin/jaeger-all-in-one" ] && [ "$(cat "$bin/.stamp-jaeger" 2>/dev/null)" = "$stamp" ]; then
  echo "build: jaeger $version is cached in $bin"
  exit 0
fi
start=$SECONDS
echo "build: building jaeger $version all-in-one (the trace backend of test/integration/tracing.test.ts; a few minutes, once)"
mkdir -p "$bin"
rm -f "$bin/.stamp-jaeger"
cd "$here/go-jaeger"
go mod download || { echo "build: could not download Jaeger's Go modules: is the Go module proxy ($(go env GOPROXY)) reachable?" >&2; exit 1; }
# Built aside and moved in: a test may be starting the previous binary.
go build -trimpath -ldflags "-s -w" -o "$bin/.jaeger-all-in-one.new" github.com/jaegertracing/jaeger/cmd/all-in-one
mv -f "$bin/.jaeger-all-in-one.new" "$bin/jaeger-all-in-one"
echo "$stamp" > "$bin/.stamp-jaeger"
s=$((SECONDS - start))
echo "build: jaeger built in $((s / 60))m$(printf '%02d' $((s % 60)))s: $(du -h "$bin/jaeger-all-in-one" | cut -f1)"
