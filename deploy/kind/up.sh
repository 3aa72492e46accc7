#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# up.sh: a kind cluster (deploy/kind/kind-config.yaml) with zerohop
# installed from deploy/kubernetes/zerohop.yaml, as the kind workflow
# makes it, and as anyone can on a Linux machine with docker and kind:
#
#   docker build -f deploy/kubernetes/Containerfile -t zerohop:ci .
#   deploy/kind/up.sh && deploy/kind/smoke.sh
#
# Steps: create the cluster (unless it exists); make sure every node has a
# bpffs on /sys/fs/bpf (the DaemonSet's init container refuses a node
# without one); load the image into the nodes; render the manifest with
# that image, the API server's address (the control-plane container's IP
# on kind's network, port 6443: with no kube-proxy the `kubernetes`
# ClusterIP does not work before zerohop does) and the kind config's
# Service ranges; apply it; wait for the DaemonSet and for every node to be
# Ready (a node turns Ready once zerohopd has written its CNI config).
#
# Environment: CLUSTER (zerohop), IMAGE (zerohop:ci), KIND_NODE_IMAGE (kind's
# default), WAIT (5m), ARTIFACTS (where the rendered manifest is kept;
# default a temporary directory), AFXDP (the ConfigMap's afxdp: steering
# udp/9000 into AF_XDP sockets, for smoke.sh's afxdp case; "" for none),
# NETWORK_POLICY (the ConfigMap's network-policy: off, audit or on; off
# unless told; netpol.sh needs on).
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${CLUSTER:=zerohop}"
: "${IMAGE:=zerohop:ci}"
: "${KIND_NODE_IMAGE:=}"
: "${WAIT:=5m}"
afxdp_default='{"steer": [{"proto": "udp", "port": 9000}]}'
: "${AFXDP=$afxdp_default}"
: "${ARTIFACTS:=$(mktemp -d)}"
: "${NETWORK_POLICY:=off}"
case $NETWORK_POLICY in
off | audit | on) ;;
*) echo "up: NETWORK_POLICY must be off, audit or on" >&2 && exit 1 ;;
esac
CONFIG=deploy/kind/kind-config.yaml
MANIFEST=deploy/kubernetes/zerohop.yaml
# The manifest's placeholders, replaced below.
MANIFEST_IMAGE=ghcr.io/zerohop/zerohop:dev
MANIFEST_API=https://kube-apiserver.invalid:6443

step() { echo "== up: $*"; }
die() {
	echo "up: $*" >&2
	exit 1
}

for t in docker kind kubectl; do
	command -v "$t" >/dev/null || die "needs $t"
done
docker image inspect "$IMAGE" >/dev/null 2>&1 ||
	die "no image $IMAGE: docker build -f deploy/kubernetes/Containerfile -t $IMAGE ."

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
	step "cluster $CLUSTER exists"
else
	step "creating cluster $CLUSTER"
	args=(--name "$CLUSTER" --config "$CONFIG" --wait 0s)
	[ -z "$KIND_NODE_IMAGE" ] || args+=(--image "$KIND_NODE_IMAGE")
	kind create cluster "${args[@]}"
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

step "bpffs on /sys/fs/bpf of every node"
for node in $(kind get nodes --name "$CLUSTER"); do
	docker exec "$node" sh -c '
		[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ] && exit 0
		mount -t bpf bpf /sys/fs/bpf && echo "  mounted on $(hostname)"'
done

step "loading $IMAGE into the nodes"
kind load docker-image "$IMAGE" --name "$CLUSTER"

api_ip=$(docker inspect -f '{{ with index .NetworkSettings.Networks "kind" }}{{ .IPAddress }}{{ end }}' \
	"$CLUSTER-control-plane")
[ -n "$api_ip" ] || die "no IPv4 address of $CLUSTER-control-plane on docker network kind"
api="https://$api_ip:6443"
svc_cidr=$(sed -n 's/^ *serviceSubnet: *"\([^"]*\)".*$/\1/p' "$CONFIG")
[ -n "$svc_cidr" ] || die "no quoted serviceSubnet in $CONFIG"

step "installing zerohop: image $IMAGE, API $api, Services $svc_cidr, NetworkPolicy $NETWORK_POLICY"
rendered="$ARTIFACTS/zerohop-rendered.yaml"
mkdir -p "$ARTIFACTS"
sed -e "s#image: $MANIFEST_IMAGE\$#image: $IMAGE#" \
	-e "s#k8s-api: \"$MANIFEST_API\"#k8s-api: \"$api\"#" \
	-e "s#service-cidr: \"[^\"]*\"#service-cidr: \"$svc_cidr\"#" \
	-e "s#^  afxdp: \"\"#  afxdp: '$AFXDP'#" \
	-e "s#^  network-policy: \"off\"#  network-policy: \"$NETWORK_POLICY\"#" \
	"$MANIFEST" >"$rendered"
# Each replacement happened, or the manifest changed under this script.
[ "$(grep -c "image: $IMAGE\$" "$rendered")" = 2 ] || die "$MANIFEST: image not replaced"
grep -q "k8s-api: \"$api\"" "$rendered" || die "$MANIFEST: k8s-api not replaced"
grep -q "service-cidr: \"$svc_cidr\"" "$rendered" || die "$MANIFEST: service-cidr not replaced"
grep -qF "afxdp: '$AFXDP'" "$rendered" || die "$MANIFEST: afxdp not replaced"
grep -q "^  network-policy: \"$NETWORK_POLICY\"" "$rendered" ||
	die "$MANIFEST: network-policy not replaced"
kubectl apply -f "$rendered"

step "waiting for the DaemonSet (at most $WAIT)"
if ! kubectl -n kube-system rollout status daemonset/zerohop --timeout="$WAIT"; then
	kubectl -n kube-system get pods -l app.kubernetes.io/name=zerohop -o wide || true
	kubectl -n kube-system logs -l app.kubernetes.io/name=zerohop --all-containers \
		--prefix --tail=50 || true
	die "the zerohop DaemonSet did not become ready"
fi
step "waiting for every node to be Ready (at most $WAIT)"
if ! kubectl wait --for=condition=Ready nodes --all --timeout="$WAIT"; then
	kubectl get nodes -o wide || true
	die "not every node became Ready: is /etc/cni/net.d/10-zerohop.conflist written?"
fi
kubectl get nodes -o wide
step "done"
