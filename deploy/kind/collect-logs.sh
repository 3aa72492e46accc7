#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# collect-logs.sh: after a failed run, everything worth reading into
# $ARTIFACTS/logs (default ./_artifacts/logs): the cluster's objects and
# events, every zerohop pod's log (and its previous container's, after a
# restart), what each node has of zerohop (CNI config, plugin, pins,
# attached programs), and `kind export logs` (kubelet, containerd, every
# container). Best effort: a step that fails is noted and the rest runs.
#
# Environment: CLUSTER (zerohop), ARTIFACTS.
set -uo pipefail

: "${CLUSTER:=zerohop}"
: "${ARTIFACTS:=$PWD/_artifacts}"
out="$ARTIFACTS/logs"
mkdir -p "$out"

# run FILE CMD...: CMD's output (stdout and stderr) into $out/FILE.
run() {
	local f=$1
	shift
	echo "\$ $*" >>"$out/$f"
	"$@" >>"$out/$f" 2>&1 || echo "(exit $?)" >>"$out/$f"
}

run cluster.txt kubectl get nodes -o wide
run cluster.txt kubectl get pods -A -o wide
run cluster.txt kubectl get svc,endpointslices -A -o wide
run cluster.txt kubectl get networkpolicies -A -o yaml
run events.txt kubectl get events -A --sort-by=.lastTimestamp
run nodes.txt kubectl describe nodes
run zerohop.txt kubectl -n kube-system describe daemonset/zerohop
run zerohop.txt kubectl -n kube-system get configmap zerohop-config -o yaml

for pod in $(kubectl -n kube-system get pods -l app.kubernetes.io/name=zerohop \
	-o jsonpath='{.items[*].metadata.name}' 2>/dev/null); do
	run "zerohop-$pod.log" kubectl -n kube-system logs "$pod" --all-containers --timestamps
	run "zerohop-$pod.previous.log" kubectl -n kube-system logs "$pod" -c zerohopd \
		--previous --timestamps
	run "zerohop-$pod.state.txt" kubectl -n kube-system exec "$pod" -c zerohopd -- \
		zerohopctl features
	run "zerohop-$pod.state.txt" kubectl -n kube-system exec "$pod" -c zerohopd -- \
		zerohopctl endpoints
	run "zerohop-$pod.state.txt" kubectl -n kube-system exec "$pod" -c zerohopd -- \
		zerohopctl stats
	run "zerohop-$pod.state.txt" kubectl -n kube-system exec "$pod" -c zerohopd -- \
		zerohopctl service list
done

if command -v kind >/dev/null && kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
	for node in $(kind get nodes --name "$CLUSTER"); do
		f="node-$node.txt"
		run "$f" docker exec "$node" sh -c 'ls -l /etc/cni/net.d /opt/cni/bin; cat /etc/cni/net.d/*'
		run "$f" docker exec "$node" sh -c 'stat -f -c %T /sys/fs/bpf; find /sys/fs/bpf -maxdepth 3'
		run "$f" docker exec "$node" ip -d link show
		run "$f" docker exec "$node" ip route show table all
	done
	run kind-export.txt kind export logs --name "$CLUSTER" "$out/kind"
fi
echo "collect-logs: $out"
