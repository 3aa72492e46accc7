// SPDX-License-Identifier: Apache-2.0
/*
 * run.c - `xdpbench [run]`: set every path up once, measure them
 * interleaved (for each round, for each workload, every path in turn, so
 * that drift on a small shared machine hits all of them alike), tear
 * everything down, report.
 */
#define _GNU_SOURCE /* CPU_SETSIZE */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "kfeatures.h"
#include "log.h"
#include "maps.h"
#include "netkit.h"
#include "params.h"
#include "pin.h"
#include "xdpbench.h"

/* All cells together keep at most this many samples (8 bytes each). */
#define XB_SAMPLE_BUDGET (32ULL << 20)
#define XB_CELL_MIN_LIMIT (1ULL << 20)
#define XB_UDP_TIMEOUT_NS (200 * 1000000ULL)
#define XB_CHECK_UDP_TIMEOUT_NS (500 * 1000000ULL)
#define XB_TCP_TIMEOUT_NS (3000 * 1000000ULL)
#define XB_CHECK_REQUESTS 20
/* udp-newflow source ports in a netns of ours: nobody else binds there. */
#define XB_PORT_FIRST 1024
#define XB_PORT_LAST 65535

const char *xb_command = "xdpbench";

void xb_run_usage(FILE *f)
{
	fprintf(f,
		"Usage: xdpbench [run] [OPTIONS]\n"
		"\n"
		"Request/response latency between a client and a server over several\n"
		"network paths, measured interleaved: for each round, for each workload,\n"
		"every path in turn. Every path is set up once before the first round\n"
		"and everything (network namespaces xb<pid>-*, pins under\n"
		"/sys/fs/bpf/xb<pid>, a temporary directory) is removed at the end, on\n"
		"error and on SIGINT/SIGTERM. Needs root for all but the host path.\n"
		"\n"
		"Paths (--paths):\n"
		"  host         UDP/TCP over 127.0.0.1 in this network namespace\n"
		"  veth         two netns joined by a bare veth pair: the floor\n"
		"  bridge       a node netns and two pods wired by the reference bridge\n"
		"               CNI plugin (host-local IPAM), no br_netfilter\n"
		"  kubeproxy    bridge, plus kube-proxy's iptables rules for --services\n"
		"               Services in the node (one iptables-restore); the client\n"
		"               sends to the last Service's ClusterIP\n"
		"  nftables     bridge, plus the same Services as kube-proxy's nftables\n"
		"               table with a verdict map (one nft -f)\n"
		"  zerohop-tc   a node netns and two pods wired by the zerohop plugin,\n"
		"               \"datapath\": \"tc\"\n"
		"  zerohop-xdp  the same with \"datapath\": \"xdp\"\n"
		"  zerohop-svc  zerohop-tc, plus the same Services balanced in BPF\n"
		"               (zh_svc_apply, Maglev, zh_ct); the client sends to the\n"
		"               last Service's ClusterIP\n"
		"  zerohop-afxdp  zerohop-tc with \"afxdp\" on both pods: UDP to the\n"
		"               bench's port is steered (native XDP on the pod's eth0)\n"
		"               into an AF_XDP socket that the pod's process handed to\n"
		"               an agent (the handoff zerohopd --xsk-socket serves, in a\n"
		"               thread of xdpbench); client and server are xdpbench\n"
		"               processes in the pods (client/server --afxdp). They\n"
		"               always spin on their rings: --busy-poll is implied for\n"
		"               this path, so compare it with the others under\n"
		"               --busy-poll. UDP workloads only: tcp-rr and tcp-crr are\n"
		"               marked skipped, which does not change the exit status\n"
		"  zerohop-sock zerohop-svc's Services plus socket-level load balancing:\n"
		"               zerohopd's zh_sock_* cgroup programs on a cgroup v2\n"
		"               directory made for the path (xb<pid>-zerohop-sock under\n"
		"               the root, never the root itself); the client's sockets\n"
		"               are made in it (the process moves there while the\n"
		"               client runs, the server's socket stays outside), so\n"
		"               connect() to the last ClusterIP connects to the pod\n"
		"  host-svc     the same with the client in the node netns (hostNetwork)\n"
		"  zerohop-sock-pod  (only with -P) zerohop-sock's node, Services and\n"
		"               hooks, the client sending to the server pod's own\n"
		"               address: what a pod IP costs where socket-LB runs\n"
		"               (connect4 finds no Service and leaves it); with -b\n"
		"               zerohop-sock-pod, zerohop-sock's ratio is the\n"
		"               ClusterIP's cost on one and the same node\n"
		"  kubeproxy-host  kubeproxy with the client in the node netns: the\n"
		"               rules' OUTPUT hook DNATs it (host-svc's counterpart)\n"
		"  kubeproxy-nodeport  (only with -P) a client, node A and node B on a\n"
		"               fabric bridge: the client sends to node A's NodePort,\n"
		"               whose backend is a pod on node B; node A has\n"
		"               kube-proxy's iptables rules (DNAT, MASQUERADE) and\n"
		"               forwards\n"
		"  zerohop-nodeport  (only with -P) the same, node A with zerohop's\n"
		"               uplink program: DNAT and SNAT in BPF, node A's kernel\n"
		"               forwarding nothing (ip_forward 0, FORWARD DROP)\n"
		"  zerohop-nodeport-dsr  (only with -P) the same fabric, both nodes\n"
		"               in DSR mode (zerohopd --nodeport-mode dsr: node table,\n"
		"               uplink program and NodePort on each, node B's pod by\n"
		"               the zerohop plugin): node A DNATs and adds the front\n"
		"               end as an IP option, node B's uplink program takes it\n"
		"               out, the pod sees the client and its reply leaves node\n"
		"               B straight to the client. Fails where the kernel lacks\n"
		"               bpf_redirect_neigh or bpf_check_mtu in tc\n"
		"\n"
		"Across two nodes (only when --paths names them): two node netns joined\n"
		"by a veth pair, a pod on each (client on node a, server on node b):\n"
		"  node         the two nodes themselves: the floor\n"
		"  zerohop-native  zerohop pods, the node table applied (routing native):\n"
		"               out of the uplink by BPF, into the pod by redirect_peer\n"
		"  zerohop-vxlan  the same with routing vxlan (zh-vxlan, MTU 1450):\n"
		"               encapsulated and decapsulated in BPF where the\n"
		"               kernel lets it (bpf/lib/vxlan.h)\n"
		"  zerohop-vxlan-dev  the same with the tunnel left to the kernel's\n"
		"               VXLAN device (the tunnel key set from BPF)\n"
		"  zerohop-netkit  zerohop-native with the pods on netkit pairs\n"
		"               (\"device\": \"netkit\", kernel >= 6.7): the pod's\n"
		"               program runs in its own transmit path\n"
		"  bridge-routes  bridge-plugin pods and a static route to the other\n"
		"               node's pod CIDR, as kindnet does it\n"
		"  vxlan-bridge  bridge-plugin pods and a kernel VXLAN device with\n"
		"               FDB, neighbour and onlink route, as flannel does it\n"
		"\n"
		"NetworkPolicy (only when --paths names it):\n"
		"  zerohop-policy  zerohop-tc with NetworkPolicy on (as zerohopd\n"
		"               --network-policy=on): the server pod is selected by a\n"
		"               policy allowing the client pod (UDP and TCP to the\n"
		"               bench's port), compiled and written by the agent's\n"
		"               code, so every flow is judged and tracked (zh_pol_ct4,\n"
		"               flushed before each slice); a third pod the policy\n"
		"               does not allow is shown to get no reply. Compare with\n"
		"               zerohop-tc (-b zerohop-tc): the cost of an allow policy\n"
		"\n"
		"Workloads (--workload):\n"
		"  udp-rr       one UDP flow, one request outstanding\n"
		"  udp-newflow  each request from a new source port: a new flow\n"
		"  tcp-rr       one TCP connection, request/response\n"
		"  tcp-crr      connect, request, response, close; the sample is the\n"
		"               whole connect -> response time\n"
		"  udp-crr      a DNS query as glibc makes it: a new UDP socket,\n"
		"               connect, send, recvfrom() with the source address\n"
		"               (checked to be the address connected to), close;\n"
		"               the sample is the whole socket() -> close() time\n"
		"\n"
		"Options:\n"
		"  -P, --paths LIST      comma-separated paths (default: all but the\n"
		"                        nodeport ones)\n"
		"  -W, --workload LIST   comma-separated workloads (default udp-rr,udp-newflow)\n"
		"  -N, --services N      Services for kubeproxy, nftables and zerohop-svc,\n"
		"                        1..%d\n"
		"                        (default %d)\n"
		"      --conntrack N     zh_ct's size in entries where zerohop-svc,\n"
		"                        zerohop-sock and the zerohop nodeport paths\n"
		"                        load it (each node's, default: zerohopd's, %d).\n"
		"                        It holds two entries per Service flow, four\n"
		"                        per NodePort flow SNATed to another node, with\n"
		"                        DSR two on node A and one on node B;\n"
		"                        nf_conntrack holds one\n"
		"      --plugin PATH     the zerohop CNI plugin (default: zerohop next to\n"
		"                        xdpbench, else /opt/cni/bin/zerohop)\n"
		"      --cni-path DIRS   where bridge and host-local are (default\n"
		"                        %s)\n"
		"  -B, --busy-poll       SO_BUSY_POLL and spinning non-blocking receives,\n"
		"                        client and server (zerohop-afxdp spins anyway)\n"
		"  -s, --size BYTES      payload size, %d..%d (default %d)\n"
		"      --cpu-client N    pin the client thread to CPU N\n"
		"      --cpu-server N    pin the server thread to CPU N\n"
		"  -r, --rounds N        rounds (default %d)\n"
		"  -d, --duration SECS   measuring time per path, workload and round\n"
		"                        (default 1)\n"
		"  -w, --warmup N        unmeasured requests before each (default %d)\n"
		"  -b, --baseline PATH   ratios against this path (default veth, else the\n"
		"                        first path)\n"
		"  -o, --output FORMAT   table (default) or json on stdout; with json the\n"
		"                        table goes to stderr\n"
		"      --json FILE       also write the JSON to FILE\n"
		"      --plot FILE.svg   latency distributions, a panel per workload\n"
		"  -q, --quiet           no progress on stderr\n"
		"  -v, --verbose         log more\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit status: 0 when every path was measured (but for workloads a path\n"
		"cannot carry), 1 when a path was skipped (the reason is printed) or on\n"
		"failure, 2 for bad usage, 130 when interrupted.\n",
		XB_MAX_SERVICES, XB_DEFAULT_SERVICES, ZH_CT_MAX,
		XB_DEFAULT_CNI_PATH, XB_MIN_SIZE, XB_MAX_SIZE, XB_DEFAULT_SIZE,
		XB_DEFAULT_ROUNDS, XB_DEFAULT_WARMUP);
}

/* --- options ----------------------------------------------------------------- */

/* CPUs a thread can be pinned to: those configured. */
static int xb_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return n < 1 || n > CPU_SETSIZE ? CPU_SETSIZE : (int)n;
}

int xb_run_parse(int argc, char **argv, struct xb_run_opts *o)
{
	static const char *const outputs[] = { "table", "json" };
	const int ncpu = xb_ncpu();
	char err[ZH_PARAMS_ERR_MAX];
	const char *baseline = NULL;
	bool help = false;
	struct zh_param opts[] = {
		ZH_OPT_LIST("paths", 'P', o->paths, &o->n_paths, xb_path_names,
			    XB_P_MAX),
		ZH_OPT_LIST("workload", 'W', o->wls, &o->n_wls,
			    xb_workload_names, XB_WL_MAX),
		/* the plural, undocumented, for those who type it */
		ZH_OPT_LIST("workloads", 0, o->wls, &o->n_wls,
			    xb_workload_names, XB_WL_MAX),
		ZH_OPT_UINT("services", 'N', &o->services, 1, XB_MAX_SERVICES),
		ZH_OPT_UINT("conntrack", 0, &o->conntrack, 1024, 1U << 30),
		ZH_OPT_STR("plugin", 0, &o->plugin),
		ZH_OPT_STR("cni-path", 0, &o->cni_path),
		ZH_OPT_FLAG("busy-poll", 'B', &o->busy_poll),
		ZH_OPT_UINT("size", 's', &o->size, XB_MIN_SIZE, XB_MAX_SIZE),
		ZH_OPT_UINT("cpu-client", 0, &o->cpu_client, 0, ncpu - 1),
		ZH_OPT_UINT("cpu-server", 0, &o->cpu_server, 0, ncpu - 1),
		ZH_OPT_UINT("rounds", 'r', &o->rounds, 1, 1000000),
		ZH_OPT_SECS("duration", 'd', &o->duration, 86400),
		ZH_OPT_UINT("warmup", 'w', &o->warmup, 0, UINT32_MAX),
		ZH_OPT_STR("baseline", 'b', &baseline),
		ZH_OPT_ENUM("output", 'o', &o->json, outputs, NULL, 2),
		ZH_OPT_STR("json", 0, &o->json_file),
		ZH_OPT_STR("plot", 0, &o->plot_file),
		ZH_OPT_FLAG("quiet", 'q', &o->quiet),
		ZH_OPT_FLAG("verbose", 'v', &o->verbose),
		ZH_OPT_HELP(&help),
		{},
	};
	int next, i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < XB_P_DEFAULT_MAX; i++)
		o->paths[i] = i;
	o->n_paths = XB_P_DEFAULT_MAX;
	o->wls[0] = XB_WL_UDP_RR;
	o->wls[1] = XB_WL_UDP_NEWFLOW;
	o->n_wls = 2;
	o->services = XB_DEFAULT_SERVICES;
	o->cni_path = XB_DEFAULT_CNI_PATH;
	o->size = XB_DEFAULT_SIZE;
	o->cpu_client = -1;
	o->cpu_server = -1;
	o->rounds = XB_DEFAULT_ROUNDS;
	o->warmup = XB_DEFAULT_WARMUP;
	o->duration = 1.0;

	next = zh_params_parse(opts, argc, argv, err, sizeof(err));
	if (help)
		return 1;
	if (next < 0) {
		pr_warn("%s\n", err);
		return -EINVAL;
	}
	if (next < argc) {
		pr_warn("unexpected argument '%s'\n", argv[next]);
		return -EINVAL;
	}

	o->baseline = -1;
	if (baseline) {
		int id;

		for (id = 0; id < XB_P_MAX; id++) {
			if (!strcmp(baseline, xb_path_names[id]))
				break;
		}
		for (i = 0; i < o->n_paths && o->paths[i] != id; i++)
			;
		if (i == o->n_paths) {
			pr_warn("--baseline: '%s' is not one of the paths measured\n",
				baseline);
			return -EINVAL;
		}
		o->baseline = id;
	} else {
		for (i = 0; i < o->n_paths; i++) {
			if (o->paths[i] == XB_P_VETH)
				o->baseline = XB_P_VETH;
		}
		if (o->baseline < 0)
			o->baseline = o->paths[0];
	}
	/* Services only mean something where there are rules. */
	for (i = 0; i < o->n_paths; i++) {
		if (xb_path_has_services(o->paths[i]))
			break;
	}
	if (i == o->n_paths) {
		if (zh_params_given(opts, "services"))
			pr_warn("--services: no path with Services (kubeproxy, nftables, zerohop-svc, ...): ignored\n");
		o->services = 0;
	}
	return 0;
}

/* --- measuring ---------------------------------------------------------------- */

static void xb_progress(const struct xb_run_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static struct xb_cell xb_cells[XB_WL_MAX][XB_P_MAX];

struct xb_slice {
	enum xb_workload wl;
	uint64_t count, warmup;
	double duration;
	uint64_t udp_timeout_ns;
	struct xb_samples *samples;
	struct xb_server *srv; /* out, optional: the stopped server */
};

/* Server up, client through, server down: one path, one workload. */
static int xb_measure(struct xb_env *e, struct xb_path *p,
		      const struct xb_run_opts *o, const struct xb_slice *sl,
		      char *why, size_t why_len)
{
	char srv_ns[PATH_MAX], cli_ns[PATH_MAX];
	struct xb_server srv = {
		.netns = xb_netns_path(p->srv_ns, srv_ns, sizeof(srv_ns)),
		.tcp = xb_workload_is_tcp(sl->wl),
		.busy_poll = o->busy_poll,
		.cpu = o->cpu_server,
		.addr_len = sizeof(struct sockaddr_in),
	};
	struct xb_client c = {
		.netns = xb_netns_path(p->cli_ns, cli_ns, sizeof(cli_ns)),
		.wl = sl->wl,
		.dst_len = sizeof(struct sockaddr_in),
		.size = o->size,
		.busy_poll = o->busy_poll,
		.cpu = o->cpu_client,
		.warmup = sl->warmup,
		.count = sl->count,
		.duration = sl->duration,
		.udp_timeout_ns = sl->udp_timeout_ns,
		.tcp_timeout_ns = XB_TCP_TIMEOUT_NS,
		.samples = sl->samples,
	};
	struct sockaddr_in *dst = (struct sockaddr_in *)&c.dst;
	int ret, sret;

	*dst = p->target;
	if (p->cycle_ports) {
		c.port_first = XB_PORT_FIRST;
		c.port_last = XB_PORT_LAST;
		c.port_next = p->port_next;
	}
	/* Client and server are processes in the pods (afxdp.c). */
	if (p->id == XB_P_ZH_AFXDP) {
		ret = xb_afxdp_measure(p->xsk, c.netns, srv.netns, &c,
				       o->cpu_server, why, why_len);
		p->port_next = c.port_next;
		return ret;
	}

	memcpy(&srv.addr, &p->srv_bind, sizeof(p->srv_bind));
	ret = xb_server_start(&srv);
	if (ret) {
		snprintf(why, why_len, "%s", srv.err);
		return ret;
	}
	/* host: the port the kernel gave the server */
	if (!p->srv_bind.sin_port)
		dst->sin_port = htons(srv.port);
	/* Socket-LB: the client's sockets in the path's cgroup, the server's
	 * (made above) not; the process goes back before anything else. */
	ret = p->cgroup ? xb_cgroup_enter(e, p->cgroup) : 0;
	if (ret) {
		snprintf(why, why_len, "entering cgroup %s: %s", p->cgroup,
			 strerror(-ret));
		xb_server_stop(&srv);
		return ret;
	}
	ret = xb_client_run_thread(&c);
	if (p->cgroup) {
		int cret = xb_cgroup_enter(e, NULL);

		if (cret && !ret) {
			snprintf(c.err, sizeof(c.err), "leaving cgroup %s: %s",
				 p->cgroup, strerror(-cret));
			ret = cret;
		}
	}
	p->port_next = c.port_next;
	sret = xb_server_stop(&srv);
	if (ret)
		snprintf(why, why_len, "%s", c.err);
	else if (sret && !xb_stop)
		snprintf(why, why_len, "%s", srv.err);
	if (sl->srv)
		*sl->srv = srv;
	return ret ? ret : xb_stop ? 0 : sret;
}

/* --- zerohop-policy: does the policy really judge? ---------------------------- */

#define XB_POL_DENIED_REQUESTS 5
#define XB_POL_DENIED_TIMEOUT_NS (100 * 1000000ULL)

/*
 * After the client's requests were answered: they made zh_pol_ct entries
 * (the flow was judged and tracked), and a pod the policy does not allow
 * ("other") sends XB_POL_DENIED_REQUESTS requests to the server that get
 * no reply, each counted as drop_policy_ingress.
 */
static int xb_policy_check(struct xb_env *e, struct xb_path *p,
			   const struct xb_run_opts *o, char *why,
			   size_t why_len)
{
	const struct zh_objs *objs = e->zh_objs[p->id];
	struct zh_counter before[ZH_STAT_MAX], after[ZH_STAT_MAX];
	struct xb_path denied = *p;
	struct xb_samples s = { 0 };
	struct xb_slice sl = {
		.wl = XB_WL_UDP_RR,
		.count = XB_POL_DENIED_REQUESTS,
		.udp_timeout_ns = XB_POL_DENIED_TIMEOUT_NS,
		.samples = &s,
	};
	char dst[INET_ADDRSTRLEN];
	uint64_t drops;
	long flows;
	int ret;

	inet_ntop(AF_INET, &p->target.sin_addr, dst, sizeof(dst));
	flows = xb_policy_ct_count(objs);
	if (flows <= 0)
		return zh_errf(
			why, why_len, -EIO,
			"no policy conntrack entry (zh_pol_ct4) after the client's requests (%ld): not judged",
			flows);
	memcpy(denied.cli_ns, p->other_ns, sizeof(denied.cli_ns));
	denied.cli_ip = p->other_ip;
	ret = zh_stats_read(objs, before);
	if (!ret)
		ret = xb_measure(e, &denied, o, &sl, why, why_len);
	if (!ret)
		ret = zh_stats_read(objs, after);
	if (ret || xb_stop) {
		xb_samples_free(&s);
		return xb_stop ? 0 : ret;
	}
	drops = after[ZH_STAT_DROP_POLICY_INGRESS].packets -
		before[ZH_STAT_DROP_POLICY_INGRESS].packets;
	if (s.seen) {
		ret = zh_errf(
			why, why_len, -EIO,
			"the pod the policy does not allow got %zu replies from %s",
			(size_t)s.seen, dst);
	} else if (drops < XB_POL_DENIED_REQUESTS) {
		ret = zh_errf(
			why, why_len, -EIO,
			"the other pod's %d requests got no reply, but drop_policy_ingress counted %" PRIu64,
			XB_POL_DENIED_REQUESTS, drops);
	} else {
		xb_progress(
			o,
			"xdpbench: %s: %s:%u is judged by NetworkPolicy: the client's flow allowed and tracked (%ld zh_pol_ct entries), a pod the policy does not allow got none of %d replies (drop_policy_ingress +%" PRIu64
			")\n",
			xb_path_names[p->id], dst, ntohs(p->target.sin_port),
			flows, XB_POL_DENIED_REQUESTS, drops);
	}
	xb_samples_free(&s);
	return ret;
}

/* A few requests through a path just set up: does it carry traffic, and
 * is it the path it claims to be? */
static int xb_path_check(struct xb_env *e, struct xb_path *p,
			 const struct xb_run_opts *o, char *why, size_t why_len)
{
	struct xb_samples s = { 0 };
	struct xb_server srv;
	struct xb_slice sl = {
		.wl = XB_WL_UDP_RR,
		.count = XB_CHECK_REQUESTS,
		.udp_timeout_ns = XB_CHECK_UDP_TIMEOUT_NS,
		.samples = &s,
		.srv = &srv,
	};
	char dst[INET_ADDRSTRLEN];
	uint64_t rx0 = 0, tx0 = 0, rx1 = 0, tx1 = 0;
	bool tcp = false, dsr = p->id == XB_P_ZH_NODEPORT_DSR;
	int i, ret = 0;

	inet_ntop(AF_INET, &p->target.sin_addr, dst, sizeof(dst));
	/* DSR: node A's uplink counted around the requests. */
	if (dsr && xb_path_uplink_packets(p, &rx0, &tx0))
		ret = zh_errf(why, why_len, -EIO,
			      "node A's uplink counters cannot be read");
	if (!ret)
		ret = xb_measure(e, p, o, &sl, why, why_len);
	if (!ret && dsr && xb_path_uplink_packets(p, &rx1, &tx1))
		ret = zh_errf(why, why_len, -EIO,
			      "node A's uplink counters cannot be read");
	if (!ret && !s.seen && !xb_stop) {
		snprintf(why, why_len,
			 "no UDP reply from %s:%u (%" PRIu64 " requests lost)",
			 dst, ntohs(p->target.sin_port), s.lost);
		ret = -EIO;
	}
	if (!ret && !xb_stop && p->id == XB_P_ZH_SOCK_POD) {
		ret = xb_path_verify_nat(e, p, &srv, why, why_len);
		if (!ret)
			xb_progress(
				o,
				"xdpbench: %s: %s:%u is the server pod's own address, reached straight from its client under socket-level LB's hooks on %s (no translation counted)\n",
				xb_path_names[p->id], dst,
				ntohs(p->target.sin_port), p->cgroup);
	} else if (!ret && !xb_stop && xb_path_is_socklb(p->id)) {
		ret = xb_path_verify_nat(e, p, &srv, why, why_len);
		if (!ret)
			xb_progress(
				o,
				"xdpbench: %s: %s:%u is balanced to the server pod at connect() by socket-level LB on %s (zh_sock_stats connect4, no zh_ct entry for the VIP)\n",
				xb_path_names[p->id], dst,
				ntohs(p->target.sin_port), p->cgroup);
	} else if (!ret && !xb_stop && p->id == XB_P_ZH_SVC) {
		ret = xb_path_verify_nat(e, p, &srv, why, why_len);
		if (!ret)
			xb_progress(
				o,
				"xdpbench: %s: %s:%u is balanced to the server pod by zerohop (zh_ct entries both ways, server's peer is the client pod)\n",
				xb_path_names[p->id], dst,
				ntohs(p->target.sin_port));
	} else if (!ret && !xb_stop && p->id == XB_P_ZH_POLICY) {
		ret = xb_policy_check(e, p, o, why, why_len);
	} else if (!ret && !xb_stop && p->id == XB_P_ZH_AFXDP) {
		char desc[400];

		/* Nothing but the pods' AF_XDP sockets answers on the port:
		 * pod b's kernel has no socket there, pod a's none on ours. */
		xb_progress(
			o,
			"xdpbench: %s: %s:%u answered AF_XDP to AF_XDP (%s)\n",
			xb_path_names[p->id], dst, ntohs(p->target.sin_port),
			xb_xsk_describe_path(p->xsk, desc, sizeof(desc)));
	} else if (!ret && !xb_stop &&
		   (p->id == XB_P_KP_NODEPORT || p->id == XB_P_ZH_NODEPORT)) {
		ret = xb_path_verify_nat(e, p, &srv, why, why_len);
		if (!ret)
			xb_progress(
				o,
				"xdpbench: %s: node A's %s:%u is DNATed to the pod on node B and SNATed to node A (%s)\n",
				xb_path_names[p->id], dst,
				ntohs(p->target.sin_port),
				p->id == XB_P_ZH_NODEPORT ?
					"zh_ct SNAT entries both ways, server's peer" :
					"conntrack entry, server's peer, KUBE-SEP rule counter");
	} else if (!ret && !xb_stop && dsr) {
		/* Node A's uplink receives each request once; a reply
		 * through node A would be received there too (two per
		 * request, as zerohop-nodeport's are). A few ARP packets
		 * besides. */
		ret = xb_path_verify_nat(e, p, &srv, why, why_len);
		if (!ret && rx1 - rx0 >= s.seen + s.seen / 2)
			ret = zh_errf(
				why, why_len, -EIO,
				"node A's uplink received %" PRIu64
				" packets for %" PRIu64
				" requests answered: the replies came back through node A",
				rx1 - rx0, s.seen);
		if (!ret)
			xb_progress(
				o,
				"xdpbench: %s: node A's %s:%u is DNATed to the pod on node B, which sees the client; the replies leave node B straight to the client (node A's uplink received %" PRIu64
				" and sent %" PRIu64 " packets for %" PRIu64
				" requests answered; no SNAT entry on node A, node B's zh_ct holds the DSR entry)\n",
				xb_path_names[p->id], dst,
				ntohs(p->target.sin_port), rx1 - rx0, tx1 - tx0,
				s.seen);
	} else if (!ret && !xb_stop && xb_path_has_services(p->id)) {
		ret = xb_path_verify_nat(e, p, &srv, why, why_len);
		if (!ret)
			xb_progress(
				o,
				"xdpbench: %s: %s:%u is DNATed to the server pod and masqueraded (conntrack entry, server's peer%s)\n",
				xb_path_names[p->id], dst,
				ntohs(p->target.sin_port),
				p->id == XB_P_KUBEPROXY ||
						p->id == XB_P_KUBEPROXY_HOST ?
					", KUBE-SEP rule counter" :
					"");
	}
	for (i = 0; i < o->n_wls; i++)
		tcp |= xb_workload_is_tcp(o->wls[i]) &&
		       !xb_path_wl_skip(p->id, o->wls[i]);
	if (!ret && !xb_stop && tcp) {
		xb_samples_free(&s);
		sl.wl = XB_WL_TCP_RR;
		sl.count = 5;
		ret = xb_measure(e, p, o, &sl, why, why_len);
		if (!ret && !s.seen && !xb_stop) {
			snprintf(why, why_len, "no TCP reply from %s", dst);
			ret = -EIO;
		}
	}
	xb_samples_free(&s);
	return ret;
}

/* p50 of the samples this slice added (from index @from), in µs. */
static double xb_slice_p50(const struct xb_samples *s, size_t from)
{
	size_t n = s->n - from;
	uint64_t *copy;
	double p50;

	if (!n || s->seen != s->n)
		return NAN;
	copy = malloc(n * sizeof(*copy));
	if (!copy)
		return NAN;
	memcpy(copy, s->ns + from, n * sizeof(*copy));
	{
		struct xb_samples tmp = { .ns = copy, .n = n, .seen = n };
		struct xb_summary sm;

		xb_summarise(&tmp, &sm);
		p50 = sm.p50;
	}
	free(copy);
	return p50;
}

static const char *xb_default_plugin(char *buf, size_t len)
{
	char exe[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/zerohop", exe);
			if (!access(buf, X_OK))
				return buf;
		}
	}
	if (!access("/opt/cni/bin/zerohop", X_OK))
		return "/opt/cni/bin/zerohop";
	return NULL;
}

static int xb_write_out(const char *path, const struct xb_result_set *r,
			int (*fn)(FILE *, const struct xb_result_set *))
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f) {
		pr_warn("cannot write %s: %s\n", path, strerror(errno));
		return -errno;
	}
	ret = fn(f, r);
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret)
		pr_warn("cannot write %s: %s\n", path, strerror(-ret));
	return ret;
}

static void xb_progress(const struct xb_run_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/*
 * A zerohop path whose datapath this kernel cannot run (kfeatures.h): why,
 * in @buf, or NULL. Such a path is not applicable here, like a workload a
 * path cannot carry: marked, not a failure.
 */
static const char *xb_path_kernel_na(enum xb_path_id id,
				     const struct zh_kfeat *f, char *buf,
				     size_t len)
{
	enum zh_use use;
	int missing;

	switch (id) {
	case XB_P_ZH_TC:
	case XB_P_ZH_SVC:
	case XB_P_ZH_POLICY: /* and zh_tc_to_pod: policy.c says so */
		use = ZH_USE_TC;
		break;
	case XB_P_ZH_SOCK:
	case XB_P_ZH_SOCK_POD:
	case XB_P_HOST_SVC:
		/* tc for the pods, the cgroup hooks for the client */
		use = zh_use_missing(f, ZH_USE_TC) >= 0 ? ZH_USE_TC :
							  ZH_USE_SOCKLB;
		break;
	case XB_P_ZH_NODEPORT:
		use = ZH_USE_NODEPORT;
		break;
	case XB_P_ZH_XDP:
		use = ZH_USE_XDP;
		break;
	case XB_P_ZH_AFXDP:
		use = ZH_USE_AFXDP;
		break;
	case XB_P_ZH_NETKIT: {
		struct zh_netkit_probe nk;
		char nkstr[96];

		if (zh_netkit_probe(&nk) || !nk.ok) {
			if (!nk.step)
				nk.step = "probe";
			snprintf(buf, len,
				 "not on this kernel: netkit pairs: %s",
				 zh_netkit_probe_str(&nk, nkstr,
						     sizeof(nkstr)));
			return buf;
		}
		use = ZH_USE_NATIVE;
		break;
	}
	case XB_P_ZH_NATIVE:
		use = ZH_USE_NATIVE;
		break;
	case XB_P_ZH_VXLAN:
	case XB_P_ZH_VXLAN_DEV:
		use = ZH_USE_VXLAN;
		break;
	default:
		return NULL;
	}
	missing = zh_use_missing(f, use);
	if (missing < 0)
		return NULL;
	snprintf(buf, len, "not on this kernel: it lacks %s (%s)",
		 zh_feat_name(missing), zh_feat_doc(missing)->what);
	return buf;
}

int cmd_run(int argc, char **argv)
{
	static struct xb_path paths[XB_P_MAX];
	char *path_skip[XB_P_MAX] = { 0 };
	const struct xb_setup_info *info[XB_P_MAX] = { 0 };
	struct xb_run_opts o;
	struct xb_setup_opts so;
	struct xb_env env;
	struct xb_result_set rs;
	char plugin_buf[PATH_MAX], why[1024];
	uint64_t limit;
	int i, w, ret, rc = XB_EXIT_OK;
	uint64_t r;
	bool skipped = false, have_feat;
	struct zh_kfeat feat;

	ret = xb_run_parse(argc, argv, &o);
	if (ret > 0) {
		xb_run_usage(stdout);
		return XB_EXIT_OK;
	}
	if (ret) {
		fprintf(stderr, "Try 'xdpbench --help'.\n");
		return XB_EXIT_USAGE;
	}
	if (o.verbose)
		zh_log_set_level(ZH_LOG_DEBUG);
	else if (o.quiet)
		zh_log_set_level(ZH_LOG_WARN);
	if (!o.plugin)
		o.plugin = xb_default_plugin(plugin_buf, sizeof(plugin_buf));
	if (xb_signals_install())
		return XB_EXIT_FAIL;
	if (xb_env_init(&env))
		return XB_EXIT_FAIL;

	limit = XB_SAMPLE_BUDGET / (uint64_t)(o.n_paths * o.n_wls);
	if (limit < XB_CELL_MIN_LIMIT)
		limit = XB_CELL_MIN_LIMIT;
	for (w = 0; w < XB_WL_MAX; w++) {
		for (i = 0; i < XB_P_MAX; i++) {
			xb_cells[w][i].s.limit = (size_t)limit;
			xb_cells[w][i].s.rng = (uint64_t)(w * XB_P_MAX + i + 1);
		}
	}

	/* The plugin probes each path's pin root the same way: a path this
	 * kernel cannot run is known before anything is set up. */
	have_feat = !zh_feat_probe(&feat, why, sizeof(why));
	if (!have_feat)
		pr_warn("cannot probe the kernel's features: %s\n", why);

	/* --- setup, once --- */
	so = (struct xb_setup_opts){
		.plugin = o.plugin,
		.cni_path = o.cni_path,
		.services = o.services,
		.conntrack = (uint32_t)o.conntrack,
		.quiet = o.quiet,
	};
	for (i = 0; i < o.n_paths && !xb_stop; i++) {
		struct xb_path *p = &paths[o.paths[i]];

		memset(p, 0, sizeof(*p));
		p->id = (enum xb_path_id)o.paths[i];
		if (have_feat &&
		    xb_path_kernel_na(p->id, &feat, why, sizeof(why))) {
			pr_info("%s: %s\n", xb_path_names[p->id], why);
			path_skip[i] = strdup(why);
			continue;
		}
		xb_progress(&o, "xdpbench: setting up %s\n",
			    xb_path_names[p->id]);
		ret = xb_path_setup(&env, p, &so, why, sizeof(why));
		info[i] = &p->info;
		if (!ret && !xb_stop)
			ret = xb_path_check(&env, p, &o, why, sizeof(why));
		if (xb_stop)
			break;
		if (ret) {
			pr_warn("skipping %s: %s\n", xb_path_names[p->id], why);
			path_skip[i] = strdup(why);
			skipped = true;
		}
	}

	/* Workloads a path cannot carry: marked once, not a failure. */
	for (i = 0; i < o.n_paths && !xb_stop; i++) {
		for (w = 0; w < o.n_wls; w++) {
			const char *na = xb_path_wl_skip(o.paths[i], o.wls[w]);
			struct xb_cell *c = &xb_cells[o.wls[w]][o.paths[i]];

			if (!na || path_skip[i])
				continue;
			pr_info("not measuring %s on %s: %s\n",
				xb_workload_names[o.wls[w]],
				xb_path_names[o.paths[i]], na);
			c->skip = strdup(na);
		}
	}

	/* --- measuring, interleaved --- */
	for (r = 1; r <= o.rounds && !xb_stop; r++) {
		for (w = 0; w < o.n_wls && !xb_stop; w++) {
			int wl = o.wls[w];

			xb_progress(&o,
				    "xdpbench: round %" PRIu64 "/%" PRIu64
				    " %-12s",
				    r, o.rounds, xb_workload_names[wl]);
			for (i = 0; i < o.n_paths && !xb_stop; i++) {
				struct xb_cell *c = &xb_cells[wl][o.paths[i]];
				struct xb_slice sl = {
					.wl = wl,
					.warmup = o.warmup,
					.duration = o.duration,
					.udp_timeout_ns = XB_UDP_TIMEOUT_NS,
					.samples = &c->s,
				};
				size_t from = c->s.n;

				if (path_skip[i] || c->skip)
					continue;
				/* Outside the measured time: zh_ct forgets
				 * the last slice's flows. */
				ret = xb_path_slice_reset(&env,
							  &paths[o.paths[i]]);
				if (ret)
					snprintf(why, sizeof(why),
						 "forgetting flows: %s",
						 strerror(-ret));
				else
					ret = xb_measure(&env,
							 &paths[o.paths[i]], &o,
							 &sl, why, sizeof(why));
				if (xb_stop)
					break;
				if (ret) {
					xb_progress(&o, "\n");
					pr_warn("skipping %s on %s: %s\n",
						xb_workload_names[wl],
						xb_path_names[o.paths[i]], why);
					c->skip = strdup(why);
					skipped = true;
					continue;
				}
				if (!c->round_p50)
					c->round_p50 = calloc(o.rounds,
							      sizeof(double));
				if (c->round_p50)
					c->round_p50[c->n_rounds++] =
						xb_slice_p50(&c->s, from);
				xb_progress(
					&o, " %s %.1f",
					xb_path_names[o.paths[i]],
					c->round_p50 ?
						c->round_p50[c->n_rounds - 1] :
						NAN);
			}
			xb_progress(&o, " (p50 µs)\n");
		}
	}

	/* --- teardown, once, then the report --- */
	xb_progress(&o, "xdpbench: tearing down\n");
	xb_env_cleanup(&env);
	if (xb_stop) {
		pr_warn("interrupted: everything set up was removed\n");
		rc = 130;
		goto out;
	}
	for (w = 0; w < o.n_wls; w++) {
		for (i = 0; i < o.n_paths; i++) {
			struct xb_cell *c = &xb_cells[o.wls[w]][o.paths[i]];

			xb_summarise(&c->s, &c->sm);
		}
	}
	rs = (struct xb_result_set){
		.o = &o,
		.command = xb_command,
		.paths = o.paths,
		.n_paths = o.n_paths,
		.path_skip = (const char *const *)path_skip,
		.info = info,
		.cells = xb_cells,
	};
	if (o.json) {
		xb_report_table(stderr, &rs);
		if (xb_report_json(stdout, &rs))
			rc = XB_EXIT_FAIL;
	} else if (xb_report_table(stdout, &rs)) {
		rc = XB_EXIT_FAIL;
	}
	if (o.json_file && xb_write_out(o.json_file, &rs, xb_report_json))
		rc = XB_EXIT_FAIL;
	if (o.plot_file && xb_write_out(o.plot_file, &rs, xb_plot_svg))
		rc = XB_EXIT_FAIL;
	if (skipped)
		rc = XB_EXIT_FAIL;
out:
	for (i = 0; i < XB_P_MAX; i++)
		free(path_skip[i]);
	for (w = 0; w < XB_WL_MAX; w++) {
		for (i = 0; i < XB_P_MAX; i++) {
			free(xb_cells[w][i].skip);
			xb_cells[w][i].skip = NULL;
			free(xb_cells[w][i].round_p50);
			xb_cells[w][i].round_p50 = NULL;
			xb_cells[w][i].n_rounds = 0;
			xb_samples_free(&xb_cells[w][i].s);
		}
	}
	return rc;
}
