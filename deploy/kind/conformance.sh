#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# conformance.sh: upstream Kubernetes' sig-network conformance tests against
# the cluster kubectl points at, with the e2e.test and ginkgo of the
# cluster's exact version (kubernetes-test-linux-amd64.tar.gz from
# dl.k8s.io, checked against its published SHA-256).
#
# Focus: \[sig-network\].*\[Conformance\] - the network tests every
# conformant cluster passes: Services (ClusterIP, NodePort, ExternalName,
# session affinity, endpoints), DNS, pod-to-pod connectivity within and
# across nodes, EndpointSlices, HostPort, proxy, Ingress/NetworkPolicy API.
#
# Skipped, and why:
#   \[Serial\]       they need the whole cluster to themselves; the rest run
#                    in parallel (ginkgo --procs) to fit the job's time
#   \[Disruptive\]   they restart or break nodes and components
#   \[Flaky\]        upstream marks them unreliable
#   \[Feature:      optional features not every conformant cluster has
#                    (e.g. IPv6DualStack, SCTP); not part of the bar
# Nothing is skipped because zerohop fails it: a failure here is a bug.
#
# Environment: ARTIFACTS (JUnit report and logs; default ./_artifacts),
# E2E_PROCS (4), E2E_TIMEOUT (40m), E2E_FOCUS, E2E_SKIP (override the
# above), E2E_CACHE (where the binaries are kept between runs), E2E_REPORT
# (the JUnit file's name; netpol.sh runs the Netpol suite through here).
set -euo pipefail

: "${ARTIFACTS:=$PWD/_artifacts}"
: "${E2E_PROCS:=4}"
: "${E2E_TIMEOUT:=40m}"
: "${E2E_FOCUS:=\[sig-network\].*\[Conformance\]}"
: "${E2E_SKIP:=\[Serial\]|\[Disruptive\]|\[Flaky\]|\[Feature:}"
: "${E2E_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/zerohop-e2e}"
: "${E2E_REPORT:=junit_conformance.xml}"

die() {
	echo "conformance: $*" >&2
	exit 1
}
for t in kubectl curl sha256sum tar; do
	command -v "$t" >/dev/null || die "needs $t"
done

# The server's /version, one field a line.
version=$(kubectl get --raw /version |
	sed -n 's/^ *"gitVersion": *"\(v[^"]*\)".*/\1/p')
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
	die "cannot tell the server's version (got '$version')"
echo "== conformance: Kubernetes $version, focus '$E2E_FOCUS', skip '$E2E_SKIP'"

dir="$E2E_CACHE/$version"
if [ ! -x "$dir/e2e.test" ] || [ ! -x "$dir/ginkgo" ]; then
	mkdir -p "$dir"
	url="https://dl.k8s.io/release/$version/kubernetes-test-linux-amd64.tar.gz"
	echo "== conformance: downloading $url"
	curl -fsSL --retry 3 -o "$dir/test.tar.gz" "$url"
	want=$(curl -fsSL --retry 3 "$url.sha256")
	got=$(sha256sum "$dir/test.tar.gz" | cut -d' ' -f1)
	[ "$got" = "$want" ] || die "$url: SHA-256 $got, published $want"
	tar -xzf "$dir/test.tar.gz" -C "$dir" --strip-components=3 \
		kubernetes/test/bin/e2e.test kubernetes/test/bin/ginkgo
	rm -f "$dir/test.tar.gz"
fi

mkdir -p "$ARTIFACTS"
# Not among the artifacts: it holds the cluster's credentials.
kubeconfig=$(mktemp)
trap 'rm -f "$kubeconfig"' EXIT
kubectl config view --minify --flatten >"$kubeconfig"
export KUBERNETES_CONFORMANCE_TEST=y
"$dir/ginkgo" --procs="$E2E_PROCS" --timeout="$E2E_TIMEOUT" \
	--focus="$E2E_FOCUS" --skip="$E2E_SKIP" \
	--junit-report="$E2E_REPORT" --output-dir="$ARTIFACTS" \
	"$dir/e2e.test" -- \
	--kubeconfig="$kubeconfig" \
	--provider=skeleton \
	--report-dir="$ARTIFACTS" \
	--disable-log-dump=true \
	--dump-logs-on-failure=false
