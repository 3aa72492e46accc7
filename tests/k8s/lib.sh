# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# lib.sh - tests/k8s/apiserver.py from a bash test. Source it after
# tests/integration/lib.sh: the server joins ZH_PIDS, so zh_cleanup stops
# it (SIGTERM: watches end cleanly, then it exits).
#
# k8s_api_start DIR [ARG...]  certificates (mkcerts.sh), a token file and a
#     kubeconfig in DIR, then the server with ARGs (--objects FILE,
#     --gen-services N, ...), waited for. Sets K8S_API_URL
#     (https://127.0.0.1:PORT), K8S_API_CTL (http://127.0.0.1:CPORT, the
#     control listener), K8S_API_DIR, K8S_API_PID, K8S_API_TOKEN_FILE
#     (rewrite it to rotate the token), K8S_API_CA and K8S_API_KUBECONFIG.
#     The server's stderr is in DIR/apiserver.log.
# k8s_ctl COMMAND [JSON]      POST JSON (default {}) to the control
#     listener; prints the answer; fails unless it is a 2xx.
# k8s_curl PATH [CURL-ARG...] GET PATH from the API with the CA and the
#     current token (curl -sS; add -w, -D, --raw... as needed).
# k8s_kubectl ARG...          kubectl with that kubeconfig and a discovery
#     cache of its own in DIR.
# k8s_kubeconfig FILE CA TOKEN  a kubeconfig for the running server.

K8S_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

k8s_kubeconfig() {
	local file=$1 ca=$2 token=$3
	cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: zerohop-test
  cluster:
    server: $K8S_API_URL
    certificate-authority: $ca
users:
- name: zerohop-test
  user:
    token: $token
contexts:
- name: zerohop-test
  context:
    cluster: zerohop-test
    user: zerohop-test
current-context: zerohop-test
KUBECONFIG
}

k8s_api_start() {
	local dir=$1 i
	shift
	mkdir -p "$dir"
	K8S_API_DIR=$(cd "$dir" && pwd)
	"$K8S_LIB_DIR/mkcerts.sh" "$K8S_API_DIR"
	K8S_API_CA="$K8S_API_DIR/ca.crt"
	K8S_API_TOKEN_FILE="$K8S_API_DIR/token"
	K8S_API_KUBECONFIG="$K8S_API_DIR/kubeconfig"
	head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$K8S_API_TOKEN_FILE"
	rm -f "$K8S_API_DIR/port" "$K8S_API_DIR/control-port"
	python3 "$K8S_LIB_DIR/apiserver.py" --cert "$K8S_API_DIR/server.crt" \
		--key "$K8S_API_DIR/server.key" --token-file "$K8S_API_TOKEN_FILE" \
		--port-file "$K8S_API_DIR/port" \
		--control-port-file "$K8S_API_DIR/control-port" "$@" \
		2>"$K8S_API_DIR/apiserver.log" &
	K8S_API_PID=$!
	ZH_PIDS+=("$K8S_API_PID")
	# The port file appears once both listeners are up.
	for i in $(seq 200); do
		[ -s "$K8S_API_DIR/port" ] && break
		kill -0 "$K8S_API_PID" 2>/dev/null && [ "$i" != 200 ] || {
			echo "apiserver.py did not start:" >&2
			cat "$K8S_API_DIR/apiserver.log" >&2
			return 1
		}
		sleep 0.05
	done
	K8S_API_URL="https://127.0.0.1:$(cat "$K8S_API_DIR/port")"
	K8S_API_CTL="http://127.0.0.1:$(cat "$K8S_API_DIR/control-port")"
	k8s_kubeconfig "$K8S_API_KUBECONFIG" "$K8S_API_CA" "$(cat "$K8S_API_TOKEN_FILE")"
}

k8s_ctl() {
	curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' \
		--data-binary "${2:-"{}"}" "$K8S_API_CTL/$1"
}

k8s_curl() {
	local path=$1
	shift
	curl -sS --cacert "$K8S_API_CA" \
		-H "Authorization: Bearer $(cat "$K8S_API_TOKEN_FILE")" "$@" "$K8S_API_URL$path"
}

k8s_kubectl() {
	kubectl --kubeconfig "$K8S_API_KUBECONFIG" --cache-dir "$K8S_API_DIR/kube-cache" "$@"
}
