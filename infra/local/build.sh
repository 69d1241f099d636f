#!/usr/bin/env bash
# Usage: build.sh [build|start|test]: what the build is for, so prerequisites.sh checks what that
# needs; by default the npm script that runs it (npm sets npm_lifecycle_event: `npm test` -> test).
# Builds etcd, kube-apiserver and kube-controller-manager from the Go modules pinned in go/go.mod
# into $KUBEFN_CACHE/bin (default .cache/controlplane, ignored by git). Skips the build when the
# cached binaries were built from the same go.mod, go.sum and Go version. A cold build takes
# tens of minutes on 2 cores, so it prints each step and the elapsed time as it goes.
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
stamp=$( (cat "$here/go/go.mod" "$here/go/go.sum"; go env GOVERSION) | sha256sum | cut -c1-16)
if [ -f "$bin/.stamp" ] && [ "$(cat "$bin/.stamp")" = "$stamp" ] &&
  [ -x "$bin/etcd" ] && [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ]; then
  echo "build: control plane $kube_version is cached in $bin"
  exit 0
fi

start=$SECONDS
elapsed() { local s=$((SECONDS - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
step() { echo "build: [$(elapsed)] $*"; }
# A heartbeat while a long step runs, so a cold build never looks hung.
run() {
  local what=$1; shift
  step "$what"
  "$@" & local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30 & wait $! || true
    kill -0 "$pid" 2>/dev/null && step "  still $what"
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
run "building etcd (1/3)" build etcd ./cmd/etcd
run "building kube-apiserver (2/3)" build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
run "building kube-controller-manager (3/3)" build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
echo "$stamp" > "$bin/.stamp"
step "done: $(du -sh "$bin" | cut -f1) of binaries in $bin"
