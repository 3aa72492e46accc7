// SPDX-License-Identifier: Apache-2.0
/*
 * zerohopd - the node agent. Loads the BPF objects once and pins them; on
 * restart it reuses the pins, so pods keep forwarding while it is down. It
 * exits on SIGTERM/SIGINT and leaves the pins in place.
 *
 * While running it reconciles the endpoint maps: an entry whose host veth
 * no longer exists (a pod torn down without DEL) is removed. With --listen
 * it serves Prometheus metrics and health checks (metrics.c). With
 * --services it programs the Service maps from a file, at start and on
 * every SIGHUP (svc_maps.h). On --xsk-socket it takes the AF_XDP sockets
 * pods hand it (xsk_srv.h).
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <poll.h>

#include "zerohop.h"
#include "metrics.h"
#include "podstate.h"
#include "release.h"
#include "params.h"
#include "agent.h"
#include "cni.h"
#include "gc.h"
#include "kube.h"
#include "masq.h"
#include "pol_maps.h"
#include "socklb.h"
#include "svc_maps.h"
#include "takeover.h"
#include "udpkill.h"
#include "xsk_srv.h"

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zerohopd [OPTIONS]\n"
		"Load and pin the zerohop BPF objects, then keep the endpoint maps tidy.\n"
		"Runs in the foreground and logs to stderr.\n"
		"\n"
		"  -p, --pin-root DIR      pin root (default %s; env ZEROHOP_PIN_ROOT)\n"
		"  -i, --reconcile SECS    seconds between sweeps for pods gone without DEL\n"
		"                          (default 10, 0 = off; link events sweep at once)\n"
		"      --state-dir DIR     the CNI plugin's records of its pods (default $%s\n"
		"                          or %s): the addresses of a pod gone without DEL\n"
		"                          are released through its IPAM plugin\n"
		"  -l, --listen [ADDR:]PORT  serve HTTP on that address only (default: off):\n"
		"                          /metrics (Prometheus), /healthz, /readyz;\n"
		"                          e.g. 9464 (= 127.0.0.1:9464) or [::1]:9464\n"
		"      --service-cidr CIDR[,CIDR]  the Service ranges (IPv4 and/or IPv6): an\n"
		"                          address in them that is no Service is dropped\n"
		"      --nodeport-dev DEV[,DEV]  the node's uplinks: NodePorts are answered on\n"
		"                          them (zh_tc_uplink on their tc ingress, and\n"
		"                          zh_xdp_uplink in front where XDP runs natively)\n"
		"      --cluster-cidr CIDR[,CIDR]  the cluster's pod CIDRs: never masqueraded\n"
		"                          to; added to the node table's (--nodes, --kubernetes:\n"
		"                          every node's pod CIDRs and addresses are inside)\n"
		"      --masquerade on|off  pods' traffic to outside the cluster leaves with the\n"
		"                          node's address (default on: off until the cluster's\n"
		"                          CIDRs (--cluster-cidr, or this node's pod CIDR in the\n"
		"                          node table) and an uplink (--nodeport-dev,\n"
		"                          --masquerade-dev, else the node table's) are known);\n"
		"                          in BPF for TCP and UDP, by an nftables rule (table\n"
		"                          inet %s) for the rest and where BPF cannot\n"
		"      --no-masquerade CIDR[,CIDR]  more destinations never masqueraded (the\n"
		"                          node subnet, a VPC); the node's own addresses and the\n"
		"                          --service-cidr ranges never are\n"
		"      --masquerade-dev DEV  the uplink masqueraded traffic leaves by, with its\n"
		"                          address (default: the first --nodeport-dev, else the\n"
		"                          node table's uplink: --uplink, or the device holding\n"
		"                          this node's address)\n"
		"      --masquerade-ports LO-HI  source ports of SNATed flows (default %u-%u:\n"
		"                          outside ip_local_port_range and the NodePort range)\n"
		"      --snat-keep-port on|off  a NodePort flow SNATed to a backend on another\n"
		"                          node keeps its client's source port where that is\n"
		"                          free and no socket of the node owns it (default on;\n"
		"                          off: a port of --masquerade-ports)\n"
		"      --nodeport-mode snat|dsr  a NodePort / LoadBalancer / external IP\n"
		"                          request from outside the cluster whose backend is a\n"
		"                          pod of another node: snat (the default, as\n"
		"                          kube-proxy: from this node's address, the reply\n"
		"                          returns through it) or dsr (Direct Server Return: to\n"
		"                          that node with the client's address and the front\n"
		"                          end in an IP option; its reply goes straight to the\n"
		"                          client). Every node must run with dsr (README)\n"
		"      --uplink-xdp auto|on|off  zh_xdp_uplink in front of zh_tc_uplink on the\n"
		"                          --nodeport-dev uplinks where XDP runs natively (auto,\n"
		"                          the default: not on a veth, where it slows every\n"
		"                          packet to the node)\n"
		"      --probes on|off     time xdpbench's probe datagrams per hop (default on)\n"
		"      --sample N|off      time 1 in N packets from pods per hop (default %u)\n"
		"                          (`zerohopctl latency` shows them and changes both live)\n"
		"  -s, --services FILE     make the Services those of FILE, at start and on SIGHUP:\n"
		"                          ours or kubectl's JSON (README), all or nothing; a bad\n"
		"                          file is an error at start, and keeps what is there on\n"
		"                          SIGHUP\n"
		"      --kubernetes        follow the Kubernetes API: Services, EndpointSlices\n"
		"                          and Nodes, programmed as kube-proxy would (not with\n"
		"                          --services); in-cluster credentials unless --kubeconfig\n"
		"      --k8s-api URL       the API server, https://HOST:PORT (default $%s,\n"
		"                          else the kubernetes Service's address from the env)\n"
		"      --kubeconfig FILE   credentials and server from a kubeconfig (off-cluster)\n"
		"      --cni-conf-dir DIR  once the Services are programmed, write this node's\n"
		"                          CNI configuration there (10-zerohop.conflist, from the\n"
		"                          Node's pod CIDRs); default: don't\n"
		"      --cni-datapath tc|xdp  its \"datapath\" (default tc)\n"
		"      --cni-mtu N         its \"mtu\" (default: the plugin's)\n"
		"      --cni-afxdp JSON    its \"afxdp\": AF_XDP for every pod of the node, e.g.\n"
		"                          '{\"steer\":[{\"proto\":\"udp\",\"port\":9000}]}' (README:\n"
		"                          AF_XDP pods); \"\" is none (the default)\n"
		"      --network-policy off|audit|on  NetworkPolicy (default off): audit or\n"
		"                          on follow Pods (all nodes), Namespaces and\n"
		"                          NetworkPolicies, compile them into the policy maps\n"
		"                          and the datapath judges pods' traffic; audit counts\n"
		"                          what it would drop and lets it through; off empties\n"
		"                          the policy maps (README: NetworkPolicy)\n"
		"      --network-policy-audit-ns NS[,NS]  with --network-policy on, these\n"
		"                          namespaces' pods audit: what their policies deny is\n"
		"                          counted (audited) and let through; the rest enforced.\n"
		"                          A Namespace annotated\n"
		"                          zerohop.io/network-policy-audit: \"true\" audits too\n"
		"      --maglev-slots N    size of the Maglev slot array when the agent creates it\n"
		"                          (default %u; a pinned one keeps its size)\n"
		"      --maglev-per-backend N  Maglev table size: the smallest prime >= N\n"
		"                          slots per ready backend (default %u)\n"
		"      --map-size NAME=N[,NAME=N]  sizes of the maps when the agent creates\n"
		"                          them: services, backends, conntrack, affinity,\n"
		"                          maglev (defaults in zh_abi.h)\n"
		"      --ct-gc-interval auto|SECS|off  seconds between sweeps of the\n"
		"                          conntrack map (%s) that delete the flows the\n"
		"                          datapath holds dead (idle past their timeout);\n"
		"                          auto (default): at start, then %u s adapted after\n"
		"                          each sweep: shorter when it freed much or the map\n"
		"                          is nearly full, longer when it is mostly live\n"
		"                          (%u-%u s); 0 or off: none (the LRU then evicts,\n"
		"                          on the new flows' time)\n"
		"      --xsk-socket PATH|none  where pods hand over their AF_XDP sockets\n"
		"                          (default $%s or %s; mount it into AF_XDP pods)\n"
		"      --nodes FILE       the cluster's nodes (README: Across nodes), at start and\n"
		"                          on SIGHUP: {\"nodes\": [{\"name\", \"addresses\",\n"
		"                          \"podCIDRs\"}]} or kubectl's NodeList; with --kubernetes\n"
		"                          they come from the Node objects instead\n"
		"      --node-name NAME    this node (default $NODE_NAME, else the hostname)\n"
		"      --routing native|vxlan  how pods reach other nodes' pods (default native):\n"
		"                          native: via the node's address on the uplink;\n"
		"                          vxlan: through a VXLAN device the agent makes\n"
		"      --uplink DEV        the device toward the other nodes (default: the one\n"
		"                          holding this node's address)\n"
		"      --vxlan-port N      the VXLAN UDP port (default %u)\n"
		"      --vxlan-vni N       the VXLAN network id (default %u)\n"
		"      --socket-lb on|off|auto  socket-level load balancing: cgroup programs\n"
		"                          put a Service's backend in place of its address at\n"
		"                          connect()/sendmsg() for every socket of the node\n"
		"                          (pods, hostNetwork pods, the node); off: the\n"
		"                          per-packet path alone (pods only). auto (default,\n"
		"                          or $ZEROHOP_SOCKET_LB): on where the kernel and a\n"
		"                          cgroup v2 hierarchy allow, else off with the reason.\n"
		"                          A connected UDP socket whose backend is removed is\n"
		"                          destroyed (SOCK_DESTROY: it reads ECONNABORTED and\n"
		"                          reconnects) where the kernel can;\n"
		"                          $ZEROHOP_SOCK_DESTROY=off: never\n"
		"      --cgroup DIR        the cgroup v2 directory it attaches to (default\n"
		"                          $ZEROHOP_CGROUP, else the hierarchy's root:\n"
		"                          /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid\n"
		"                          hosts); the sockets of processes below it only.\n"
		"                          A directory that is no cgroup v2 but whose\n"
		"                          DIR/unified is (a hybrid node's hierarchy mounted\n"
		"                          whole): that one\n"
		"      --cgroup-has-pods   every pod's processes run below --cgroup DIR (as\n"
		"                          below kubelet's kubepods): the hooks there cover\n"
		"                          the pods as from the root, and a pod's packets are\n"
		"                          balanced per packet only to the Service CIDRs\n"
		"  -v, --verbose           more logging (repeat for libbpf debug)\n"
		"  -h, --help              this help\n"
		"\n"
		"At start it probes the kernel's features (once per pin directory; kept\n"
		"there for the CNI plugin) and logs what it lacks in one line; an option\n"
		"this kernel cannot serve is refused, naming the missing feature.\n"
		"ZEROHOP_DISABLE_FEATURES=name,name makes that probe report those absent.\n"
		"\n"
		"SIGTERM or SIGINT: exit, leaving the pins (the dataplane keeps forwarding).\n"
		"SIGHUP: sweep stale endpoints now, and apply the --services and --nodes\n"
		"files again.\n"
		"With --kubernetes, /readyz answers 503 until the Services are programmed.\n",
		ZH_PIN_ROOT, ZH_STATE_DIR_ENV, ZH_STATE_DIR, ZH_MASQ_NFT_TABLE,
		(unsigned int)ZH_SNAT_PORT_MIN, (unsigned int)ZH_SNAT_PORT_MAX,
		ZH_SAMPLE_DEFAULT, ZH_K8S_API_ENV, ZH_MAGLEV_SLOTS,
		ZH_MAGLEV_PER_BACKEND, ZH_MAP_CT, ZH_CTGC_START_S,
		ZH_CTGC_MIN_S, ZH_CTGC_MAX_S, ZH_XSK_SOCKET_ENV,
		ZH_XSK_SOCKET_DEFAULT, ZH_VXLAN_PORT, ZH_VXLAN_VNI);
}

struct stale {
	__u32 ifindex[256];
	int n;
};

static int stale_cb(__u32 ifindex, const struct zh_iface *iface, void *arg)
{
	struct stale *s = arg;
	char name[IF_NAMESIZE];

	if (if_indextoname(ifindex, name) &&
	    !strncmp(name, iface->host_ifname, sizeof(iface->host_ifname)))
		return 0;
	s->ifindex[s->n++] = ifindex;
	return s->n == (int)(sizeof(s->ifindex) / sizeof(s->ifindex[0]));
}

/* Pods gone without DEL: their endpoints, then (on the release thread)
 * their addresses. */
static void reconcile(const struct zh_objs *objs, struct zh_release *release)
{
	struct stale s = { .n = 0 };
	int lock;

	lock = zh_pin_lock(objs->root);
	if (lock < 0)
		return;
	zh_iface_foreach(objs, stale_cb, &s);
	for (int i = 0; i < s.n; i++) {
		pr_info("removing stale endpoint on ifindex %u\n",
			s.ifindex[i]);
		zh_ep_remove(objs, s.ifindex[i]);
	}
	zh_release_sweep(release);
	zh_pin_unlock(lock);
}

/* --service-cidr "10.96.0.0/12,fd00:96::/108": at most one of each family,
 * into the struct zh_config at @dst. */
static int parse_cidrs(const char *arg, void *dst)
{
	char buf[256], *tok, *save = NULL;
	struct zh_config *cfg = dst;
	struct zh_addr a;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		return -EINVAL;
	cfg->svc_cidr4_len = cfg->svc_cidr6_len = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (zh_addr_parse(tok, true, &a) || !a.prefix)
			return -EINVAL;
		if (a.family == AF_INET) {
			if (cfg->svc_cidr4_len)
				return -EINVAL;
			cfg->svc_cidr4 = a.v4.s_addr;
			cfg->svc_cidr4_len = (__u8)a.prefix;
		} else {
			if (cfg->svc_cidr6_len)
				return -EINVAL;
			memcpy(cfg->svc_cidr6, &a.v6, sizeof(cfg->svc_cidr6));
			cfg->svc_cidr6_len = (__u8)a.prefix;
		}
	}
	return cfg->svc_cidr4_len || cfg->svc_cidr6_len ? 0 : -EINVAL;
}

/* --cluster-cidr, --no-masquerade: CIDR lists into a zh_masq_conf. */
static int parse_cluster_cidr(const char *arg, void *dst)
{
	struct zh_masq_conf *c = dst;

	return zh_masq_parse_cidrs(arg, c->cluster, ZH_MASQ_MAX_CIDRS,
				   &c->n_cluster) ?
		       -EINVAL :
		       0;
}

static int parse_no_masq(const char *arg, void *dst)
{
	struct zh_masq_conf *c = dst;

	return zh_masq_parse_cidrs(arg, c->keep, ZH_MASQ_MAX_CIDRS,
				   &c->n_keep) ?
		       -EINVAL :
		       0;
}

static int parse_masq_ports(const char *arg, void *dst)
{
	struct zh_masq_conf *c = dst;

	return zh_masq_parse_ports(arg, &c->port_min, &c->port_max) ? -EINVAL :
								      0;
}

/* --listen: checked now, so that a bad address loads nothing; kept as
 * given for zh_metrics_start(). */
static int parse_listen(const char *arg, void *dst)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (zh_metrics_parse_listen(arg, &ss, &len))
		return -EINVAL;
	*(const char **)dst = arg;
	return 0;
}

/* --sample N|off into the __u32 at @dst. */
static int parse_sample(const char *arg, void *dst)
{
	return zh_sample_parse(arg, dst) ? -EINVAL : 0;
}

/* --map-size NAME=N[,NAME=N] into the struct zh_load_opts at @dst. */
static int parse_map_size(const char *arg, void *dst)
{
	return zh_load_opts_parse(arg, dst) ? -EINVAL : 0;
}

/* --ct-gc-interval SECS: at most a day (the longest timeout is 6 h). */
#define CT_GC_MAX_S 86400U

/* --ct-gc-interval auto|SECS|off into the struct zh_gc_opts at @dst:
 * interval_s 0 is off. */
static int parse_ct_gc(const char *arg, void *dst)
{
	struct zh_gc_opts *g = dst;
	uint64_t s;

	if (!strcmp(arg, "auto")) {
		g->auto_interval = true;
		g->interval_s = ZH_CTGC_START_S;
		return 0;
	}
	g->auto_interval = false;
	if (!strcmp(arg, "off")) {
		g->interval_s = 0;
		return 0;
	}
	if (zh_params_parse_uint("ct-gc-interval", arg, 0, CT_GC_MAX_S, NULL,
				 &s, NULL, 0))
		return -EINVAL;
	g->interval_s = (unsigned int)s;
	return 0;
}

/* --xsk-socket PATH|none: a path that fits sun_path; none: NULL. */
static int parse_xsk_socket(const char *arg, void *dst)
{
	if (!strcmp(arg, "none")) {
		*(const char **)dst = NULL;
		return 0;
	}
	if (arg[0] != '/' || strlen(arg) >= 108)
		return -EINVAL;
	*(const char **)dst = arg;
	return 0;
}

/* --uplink-xdp */
enum { UPLINK_XDP_AUTO, UPLINK_XDP_ON, UPLINK_XDP_OFF };

/* zh_tc_uplink on the tc ingress of every device in "eth0,eth1", and
 * zh_xdp_uplink in front as @xdp says. Says why it failed. */
static int attach_uplinks(const struct zh_objs *objs, const char *devs, int xdp)
{
	char buf[256], *tok, *save = NULL;
	int ifindex, err, missing;

	/* A NodePort that could take requests but not send the replies
	 * back is worse than none: refuse it. */
	missing = zh_use_missing(&objs->feat, ZH_USE_NODEPORT);
	if (missing >= 0) {
		pr_warn("--nodeport-dev: NodePorts cannot work on this kernel: it lacks %s (%s)\n",
			zh_feat_name(missing), zh_feat_doc(missing)->what);
		return -EOPNOTSUPP;
	}
	snprintf(buf, sizeof(buf), "%s", devs);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		ifindex = (int)if_nametoindex(tok);
		if (!ifindex) {
			err = -errno;
			pr_warn("--nodeport-dev %s: %s\n", tok, strerror(-err));
			return err;
		}
		err = zh_tc_attach(&objs->feat, ifindex, objs->tc_uplink_fd);
		if (err) {
			pr_warn("--nodeport-dev %s: cannot attach %s: %s\n",
				tok, ZH_PROG_TC_UPLINK, strerror(-err));
			return err;
		}
		/* XDP in front where the driver runs it natively; tc alone
		 * answers everything otherwise. auto leaves a veth to tc:
		 * native XDP puts a veth's receive into NAPI mode, which
		 * costs every packet to the node (~1.6 us a round trip of a
		 * NodePort to another node, measured: README), and only a
		 * NodePort to an XDP pod here gains from it. */
		if (xdp == UPLINK_XDP_OFF ||
		    (xdp == UPLINK_XDP_AUTO && zh_link_is_veth(tok) == 1)) {
			/* An agent before us may have put it there. */
			if (objs->xdp_uplink_fd >= 0)
				zh_xdp_detach(ifindex, objs->xdp_uplink_fd);
			pr_info("NodePorts answered on %s by tc (--uplink-xdp %s)\n",
				tok,
				xdp == UPLINK_XDP_OFF ? "off" : "auto: a veth");
			continue;
		}
		err = objs->xdp_uplink_fd < 0 ?
			      -EOPNOTSUPP :
			      zh_xdp_attach(ifindex, objs->xdp_uplink_fd);
		pr_info("NodePorts answered on %s by %s\n", tok,
			err ? "tc (no native XDP here)" : "XDP, then tc");
	}
	return 0;
}

/* The node's addresses, for NodePorts: at start and at every sweep. */
static void sync_node_addrs(const struct zh_objs *objs)
{
	static int said; /* the last error said, not every interval */
	static struct zh_netns last; /* the last entry said */
	char a4[INET_ADDRSTRLEN] = "-", a6[INET6_ADDRSTRLEN] = "-";
	int n, err = zh_node_addrs_sync(objs, &n);
	const __u32 *p6 = NULL;
	struct zh_config cfg;
	struct zh_netns nn;
	__u32 p4 = 0;

	if (err)
		pr_warn("cannot write %s: %s\n", ZH_MAP_NODE_ADDRS,
			strerror(-err));
	else
		pr_debug("%d node address(es) in %s\n", n, ZH_MAP_NODE_ADDRS);
	/* The node's netns for socket-level LB (zh_netns): its address
	 * towards the Service CIDR is its sessionAffinity client, and only
	 * its sockets reach a NodePort at localhost. */
	if (!zh_config_get(objs, &cfg)) {
		if (cfg.svc_cidr4_len)
			p4 = cfg.svc_cidr4;
		if (cfg.svc_cidr6_len)
			p6 = cfg.svc_cidr6;
	}
	err = zh_netns_node_sync(objs, p4, p6, &nn);
	if (err && err != said)
		pr_warn("%s: cannot record the node's netns (%s): a NodePort at localhost is not served at the socket level, and the node's sockets are sessionAffinity clients by netns\n",
			ZH_MAP_NETNS,
			err == -ENOPROTOOPT ?
				"no SO_NETNS_COOKIE before kernel 5.14" :
				strerror(-err));
	else if (!err && (said != 1 || memcmp(&nn, &last, sizeof(nn)))) {
		last = nn;
		if (nn.flags & ZH_NETNS_F_V4)
			inet_ntop(AF_INET, &nn.addr4, a4, sizeof(a4));
		if (nn.flags & ZH_NETNS_F_V6)
			inet_ntop(AF_INET6, nn.addr6, a6, sizeof(a6));
		pr_info("the node's netns in %s: sessionAffinity client %s / %s\n",
			ZH_MAP_NETNS, a4, a6);
	}
	said = err ? err : 1;
}

/*
 * Masquerade and SNAT (masq.h): the uplinks of the command line into @c
 * (*@attach: --masquerade-dev is no NodePort uplink, its replies need
 * zh_tc_uplink too). Whether masquerade is on is masq_update()'s. Says
 * why it failed.
 */
static int masq_plan(const char *devs, const char *masq_dev,
		     struct zh_masq_conf *c, bool *attach)
{
	char buf[256], *tok, *save = NULL;

	c->n_devs = 0;
	c->masq_dev = 0;
	snprintf(buf, sizeof(buf), "%s", devs ? devs : "");
	for (tok = strtok_r(buf, ",", &save);
	     tok && c->n_devs < ZH_MASQ_MAX_DEVS;
	     tok = strtok_r(NULL, ",", &save))
		snprintf(c->devs[c->n_devs++], sizeof(c->devs[0]), "%s", tok);
	if (masq_dev) {
		size_t i;

		for (i = 0; i < c->n_devs && strcmp(c->devs[i], masq_dev); i++)
			;
		if (i == c->n_devs) {
			if (i == ZH_MASQ_MAX_DEVS) {
				pr_warn("--masquerade-dev: more than %d uplinks\n",
					ZH_MASQ_MAX_DEVS);
				return -E2BIG;
			}
			snprintf(c->devs[c->n_devs++], sizeof(c->devs[0]), "%s",
				 masq_dev);
			*attach = true; /* no NodePort uplink: its replies */
		}
		c->masq_dev = (int)i;
	}
	return 0;
}

/* The ip_local_port_range of this netns overlaps the SNAT ports: the
 * node's own connections could take a port a masqueraded flow has. */
static void masq_port_check(const struct zh_masq_conf *c)
{
	unsigned int lo, hi;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (!f)
		return;
	if (fscanf(f, "%u %u", &lo, &hi) == 2 && lo <= c->port_max &&
	    hi >= c->port_min)
		pr_warn("SNAT ports %u-%u overlap net.ipv4.ip_local_port_range %u-%u: the node's own connections may collide with SNATed flows (--masquerade-ports)\n",
			c->port_min, c->port_max, lo, hi);
	fclose(f);
}

/* The maps (under the pin lock). */
static int masq_sync(const struct zh_objs *objs, const struct zh_masq_conf *c)
{
	char err[256];
	int lock, rc;

	lock = zh_pin_lock(objs->root);
	if (lock < 0)
		return lock;
	rc = zh_masq_apply(objs, c, err, sizeof(err));
	zh_pin_unlock(lock);
	if (rc)
		pr_warn("masquerade: %s\n", err);
	return rc;
}

/*
 * Masquerade's state. The loop (start, sweeps, SIGHUP and --nodes) and
 * the Kubernetes thread (Node objects) both change it: under @mu.
 */
static struct masq_state {
	pthread_mutex_t mu;
	const struct zh_objs *objs; /* NULL until agent_configure() */
	struct zh_masq_conf conf; /* the command line's (devices planned) */
	struct zh_masq_conf eff; /* what is applied: conf + the node table */
	bool want; /* --masquerade on (the default) */
	bool asked; /* given explicitly: no quiet fallback */
	bool table; /* a node table comes (--nodes, --kubernetes) */
	/* The node table as last applied: every pod CIDR and node address
	 * (inside the cluster), whether this node has a pod CIDR there, and
	 * the uplink toward the other nodes. */
	struct zh_addr cidrs[ZH_MASQ_MAX_TABLE];
	size_t n_cidrs;
	struct zh_addr addrs[ZH_MASQ_MAX_TABLE];
	size_t n_addrs;
	bool self_cidr;
	char uplink[IF_NAMESIZE];
	char said[256]; /* the state last logged */
	char nft[65536]; /* the nftables ruleset last written */
} masq_st = { .mu = PTHREAD_MUTEX_INITIALIZER };

/*
 * The nftables rule behind BPF (what it passes: ICMP, other protocols,
 * fragments), or its removal when masquerade is off: written when its
 * text changed (at start always: @m->nft is empty).
 */
static void masq_nft(struct masq_state *m, const struct zh_masq_conf *c)
{
	static char rules[sizeof(m->nft)];
	char err[512];
	int n = zh_masq_nft_ruleset(c, rules, sizeof(rules));

	if (n < 0) {
		pr_warn("masquerade: nftables ruleset too long\n");
		return;
	}
	if (!strcmp(rules, m->nft))
		return;
	if (zh_masq_nft_run(rules, 5000, err, sizeof(err))) {
		pr_warn("masquerade: %s; %s\n", err,
			c->on ? "what BPF passes to the kernel (ICMP, other protocols, fragments) leaves unmasqueraded" :
				"the old table may stay");
		m->nft[0] = 0; /* try again next time */
		return;
	}
	memcpy(m->nft, rules, (size_t)n + 1);
	if (c->on)
		pr_info("masquerade: nftables table inet %s for what BPF passes to the kernel\n",
			ZH_MASQ_NFT_TABLE);
}

/*
 * Why masquerade cannot be on with @eff (NULL: it can); *@pending when
 * it waits for the node table rather than being impossible.
 */
static const char *masq_why_off(const struct masq_state *m,
				const struct zh_masq_conf *eff, bool *pending)
{
	*pending = false;
	if (!m->want)
		return "--masquerade off";
	if (!eff->n_cluster && !m->self_cidr) {
		*pending = m->table;
		return m->table ?
			       "this node's pod CIDR is not in the node table yet" :
			       "the cluster's pod CIDRs are unknown (--cluster-cidr, or a node table: --nodes, --kubernetes)";
	}
	if (!eff->n_devs) {
		*pending = m->table;
		return m->table ?
			       "no uplink yet (the node table's, --nodeport-dev or --masquerade-dev)" :
			       "no uplink (--nodeport-dev or --masquerade-dev)";
	}
	return NULL;
}

/*
 * Masquerade made what the command line and the node table say, under
 * masq_st.mu: on once the cluster's pod CIDRs (--cluster-cidr, or this
 * node's in the node table) and an uplink (--nodeport-dev,
 * --masquerade-dev, else the node table's) are known; the maps, and the
 * nftables rule where its text changed. @start: refuse what --masquerade
 * on asked for and cannot be (not what waits for the node table).
 */
static int masq_update(bool start)
{
	struct masq_state *m = &masq_st;
	struct zh_masq_conf *eff = &m->eff;
	const char *why;
	char line[sizeof(m->said)];
	bool pending, was_on = eff->on;
	int missing, rc;

	*eff = m->conf;
	eff->node_cidrs = m->cidrs;
	eff->n_node_cidrs = m->n_cidrs;
	eff->node_addrs = m->addrs;
	eff->n_node_addrs = m->n_addrs;
	if (!eff->n_devs && m->uplink[0]) {
		_Static_assert(sizeof(eff->devs[0]) == sizeof(m->uplink),
			       "a device name fits");
		memcpy(eff->devs[0], m->uplink, sizeof(m->uplink));
		eff->n_devs = 1;
		eff->masq_dev = 0;
	}
	why = masq_why_off(m, eff, &pending);
	eff->on = !why;
	if (why && m->asked && !pending && start) {
		pr_warn("--masquerade on: cannot masquerade: %s\n", why);
		return -EINVAL;
	}
	missing = zh_use_missing(&m->objs->feat, ZH_USE_NODEPORT);
	if (why)
		snprintf(line, sizeof(line), "masquerade off: %s", why);
	else
		snprintf(
			line, sizeof(line),
			"masquerade on: by %s%s, %zu + %zu pod CIDR(s) inside%s%s",
			eff->devs[eff->masq_dev],
			m->conf.n_devs ? "" : " (the node table's uplink)",
			eff->n_cluster, eff->n_node_cidrs,
			missing >= 0 ?
				"; the nftables rule alone: this kernel lacks " :
				"",
			missing >= 0 ? zh_feat_name(missing) : "");
	if (strcmp(line, m->said)) {
		if (why && m->asked && !pending)
			pr_warn("--masquerade on: cannot masquerade: %s\n",
				why);
		else
			pr_info("%s\n", line);
		snprintf(m->said, sizeof(m->said), "%s", line);
	}
	if (eff->on && !was_on)
		masq_port_check(eff);
	rc = masq_sync(m->objs, eff);
	if (rc && start)
		return rc;
	masq_nft(m, eff);
	return 0;
}

/* The services file, parsed; a bad one is logged. */
static int services_load(const char *path, struct zh_svc_set *set)
{
	char err[ZH_SVC_ERR_MAX];
	int rc = zh_svc_load(path, set, err, sizeof(err));

	if (rc)
		pr_warn("services: %s\n", err);
	return rc;
}

int zh_agent_services_apply(const struct zh_objs *objs, const char *path,
			    struct zh_svc_set *set)
{
	return zh_agent_services_change(objs, path, set, NULL, 0, false);
}

int zh_agent_services_change(const struct zh_objs *objs, const char *path,
			     struct zh_svc_set *set,
			     const struct zh_service *del, size_t n_del,
			     bool partial)
{
	struct zh_svc_apply_result r;
	struct timespec t0, t1;
	int lock, rc;

	lock = zh_pin_lock(objs->root);
	if (lock < 0) {
		zh_svc_set_free(set);
		return lock;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = partial ? zh_svc_apply_changes(objs, set, del, n_del, &r) :
		       zh_svc_apply(objs, set, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	zh_pin_unlock(lock);
	if (rc)
		pr_warn("services: %s: %s\n", path,
			r.err[0] ? r.err : strerror(-rc));
	else
		zh_log(partial ? ZH_LOG_DEBUG : ZH_LOG_INFO,
		       "services: %s: %s%zu services: %zu added, %zu updated, %zu removed, %zu unchanged; %u Maglev slots written, %u of %u in use; %.3f s\n",
		       path, partial ? "changes to " : "", set->n + n_del,
		       r.added, r.updated, r.removed, r.unchanged,
		       r.slots_written, r.slots_used, r.slots_total,
		       (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	zh_svc_set_free(set);
#ifdef __GLIBC__
	/* A whole set (at start, on SIGHUP, a Kubernetes relist) peaks at
	 * ~400 MB for 100 000 Services (the JSON tree, the set, the plan),
	 * all freed by now, but glibc gives a heap back only from its top:
	 * without this the agent kept ~200 MiB resident for good (make
	 * bench-load). ~30 ms after such an apply; a batch of changes is
	 * small and frequent: not then. */
	if (!partial)
		malloc_trim(0);
#endif
	return rc;
}

/* At every sweep: the node's addresses may have changed (zh_nomasq). */
static void masq_refresh(void)
{
	pthread_mutex_lock(&masq_st.mu);
	if (masq_st.objs)
		masq_update(false);
	pthread_mutex_unlock(&masq_st.mu);
}

/*
 * The node table as applied (from the loop, or the Kubernetes thread):
 * its pod CIDRs and addresses are inside the cluster, this node's pod
 * CIDR and the uplink turn masquerade on (masq_update()).
 */
static void masq_nodes(const struct zh_cluster_conf *conf,
		       const struct zh_node_set *set, int uplink)
{
	struct masq_state *m = &masq_st;
	size_t over = 0;

	pthread_mutex_lock(&m->mu);
	m->n_cidrs = m->n_addrs = 0;
	m->self_cidr = false;
	for (size_t i = 0; i < set->n; i++) {
		const struct zh_node_info *n = &set->v[i];

		if (!strcmp(n->name, conf->self) && n->n_cidrs)
			m->self_cidr = true;
		for (int c = 0; c < n->n_cidrs; c++) {
			if (m->n_cidrs < ZH_MASQ_MAX_TABLE)
				m->cidrs[m->n_cidrs++] = n->cidrs[c];
			else
				over++;
		}
		for (int a = 0; a < n->n_addrs; a++) {
			if (m->n_addrs < ZH_MASQ_MAX_TABLE)
				m->addrs[m->n_addrs++] = n->addrs[a];
			else
				over++;
		}
	}
	if (over)
		pr_warn("masquerade: %zu pod CIDR(s) and node address(es) beyond %d each are left out of the nftables rule (BPF knows them all: %s); give --cluster-cidr with the cluster's supernets\n",
			over, ZH_MASQ_MAX_TABLE, ZH_MAP_CLUSTER_CIDRS);
	if (uplink <= 0 || !if_indextoname((unsigned int)uplink, m->uplink))
		m->uplink[0] = 0;
	if (m->objs)
		masq_update(false);
	pthread_mutex_unlock(&m->mu);
}

int zh_agent_nodes_apply(const struct zh_objs *objs,
			 const struct zh_cluster_conf *conf,
			 const char *state_dir, const char *source,
			 const struct zh_node_set *set)
{
	struct zh_cluster_result r;
	int lock, rc, err;

	lock = zh_pin_lock(objs->root);
	if (lock < 0)
		return lock;
	rc = zh_cluster_apply(objs, conf, set, &r);
	if (!rc && state_dir) {
		mkdir(state_dir, 0700); /* the plugin may not have made it */
		err = zh_cluster_state_save(state_dir, conf, set);
		if (err)
			pr_warn("nodes: cannot keep the table in %s/%s: %s\n",
				state_dir, ZH_CLUSTER_STATE, strerror(-err));
	}
	zh_pin_unlock(lock);
	if (rc)
		pr_warn("nodes: %s: %s\n", source, r.err);
	else
		pr_info("nodes: %s: %zu node(s), %d other(s): %d pod CIDR route(s) (%s), %d map entries; %d route(s) and %d entries removed\n",
			source, set->n, r.remote, r.routes,
			zh_routing_name(conf->routing), r.entries,
			r.routes_removed, r.removed);
	if (!rc)
		masq_nodes(conf, set, r.uplink);
	return rc;
}

/* --nodes FILE: parsed, or said why not. */
static int nodes_load(const char *path, struct zh_node_set *set)
{
	char err[512];
	int rc = zh_nodes_load(path, set, err, sizeof(err));

	if (rc)
		pr_warn("nodes: %s\n", err);
	return rc;
}

/* SIGHUP: the file again; a bad one changes nothing. */
static void services_reload(const struct zh_objs *objs, const char *path)
{
	struct zh_svc_set set;

	if (services_load(path, &set) ||
	    zh_agent_services_apply(objs, path, &set))
		pr_warn("services: keeping the services as they are\n");
}

/*
 * Options this kernel cannot serve: what was asked for explicitly is
 * refused, naming the missing feature; the AF_XDP handoff, on by default,
 * is turned off with a word.
 */
static int agent_features(const struct zh_objs *objs, struct zh_config *cfg,
			  bool sample_asked, const char **xsk_path,
			  bool xsk_asked)
{
	int missing;

	missing = zh_use_missing(&objs->feat, ZH_USE_SAMPLING);
	if (cfg->sample_every && missing >= 0) {
		if (sample_asked) {
			pr_warn("--sample: latency sampling cannot work on this kernel: it lacks %s (%s)\n",
				zh_feat_name(missing),
				zh_feat_doc(missing)->what);
			return -EOPNOTSUPP;
		}
		pr_info("latency sampling off: this kernel lacks %s (%s)\n",
			zh_feat_name(missing), zh_feat_doc(missing)->what);
		cfg->sample_every = 0;
	}
	missing = zh_use_missing(&objs->feat, ZH_USE_AFXDP);
	if (*xsk_path && missing >= 0) {
		if (xsk_asked) {
			pr_warn("--xsk-socket: AF_XDP cannot work on this kernel: it lacks %s (%s)\n",
				zh_feat_name(missing),
				zh_feat_doc(missing)->what);
			return -EOPNOTSUPP;
		}
		pr_info("AF_XDP socket handoff off: this kernel lacks %s (%s)\n",
			zh_feat_name(missing), zh_feat_doc(missing)->what);
		*xsk_path = NULL;
	}
	return 0;
}

static int count_cb(__u32 ifindex, const struct zh_iface *iface, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/* The poll timeout is an int of milliseconds: a longer sweep interval
 * would wrap it. */
#define RECONCILE_MAX (INT_MAX / 1000)

enum socklb_mode { SOCKLB_AUTO, SOCKLB_ON, SOCKLB_OFF };
static const char *const socklb_names[] = { "auto", "on", "off" };
static const int socklb_vals[] = { SOCKLB_AUTO, SOCKLB_ON, SOCKLB_OFF };

/* What the command line asks of the agent. */
struct agent_opts {
	const char *root; /* the pin root */
	const char *state_dir; /* the plugin's records (podstate.h) */
	unsigned int interval; /* seconds between sweeps; 0: none */
	const char *listen_addr, *nodeport_devs, *services, *xsk_path;
	int uplink_xdp; /* UPLINK_XDP_* */
	bool nodeport_dsr; /* --nodeport-mode dsr */
	bool xsk_asked; /* --xsk-socket PATH: no quiet fallback */
	bool sample_asked; /* --sample N: likewise */
	bool kubernetes;
	int datapath; /* --cni-datapath: an index of datapaths[] */
	const char *afxdp_text; /* --cni-afxdp */
	const char *nodes_file; /* --nodes */
	unsigned int vxlan_port, vni; /* 0: the defaults */
	const char *uplink; /* --uplink */
	int routing; /* --routing: enum zh_routing */
	struct zh_cluster_conf cluster; /* made from the above */
	int socket_lb; /* --socket-lb: enum socklb_mode */
	const char *cgroup; /* --cgroup; NULL: the cgroup v2 root */
	bool cgroup_has_pods; /* --cgroup-has-pods */
	struct zh_kube_opts kube;
	int verbose;
	struct zh_config cfg; /* the fields of zh_config that are ours */
	struct zh_load_opts load;
	struct zh_masq_conf masq; /* .on: --masquerade */
	const char *masq_dev; /* --masquerade-dev */
	bool masq_asked; /* --masquerade on: no quiet fallback */
	struct zh_gc_opts gc; /* --ct-gc-interval; interval_s 0: off */
};

/*
 * --cni-afxdp: checked now by the plugin's own parser, rather than
 * refused at every pod's ADD. "" is none.
 */
static int parse_afxdp(const char *text, json_t **out)
{
	struct zh_cni_err err = { 0 };
	struct zh_netconf conf;
	json_t *v, *doc;
	char *s;
	int rc;

	*out = NULL;
	if (!text || !text[0])
		return 0;
	v = json_loads(text, 0, NULL);
	if (!json_is_object(v)) {
		fprintf(stderr,
			"zerohopd: --cni-afxdp: not a JSON object, e.g. {\"steer\": [{\"proto\": \"udp\", \"port\": 9000}]}\n");
		json_decref(v);
		return -EINVAL;
	}
	doc = json_pack("{s:s, s:s, s:s, s:O, s:{s:s}}", "cniVersion", "1.0.0",
			"name", "zerohop", "type", "zerohop", "afxdp", v,
			"ipam", "type", "host-local");
	s = doc ? json_dumps(doc, 0) : NULL;
	rc = s ? zh_netconf_parse(s, strlen(s), &conf, &err) : -1;
	zh_netconf_free(&conf);
	free(s);
	json_decref(doc);
	if (rc) {
		fprintf(stderr, "zerohopd: --cni-afxdp: %s%s%s\n", err.msg,
			err.details[0] ? ": " : "", err.details);
		json_decref(v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* The Kubernetes options: only with --kubernetes, and not with a file. */
static int agent_parse_kube(struct agent_opts *o, const struct zh_param *opts,
			    const char *const *datapaths, char *hostname,
			    size_t len)
{
	static const char *const kube_only[] = {
		"k8s-api",	  "kubeconfig",
		"cni-conf-dir",	  "cni-datapath",
		"cni-mtu",	  "cni-afxdp",
		"network-policy", "network-policy-audit-ns"
	};
	size_t i;

	if (o->kubernetes && o->services) {
		fprintf(stderr,
			"zerohopd: --services and --kubernetes: the Services come from one or the other\n");
		return -EINVAL;
	}
	for (i = 0;
	     !o->kubernetes && i < sizeof(kube_only) / sizeof(*kube_only);
	     i++) {
		if (!strcmp(kube_only[i], "network-policy") &&
		    o->kube.network_policy == ZH_POL_MODE_OFF)
			continue; /* off is fine without it */
		if (zh_params_given(opts, kube_only[i])) {
			fprintf(stderr, "zerohopd: --%s needs --kubernetes\n",
				kube_only[i]);
			return -EINVAL;
		}
	}
	o->kube.cni_datapath = datapaths[o->datapath];
	if (zh_params_given(opts, "network-policy-audit-ns")) {
		char why[160];

		if (o->kube.network_policy == ZH_POL_MODE_OFF) {
			fprintf(stderr,
				"zerohopd: --network-policy-audit-ns needs --network-policy on or audit\n");
			return -EINVAL;
		}
		if (zh_pol_audit_ns_check(o->kube.audit_ns, why, sizeof(why))) {
			fprintf(stderr,
				"zerohopd: --network-policy-audit-ns: %s\n",
				why);
			return -EINVAL;
		}
	}
	if (parse_afxdp(o->afxdp_text, &o->kube.cni_afxdp))
		return -EINVAL;
	if (!o->kube.node || !o->kube.node[0])
		o->kube.node = getenv("NODE_NAME");
	if (o->kubernetes && o->nodes_file) {
		fprintf(stderr,
			"zerohopd: --nodes and --kubernetes: the nodes come from one or the other\n");
		return -EINVAL;
	}
	if ((o->kubernetes || o->nodes_file) &&
	    (!o->kube.node || !o->kube.node[0])) {
		if (gethostname(hostname, len - 1)) {
			fprintf(stderr,
				"zerohopd: no node name: give --node-name or set NODE_NAME\n");
			return -EINVAL;
		}
		o->kube.node = hostname;
	}
	zh_cluster_conf_init(&o->cluster);
	o->cluster.routing = (enum zh_routing)o->routing;
	snprintf(o->cluster.self, sizeof(o->cluster.self), "%s",
		 o->kube.node ? o->kube.node : "");
	if (o->uplink &&
	    snprintf(o->cluster.uplink, sizeof(o->cluster.uplink), "%s",
		     o->uplink) >= (int)sizeof(o->cluster.uplink)) {
		fprintf(stderr, "zerohopd: --uplink %s: no such device name\n",
			o->uplink);
		return -EINVAL;
	}
	if (o->vxlan_port)
		o->cluster.vxlan_port = o->vxlan_port;
	if (o->vni)
		o->cluster.vni = o->vni;
	o->kube.cluster = &o->cluster;
	o->kube.state_dir = o->state_dir;
	return 0;
}

/*
 * The command line into @o: 0 to run, 1 when the help was asked for
 * (printed), a negative errno for a bad line (said on stderr).
 */
static int agent_parse(int argc, char **argv, struct agent_opts *o)
{
	static const char *const onoff[] = { "on", "off" };
	static const int probes[] = { ZH_CFG_F_PROBES, 0 };
	static const int masq_vals[] = { 1, 0 };
	static const char *const uplink_xdp_names[] = { "auto", "on", "off" };
	static const int uplink_xdp_vals[] = { UPLINK_XDP_AUTO, UPLINK_XDP_ON,
					       UPLINK_XDP_OFF };
	int masq = 1, keep_port = 1, np_mode = 0;
	static const char *const np_modes[] = { "snat", "dsr" };
	static const int np_mode_vals[] = { 0, 1 };
	static const char *const datapaths[] = { "tc", "xdp" };
	static const int datapath_vals[] = { 0, 1 };
	static const char *const routings[] = { "native", "vxlan" };
	static const int routing_vals[] = { ZH_ROUTING_NATIVE,
					    ZH_ROUTING_VXLAN };
	static const char *const pol_modes[] = { "off", "audit", "on" };
	static const int pol_mode_vals[] = { ZH_POL_MODE_OFF, ZH_POL_MODE_AUDIT,
					     ZH_POL_MODE_ON };
	static char hostname[256];
	char want_sample[64], want_map_size[160], want_gc[80];
	char err[ZH_PARAMS_ERR_MAX];
	bool help = false;
	struct zh_param opts[] = {
		ZH_OPT_STR("pin-root", 'p', &o->root),
		ZH_OPT_STR("state-dir", 0, &o->state_dir),
		ZH_OPT_UINT("reconcile", 'i', &o->interval, 0, RECONCILE_MAX,
			    .unit = "seconds"),
		ZH_OPT_FUNC(
			"listen", 'l', &o->listen_addr, parse_listen,
			"[ADDR:]PORT (numeric address, IPv6 in brackets, port 1-65535; no address: 127.0.0.1), e.g. 9464, 10.0.0.1:9464 or [::1]:9464"),
		ZH_OPT_FUNC(
			"service-cidr", 0, &o->cfg, parse_cidrs,
			"CIDR[,CIDR], at most one IPv4 and one IPv6, e.g. 10.96.0.0/12,fd00:96::/108"),
		ZH_OPT_STR("nodeport-dev", 0, &o->nodeport_devs),
		ZH_OPT_FUNC("cluster-cidr", 0, &o->masq, parse_cluster_cidr,
			    "CIDR[,CIDR], e.g. 10.244.0.0/16,fd00:10:244::/56"),
		ZH_OPT_ENUM("masquerade", 0, &masq, onoff, masq_vals, 2),
		ZH_OPT_FUNC("no-masquerade", 0, &o->masq, parse_no_masq,
			    "CIDR[,CIDR], e.g. 172.18.0.0/16"),
		ZH_OPT_STR("masquerade-dev", 0, &o->masq_dev),
		ZH_OPT_FUNC("masquerade-ports", 0, &o->masq, parse_masq_ports,
			    "LO-HI with 1024 <= LO <= HI <= 65535"),
		ZH_OPT_ENUM("snat-keep-port", 0, &keep_port, onoff, masq_vals,
			    2),
		ZH_OPT_ENUM("nodeport-mode", 0, &np_mode, np_modes,
			    np_mode_vals, 2),
		ZH_OPT_ENUM("uplink-xdp", 0, &o->uplink_xdp, uplink_xdp_names,
			    uplink_xdp_vals, 3),
		ZH_OPT_ENUM("probes", 0, &o->cfg.flags, onoff, probes, 2),
		ZH_OPT_FUNC("sample", 0, &o->cfg.sample_every, parse_sample,
			    want_sample),
		ZH_OPT_STR("services", 's', &o->services),
		ZH_OPT_FLAG("kubernetes", 0, &o->kubernetes),
		ZH_OPT_STR("k8s-api", 0, &o->kube.api),
		ZH_OPT_STR("kubeconfig", 0, &o->kube.kubeconfig),
		ZH_OPT_STR("node-name", 0, &o->kube.node),
		ZH_OPT_STR("cni-conf-dir", 0, &o->kube.cni_conf_dir),
		ZH_OPT_ENUM("cni-datapath", 0, &o->datapath, datapaths,
			    datapath_vals, 2),
		ZH_OPT_UINT("cni-mtu", 0, &o->kube.cni_mtu, 576, 65535),
		ZH_OPT_STR("cni-afxdp", 0, &o->afxdp_text),
		ZH_OPT_ENUM("network-policy", 0, &o->kube.network_policy,
			    pol_modes, pol_mode_vals, 3),
		ZH_OPT_STR("network-policy-audit-ns", 0, &o->kube.audit_ns),
		ZH_OPT_UINT("maglev-slots", 0, &o->load.maglev_slots, 1,
			    1U << 30),
		ZH_OPT_FUNC("map-size", 0, &o->load, parse_map_size,
			    want_map_size),
		ZH_OPT_UINT("maglev-per-backend", 0, &o->cfg.maglev_per_backend,
			    1, 65536),
		ZH_OPT_FUNC("ct-gc-interval", 0, &o->gc, parse_ct_gc, want_gc),
		ZH_OPT_FUNC("xsk-socket", 0, &o->xsk_path, parse_xsk_socket,
			    "an absolute path shorter than 108 bytes, or none"),
		ZH_OPT_STR("nodes", 0, &o->nodes_file),
		ZH_OPT_ENUM("routing", 0, &o->routing, routings, routing_vals,
			    2),
		ZH_OPT_STR("uplink", 0, &o->uplink),
		ZH_OPT_UINT("vxlan-port", 0, &o->vxlan_port, 1, 65535),
		ZH_OPT_UINT("vxlan-vni", 0, &o->vni, 1, (1U << 24) - 1),
		ZH_OPT_ENUM("socket-lb", 0, &o->socket_lb, socklb_names,
			    socklb_vals, 3),
		ZH_OPT_STR("cgroup", 0, &o->cgroup),
		ZH_OPT_FLAG("cgroup-has-pods", 0, &o->cgroup_has_pods),
		ZH_OPT_COUNT("verbose", 'v', &o->verbose),
		ZH_OPT_HELP(&help),
		{},
	};
	const char *env;
	int next;

	*o = (struct agent_opts){
		.root = zh_pin_root_default(),
		.state_dir = zh_state_dir(),
		.interval = 10,
		.xsk_path = zh_xsk_socket_default(),
		.cfg = { .flags = ZH_CFG_F_PROBES,
			 .sample_every = ZH_SAMPLE_DEFAULT },
		.masq = { .port_min = ZH_SNAT_PORT_MIN,
			  .port_max = ZH_SNAT_PORT_MAX },
		.gc = { .auto_interval = true, .interval_s = ZH_CTGC_START_S },
	};
	/* The defaults of --socket-lb and --cgroup from the environment, as
	 * the pin root's: a test's agent keeps to its own cgroup. */
	env = getenv("ZEROHOP_SOCKET_LB");
	if (env && *env) {
		for (next = 0; next < 3 && strcmp(env, socklb_names[next]);)
			next++;
		if (next == 3) {
			fprintf(stderr,
				"zerohopd: ZEROHOP_SOCKET_LB=%s: not on, off or auto\n",
				env);
			return -EINVAL;
		}
		o->socket_lb = socklb_vals[next];
	}
	env = getenv("ZEROHOP_CGROUP");
	if (env && *env)
		o->cgroup = env;
	snprintf(want_sample, sizeof(want_sample), "a count 1..%u or off",
		 ZH_SAMPLE_MAX);
	snprintf(want_gc, sizeof(want_gc),
		 "auto, off, or seconds 0..%u (0: off)", CT_GC_MAX_S);
	snprintf(
		want_map_size, sizeof(want_map_size),
		"NAME=N[,NAME=N] with NAME one of services, backends, conntrack, affinity, maglev and N 1..%lu",
		1UL << 30);
	next = zh_params_parse(opts, argc, argv, err, sizeof(err));
	if (help) {
		usage(stdout);
		return 1;
	}
	if (next < 0) {
		fprintf(stderr, "zerohopd: %s\n", err);
		if (next != -EINVAL) /* getopt's complaint: the usage helps */
			usage(stderr);
		return next;
	}
	if (next < argc) {
		fprintf(stderr, "zerohopd: unexpected argument '%s'\n",
			argv[next]);
		usage(stderr);
		return -EINVAL;
	}
	o->xsk_asked = zh_params_given(opts, "xsk-socket") && o->xsk_path;
	o->sample_asked = zh_params_given(opts, "sample");
	o->masq.on = masq;
	o->masq.keep_port = keep_port;
	o->nodeport_dsr = np_mode;
	o->masq_asked = masq && zh_params_given(opts, "masquerade");
	return agent_parse_kube(o, opts, datapaths, hostname, sizeof(hostname));
}

/* What a running agent holds, opened by agent_run() in this order. */
struct agent {
	struct agent_opts o;
	int sfd; /* SIGTERM, SIGINT, SIGHUP */
	int nlfd; /* link events: a pod's veth gone sweeps at once; -1 none */
	struct zh_objs objs;
	int n_eps; /* endpoints found at start */
	struct zh_xsk_srv *xsk; /* NULL: no AF_XDP handoff */
	struct zh_kube *kube; /* NULL: no --kubernetes */
	struct zh_metrics *metrics; /* NULL: no --listen */
	struct zh_gc *gc; /* conntrack GC; NULL: --ct-gc-interval off */
	struct zh_release *release; /* leases of pods gone without DEL */
	/* Connected UDP sockets of removed backends: NULL where the kernel
	 * cannot destroy sockets. */
	struct zh_udpkill *udpkill;
	/* Attachments of another version's or build's programs left in
	 * place at start: they make Service flows without marking them in
	 * zh_svc_be, so the reverse lookups stay ungated. */
	int foreign_left;
};

/* The signals the loop takes, blocked first: every thread started later
 * (the metrics server's) inherits the mask and leaves them to us. */
static int signals_open(int *sfd)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	*sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (*sfd < 0) {
		int err = -errno;

		pr_warn("signalfd: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

/* At start and on SIGHUP; a bad file changes nothing. */
static int nodes_sync(const struct agent_opts *o, const struct zh_objs *objs)
{
	struct zh_node_set set;
	int rc;

	rc = nodes_load(o->nodes_file, &set);
	if (!rc)
		rc = zh_agent_nodes_apply(objs, &o->cluster, o->state_dir,
					  o->nodes_file, &set);
	zh_node_set_free(&set);
	return rc;
}

/*
 * The BPF objects, loaded (or the pins reused) under the pin lock, what
 * this kernel cannot serve refused, and the --services file programmed.
 * On failure nothing is left open.
 */
static int agent_load(struct agent *a)
{
	struct zh_svc_set svc_set = { 0 };
	struct agent_opts *o = &a->o;
	char feat_line[1024];
	struct zh_config cur;
	int lock, err;

	/* A bad services file at start is the operator's to fix: say so
	 * and stop before anything is loaded, rather than run without the
	 * services. */
	if (o->services) {
		err = services_load(o->services, &svc_set);
		if (err)
			return err;
	}
	if (o->nodes_file) {
		struct zh_node_set nodes;

		err = nodes_load(o->nodes_file, &nodes);
		zh_node_set_free(&nodes);
		if (err)
			goto err_services;
	}
	lock = zh_pin_lock(o->root);
	if (lock < 0) {
		pr_warn("cannot lock %s: %s\n", o->root, strerror(-lock));
		err = lock;
		goto err_services;
	}
	err = zh_objs_open(&a->objs, o->root, ZH_OBJS_LOAD, &o->load);
	/* Every reply looked up again until the end of the start: programs
	 * of another version or build (taken over below, or pinned while we
	 * were down) may have made flows that zh_svc_be does not know. */
	if (!err && zh_svc_rev_ungate(&a->objs))
		pr_warn("cannot clear the reverse lookups' gate in %s\n",
			ZH_MAP_CONFIG);
	/* Pods of another version or build: ours now. */
	if (!err)
		err = zh_agent_takeover(&a->objs, &o->load, &a->foreign_left);
	zh_pin_unlock(lock);
	if (err) {
		pr_warn("cannot load BPF objects: %s\n", a->objs.err);
		goto err_services;
	}
	/* What this kernel can do, in one line: each feature it lacks with
	 * what zerohop does instead (zerohopctl features has the table). */
	pr_info("%s %s\n", a->objs.probed ? "probed" : "pinned",
		zh_feat_summary(&a->objs.feat, feat_line, sizeof(feat_line)));
	err = agent_features(&a->objs, &o->cfg, o->sample_asked, &o->xsk_path,
			     o->xsk_asked);
	if (err)
		goto err_objs;
	/* Before the first apply: the table size it builds with. */
	if (o->cfg.maglev_per_backend && !zh_config_get(&a->objs, &cur)) {
		cur.maglev_per_backend = o->cfg.maglev_per_backend;
		err = zh_config_set(&a->objs, &cur);
		if (err)
			pr_warn("cannot write %s: %s\n", ZH_MAP_CONFIG,
				strerror(-err));
	}
	/* Before the first apply: the backends it removes are swept too. */
	a->udpkill = zh_udpkill_start(&a->objs);
	if (!a->udpkill && errno)
		pr_warn("cannot start the socket sweep thread: %s; connected UDP sockets keep a removed backend\n",
			strerror(errno));
	if (o->services) {
		err = zh_agent_services_apply(&a->objs, o->services, &svc_set);
		if (err)
			goto err_objs;
	}
	a->n_eps = 0;
	zh_iface_foreach(&a->objs, count_cb, &a->n_eps);
	return 0;

err_objs:
	zh_udpkill_stop(a->udpkill);
	a->udpkill = NULL;
	zh_objs_close(&a->objs);
err_services:
	zh_svc_set_free(&svc_set); /* zh_agent_services_apply() freed it */
	return err;
}

/* Where the kernel cannot carry the cross-node fast path, say so once:
 * the kernel's routes carry those packets instead (the programs leave
 * the missing parts out by themselves). */
static void cluster_features(const struct zh_objs *objs,
			     const struct zh_cluster_conf *c)
{
	enum zh_use use = c->routing == ZH_ROUTING_VXLAN ? ZH_USE_VXLAN :
							   ZH_USE_NATIVE;
	int missing = zh_use_missing(&objs->feat, use);

	if (missing >= 0)
		pr_info("%s off: this kernel lacks %s (%s); the kernel's routes to the other nodes carry pods' packets\n",
			zh_use_name(use), zh_feat_name(missing),
			zh_feat_doc(missing)->what);
	else
		pr_info("routing %s: %s on\n", zh_routing_name(c->routing),
			zh_use_name(use));
}

/*
 * ZH_CFG_F_SOCK_PODS (zh_abi.h): on when the hooks in @mask translate
 * connect() and sendmsg() of both families on the root of the cgroup v2
 * hierarchy (the default, or --cgroup naming it, as the DaemonSet's
 * /host/sys/fs/cgroup does; a container's own /sys/fs/cgroup is no root),
 * or on --cgroup DIR with --cgroup-has-pods, so that no pod's
 * socket reaches the per-packet path with a Service address; off
 * otherwise (0: off). Set after the hooks are attached, cleared before
 * they go.
 */
static void socklb_pods(struct agent *a, unsigned int mask)
{
	const unsigned int all =
		1U << ZH_SOCK_CONNECT4 | 1U << ZH_SOCK_CONNECT6 |
		1U << ZH_SOCK_SENDMSG4 | 1U << ZH_SOCK_SENDMSG6;
	bool on;

	on = (mask & all) == all &&
	     (zh_socklb_attached(a->objs.dir, NULL) & all) == all &&
	     (a->o.cgroup_has_pods || zh_cgroup2_is_root(a->o.cgroup));
	if (zh_svc_sock_pods(&a->objs, on))
		pr_warn("cannot write %s\n", ZH_MAP_CONFIG);
	else if (mask)
		pr_info("socket-level LB %s every pod's sockets: %s\n",
			on ? "covers" : "does not cover",
			on ? "pods' packets are looked up as Service requests only to the Service CIDRs" :
			     "pods' packets to any Service address are balanced per packet too");
}

/*
 * Socket-level load balancing as --socket-lb asks: on (refused where it
 * cannot be), off (ours detached, if it was there), auto (on, else off
 * with the reason). Under the pin lock: the links are pins.
 */
/*
 * --nodeport-mode dsr: can this kernel do it? The reply leaves the backend's
 * node by bpf_redirect_neigh(), and what the option makes too big is told
 * by bpf_check_mtu() (lb_dsr.h); without either, SNAT, said once.
 */
static bool agent_dsr(struct agent *a)
{
	static bool said;
	const char *why;

	if (!a->o.nodeport_dsr)
		return false;
	why = zh_dsr_missing(&a->objs.feat);
	if (!said) {
		said = true;
		if (why)
			pr_warn("--nodeport-mode dsr: %s: NodePorts to other nodes' backends are SNATed\n",
				why);
		else
			pr_info("NodePorts to other nodes' backends: direct server return\n");
	}
	return !why;
}

static int agent_socklb(struct agent *a)
{
	const struct agent_opts *o = &a->o;
	char why[320], hooks[128] = "";
	int missing, mask = -1, lock, n;
	size_t off = 0;

	lock = zh_pin_lock(o->root);
	if (lock < 0) {
		pr_warn("cannot lock %s: %s\n", o->root, strerror(-lock));
		return lock;
	}
	if (o->socket_lb == SOCKLB_OFF) {
		/* The pods' packets to any Service address are balanced per
		 * packet again before the hooks go. */
		socklb_pods(a, 0);
		n = zh_socklb_detach(&a->objs);
		zh_pin_unlock(lock);
		pr_info("socket-level load balancing off (--socket-lb off)%s\n",
			n ? ": our cgroup programs detached" : "");
		return 0;
	}
	missing = zh_use_missing(&a->objs.feat, ZH_USE_SOCKLB);
	if (missing >= 0)
		snprintf(why, sizeof(why), "this kernel lacks %s (%s)",
			 zh_feat_name(missing), zh_feat_doc(missing)->what);
	else
		mask = zh_socklb_attach(&a->objs, o->cgroup, why, sizeof(why));
	if (mask < 0) {
		socklb_pods(a, 0);
		zh_socklb_detach(&a->objs);
		zh_pin_unlock(lock);
		if (o->socket_lb == SOCKLB_ON) {
			pr_warn("--socket-lb on: socket-level load balancing cannot work here: %s\n",
				why);
			return -EOPNOTSUPP;
		}
		pr_info("socket-level load balancing off, Services by the per-packet path alone (pods only): %s\n",
			why);
		return 0;
	}
	socklb_pods(a, (unsigned int)mask);
	zh_pin_unlock(lock);
	for (int h = 0; h < ZH_SOCK_HOOKS && off < sizeof(hooks); h++)
		if (mask >> h & 1)
			off += (size_t)snprintf(hooks + off,
						sizeof(hooks) - off, "%s%s",
						off ? " " : "",
						zh_sock_hook_name(h));
	pr_info("socket-level load balancing on %s: %s%s\n",
		o->cgroup ? o->cgroup : "the cgroup v2 root", hooks,
		zh_kfeat_has(&a->objs.feat, ZH_FEAT_SOCK_SET_RETVAL) ?
			"" :
			"; a Service without endpoints fails connect() with EPERM (no bpf_set_retval)");
	if (!(mask >> ZH_SOCK_RELEASE & 1))
		pr_info("socket-level LB without sock_release: %s; each connected UDP socket's first recvmsg() with an address (and first getpeername()) copies its record into %s\n",
			a->objs.sock_release_fd < 0 ?
				"this kernel does not load " ZH_PROG_SOCK_RELEASE
				" (cgroup sock_release: 5.9; BPF_CMPXCHG: 5.12)" :
				"its attachment failed (logged above)",
			ZH_MAP_SOCK_REV);
	return 0;
}

/*
 * The reverse lookups gated on zh_svc_be (zh_abi.h), once every Service
 * flow in zh_ct is marked there and only this build's programs run: they
 * mark every flow they make. Else every reply is looked up, as before.
 */
static void agent_rev_gate(struct agent *a)
{
	size_t marked = 0;
	int err;

	if (a->foreign_left) {
		pr_info("every reply to a pod is looked up in %s: %d attachment(s) of another build's programs still run\n",
			ZH_MAP_CT, a->foreign_left);
		return;
	}
	err = zh_svc_rev_gate(&a->objs, &marked);
	if (err)
		pr_warn("every reply to a pod is looked up in %s: marking its flows' backends in %s: %s\n",
			ZH_MAP_CT, ZH_MAP_SVC_BE, strerror(-err));
	else
		pr_info("replies looked up in %s only from the backends of its %zu flow(s) and those made from now on\n",
			ZH_MAP_CT, marked);
}

/*
 * Last of the start: NodePort uplinks, the node's addresses and our
 * fields of the datapath's configuration, so that an agent that failed
 * to start changes nothing. Only the latency and Service CIDR fields
 * are ours.
 */
static int agent_configure(struct agent *a)
{
	const struct agent_opts *o = &a->o;
	bool attach = false;
	struct zh_config cur;
	int err;

	if (o->nodeport_devs) {
		err = attach_uplinks(&a->objs, o->nodeport_devs, o->uplink_xdp);
		if (err)
			return err;
	}
	err = masq_plan(o->nodeport_devs, o->masq_dev, &a->o.masq, &attach);
	if (err)
		return err;
	/* A masquerade uplink that is no NodePort's takes the replies too. */
	if (o->masq.on && attach) {
		err = attach_uplinks(&a->objs, o->masq_dev, o->uplink_xdp);
		if (err)
			return err;
	}
	a->o.masq.n_service = 0;
	if (o->cfg.svc_cidr4_len) {
		struct zh_addr *s = &a->o.masq.service[a->o.masq.n_service++];

		s->family = AF_INET;
		s->v4.s_addr = o->cfg.svc_cidr4;
		s->prefix = o->cfg.svc_cidr4_len;
	}
	if (o->cfg.svc_cidr6_len) {
		struct zh_addr *s = &a->o.masq.service[a->o.masq.n_service++];

		s->family = AF_INET6;
		memcpy(&s->v6, o->cfg.svc_cidr6, sizeof(s->v6));
		s->prefix = o->cfg.svc_cidr6_len;
	}
	/* The node table (the Kubernetes thread's, maybe already) completes
	 * it: masq_nodes(). */
	pthread_mutex_lock(&masq_st.mu);
	masq_st.conf = o->masq;
	masq_st.want = o->masq.on;
	masq_st.asked = o->masq_asked;
	masq_st.table = o->nodes_file || o->kubernetes;
	masq_st.objs = &a->objs;
	err = masq_update(true);
	pthread_mutex_unlock(&masq_st.mu);
	if (err)
		return err;
	sync_node_addrs(&a->objs);
	if (o->nodes_file || o->kubernetes)
		cluster_features(&a->objs, &o->cluster);
	if (o->nodes_file) {
		err = nodes_sync(o, &a->objs);
		if (err)
			return err;
	}
	err = agent_socklb(a);
	if (err)
		return err;
	agent_rev_gate(a);
	err = zh_config_get(&a->objs, &cur);
	if (!err) {
		cur.flags = (cur.flags &
			     ~(ZH_CFG_F_PROBES | ZH_CFG_F_NODEPORT_DSR)) |
			    o->cfg.flags;
		if (agent_dsr(a))
			cur.flags |= ZH_CFG_F_NODEPORT_DSR;
		cur.sample_every = o->cfg.sample_every;
		cur.svc_cidr4 = o->cfg.svc_cidr4;
		cur.svc_cidr4_len = o->cfg.svc_cidr4_len;
		memcpy(cur.svc_cidr6, o->cfg.svc_cidr6, sizeof(cur.svc_cidr6));
		cur.svc_cidr6_len = o->cfg.svc_cidr6_len;
		err = zh_config_set(&a->objs, &cur);
	}
	if (err)
		pr_warn("cannot write %s: %s\n", ZH_MAP_CONFIG, strerror(-err));
	/* again, with the Service CIDR now in zh_config */
	sync_node_addrs(&a->objs);
	pr_info("%s BPF objects in %s; %d endpoint(s); latency probes %s, sampling %s%.0u; AF_XDP sockets on %s; ready\n",
		a->objs.loaded ? "loaded and pinned" : "reusing pinned",
		a->objs.dir, a->n_eps, o->cfg.flags ? "on" : "off",
		o->cfg.sample_every ? "1 in " : "off", o->cfg.sample_every,
		o->xsk_path ? o->xsk_path : "(none)");
	return 0;
}

/*
 * Until SIGTERM or SIGINT: sweep every interval, take AF_XDP handoffs,
 * and on SIGHUP sweep and apply the services file again. A failed poll()
 * ends it too, as a signal does.
 */
static void agent_loop(struct agent *a)
{
	const struct agent_opts *o = &a->o;

	for (__u64 next = now_ms() + o->interval * 1000ULL;;) {
		struct pollfd pfd[3] = {
			{ .fd = a->sfd, .events = POLLIN },
			{ .fd = a->xsk ? zh_xsk_srv_fd(a->xsk) : -1,
			  .events = POLLIN },
			{ .fd = a->nlfd, .events = POLLIN },
		};
		struct signalfd_siginfo si;
		__u64 now = now_ms();
		int r = poll(pfd, 3,
			     !o->interval ? -1 :
			     next > now	  ? (int)(next - now) :
					    0);

		if (r < 0 && errno != EINTR) {
			pr_warn("poll: %s\n", strerror(errno));
			return;
		}
		if (r > 0 && (pfd[1].revents & POLLIN))
			zh_xsk_srv_process(a->xsk);
		/* A pod gone without DEL: its veth went with its netns. */
		if (r > 0 && (pfd[2].revents & POLLIN) &&
		    zh_nl_link_monitor_read(a->nlfd) > 0)
			reconcile(&a->objs, a->release);
		if (o->interval && now_ms() >= next) {
			reconcile(&a->objs, a->release);
			sync_node_addrs(&a->objs);
			masq_refresh();
			next = now_ms() + o->interval * 1000ULL;
		}
		if (r <= 0 || !(pfd[0].revents & POLLIN))
			continue;
		if (read(a->sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			reconcile(&a->objs, a->release);
			sync_node_addrs(&a->objs);
			masq_refresh();
			/* A bad file changes nothing: the agent goes on. */
			if (o->services)
				services_reload(&a->objs, o->services);
			if (o->nodes_file && nodes_sync(o, &a->objs))
				pr_warn("nodes: keeping the node table as it is\n");
			continue;
		}
		pr_info("signal %u: exiting; pins stay in %s\n", si.ssi_signo,
			a->objs.dir);
		return;
	}
}

/*
 * NetworkPolicy's mode into zh_pol_state (pol_maps.h). On or audit: new
 * pods are pending from now on, and what the pins hold keeps enforcing
 * until the first compile replaces it. Off: nothing is judged, the policy
 * maps are emptied. On needs zh_tc_to_pod (what the kernel delivers into
 * a pod): without it, the agent does not start.
 */
static int policy_mode(struct agent *a)
{
	int mode = a->o.kube.network_policy, lock, err;

	if (a->objs.pol_state_fd < 0)
		return 0;
	if (mode != ZH_POL_MODE_OFF && a->objs.tc_to_pod_fd < 0) {
		pr_warn("--network-policy: this kernel cannot run %s (zerohopctl features)\n",
			ZH_PROG_TC_TO_POD);
		return -EOPNOTSUPP;
	}
	lock = zh_pin_lock(a->objs.root);
	if (lock < 0)
		return lock;
	err = zh_pol_maps_mode(&a->objs, (__u32)mode);
	zh_pin_unlock(lock);
	if (err)
		pr_warn("cannot set the NetworkPolicy mode: %s\n",
			strerror(-err));
	return err;
}

/* The conntrack GC's thread (gc.h), unless --ct-gc-interval off. */
static int agent_gc(struct agent *a)
{
	struct zh_gc_opts g = a->o.gc;

	if (!g.interval_s) {
		pr_info("conntrack GC off (--ct-gc-interval off): dead %s entries stay until the LRU evicts them\n",
			ZH_MAP_CT);
		zh_gc_off(a->o.state_dir);
		return 0;
	}
	g.state_dir = a->o.state_dir;
	a->gc = zh_gc_start(&a->objs, &g);
	if (!a->gc) {
		int err = -errno;

		pr_warn("cannot start the conntrack GC: %s\n", strerror(-err));
		return err;
	}
	if (g.auto_interval)
		pr_info("conntrack GC: %s swept at once, then every %u-%u s as it fills and empties (--ct-gc-interval auto)\n",
			ZH_MAP_CT, ZH_CTGC_MIN_S, ZH_CTGC_MAX_S);
	else
		pr_info("conntrack GC: %s swept at once, then every %u s\n",
			ZH_MAP_CT, g.interval_s);
	return 0;
}

/*
 * Start every part, serve until a signal, stop. Stopping is undoing the
 * start: the end of a run falls through the same labels as a start that
 * failed half way, newest part first. The pins stay.
 */
static int agent_run(struct agent *a)
{
	struct agent_opts *o = &a->o;
	int err;

	err = signals_open(&a->sfd);
	if (err)
		return err;
	/* Without it the periodic sweep still finds gone pods: a warning. */
	a->nlfd = zh_nl_link_monitor_open();
	if (a->nlfd < 0)
		pr_warn("link events: %s; gone pods wait for the sweep\n",
			strerror(-a->nlfd));
	err = agent_load(a);
	if (err)
		goto err_signalfd;
	a->release = zh_release_start(o->state_dir, o->root);
	if (!a->release) {
		err = -errno;
		pr_warn("cannot start the release thread: %s\n",
			strerror(errno));
		goto err_objs;
	}
	if (o->xsk_path) {
		err = zh_xsk_srv_open(&a->xsk, o->xsk_path, &a->objs);
		if (err) {
			pr_warn("cannot listen for AF_XDP sockets on %s: %s\n",
				o->xsk_path, strerror(-err));
			goto err_release;
		}
	}
	err = policy_mode(a);
	if (err)
		goto err_xsk;
	/* After signals_open(): the threads inherit the mask. */
	if (o->kubernetes) {
		err = zh_kube_start(&a->kube, &o->kube, &a->objs);
		if (err)
			goto err_xsk;
	}
	err = agent_gc(a);
	if (err)
		goto err_kube;
	if (o->listen_addr) {
		a->metrics = zh_metrics_start(o->listen_addr, &a->objs, a->xsk,
					      a->kube, a->gc);
		if (!a->metrics) {
			err = errno ? -errno : -EIO; /* it said why */
			goto err_gc;
		}
	}
	err = agent_configure(a);
	if (err)
		goto err_metrics;

	agent_loop(a);
	err = 0;

err_metrics:
	zh_metrics_stop(a->metrics); /* no scrape may use the fds below */
err_gc:
	zh_gc_stop(a->gc); /* within a slice */
err_kube:
	zh_kube_stop(a->kube);
err_xsk:
	zh_xsk_srv_close(a->xsk); /* every registration ends with its slot */
err_release:
	zh_release_stop(a->release); /* a release under way ends first */
err_objs:
	/* After every thread that applies Services (the watch's). */
	zh_udpkill_stop(a->udpkill);
	zh_objs_close(&a->objs);
err_signalfd:
	if (a->nlfd >= 0)
		close(a->nlfd);
	close(a->sfd);
	return err;
}

/* Only here do errors become exit codes: 0, 1 failed, 2 bad usage. */
int main(int argc, char **argv)
{
	static struct agent a;
	int rc;

	rc = agent_parse(argc, argv, &a.o);
	if (rc)
		return rc > 0 ? 0 : 2;
	zh_log_set_prefix("zerohopd");
	zh_log_set_level(a.o.verbose ? ZH_LOG_DEBUG : ZH_LOG_INFO);
	zh_log_hook_libs();
	zh_bpffs_allow_mount(); /* the agent may; the plugin may not */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		pr_warn("cannot initialise libcurl\n");
		return 1;
	}
	rc = agent_run(&a) ? 1 : 0;
	curl_global_cleanup();
	json_decref(a.o.kube.cni_afxdp);
	return rc;
}
