#!/usr/bin/env bash
# Usage: prerequisites.sh build|start|test
# What the machine must provide, in one list: `npm start` and `npm test` reach it through
# build.sh, CI through `npm test`. build: Go (builds the control plane). start: also Node, openssl
# (the stack's PKI), Java 17, the Pub/Sub emulator and the Firestore emulator. test: also
# Chromium (the browser test).
# Missing Debian packages are installed with apt-get when run as root; otherwise it stops at once
# with the exact command to run. Go and Node are not Debian packages at the versions needed: it
# says where to get them. Paths follow the stack's and the tests' own overrides
# (KUBEFN_PUBSUB_EMULATOR, KUBEFN_FIRESTORE_EMULATOR, KUBEFN_CHROMIUM).
set -euo pipefail
export GOTOOLCHAIN=local
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
purpose=${1:-build}
case $purpose in build | start | test) ;; *)
  echo "usage: $0 build|start|test" >&2
  exit 2
  ;;
esac
what="npm $purpose"
[ "$purpose" = build ] && what="npm run build:stack"

fail() {
  echo "prerequisites: $*" >&2
  exit 1
}
at_least() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$1" ]; }

# Go builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (build.sh).
go_need=$(awk '/^go /{print $2; exit}' "$here/go/go.mod")
go_help="install Go >= $go_need from https://go.dev/dl/ (Debian's golang package is older): download go$go_need.linux-amd64.tar.gz, then
  sudo tar -C /usr/local -xzf go$go_need.linux-amd64.tar.gz && export PATH=\$PATH:/usr/local/go/bin
and run $what again"
command -v go >/dev/null || fail "Go is not installed; $go_help"
go_have=$(go env GOVERSION | sed 's/^go//')
at_least "$go_need" "$go_have" || fail "Go $go_have is older than the $go_need the pinned Kubernetes release needs; $go_help"
[ "$purpose" = build ] && exit 0

# Node: package.json's engines (the functions run on nodejs22).
node_need=$(node -p 'require(process.argv[1]).engines.node.match(/\d+\.\d+/)[0]' "$root/package.json" 2>/dev/null || echo 20.19)
node_have=$(node -p process.versions.node 2>/dev/null || echo none)
[ "$node_have" != none ] && at_least "$node_need" "$node_have" && [ "${node_have%%.*}" != 23 ] ||
  fail "Node $node_have does not fit package.json's engines (>= $node_need, not 23); install Node 22 from https://nodejs.org/ (or: nvm install 22) and run $what again"

# Debian packages, each with what the stack or the tests look for.
emulator=${KUBEFN_PUBSUB_EMULATOR:-/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator}
firestore=${KUBEFN_FIRESTORE_EMULATOR:-/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator}
chromium=${KUBEFN_CHROMIUM:-/usr/bin/chromium}
missing() {
  local need=()
  command -v openssl >/dev/null || need+=(openssl)
  command -v java >/dev/null || need+=(openjdk-17-jre-headless)
  [ -x "$emulator" ] || need+=(google-cloud-cli-pubsub-emulator)
  # Placement's store, global to the cells (infra/local/firestore-emulator.ts).
  [ -x "$firestore" ] || need+=(google-cloud-cli-firestore-emulator)
  # The browser test drives Debian's Chromium (Playwright cannot download a browser here).
  [ "$purpose" = test ] && { [ -x "$chromium" ] || need+=(chromium); }
  echo "${need[@]}"
}
read -r -a need <<<"$(missing)"
[ ${#need[@]} -eq 0 ] && exit 0

# The emulators come from Google Cloud's apt repository, which a plain Debian does not list.
repo_help=""
google=()
for package in "${need[@]}"; do
  if [[ $package == google-cloud-cli-* ]]; then google+=("$package"); fi
done
if [ ${#google[@]} -gt 0 ] &&
  ! apt-cache policy "${google[0]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  repo_help="
${google[*]}: in Google Cloud's apt repository; add it first:
  curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | sudo gpg --dearmor -o /usr/share/keyrings/cloud.google.gpg
  echo 'deb [signed-by=/usr/share/keyrings/cloud.google.gpg] https://packages.cloud.google.com/apt cloud-sdk main' | sudo tee /etc/apt/sources.list.d/google-cloud-sdk.list"
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || [ -n "$repo_help" ]; then
  sudo=sudo
  [ "$(id -u)" = 0 ] && sudo=
  fail "$what needs ${need[*]}, which this machine lacks.${repo_help//sudo /${sudo:+$sudo }}
Run:
  ${sudo:+$sudo }apt-get update && ${sudo:+$sudo }apt-get install -y ${need[*]}
then run $what again."
fi
echo "prerequisites: installing ${need[*]} for $what (apt-get install -y ${need[*]})"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
read -r -a still <<<"$(missing)"
[ ${#still[@]} -eq 0 ] ||
  fail "after apt-get install, still missing: ${still[*]} (looked for java and openssl on PATH, $emulator, $firestore, $chromium)"
