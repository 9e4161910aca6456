#!/usr/bin/env bash
# Builds the real Kubernetes control plane the test suite runs against:
# kube-apiserver, kube-controller-manager and kube-scheduler v1.20.2 from Debian's
# source package (compiled offline with bullseye's Go 1.15, the newest Go that
# builds this tree), and etcd 3.5 unpacked from trixie's etcd-server package.
#
# The binaries land in one cache outside the work tree, reused when present:
#   ${GAMEDAY_K8S_ASSETS:-$HOME/.cache/chaos-gameday/k8s-v1.20.2}
# Apt runs with a private configuration and private lists, so the system's own
# sources and lists stay untouched. Needs network access to deb.debian.org,
# make, dpkg-dev and rsync; the ~2 GB build tree is removed afterwards.
set -euo pipefail

ASSETS="${GAMEDAY_K8S_ASSETS:-$HOME/.cache/chaos-gameday/k8s-v1.20.2}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler etcd)

have_all() {
    local name
    for name in "${BINARIES[@]}"; do
        [ -x "$ASSETS/$name" ] || return 1
    done
}

if have_all; then
    echo "control plane binaries already in $ASSETS"
    exit 0
fi

for tool in make dpkg-source dpkg-deb rsync apt-get; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build.sh: '$tool' is missing; install make, dpkg-dev and rsync (apt-get install make dpkg-dev rsync)" >&2
        exit 2
    fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gameday-k8s-build.XXXXXX")"
trap 'echo "removing build tree $WORK"; rm -rf "$WORK"' EXIT
started=$SECONDS
step() { echo "[$((SECONDS - started))s] $*"; }

# A private apt world: bookworm sources, bullseye's Go 1.15, trixie's etcd 3.5.
APT_DIR="$WORK/apt"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/sources.list.d"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$APT_DIR/sources.list" <<LIST
deb-src [signed-by=$KEYRING] http://deb.debian.org/debian bookworm main
deb [signed-by=$KEYRING] http://deb.debian.org/debian bullseye main
deb [signed-by=$KEYRING] http://deb.debian.org/debian trixie main
LIST
APT_OPTS=(
    -o "Dir::Etc::sourcelist=$APT_DIR/sources.list"
    -o "Dir::Etc::sourceparts=$APT_DIR/sources.list.d"
    -o "Dir::State::Lists=$APT_DIR/lists"
    -o "Dir::Cache=$APT_DIR/cache"
    -o "APT::Sandbox::User=root"
    -o "Debug::NoLocking=1"
)

step "apt: reading bookworm sources, bullseye and trixie package lists (private lists in $APT_DIR)"
apt-get -qq "${APT_OPTS[@]}" update

cd "$WORK"
step "apt: downloading golang-1.15 (bullseye) and etcd-server (trixie)"
apt-get -qq "${APT_OPTS[@]}" download golang-1.15-go/bullseye golang-1.15-src/bullseye etcd-server/trixie
mkdir -p "$WORK/root"
for deb in "$WORK"/*.deb; do
    dpkg-deb -x "$deb" "$WORK/root"
done

step "apt: fetching the kubernetes source package (bookworm)"
apt-get -qq "${APT_OPTS[@]}" source --download-only kubernetes/bookworm
dpkg-source --no-check -x "$WORK"/kubernetes_*.dsc "$WORK/src" >/dev/null

export GOROOT="$WORK/root/usr/lib/go-1.15"
export PATH="$GOROOT/bin:$PATH"
export GOPATH="$WORK/gopath" GOCACHE="$WORK/gocache"
export GOPROXY=off GOFLAGS=-mod=vendor CGO_ENABLED=0
export KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20
step "make: building kube-apiserver, kube-controller-manager, kube-scheduler with $(go version)"
make -C "$WORK/src" WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler"

step "installing binaries into $ASSETS"
mkdir -p "$ASSETS"
for name in kube-apiserver kube-controller-manager kube-scheduler; do
    install -m 0755 "$WORK/src/_output/local/bin/linux/amd64/$name" "$ASSETS/$name"
done
install -m 0755 "$WORK/root/usr/bin/etcd" "$ASSETS/etcd"
"$ASSETS/kube-apiserver" --version
"$ASSETS/etcd" --version | head -1
step "done"
