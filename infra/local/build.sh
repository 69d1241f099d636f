#!/usr/bin/env bash
# Usage: build.sh [build|start|test]: what the build is for, so prerequisites.sh checks what that
# needs; by default the npm script that runs it (npm sets npm_lifecycle_event: `npm test` -> test).
# Builds etcd, kube-apiserver, kube-controller-manager and kube-scheduler from the Go modules
# pinned in go/go.mod, kwok (simulated nodes) from go-kwok/go.mod, and then (build-jaeger.sh,
# not for `npm start`) Jaeger from go-jaeger/go.mod, into $KUBEFN_CACHE/bin
# (default .cache/controlplane, ignored by git), with kwok's own Stage files beside it. Skips the
# build when the cached binaries were built from the same go.mod and go.sum files and Go version.
# A cold build takes tens of minutes on 2 cores, so it prints each step and the elapsed time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${KUBEFN_CACHE:-$root/.cache/controlplane}
bin=$cache/bin
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

fail() { echo "build: $*" >&2; exit 1; }

# What the machine lacks for this purpose (build, start or test): installed as root, or the exact
# command to run, before anything else.
purpose=${1:-${npm_lifecycle_event:-build}}
case $purpose in start | test) ;; *) purpose=build ;; esac
bash "$here/prerequisites.sh" "$purpose"

kube_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$here/go/go.mod")
kwok_version=$(awk '$1=="sigs.k8s.io/kwok"{print $2; exit}' "$here/go-kwok/go.mod")
stamp=$( (cat "$here/go/go.mod" "$here/go/go.sum" "$here/go-kwok/go.mod" "$here/go-kwok/go.sum"
  go env GOVERSION) | sha256sum | cut -c1-16)
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
# kwok's Stage files (how a simulated node and pod move on), from the pinned kwok module.
stages=(node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml
  pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml)
cached() {
  [ -f "$bin/.stamp" ] && [ "$(cat "$bin/.stamp")" = "$stamp" ] || return 1
  for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
  for s in "${stages[@]}"; do [ -f "$bin/kwok-stages/$(basename "$s")" ] || return 1; done
}
# Jaeger (the trace backend of the tracing test) after the control plane, in its own module and
# with its own stamp (build-jaeger.sh); `npm start` does not use it.
jaeger() { [ "$purpose" = start ] || bash "$here/build-jaeger.sh"; }
if cached; then
  echo "build: control plane $kube_version and kwok $kwok_version are cached in $bin"
  jaeger
  exit 0
fi

start=$SECONDS
elapsed() { local s=$((SECONDS - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
step() { echo "build: [$(elapsed)] $*"; }
# A heartbeat every 30 s while a long step runs, so a cold build never looks hung; the step ends
# as soon as its command does (checked every second), so the timings are the steps' own.
run() {
  local what=$1; shift
  step "$what"
  "$@" & local pid=$! ticks=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1 & wait $! || true
    ticks=$((ticks + 1))
    [ $((ticks % 30)) -eq 0 ] && kill -0 "$pid" 2>/dev/null && step "  still $what"
  done
  wait "$pid"
}

mkdir -p "$bin"
rm -f "$bin/.stamp"
cd "$here/go"
run "downloading modules for Kubernetes $kube_version (about 600 MB, once)" go mod download ||
  fail "could not download Go modules: is the Go module proxy ($(go env GOPROXY)) reachable?"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$kube_version" | cut -d. -f2)"
done
build() { go build -trimpath -ldflags "$ldflags" -o "$bin/$1" "$2"; }
run "building etcd (1/5)" build etcd ./cmd/etcd
run "building kube-apiserver (2/5)" build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
run "building kube-controller-manager (3/5)" build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
run "building kube-scheduler (4/5)" build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
# kwok in a module of its own (go-kwok/go.mod, written by pin-kwok.sh): it needs the k8s.io
# libraries of an older release than the control plane's.
cd "$here/go-kwok"
run "downloading modules for kwok $kwok_version" go mod download ||
  fail "could not download Go modules: is the Go module proxy ($(go env GOPROXY)) reachable?"
run "building kwok $kwok_version (5/5)" go build -trimpath -ldflags "-s -w" -o "$bin/kwok" sigs.k8s.io/kwok/cmd/kwok
kwok_dir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
rm -rf "$bin/kwok-stages" && mkdir -p "$bin/kwok-stages"
for s in "${stages[@]}"; do
  cp "$kwok_dir/kustomize/stage/$s" "$bin/kwok-stages/" || fail "kwok $kwok_version has no stage $s"
done
chmod u+w "$bin/kwok-stages"/*
echo "$stamp" > "$bin/.stamp"
step "done: $(du -sh "$bin" | cut -f1) of binaries in $bin"
jaeger
