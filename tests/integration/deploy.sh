#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The Kubernetes deployment, checked where there is no cluster: the
# manifest (deploy/kubernetes/zerohop.yaml), the kind config and workflow,
# the image's Containerfile and the Grafana dashboard, against each other
# and against what this tree builds:
#   - RBAC is get/list/watch on Services, Nodes and EndpointSlices, nothing
#     more; every flag the DaemonSet gives zerohopd is one `zerohopd --help`
#     documents; the volumes, mounts, capabilities and probes are those the
#     agent needs (probes on the --listen port);
#   - the kind config is kindnet-less and kube-proxy-less; the workflow
#     parses, pins what it downloads and runs files that exist;
#   - the Containerfile's Debian packages exist (apt-cache), its build stage
#     has scripts/deps.sh's build packages, its runtime stage every library
#     the installed binaries need (readelf, dpkg -S);
#   - every metric the dashboard queries is one zerohopd's source exports,
#     with labels it has;
#   - shellcheck on deploy/'s scripts.
# Needs no root and no network; a part whose tool or data is missing here
# (apt lists, dpkg) is skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${O:=build}"
ZH_PREFIX="zhd$$"
# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
zh_start
zh_require_tools python3 shellcheck readelf:binutils
python3 -c 'import yaml' 2>/dev/null || {
	echo "$ZH_TEST: python3 cannot import yaml: run scripts/deps.sh (python3-yaml)"
	exit 1
}

export MANIFEST=deploy/kubernetes/zerohop.yaml
export KIND_CONFIG=deploy/kind/kind-config.yaml
export WORKFLOW=.github/workflows/kind.yml
export CONTAINERFILE=deploy/kubernetes/Containerfile
export DASHBOARD=deploy/grafana/zerohop-dashboard.json
# What the agent branch adds: its flags and metrics (DESIGN.md, Kubernetes).
K8S_FLAGS="--kubernetes --k8s-api --kubeconfig --node-name --cni-conf-dir --cni-datapath"
export K8S_METRICS="zerohop_k8s_objects zerohop_k8s_watch_restarts_total
	zerohop_k8s_relists_total zerohop_k8s_rejected_total
	zerohop_k8s_event_to_datapath_seconds zerohop_k8s_synced"
# The capabilities the agent gets, each explained in the manifest.
export AGENT_CAPS="SYS_ADMIN NET_ADMIN NET_RAW SYS_PTRACE SYS_RESOURCE"

# py CODE [ARG...]: python3 on CODE after a prelude that loads the manifest:
# fail(MSG) prints MSG and exits 1; docs, one(KIND), ds, spec (the pod's),
# agent and init (the containers), volumes (name -> hostPath path),
# mounts(CONTAINER) (path -> volumeMount), args (zerohopd's).
PRELUDE=$(
	cat <<'EOF'
import ipaddress, json, os, re, subprocess, sys, yaml
def fail(*msg):
    print(*msg)
    sys.exit(1)
def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]
docs = load_all(os.environ["MANIFEST"])
def one(kind):
    found = [d for d in docs if d.get("kind") == kind]
    if len(found) != 1:
        fail(f"{len(found)} {kind} documents, expected 1")
    return found[0]
ds = one("DaemonSet")
spec = ds["spec"]["template"]["spec"]
def container(cs, name):
    found = [c for c in cs if c["name"] == name]
    if len(found) != 1:
        fail(f"{len(found)} containers named {name}")
    return found[0]
agent = container(spec["containers"], "zerohopd")
init = container(spec.get("initContainers", []), "install-cni")
volumes = {v["name"]: v.get("hostPath", {}).get("path") for v in spec.get("volumes", [])}
def mounts(c):
    return {m["mountPath"]: m for m in c.get("volumeMounts", [])}
args = agent.get("args", [])
def flag_value(flag):
    for i, a in enumerate(args):
        if a == flag:
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    fail(f"zerohopd is not given {flag}")
def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}
EOF
)
py() {
	local code=$1
	shift
	python3 -c "$PRELUDE
$code" "$@"
}

# --- the manifest ---------------------------------------------------------------
manifest() {
	check "zerohop.yaml parses: every YAML document" py 'print(len(docs), "documents")'
	check "one ServiceAccount, ClusterRole, ClusterRoleBinding, ConfigMap, DaemonSet; nothing else" py '
want = ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "ServiceAccount"]
got = sorted(d["kind"] for d in docs)
if got != want: fail("kinds:", got)'
	check "the namespaced ones in kube-system" py '
bad = [d["kind"] for d in docs if d["kind"] in ("ServiceAccount", "ConfigMap", "DaemonSet")
       and d["metadata"].get("namespace") != "kube-system"]
if bad: fail("not in kube-system:", bad)'
	check "the DaemonSet selects its own pods" py '
sel = ds["spec"]["selector"]["matchLabels"]
labels = ds["spec"]["template"]["metadata"]["labels"]
if any(labels.get(k) != v for k, v in sel.items()): fail(sel, labels)'
	check "deploy/afxdp-pod.yaml parses" py 'load_all("deploy/afxdp-pod.yaml")'
}

rbac() {
	check "ClusterRole: get, list, watch on services, nodes, pods, namespaces, endpointslices, networkpolicies; nothing else" py '
role = one("ClusterRole")
want = {("", "services"), ("", "nodes"), ("", "pods"), ("", "namespaces"),
        ("discovery.k8s.io", "endpointslices"), ("networking.k8s.io", "networkpolicies")}
got = set()
for r in role["rules"]:
    extra = set(r) - {"apiGroups", "resources", "verbs"}
    if extra: fail("a rule with", sorted(extra), r)
    if sorted(r["verbs"]) != ["get", "list", "watch"]: fail("verbs", r["verbs"], "in", r)
    for g in r["apiGroups"]:
        for res in r["resources"]:
            if (g, res) in got: fail("granted twice:", g, res)
            got.add((g, res))
if got != want: fail("granted", sorted(got), "expected", sorted(want))'
	check "ClusterRoleBinding: that role to the DaemonSet's ServiceAccount" py '
sa, b, role = one("ServiceAccount"), one("ClusterRoleBinding"), one("ClusterRole")
ref = b["roleRef"]
if (ref["kind"], ref["name"], ref["apiGroup"]) != ("ClusterRole", role["metadata"]["name"], "rbac.authorization.k8s.io"):
    fail("roleRef", ref)
want = [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": sa["metadata"]["namespace"]}]
if b["subjects"] != want: fail("subjects", b["subjects"])
if spec.get("serviceAccountName") != sa["metadata"]["name"]: fail("serviceAccountName", spec.get("serviceAccountName"))
if spec.get("automountServiceAccountToken") is False: fail("no token mounted")'
}

flags() {
	local help f flag_list
	help=$("$ZH_BIN/zerohopd" --help)
	flag_list=$(py 'print("\n".join(sorted({a.split("=")[0] for a in args if a.startswith("--")})))')
	check "zerohopd is given flags ($(echo "$flag_list" | wc -l))" test -n "$flag_list"
	for f in $flag_list; do
		local note=""
		[[ " $K8S_FLAGS " == *" $f "* ]] && note=" (the agent branch's)"
		check "zerohopd --help documents $f$note" \
			grep -qE -- "(^|[ ,])$f([ =,]|$)" <<<"$help"
	done
	check "every \$(VAR) in zerohopd's args is in its env" py '
env = env_of(agent)
used = {v for a in args for v in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", a)}
missing = sorted(used - set(env))
if missing: fail("undefined:", missing)'
	check "NODE_NAME from spec.nodeName, NODE_IP from status.hostIP" py '
env = env_of(agent)
for name, path in (("NODE_NAME", "spec.nodeName"), ("NODE_IP", "status.hostIP")):
    got = env.get(name, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    if got != path: fail(name, "from", got)'
	check "each ConfigMap key reaches zerohopd, and only those keys are read" py '
cm = one("ConfigMap")
refs = [e["valueFrom"]["configMapKeyRef"] for c in spec["containers"] + spec.get("initContainers", [])
        for e in c.get("env", []) if "configMapKeyRef" in e.get("valueFrom", {})]
bad = [r for r in refs if r["name"] != cm["metadata"]["name"] or r["key"] not in cm["data"]]
if bad: fail("refer to no key of", cm["metadata"]["name"], bad)
unused = sorted(set(cm["data"]) - {r["key"] for r in refs})
if unused: fail("keys nobody reads:", unused)'
	check "ConfigMap: service-cidr is at most one IPv4 and one IPv6 network" py '
nets = [ipaddress.ip_network(c) for c in one("ConfigMap")["data"]["service-cidr"].split(",")]
if len({n.version for n in nets}) != len(nets): fail(nets)'
	check "ConfigMap: network-policy is off, audit or on (off by default)" py '
if one("ConfigMap")["data"]["network-policy"] != "off": fail(one("ConfigMap")["data"]["network-policy"])'
	check "ConfigMap: datapath is tc or xdp, latency-sample a count or off" py '
d = one("ConfigMap")["data"]
if d["datapath"] not in ("tc", "xdp"): fail("datapath", d["datapath"])
if d["latency-sample"] != "off" and not d["latency-sample"].isdigit(): fail(d["latency-sample"])'
	check "zerohopd's command is where make install PREFIX=/usr puts it" py '
if agent["command"] != ["/usr/sbin/zerohopd"]: fail(agent["command"])
mk = open("Makefile").read()
if "$(DESTDIR)$(PREFIX)/sbin/zerohopd" not in mk: fail("Makefile installs zerohopd elsewhere")
if "install DESTDIR=/out PREFIX=/usr" not in open(os.environ["CONTAINERFILE"]).read():
    fail("the Containerfile installs with another PREFIX")'
	check "the init container runs install-cni.sh, as the Containerfile installs it" py '
cmd = init["command"]
cf = open(os.environ["CONTAINERFILE"]).read()
if cmd != ["/usr/lib/zerohop/install-cni"]: fail(cmd)
if not re.search(r"deploy/kubernetes/install-cni\.sh\s*\\?\s*/out/usr/lib/zerohop/install-cni", cf):
    fail("the Containerfile does not install deploy/kubernetes/install-cni.sh as", cmd[0])
if not os.access("deploy/kubernetes/install-cni.sh", os.X_OK): fail("install-cni.sh is not executable")
if init["image"] != agent["image"]: fail("two images:", init["image"], agent["image"])'
}

daemonset() {
	check "hostNetwork, hostPID, system-node-critical, every taint tolerated" py '
want = {"hostNetwork": True, "hostPID": True, "priorityClassName": "system-node-critical",
        "tolerations": [{"operator": "Exists"}]}
bad = {k: spec.get(k) for k, v in want.items() if spec.get(k) != v}
if bad: fail(bad)'
	check "dnsPolicy Default: the node's resolver (cluster DNS needs zerohop first)" py '
if spec.get("dnsPolicy") != "Default": fail(spec.get("dnsPolicy"))'
	check "updateStrategy: RollingUpdate, maxUnavailable 1, no surge (one agent a node)" py '
u = ds["spec"]["updateStrategy"]
if u != {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}: fail(u)'
	check "zerohopd: not privileged, drops ALL, adds exactly $AGENT_CAPS" py '
sc = agent["securityContext"]
if sc.get("privileged") is not False: fail("privileged:", sc.get("privileged"))
caps = sc["capabilities"]
if caps.get("drop") != ["ALL"]: fail("drop", caps.get("drop"))
if sorted(caps.get("add", [])) != sorted(os.environ["AGENT_CAPS"].split()): fail("add", caps.get("add"))'
	check "each added capability has its reason in a comment" py '
text = open(os.environ["MANIFEST"]).read()
missing = [c for c in os.environ["AGENT_CAPS"].split() if not re.search(r"^\s*# " + c + r": \S", text, re.M)]
if missing: fail("no \"# CAP: why\" comment for", missing)'
	check "no container privileged; no Bidirectional mount (Kubernetes allows it only privileged)" py '
for c in spec["containers"] + spec.get("initContainers", []):
    if c.get("securityContext", {}).get("privileged"): fail(c["name"], "is privileged")
    for m in c.get("volumeMounts", []):
        if m.get("mountPropagation") == "Bidirectional": fail(c["name"], m)'
	check "allowPrivilegeEscalation is not false beside SYS_ADMIN (the API server refuses that)" py '
for c in spec["containers"] + spec.get("initContainers", []):
    sc = c.get("securityContext", {})
    if sc.get("allowPrivilegeEscalation") is False and "SYS_ADMIN" in sc.get("capabilities", {}).get("add", []):
        fail(c["name"])'
	check "install-cni: no capabilities, no escalation" py '
sc = init["securityContext"]
if sc.get("capabilities") != {"drop": ["ALL"]} or sc.get("allowPrivilegeEscalation") is not False: fail(sc)'
	check "every mount names a volume, every volume is mounted" py '
used = {m["name"] for c in spec["containers"] + spec.get("initContainers", []) for m in c.get("volumeMounts", [])}
if used - set(volumes): fail("no such volume:", sorted(used - set(volumes)))
if set(volumes) - used: fail("never mounted:", sorted(set(volumes) - used))'
	# host path, container, mount path (or the flag/env naming it), how.
	check "the node paths zerohop needs, mounted where they are used" py '
def at(c, host):
    names = [n for n, p in volumes.items() if p == host]
    if len(names) != 1: fail(len(names), "volumes of", host)
    found = [m for m in c.get("volumeMounts", []) if m["name"] == names[0]]
    if len(found) != 1: fail(c["name"], "mounts", host, len(found), "times")
    return found[0]
def want(c, host, path, ro=False, prop=None):
    m = at(c, host)
    if m["mountPath"] != path: fail(c["name"], host, "at", m["mountPath"], "not", path)
    if bool(m.get("readOnly")) != ro: fail(c["name"], host, "readOnly", m.get("readOnly"))
    if m.get("mountPropagation") != prop: fail(c["name"], host, "propagation", m.get("mountPropagation"))
want(agent, "/sys/fs/bpf", "/sys/fs/bpf", prop="HostToContainer")
want(agent, "/etc/cni/net.d", flag_value("--cni-conf-dir"))
want(agent, "/run/zerohop", "/run/zerohop")
want(agent, "/run/netns", "/run/netns", prop="HostToContainer")
# Leases of pods gone without DEL: the agent runs their IPAM DEL with the
# record the plugin wrote (zerohopd --state-dir, under /var/lib/zerohop).
want(agent, "/var/lib/cni", "/var/lib/cni")
want(agent, "/var/lib/zerohop", "/var/lib/zerohop")
want(agent, "/opt/cni/bin", "/opt/cni/bin", ro=True)
# Socket-level LB attaches at the node cgroup root, not the container'"'"'s
# (a cgroup namespace of its own): the node'"'"'s hierarchy, named by --cgroup.
want(agent, "/sys/fs/cgroup", flag_value("--cgroup"), ro=True)
want(init, "/opt/cni/bin", env_of(init)["CNI_BIN_DIR"]["value"])
want(init, "/sys/fs/bpf", "/sys/fs/bpf", ro=True)'
	check "the attachment records' default is under /var/lib/zerohop" \
		grep -q '/var/lib/zerohop/pods' <<<"$("$ZH_BIN/zerohopd" --help)"
	check "the AF_XDP handoff socket's default is under /run/zerohop" \
		grep -q '/run/zerohop/xsk.sock' <<<"$("$ZH_BIN/zerohopd" --help)"
	check "deploy/afxdp-pod.yaml mounts the same /run/zerohop" py '
pod = load_all("deploy/afxdp-pod.yaml")[0]
if [v["hostPath"]["path"] for v in pod["spec"]["volumes"]] != ["/run/zerohop"]: fail(pod["spec"]["volumes"])'
	check "... read-only: a pod cannot swap the socket for its own" py '
pod = load_all("deploy/afxdp-pod.yaml")[0]
mounts = [m for c in pod["spec"]["containers"] for m in c.get("volumeMounts", [])]
if not mounts or not all(m.get("readOnly") for m in mounts): fail(mounts)'
}

probes() {
	check "readiness /readyz, liveness and startup /healthz, on the --listen port, loopback" py '
listen = flag_value("--listen")
host, _, port = listen.rpartition(":")
ports = {p["name"]: p["containerPort"] for p in agent.get("ports", [])}
if int(port) not in ports.values(): fail("no container port", port)
for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")):
    g = agent[probe]["httpGet"]
    p = ports.get(g["port"], g["port"])
    if g["path"] != path or str(p) != port: fail(probe, g, "listen", listen)
    # Without a host the kubelet probes the pod IP: the node IP
    # (hostNetwork), which $(NODE_IP) is; 127.0.0.1 needs host 127.0.0.1.
    want = "127.0.0.1" if host == "127.0.0.1" else None
    if host not in ("127.0.0.1", "$(NODE_IP)"): fail("--listen", listen, "is neither")
    if g.get("host") != want: fail(probe, "host", g.get("host"), "for --listen", listen)
# Loopback (issue 15): no pod may reach the agent'"'"'s HTTP server; and then
# no scrape annotation promises what no scraper could reach.
if host != "127.0.0.1": fail("--listen", listen, "is not loopback")
ann = ds["spec"]["template"]["metadata"].get("annotations", {})
if "prometheus.io/scrape" in ann: fail("prometheus.io/scrape on a loopback-only server")'
}

# --- kind -----------------------------------------------------------------------
kind_config() {
	check "kind-config.yaml: no kindnet, no kube-proxy, 1 control plane + 2 workers" py '
k = load_all(os.environ["KIND_CONFIG"])
if len(k) != 1: fail(len(k), "documents")
k = k[0]
if (k["kind"], k["apiVersion"]) != ("Cluster", "kind.x-k8s.io/v1alpha4"): fail(k["kind"], k["apiVersion"])
n = k["networking"]
if n.get("disableDefaultCNI") is not True or n.get("kubeProxyMode") != "none": fail(n)
roles = sorted(x["role"] for x in k["nodes"])
if roles != ["control-plane", "worker", "worker"]: fail(roles)'
	check "... pod and Service subnets set, at most one per family" py '
n = load_all(os.environ["KIND_CONFIG"])[0]["networking"]
for key in ("podSubnet", "serviceSubnet"):
    nets = [ipaddress.ip_network(c) for c in n[key].split(",")]
    if len({x.version for x in nets}) != len(nets): fail(key, nets)
    if n.get("ipFamily") == "dual" and len(nets) != 2: fail(key, "for dual-stack:", nets)'
	check "... serviceSubnet quoted on one line (up.sh reads it with sed)" \
		grep -qE '^ *serviceSubnet: *"[^"]+" *$' "$KIND_CONFIG"
	check "up.sh's placeholders are the manifest's" py '
up = open("deploy/kind/up.sh").read()
text = open(os.environ["MANIFEST"]).read()
for var in ("MANIFEST_IMAGE", "MANIFEST_API"):
    m = re.search("^" + var + r"=(\S+)$", up, re.M)
    if not m: fail("up.sh has no", var)
    if m.group(1) not in text: fail(var, m.group(1), "is not in", os.environ["MANIFEST"])
if agent["image"] != re.search(r"^MANIFEST_IMAGE=(\S+)$", up, re.M).group(1): fail(agent["image"])'
}

workflow() {
	check "kind.yml parses; runs on push and pull_request" py '
w = load_all(os.environ["WORKFLOW"])[0]
on = w.get("on", w.get(True))  # YAML 1.1 reads a bare on as true
if not isinstance(on, dict) or not {"push", "pull_request"} <= set(on): fail("on:", on)'
	check "every job and step has a timeout, jobs at most 60 min" py '
w = load_all(os.environ["WORKFLOW"])[0]
for name, job in w["jobs"].items():
    if not 0 < job.get("timeout-minutes", 0) <= 60: fail(name, job.get("timeout-minutes"))
    for s in job["steps"]:
        if "run" in s and "timeout-minutes" not in s: fail(name, s.get("name"), "has no timeout")'
	check "what it downloads is pinned: SHA-256 of kind and kubectl, the node image by digest" py '
env = load_all(os.environ["WORKFLOW"])[0]["env"]
for k in ("KIND_SHA256", "KUBECTL_SHA256"):
    if not re.fullmatch(r"[0-9a-f]{64}", str(env.get(k))): fail(k, env.get(k))
if not re.fullmatch(r"kindest/node:v[0-9.]+@sha256:[0-9a-f]{64}", env.get("KIND_NODE_IMAGE", "")): fail(env.get("KIND_NODE_IMAGE"))
text = open(os.environ["WORKFLOW"]).read()
if "sha256sum --check" not in text: fail("nothing checks the SHA-256s")'
	check "actions by version tag, not a branch" py '
w = load_all(os.environ["WORKFLOW"])[0]
for job in w["jobs"].values():
    for s in job["steps"]:
        if "uses" in s and not re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+(\.\d+)*|[\w.-]+/[\w./-]+@[0-9a-f]{40}", s["uses"]):
            fail(s["uses"])'
	check "every file of the repo it names exists; the scripts it runs are executable" py '
text = open(os.environ["WORKFLOW"]).read()
paths = set(re.findall(r"(?<![\w/.$-])((?:deploy|tests|scripts|\.github|bpf|user|cni)/[\w./-]*\w)", text))
if not paths: fail("names no file")
missing = sorted(p for p in paths if not os.path.exists(p))
if missing: fail("missing:", missing)
w = load_all(os.environ["WORKFLOW"])[0]
for job in w["jobs"].values():
    for s in job["steps"]:
        for line in s.get("run", "").splitlines():
            first = line.split()[:1]
            if first and first[0] in paths and not os.access(first[0], os.X_OK):
                fail(first[0], "is not executable")
print(" ".join(sorted(paths)))'
	check "netpol job: network-policy on at install, each judge one netpol.sh knows" py '
w = load_all(os.environ["WORKFLOW"])[0]
job = w["jobs"]["netpol"]
judges = job["strategy"]["matrix"]["judge"]
up = [s for s in job["steps"] if s.get("run", "").strip() == "deploy/kind/up.sh"]
if len(up) != 1 or up[0].get("env", {}).get("NETWORK_POLICY") != "on": fail("up.sh step", up)
np = open("deploy/kind/netpol.sh").read()
for j in judges:
    if "\n%s) %s ;;\n" % (j, j) not in np: fail(j, "not a netpol.sh command")
upsh = open("deploy/kind/up.sh").read()
if "network-policy not replaced" not in upsh: fail("up.sh does not set network-policy")
if not any("netpol.sh ${{ matrix.judge }}" in s.get("run", "") for s in job["steps"]): fail("no step runs netpol.sh")'
	check "SMOKE_ALLOW_FAIL names cases smoke.sh has" py '
env = load_all(os.environ["WORKFLOW"])[0]["env"]
smoke = open("deploy/kind/smoke.sh").read()
cases = re.search(r"^ALL_CASES=\(([^)]*)\)", smoke, re.M).group(1).split()
bad = [c for c in env.get("SMOKE_ALLOW_FAIL", "").split() if c not in cases]
if bad: fail(bad, "not in", cases)'
}

# --- the image --------------------------------------------------------------------
# stage_pkgs N: the packages of the Nth `apt-get install` of the Containerfile.
stage_pkgs() {
	python3 - "$1" <<'EOF'
import os, re, sys
text = open(os.environ["CONTAINERFILE"]).read().replace("\\\n", " ")
runs = re.findall(r"apt-get install ([^&\n]*)", text)
print(" ".join(w for w in runs[int(sys.argv[1])].split() if not w.startswith("-")))
EOF
}

image() {
	local build_pkgs run_pkgs codename
	build_pkgs=$(stage_pkgs 0)
	run_pkgs=$(stage_pkgs 1)
	check "two stages, each installing packages" test -n "$build_pkgs" -a -n "$run_pkgs"
	check "the build stage has scripts/deps.sh's build packages (its tests' aside)" py '
deps = open("scripts/deps.sh").read()
block = re.search(r"^\s*# build\n(.*?)^\s*#", deps, re.M | re.S).group(1).split()
need = set(block) - {"libcmocka-dev", "xdp-tools", "libclang-rt-dev"}
have = set(sys.argv[1].split())
if need - have: fail("missing:", sorted(need - have))' "$build_pkgs"
	check "the Containerfile copies only files that exist; .dockerignore keeps build dirs out" py '
cf = open(os.environ["CONTAINERFILE"]).read()
for src in re.findall(r"install -m \d+ (deploy/\S+)", cf):
    if not os.path.exists(src): fail("no", src)
ign = open(".dockerignore").read().split()
for pat in (".git", "build", "build-*"):
    if pat not in ign: fail(".dockerignore lacks", pat)'

	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	if ! grep -q "^FROM docker.io/library/debian:$codename" "$CONTAINERFILE" ||
		[ -z "$codename" ]; then
		zh_case_skip "apt-cache: this machine is not Debian ${codename:-?} as the image is"
	elif ! apt-cache show bash >/dev/null 2>&1; then
		zh_case_skip "apt-cache has no package lists here (apt-get update)"
	else
		# shellcheck disable=SC2086 # the lists, word-split
		check "apt-cache knows every package of both stages ($(wc -w <<<"$build_pkgs $run_pkgs"))" \
			apt_known $build_pkgs $run_pkgs
	fi

	if ! command -v dpkg-query >/dev/null || ! command -v ldconfig >/dev/null; then
		zh_case_skip "no dpkg or ldconfig: the runtime libraries are not checked"
		return
	fi
	check "make install DESTDIR=... PREFIX=/usr (the Containerfile's)" \
		make --no-print-directory -s O="$O" install DESTDIR="$ZH_TMP/image" PREFIX=/usr
	check "the CNI plugin is static (the node has no libbpf)" \
		sh -c "readelf -h '$ZH_TMP/image/opt/cni/bin/zerohop' >/dev/null &&
		       ! readelf -d '$ZH_TMP/image/opt/cni/bin/zerohop' | grep -q NEEDED"
	check "every library the binaries need comes from the runtime stage's packages" \
		runtime_libs_ok "$run_pkgs"
	check "the plugins install-cni copies come from the build stage's packages" py '
pkgs = sys.argv[1].split()
cf = open(os.environ["CONTAINERFILE"]).read()
if "containernetworking-plugins" not in pkgs: fail("no containernetworking-plugins")
for p in ("host-local", "portmap", "loopback"):
    if "/usr/lib/cni/" + p not in cf: fail("does not copy", p)
    if p not in open("deploy/kubernetes/install-cni.sh").read(): fail("install-cni.sh does not install", p)' \
		"$build_pkgs"
}

# apt_known PKG...: apt-cache knows each (the unknown ones printed).
apt_known() {
	local p bad=0
	for p in "$@"; do
		apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || {
			echo "unknown package: $p"
			bad=1
		}
	done
	return "$bad"
}

# runtime_libs_ok PKGS: each NEEDED library of the installed ELF files is
# in one of PKGS (or libc6, in every Debian image).
runtime_libs_ok() {
	local f so path pkg bad=0 n=0 libs=0
	while read -r f; do
		readelf -h "$f" >/dev/null 2>&1 || continue
		n=$((n + 1))
		for so in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			libs=$((libs + 1))
			path=$(ldconfig -p | awk -v s="$so" '$1 == s { print $NF; exit }')
			# dpkg may know it under /lib or under /usr/lib (merged /usr).
			pkg=$({ dpkg-query -S "$path" || dpkg-query -S "$(readlink -f "$path")"; } \
				2>/dev/null | head -n1 | cut -d: -f1) || true
			if [ -z "$pkg" ]; then
				echo "${f#"$ZH_TMP"/image}: $so: no package owns it here"
				bad=1
			elif [ "$pkg" != libc6 ] && [[ " $1 " != *" $pkg "* ]]; then
				echo "${f#"$ZH_TMP"/image}: $so is in $pkg, not in the runtime stage"
				bad=1
			fi
		done
	done < <(find "$ZH_TMP/image" -type f -perm -u+x)
	echo "$n ELF files, $libs libraries named"
	[ "$n" -ge 5 ] || bad=1
	return "$bad"
}

# --- the dashboard ------------------------------------------------------------------
# exported NAMES: the metric names in string literals of user/'s sources.
export_names() {
	grep -rhoE '"zerohop_[a-z0-9_]+"' user | tr -d '"' | sort -u
}

grafana() {
	export SOURCE_METRICS
	SOURCE_METRICS=$(export_names | tr '\n' ' ')
	export SOURCE_STRINGS
	SOURCE_STRINGS=$(grep -rhoE '"[a-z_]+"' user/zerohopd user/lib | tr -d '"' | sort -u | tr '\n' ' ')
	local dash_prelude='
d = json.load(open(os.environ["DASHBOARD"]))
def walk(x):
    if isinstance(x, dict):
        yield x
        for v in x.values(): yield from walk(v)
    elif isinstance(x, list):
        for v in x: yield from walk(v)
exprs = [o["expr"] for o in walk(d) if isinstance(o.get("expr"), str)]
exprs += [v["definition"] for v in d["templating"]["list"] if v.get("definition")]
k8s = set(os.environ["K8S_METRICS"].split())
def base(m):
    for suf in ("_bucket", "_sum", "_count"):
        if m.endswith(suf) and m[: -len(suf)] in k8s | set(os.environ["SOURCE_METRICS"].split()):
            return m[: -len(suf)]
    return m
used = {base(m) for e in exprs for m in re.findall(r"\bzerohop_[a-z0-9_]+", e)}
'
	check "the dashboard is JSON, with a Prometheus data source variable" py "$dash_prelude"'
v = [x for x in d["templating"]["list"] if x["type"] == "datasource"]
if len(v) != 1 or v[0]["query"] != "prometheus": fail(v)
print(len(exprs), "queries")'
	check "every panel and query uses that variable" py "$dash_prelude"'
name = [x for x in d["templating"]["list"] if x["type"] == "datasource"][0]["name"]
for o in walk(d):
    ds_ = o.get("datasource")
    if isinstance(ds_, dict) and ds_.get("type") != "grafana" and ds_.get("uid") != "${" + name + "}":
        fail("datasource", ds_, "in", o.get("title", o.get("refId")))'
	check "panels: hop latency heatmap, drops by reason, Services, event->datapath p50/p99, watches, relists, rejected" py "$dash_prelude"'
text = json.dumps(d)
for need in ("zerohop_hop_latency_seconds_bucket", "zerohop_drops_total", "zerohop_k8s_objects",
             "histogram_quantile(0.5, sum by (le) (rate(zerohop_k8s_event_to_datapath_seconds_bucket",
             "histogram_quantile(0.99, sum by (le) (rate(zerohop_k8s_event_to_datapath_seconds_bucket",
             "zerohop_k8s_watch_restarts_total", "zerohop_k8s_relists_total", "zerohop_k8s_rejected_total"):
    if need not in text: fail("no", need)
if not any(p["type"] == "heatmap" for p in walk(d) if "type" in p and "gridPos" in p): fail("no heatmap")'
	check "every metric it queries is exported by zerohopd today (the agent branch's aside)" py "$dash_prelude"'
missing = sorted(used - k8s - set(os.environ["SOURCE_METRICS"].split()))
if missing: fail("not in user/:", missing)
print(len(used - k8s), "metrics")'
	check "... with labels zerohopd gives them" py "$dash_prelude"'
strings = set(os.environ["SOURCE_STRINGS"].split()) | {"instance", "job", "le"}
for e in exprs:
    for m, sel in re.findall(r"\b(zerohop_[a-z0-9_]+)\{([^}]*)\}", e):
        if base(m) in k8s: continue
        for label in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", sel):
            if label not in strings: fail(m, "has no label", label)'
	check "the agent branch's metrics are exported: $(xargs <<<"$K8S_METRICS")" py "$dash_prelude"'
missing = sorted(k8s - set(os.environ["SOURCE_METRICS"].split()))
if missing: fail("not exported by zerohopd yet (no string literal in user/):", " ".join(missing))
unused = sorted(k8s - used)
if unused: fail("the dashboard does not use", unused)'
}

# --- scripts --------------------------------------------------------------------------
scripts() {
	check "shellcheck -x -S warning deploy/kind/*.sh deploy/kubernetes/*.sh" \
		shellcheck -x -S warning deploy/kind/*.sh deploy/kubernetes/*.sh
	check "make lint shellchecks them too" py '
mk = open("Makefile").read().replace("\\\n", " ")
m = re.search(r"^SHELL_SRCS\s*=(.*)$", mk, re.M)
if not m or not re.search(r"deploy/kind/\*\.sh\s+deploy/kubernetes/\*\.sh", m.group(1)):
    fail("deploy/ not in SHELL_SRCS")
if not re.search(r"^\s*\$\(Q\)shellcheck .*\$\(SHELL_SRCS\)", mk, re.M):
    fail("the lint target does not shellcheck SHELL_SRCS")'
	check "they are executable" sh -c 'for f in deploy/kind/*.sh deploy/kubernetes/*.sh; do
		[ -x "$f" ] || { echo "$f"; exit 1; }; done'
}

zh_run_cases manifest rbac flags daemonset probes kind_config workflow image grafana scripts
