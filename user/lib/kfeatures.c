// SPDX-License-Identifier: Apache-2.0
/*
 * kfeatures.c - probe the kernel features zerohop uses (kfeatures.h).
 *
 * Three kinds of probe, each trusting only whether the kernel accepted:
 *   - maps: create one map of every type the datapath uses;
 *   - helpers, per program type: load one program of zh_feat.bpf.c;
 *   - attachments (tcx, clsact, native XDP on veth, AF_XDP): a thread
 *     moves into a network namespace of its own, makes a veth pair there
 *     and attaches minimal programs and a socket to it; the namespace and
 *     all in it go away when the thread leaves it.
 */
#define _GNU_SOURCE /* unshare() */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kfeatures.h"
#include "log.h"
#include "nl.h"
#include "zh_feat.skel.h"

/* enum bpf_attach_type value since 6.6; Debian 12's uapi headers predate it */
#define ZH_BPF_TCX_INGRESS 46

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const feat_names[ZH_FEAT_MAX] = {
#define ZH_FEAT_NAME(id, name) [ZH_FEAT_##id] = name,
	ZH_FEATURES(ZH_FEAT_NAME)
#undef ZH_FEAT_NAME
};

const char *zh_feat_name(int id)
{
	return id >= 0 && id < ZH_FEAT_MAX ? feat_names[id] : NULL;
}

int zh_feat_by_name(const char *name, size_t len)
{
	for (int i = 0; i < ZH_FEAT_MAX; i++)
		if (strlen(feat_names[i]) == len &&
		    !strncmp(feat_names[i], name, len))
			return i;
	return -ENOENT;
}

/* Shared wording of the helper rows. */
#define ALL_TC "every tc program"
#define ALL_XDP "every XDP program"
#define REJECT_TC "ICMP errors for a Service without endpoints (tc)"
#define REJECT_FALLBACK "such a request is dropped, without an ICMP error"
#define SAMPLING "latency sampling (--sample)"
#define SAMPLING_FALLBACK "only probe datagrams are timed; --sample is refused"
#define VERIFIER "this kernel's verifier accepts "
#define SOCKLB "socket-level load balancing (--socket-lb)"
#define SOCKLB_FALLBACK "Services by the per-packet path alone (pods only)"

static const struct zh_feat_doc docs[ZH_FEAT_MAX] = {
	[ZH_FEAT_MAPS] = { "hash, array, per-CPU array, LRU hash, mmapable array and LPM trie maps",
			   "every program", NULL, "5.5" },
	[ZH_FEAT_TCX] = { "tcx: a program on a device's tc ingress without a qdisc",
			  "tc programs on host veths, pod veths and uplinks",
			  "a clsact qdisc with a cls_bpf filter (tc_clsact)",
			  "6.6" },
	[ZH_FEAT_TC_CLSACT] = { "clsact qdisc with a direct-action cls_bpf filter",
				"tc programs where tcx is missing", NULL,
				"4.5" },
	[ZH_FEAT_XDP_VETH] = { "native (driver mode) XDP on a veth",
			       "datapath xdp, AF_XDP pods, XDP on a veth uplink",
			       NULL, "4.19" },
	[ZH_FEAT_AFXDP] = { "an AF_XDP socket bound to a veth queue, in an XSKMAP",
			    "AF_XDP pods (afxdp), the agent's socket handoff",
			    NULL, "4.18" },
	[ZH_FEAT_XDP_META] = { "XDP metadata: bpf_xdp_adjust_meta in XDP, data_meta in tc",
			       "datapath xdp: XDP marks what it hands to tc",
			       "the tc entry classifies again what XDP passed",
			       "4.15" },
	[ZH_FEAT_TC_MAP_LOOKUP_ELEM] = { "bpf_map_lookup_elem in tc", ALL_TC,
					 NULL, "4.1" },
	[ZH_FEAT_TC_MAP_UPDATE_ELEM] = { "bpf_map_update_elem in tc",
					 "conntrack, latency stamps (tc)", NULL,
					 "4.1" },
	[ZH_FEAT_TC_MAP_DELETE_ELEM] = { "bpf_map_delete_elem in tc",
					 "latency stamps (tc)", NULL, "4.1" },
	[ZH_FEAT_TC_KTIME_GET_NS] = { "bpf_ktime_get_ns in tc",
				      "conntrack ages, latency (tc)", NULL,
				      "4.1" },
	[ZH_FEAT_TC_GET_PRANDOM_U32] = { "bpf_get_prandom_u32 in tc", SAMPLING,
					 SAMPLING_FALLBACK, "4.1" },
	[ZH_FEAT_TC_CSUM_DIFF] = { "bpf_csum_diff in tc",
				   "Service NAT, ICMP errors (tc)", NULL,
				   "4.6" },
	[ZH_FEAT_TC_CSUM_UPDATE] = { "bpf_csum_update in tc",
				     "IPv6 hop limit on CHECKSUM_COMPLETE skbs",
				     NULL, "4.9" },
	[ZH_FEAT_TC_CSUM_LEVEL] = { "bpf_csum_level in tc", REJECT_TC,
				    REJECT_FALLBACK, "5.7" },
	[ZH_FEAT_TC_L3_CSUM_REPLACE] = { "bpf_l3_csum_replace in tc",
					 "Service NAT (tc)", NULL, "4.1" },
	[ZH_FEAT_TC_L4_CSUM_REPLACE] = { "bpf_l4_csum_replace in tc",
					 "Service NAT (tc)", NULL, "4.1" },
	[ZH_FEAT_TC_SKB_STORE_BYTES] = { "bpf_skb_store_bytes in tc",
					 "Service NAT, ICMP errors (tc)", NULL,
					 "4.1" },
	[ZH_FEAT_TC_SKB_LOAD_BYTES] = { "bpf_skb_load_bytes in tc", REJECT_TC,
					REJECT_FALLBACK, "4.5" },
	[ZH_FEAT_TC_SKB_PULL_DATA] = { "bpf_skb_pull_data in tc",
				       "zh_tc_from_pod, zh_tc_uplink", NULL,
				       "4.9" },
	[ZH_FEAT_TC_SKB_CHANGE_TAIL] = { "bpf_skb_change_tail in tc", REJECT_TC,
					 REJECT_FALLBACK, "4.9" },
	[ZH_FEAT_TC_REDIRECT] = { "bpf_redirect in tc",
				  "delivery by the tc entries", NULL, "4.4" },
	[ZH_FEAT_TC_REDIRECT_PEER] = { "bpf_redirect_peer in tc",
				       "delivery into a pod (tc), past its veth's RX",
				       "out of the pod's host veth, through its veth's RX",
				       "5.10" },
	[ZH_FEAT_TC_REDIRECT_NEIGH] = { "bpf_redirect_neigh in tc",
					"NodePort replies from local backends, source NAT (masquerade, NodePorts to other nodes)",
					NULL, "5.10" },
	[ZH_FEAT_XDP_MAP_LOOKUP_ELEM] = { "bpf_map_lookup_elem in XDP", ALL_XDP,
					  NULL, "4.8" },
	[ZH_FEAT_XDP_MAP_UPDATE_ELEM] = { "bpf_map_update_elem in XDP",
					  "conntrack, latency stamps (XDP)",
					  NULL, "4.8" },
	[ZH_FEAT_XDP_MAP_DELETE_ELEM] = { "bpf_map_delete_elem in XDP",
					  "latency stamps (XDP)", NULL, "4.8" },
	[ZH_FEAT_XDP_KTIME_GET_NS] = { "bpf_ktime_get_ns in XDP",
				       "conntrack ages, latency (XDP)", NULL,
				       "4.8" },
	[ZH_FEAT_XDP_GET_PRANDOM_U32] = { "bpf_get_prandom_u32 in XDP",
					  SAMPLING, SAMPLING_FALLBACK, "4.8" },
	[ZH_FEAT_XDP_CSUM_DIFF] = { "bpf_csum_diff in XDP",
				    "Service NAT, ICMP errors (XDP)", NULL,
				    "4.8" },
	[ZH_FEAT_XDP_REDIRECT] = { "bpf_redirect in XDP",
				   "delivery by the XDP entries", NULL,
				   "4.14" },
	[ZH_FEAT_XDP_REDIRECT_MAP] = { "bpf_redirect_map into an XSKMAP in XDP",
				       "steering into AF_XDP sockets", NULL,
				       "4.18" },
	[ZH_FEAT_XDP_ADJUST_TAIL] = { "bpf_xdp_adjust_tail in XDP",
				      "ICMP errors for a Service without endpoints (XDP)",
				      REJECT_FALLBACK, "4.18" },
	[ZH_FEAT_TC_CHECK_MTU] = { "bpf_check_mtu in tc: is the target veth there",
				   "a frame to a pod gone without DEL counted as drop_redirect_failed (tc)",
				   "it counts as a redirect, and the kernel drops it",
				   "5.12" },
	[ZH_FEAT_XDP_CHECK_MTU] = { "bpf_check_mtu in XDP: is the target veth there",
				    "a frame to a pod gone without DEL counted as drop_redirect_failed (XDP)",
				    "it counts as a redirect, and the kernel drops it",
				    "5.12" },
	[ZH_FEAT_TC_FIB_LOOKUP] = { "bpf_fib_lookup in tc",
				    "pods to other nodes: the route and MACs from the FIB (tc)",
				    "bpf_redirect_neigh toward the node's address",
				    "4.18" },
	[ZH_FEAT_TC_SET_TUNNEL_KEY] = { "bpf_skb_set_tunnel_key in tc",
					"routing vxlan: pods to other nodes through the VXLAN device",
					"the kernel's routes through the VXLAN device",
					"4.3" },
	/* The programs: refused only by a verifier that cannot prove them
	 * safe, whatever features it has (the load finds out). */
	[ZH_FEAT_PROG_TC_FROM_POD] = { VERIFIER "zh_tc_from_pod",
				       "every datapath: the host veth's entry",
				       NULL, "-" },
	[ZH_FEAT_PROG_XDP_FROM_POD] = { VERIFIER "zh_xdp_from_pod",
					"datapath xdp: the host veth's entry",
					NULL, "-" },
	[ZH_FEAT_PROG_XDP_POD] = { VERIFIER "zh_xdp_pod",
				   "datapath xdp: the pod veth's program", NULL,
				   "-" },
	[ZH_FEAT_PROG_XDP_POD_XSK] = { VERIFIER "zh_xdp_pod_xsk",
				       "AF_XDP pods: steering into sockets",
				       NULL, "-" },
	[ZH_FEAT_PROG_TC_POD] = { VERIFIER "zh_tc_pod",
				  "datapath tc: the pod veth's program", NULL,
				  "-" },
	[ZH_FEAT_PROG_TC_UPLINK] = { VERIFIER "zh_tc_uplink",
				     "NodePorts (--nodeport-dev)", NULL, "-" },
	[ZH_FEAT_PROG_XDP_UPLINK] = { VERIFIER "zh_xdp_uplink",
				      "NodePorts by XDP on the uplink",
				      "NodePorts by tc alone", "-" },
	[ZH_FEAT_PROG_TC_TUNNEL] = { VERIFIER "zh_tc_tunnel",
				     "routing vxlan: decapsulated packets straight into pods",
				     "the kernel routes them", "-" },
	[ZH_FEAT_SOCK_HELPERS] = { "map lookup and update, ktime, socket and netns cookies in a cgroup sock_addr program",
				   SOCKLB, SOCKLB_FALLBACK, "5.7" },
	[ZH_FEAT_SOCK_CONNECT] = { "cgroup connect4/connect6 programs", SOCKLB,
				   SOCKLB_FALLBACK, "4.17" },
	[ZH_FEAT_SOCK_SENDMSG] = { "cgroup UDP sendmsg4/sendmsg6 programs",
				   SOCKLB, SOCKLB_FALLBACK, "4.18" },
	[ZH_FEAT_SOCK_RECVMSG] = { "cgroup UDP recvmsg4/recvmsg6 programs",
				   SOCKLB, SOCKLB_FALLBACK, "5.2" },
	[ZH_FEAT_SOCK_GETPEERNAME] = { "cgroup getpeername4/getpeername6 programs",
				       "socket-level LB: getpeername() reports the Service",
				       "getpeername() reports the backend",
				       "5.8" },
	[ZH_FEAT_TC_SK_LOOKUP] = { "bpf_sk_lookup_tcp/udp and bpf_sk_release in tc",
				   "a SNATed NodePort flow keeps its client's port (no socket of the node owns it)",
				   "it takes a port of --masquerade-ports",
				   "4.20" },
	[ZH_FEAT_XDP_SK_LOOKUP] = { "bpf_sk_lookup_tcp/udp and bpf_sk_release in XDP",
				    "a SNATed NodePort flow keeps its client's port (the uplink's code is shared with XDP)",
				    "it takes a port of --masquerade-ports",
				    "5.2" },
	[ZH_FEAT_PROG_TC_TO_POD] = { VERIFIER "zh_tc_to_pod",
				     "NetworkPolicy on what the kernel delivers into a pod",
				     "zerohopd --network-policy on|audit refuses to start",
				     "-" },
	[ZH_FEAT_TC_VXLAN_ENCAP] = { "bpf_skb_adjust_room growing at the MAC layer with the VXLAN encap flags (ENCAP_L3_IPV4, L4_UDP, L2_ETH), shrinking without flags; bpf_get_hash_recalc (tested on a crafted frame)",
				     "routing vxlan: encapsulation in BPF, and decapsulation of non-GSO IPv4 packets",
				     "the kernel's VXLAN device encapsulates and decapsulates",
				     "5.12" },
	[ZH_FEAT_TC_VXLAN_DECAP] = { "bpf_skb_adjust_room shrinking with BPF_F_ADJ_ROOM_DECAP_L3_IPV4/6 (tested on a crafted frame)",
				     "routing vxlan: decapsulation in BPF of GSO packets and inner IPv6",
				     "the kernel's VXLAN device decapsulates those",
				     "6.3" },
	[ZH_FEAT_SOCK_SET_RETVAL] = { "bpf_set_retval in a cgroup connect program",
				      "socket-level LB: ECONNREFUSED for a Service without endpoints",
				      "connect() to it fails at once with EPERM",
				      "5.18" },
	[ZH_FEAT_PROG_SOCK_CONNECT4] = { VERIFIER "zh_sock_connect4", SOCKLB,
					 SOCKLB_FALLBACK, "-" },
	[ZH_FEAT_PROG_SOCK_CONNECT6] = { VERIFIER "zh_sock_connect6", SOCKLB,
					 SOCKLB_FALLBACK, "-" },
	[ZH_FEAT_PROG_SOCK_SENDMSG4] = { VERIFIER "zh_sock_sendmsg4", SOCKLB,
					 SOCKLB_FALLBACK, "-" },
	[ZH_FEAT_PROG_SOCK_SENDMSG6] = { VERIFIER "zh_sock_sendmsg6", SOCKLB,
					 SOCKLB_FALLBACK, "-" },
	[ZH_FEAT_PROG_SOCK_RECVMSG4] = { VERIFIER "zh_sock_recvmsg4", SOCKLB,
					 SOCKLB_FALLBACK, "-" },
	[ZH_FEAT_PROG_SOCK_RECVMSG6] = { VERIFIER "zh_sock_recvmsg6", SOCKLB,
					 SOCKLB_FALLBACK, "-" },
	[ZH_FEAT_PROG_SOCK_PEER4] = { VERIFIER "zh_sock_peer4",
				      "socket-level LB: getpeername() (IPv4)",
				      "getpeername() reports the backend",
				      "-" },
	[ZH_FEAT_KTIME_COARSE] = { "bpf_ktime_get_coarse_ns in tc and XDP",
				   "NetworkPolicy conntrack: a tick-granular clock, cheaper per packet",
				   "bpf_ktime_get_ns", "5.11" },
	[ZH_FEAT_PROG_SOCK_PEER6] = { VERIFIER "zh_sock_peer6",
				      "socket-level LB: getpeername() (IPv6)",
				      "getpeername() reports the backend",
				      "-" },
};

const struct zh_feat_doc *zh_feat_doc(int id)
{
	return id >= 0 && id < ZH_FEAT_MAX ? &docs[id] : NULL;
}

int zh_feat_parse_list(const char *list, __u64 *mask, char *err, size_t errlen)
{
	const char *p = list, *end;
	int id;

	*mask = 0;
	while (p && *p) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		size_t len = end - p;

		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		/* No bit: zh_feat_sock_release_disabled() reads it. */
		if (len == strlen(ZH_FEAT_SOCK_RELEASE_NAME) &&
		    !strncmp(p, ZH_FEAT_SOCK_RELEASE_NAME, len))
			len = 0;
		if (len) {
			id = zh_feat_by_name(p, len);
			if (id < 0) {
				snprintf(
					err, errlen,
					"unknown kernel feature \"%.*s\" (zerohopctl features lists them)",
					(int)(len > 64 ? 64 : len), p);
				return -EINVAL;
			}
			*mask |= 1ULL << id;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* --------------------------------------------------------------- probes */

/* libbpf's complaint about a program a probe expects may fail is no news:
 * heard at debug level only. */
static __attribute__((format(printf, 2, 0))) int
quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (zh_log_get_level() >= ZH_LOG_DEBUG)
		zh_vlog(ZH_LOG_DEBUG, fmt, ap);
	return 0;
}

static bool probe_maps(void)
{
	static const struct {
		enum bpf_map_type type;
		__u32 flags;
	} maps[] = {
		{ BPF_MAP_TYPE_HASH, 0 },
		{ BPF_MAP_TYPE_ARRAY, 0 },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, 0 },
		{ BPF_MAP_TYPE_LRU_HASH, 0 },
		{ BPF_MAP_TYPE_ARRAY, BPF_F_MMAPABLE },
	};

	for (size_t i = 0; i < ARRAY_SIZE(maps); i++) {
		struct bpf_map_create_opts o = { .sz = sizeof(o),
						 .map_flags = maps[i].flags };
		int fd = bpf_map_create(maps[i].type, "zh_probe", 4, 8, 1, &o);

		if (fd < 0) {
			pr_debug("probe: map type %d flags %#x: %s\n",
				 maps[i].type, maps[i].flags, strerror(errno));
			return false;
		}
		close(fd);
	}
	/* LPM tries (the node table) take a key of a prefix length and
	 * data, and no preallocation. */
	{
		struct bpf_map_create_opts o = {
			.sz = sizeof(o), .map_flags = BPF_F_NO_PREALLOC
		};
		int fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "zh_probe", 8, 4,
					1, &o);

		if (fd < 0) {
			pr_debug("probe: LPM trie: %s\n", strerror(errno));
			return false;
		}
		close(fd);
	}
	return true;
}

/* Load the programs of zh_feat.bpf.c named @a and @b (NULL: only @a), and
 * nothing else of it. */
static bool probe_progs(const char *a, const char *b)
{
	struct bpf_program *prog;
	struct zh_feat *skel;
	bool want_xsks = false;
	int err;

	skel = zh_feat__open();
	if (!skel)
		return false;
	bpf_object__for_each_program (prog, skel->obj) {
		const char *n = bpf_program__name(prog);
		bool on = !strcmp(n, a) || (b && !strcmp(n, b));

		bpf_program__set_autoload(prog, on);
		if (on && !strcmp(n, "xdp_redirect_map"))
			want_xsks = true;
	}
	bpf_map__set_autocreate(skel->maps.probe_xsks, want_xsks);
	err = zh_feat__load(skel);
	pr_debug("probe: %s%s%s: %s\n", a, b ? " + " : "", b ? b : "",
		 err ? strerror(-err) : "loads");
	zh_feat__destroy(skel);
	return !err;
}

/*
 * Load the program of zh_feat.bpf.c named @name alone and run it once on a
 * crafted Ethernet/IPv4/UDP frame (BPF_PROG_TEST_RUN): for a helper whose
 * flags are the feature, which only a call can tell. Present when it
 * returns 1.
 */
static bool probe_run(const char *name)
{
	unsigned char frame[128] = { 0 };
	struct bpf_test_run_opts o = { .sz = sizeof(o),
				       .data_in = frame,
				       .data_size_in = sizeof(frame),
				       .repeat = 1 };
	struct bpf_program *prog;
	struct zh_feat *skel;
	int err;

	frame[12] = 0x08; /* IPv4 */
	frame[14] = 0x45;
	frame[16] = 0; /* total length: all but the Ethernet header */
	frame[17] = sizeof(frame) - 14;
	frame[22] = 64; /* TTL */
	frame[23] = 17; /* UDP */
	frame[26] = 10; /* 10.0.0.1 -> 10.0.0.2 */
	frame[29] = 1;
	frame[30] = 10;
	frame[33] = 2;
	frame[36] = 0x20; /* ports 8192 -> 8472, length */
	frame[38] = 0x21;
	frame[39] = 0x18;
	frame[41] = sizeof(frame) - 34;
	skel = zh_feat__open();
	if (!skel)
		return false;
	bpf_object__for_each_program (prog, skel->obj) {
		const char *n = bpf_program__name(prog);

		bpf_program__set_autoload(prog, !strcmp(n, name));
	}
	bpf_map__set_autocreate(skel->maps.probe_xsks, false);
	err = zh_feat__load(skel);
	if (!err) {
		prog = bpf_object__find_program_by_name(skel->obj, name);
		err = prog ? bpf_prog_test_run_opts(bpf_program__fd(prog), &o) :
			     -ENOENT;
		if (!err && o.retval != 1)
			err = -EOPNOTSUPP;
	}
	pr_debug("probe: %s on a crafted frame: %s\n", name,
		 err ? strerror(err < 0 ? -err : err) : "works");
	zh_feat__destroy(skel);
	return !err;
}

/* "r0 = @ret; exit": enough of a program to attach. */
static int tiny_prog(enum bpf_prog_type type, int ret)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K,
		  .dst_reg = 0,
		  .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, "zh_probe", "Dual BSD/GPL", insns,
			     ARRAY_SIZE(insns), NULL);
}

static bool probe_tcx(int ifindex)
{
	int fd = tiny_prog(BPF_PROG_TYPE_SCHED_CLS, -1 /* TCX_NEXT */), err;

	if (fd < 0)
		return false;
	err = bpf_prog_attach(fd, ifindex, ZH_BPF_TCX_INGRESS, 0);
	pr_debug("probe: tcx attach: %s\n", err ? strerror(errno) : "ok");
	close(fd);
	return !err;
}

static bool probe_clsact(int ifindex)
{
	struct bpf_tc_hook hook = { .sz = sizeof(hook),
				    .ifindex = ifindex,
				    .attach_point = BPF_TC_INGRESS };
	struct bpf_tc_opts opts = { .sz = sizeof(opts),
				    .handle = 1,
				    .priority = 1 };
	int fd = tiny_prog(BPF_PROG_TYPE_SCHED_CLS, -1), err;

	if (fd < 0)
		return false;
	opts.prog_fd = fd;
	err = bpf_tc_hook_create(&hook);
	if (!err || err == -EEXIST)
		err = bpf_tc_attach(&hook, &opts);
	pr_debug("probe: clsact attach: %s\n", err ? strerror(-err) : "ok");
	close(fd);
	return !err;
}

static bool probe_xdp_veth(int ifindex)
{
	struct bpf_xdp_query_opts q = { .sz = sizeof(q) };
	int fd = tiny_prog(BPF_PROG_TYPE_XDP, XDP_PASS), err;

	if (fd < 0)
		return false;
	err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (!err)
		err = bpf_xdp_query(ifindex, XDP_FLAGS_DRV_MODE, &q);
	if (!err && q.attach_mode != XDP_ATTACHED_DRV)
		err = -EOPNOTSUPP;
	pr_debug("probe: native XDP on veth: %s\n",
		 err ? strerror(-err) : "ok");
	close(fd);
	return !err;
}

/* An AF_XDP socket with a small UMEM, bound (copy mode) to queue 0 of
 * @ifindex, inserted into an XSKMAP: everything an AF_XDP pod needs of
 * the kernel before its own process takes over. */
static bool probe_afxdp(int ifindex)
{
	const size_t frames = 16, frame = 4096, len = frames * frame;
	struct xdp_umem_reg reg = { .len = len, .chunk_size = frame };
	struct sockaddr_xdp sxdp = { .sxdp_family = AF_XDP,
				     .sxdp_ifindex = (__u32)ifindex,
				     .sxdp_queue_id = 0,
				     .sxdp_flags = XDP_COPY };
	int ring = (int)frames, map = -1, sock = -1, err = -1;
	void *umem = MAP_FAILED;
	__u32 key = 0;

	map = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "zh_probe", 4, 4, 1, NULL);
	if (map < 0)
		goto out;
	sock = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (sock < 0)
		goto out;
	umem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (umem == MAP_FAILED)
		goto out;
	reg.addr = (__u64)(unsigned long)umem;
	if (setsockopt(sock, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) ||
	    setsockopt(sock, SOL_XDP, XDP_UMEM_FILL_RING, &ring,
		       sizeof(ring)) ||
	    setsockopt(sock, SOL_XDP, XDP_UMEM_COMPLETION_RING, &ring,
		       sizeof(ring)) ||
	    setsockopt(sock, SOL_XDP, XDP_RX_RING, &ring, sizeof(ring)) ||
	    bind(sock, (struct sockaddr *)&sxdp, sizeof(sxdp)))
		goto out;
	err = bpf_map_update_elem(map, &key, &sock, BPF_ANY);
out:
	pr_debug("probe: AF_XDP: %s\n", err ? strerror(errno) : "ok");
	if (sock >= 0)
		close(sock);
	if (umem != MAP_FAILED)
		munmap(umem, len);
	if (map >= 0)
		close(map);
	return !err;
}

struct attach_probe {
	__u64 present;
	int err; /* the namespace or the veth could not be made */
};

#define PROBE_HOST "zhprobe0"
#define PROBE_PEER "zhprobe1"

/*
 * In a thread, so that the rest of the process never leaves its netns:
 * unshare() gives this thread a new one, which the kernel frees with the
 * veth pair, the attachments and the socket once the thread is gone.
 */
static void *attach_probes(void *arg)
{
	struct attach_probe *r = arg;
	int ifindex;

	if (unshare(CLONE_NEWNET)) {
		r->err = -errno;
		return NULL;
	}
	r->err = zh_nl_veth_add(PROBE_HOST, PROBE_PEER, -1, 1500);
	ifindex = (int)if_nametoindex(PROBE_HOST);
	if (r->err || !ifindex) {
		r->err = r->err ? r->err : -ENODEV;
		return NULL;
	}
	if (probe_tcx(ifindex))
		r->present |= ZH_FEAT_BIT(TCX);
	if (probe_clsact(ifindex))
		r->present |= ZH_FEAT_BIT(TC_CLSACT);
	if (probe_xdp_veth(ifindex))
		r->present |= ZH_FEAT_BIT(XDP_VETH);
	if (probe_afxdp(ifindex))
		r->present |= ZH_FEAT_BIT(AFXDP);
	return NULL;
}

bool zh_feat_sock_release_disabled(void)
{
	const char *p = getenv(ZH_DISABLE_FEATURES_ENV), *end;
	size_t len;

	while (p && *p) {
		end = p + strcspn(p, ",");
		p += strspn(p, " \t");
		len = end > p ? (size_t)(end - p) : 0;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == strlen(ZH_FEAT_SOCK_RELEASE_NAME) &&
		    !strncmp(p, ZH_FEAT_SOCK_RELEASE_NAME, len))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

bool zh_feat_sock_release(void)
{
	libbpf_print_fn_t old;
	bool ok;

	if (zh_feat_sock_release_disabled())
		return false;
	old = libbpf_set_print(quiet_print);
	ok = probe_progs("sock_release", NULL);
	libbpf_set_print(old);
	return ok;
}

#define ATTACH_FEATS                                                         \
	(ZH_FEAT_BIT(TCX) | ZH_FEAT_BIT(TC_CLSACT) | ZH_FEAT_BIT(XDP_VETH) | \
	 ZH_FEAT_BIT(AFXDP))
/* Answered by loading zh_fast itself (pin.c), present until refused. */
#define PROG_FEATS                                                           \
	(ZH_FEAT_BIT(PROG_TC_FROM_POD) | ZH_FEAT_BIT(PROG_XDP_FROM_POD) |    \
	 ZH_FEAT_BIT(PROG_XDP_POD) | ZH_FEAT_BIT(PROG_XDP_POD_XSK) |         \
	 ZH_FEAT_BIT(PROG_TC_POD) | ZH_FEAT_BIT(PROG_TC_UPLINK) |            \
	 ZH_FEAT_BIT(PROG_XDP_UPLINK) | ZH_FEAT_BIT(PROG_SOCK_CONNECT4) |    \
	 ZH_FEAT_BIT(PROG_SOCK_CONNECT6) | ZH_FEAT_BIT(PROG_SOCK_SENDMSG4) | \
	 ZH_FEAT_BIT(PROG_SOCK_SENDMSG6) | ZH_FEAT_BIT(PROG_SOCK_RECVMSG4) | \
	 ZH_FEAT_BIT(PROG_SOCK_RECVMSG6) | ZH_FEAT_BIT(PROG_SOCK_PEER4) |    \
	 ZH_FEAT_BIT(PROG_SOCK_PEER6) | ZH_FEAT_BIT(PROG_TC_TUNNEL) |        \
	 ZH_FEAT_BIT(PROG_TC_TO_POD))

int zh_feat_probe(struct zh_kfeat *f, char *err, size_t errlen)
{
	const char *env = getenv(ZH_DISABLE_FEATURES_ENV);
	char why[192];
	libbpf_print_fn_t old;
	struct attach_probe ap = {};
	struct utsname u;
	pthread_t t;
	int ret;

	memset(f, 0, sizeof(*f));
	if (env && zh_feat_parse_list(env, &f->disabled, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", ZH_DISABLE_FEATURES_ENV, why);
		return -EINVAL;
	}
	old = libbpf_set_print(quiet_print);
	f->present = PROG_FEATS;
	if (probe_maps())
		f->present |= ZH_FEAT_BIT(MAPS);
	for (int id = 0; id < ZH_FEAT_MAX; id++) {
		__u64 bit = 1ULL << id;

		if (id == ZH_FEAT_MAPS || (bit & (ATTACH_FEATS | PROG_FEATS)))
			continue;
		if (id == ZH_FEAT_TC_VXLAN_ENCAP ||
				    id == ZH_FEAT_TC_VXLAN_DECAP ?
			    probe_run(feat_names[id]) :
		    id == ZH_FEAT_XDP_META ?
			    probe_progs("xdp_meta", "xdp_meta_tc") :
		    id == ZH_FEAT_KTIME_COARSE ?
			    probe_progs("tc_ktime_coarse", "xdp_ktime_coarse") :
			    probe_progs(feat_names[id], NULL))
			f->present |= bit;
	}
	ret = pthread_create(&t, NULL, attach_probes, &ap);
	if (!ret)
		ret = pthread_join(t, NULL);
	libbpf_set_print(old);
	if (ret || ap.err) {
		snprintf(
			err, errlen,
			"cannot probe attachments in a network namespace of our own: %s",
			strerror(ret ? ret : -ap.err));
		return ret ? -ret : ap.err;
	}
	f->present |= ap.present;
	f->probed = ZH_FEAT_ALL;
	f->probed_at = (__u64)time(NULL);
	if (!uname(&u)) /* release is 65 bytes; a longer one is cut */
		snprintf(f->kernel, sizeof(f->kernel), "%.*s",
			 (int)sizeof(f->kernel) - 1, u.release);
	return 0;
}

/* ---------------------------------------------------------------- store */

static void feat_path(char *buf, size_t len, const char *dir)
{
	snprintf(buf, len, "%s/%s", dir, ZH_MAP_FEATURES);
}

int zh_feat_read(const char *dir, struct zh_kfeat *f)
{
	char path[512];
	__u32 zero = 0;
	int fd, err = 0;

	feat_path(path, sizeof(path), dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, f))
		err = -errno;
	close(fd);
	/* A set from a zerohop that knew fewer features is asked again. */
	if (!err && (f->probed & ZH_FEAT_ALL) != ZH_FEAT_ALL)
		err = -ENOENT;
	return err;
}

int zh_feat_write(const char *dir, const struct zh_kfeat *f)
{
	char path[512];
	__u32 zero = 0;
	int fd, err = 0;

	feat_path(path, sizeof(path), dir);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, ZH_MAP_FEATURES, sizeof(zero),
			    sizeof(*f), 1, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &zero, f, BPF_ANY))
		err = -errno;
	if (!err && unlink(path) && errno != ENOENT)
		err = -errno;
	if (!err && bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}

/* ------------------------------------------------- programs and uses */

#define F(id) ZH_FEAT_BIT(id)
/* What the tc (XDP) entries do: look up, count, write conntrack and
 * latency stamps, time; the pod-side ones read and take stamps out. */
#define TC_BASE \
	(F(TC_MAP_LOOKUP_ELEM) | F(TC_MAP_UPDATE_ELEM) | F(TC_KTIME_GET_NS))
#define XDP_BASE \
	(F(XDP_MAP_LOOKUP_ELEM) | F(XDP_MAP_UPDATE_ELEM) | F(XDP_KTIME_GET_NS))
#define TC_POD \
	(F(TC_MAP_LOOKUP_ELEM) | F(TC_MAP_DELETE_ELEM) | F(TC_KTIME_GET_NS))
#define XDP_POD \
	(F(XDP_MAP_LOOKUP_ELEM) | F(XDP_MAP_DELETE_ELEM) | F(XDP_KTIME_GET_NS))
/* Service NAT written through the skb helpers, and in place in XDP. */
#define TC_NAT                                                             \
	(F(TC_CSUM_DIFF) | F(TC_L3_CSUM_REPLACE) | F(TC_L4_CSUM_REPLACE) | \
	 F(TC_SKB_STORE_BYTES))
#define XDP_NAT F(XDP_CSUM_DIFF)
#define TC_REJECT \
	(F(TC_SKB_LOAD_BYTES) | F(TC_SKB_CHANGE_TAIL) | F(TC_CSUM_LEVEL))
#define SAMPLE (F(TC_GET_PRANDOM_U32) | F(XDP_GET_PRANDOM_U32))

const struct zh_prog_def zh_prog_defs[] = {
	{ ZH_PROG_TC_FROM_POD, ZH_FEAT_PROG_TC_FROM_POD,
	  TC_BASE | TC_NAT | F(TC_SKB_PULL_DATA) | F(TC_CSUM_UPDATE) |
		  F(TC_REDIRECT) | F(TC_MAP_DELETE_ELEM),
	  TC_REJECT | F(TC_GET_PRANDOM_U32) | F(TC_REDIRECT_PEER) |
		  F(TC_REDIRECT_NEIGH) | F(TC_CHECK_MTU) | F(TC_FIB_LOOKUP) |
		  F(TC_SET_TUNNEL_KEY) | F(TC_VXLAN_ENCAP) | F(KTIME_COARSE) },
	{ ZH_PROG_XDP_FROM_POD, ZH_FEAT_PROG_XDP_FROM_POD,
	  XDP_BASE | XDP_NAT | F(XDP_REDIRECT) | F(XDP_MAP_DELETE_ELEM),
	  F(XDP_ADJUST_TAIL) | F(XDP_GET_PRANDOM_U32) | F(XDP_META) |
		  F(XDP_CHECK_MTU) | F(KTIME_COARSE) },
	{ ZH_PROG_XDP_POD, ZH_FEAT_PROG_XDP_POD, XDP_POD | XDP_NAT, 0 },
	/* zh_xsks, an XSKMAP, is made only where AF_XDP works. Policy's
	 * conntrack (policy.h) before the sockets updates zh_pol_ct. */
	{ ZH_PROG_XDP_POD_XSK, ZH_FEAT_PROG_XDP_POD_XSK,
	  XDP_POD | XDP_NAT | F(XDP_REDIRECT_MAP) | F(AFXDP) |
		  F(XDP_MAP_UPDATE_ELEM),
	  F(KTIME_COARSE) },
	{ ZH_PROG_TC_POD, ZH_FEAT_PROG_TC_POD, TC_POD | TC_NAT, 0 },
	/* The FIB and the tunnel key: a SNATed NodePort request to a pod
	 * of another node leaves by the node path (verdict.h). */
	/* The socket lookup: a NodePort flow keeps its client's port
	 * (snat.h); built into both uplink entries, which share the code. */
	{ ZH_PROG_TC_UPLINK, ZH_FEAT_PROG_TC_UPLINK,
	  TC_BASE | TC_NAT | F(TC_SKB_PULL_DATA) | F(TC_CSUM_UPDATE) |
		  F(TC_REDIRECT) | F(TC_MAP_DELETE_ELEM),
	  TC_REJECT | F(TC_REDIRECT_PEER) | F(TC_CHECK_MTU) |
		  F(TC_GET_PRANDOM_U32) | F(TC_REDIRECT_NEIGH) |
		  F(TC_FIB_LOOKUP) | F(TC_SET_TUNNEL_KEY) | F(TC_SK_LOOKUP) |
		  F(TC_VXLAN_ENCAP) | F(TC_VXLAN_DECAP) | F(KTIME_COARSE) },
	{ ZH_PROG_XDP_UPLINK, ZH_FEAT_PROG_XDP_UPLINK,
	  XDP_BASE | XDP_NAT | F(XDP_REDIRECT) | F(XDP_MAP_DELETE_ELEM),
	  F(XDP_CHECK_MTU) | F(XDP_GET_PRANDOM_U32) | F(XDP_SK_LOOKUP) |
		  F(KTIME_COARSE) },
	/* The VXLAN device's ingress: decapsulated packets into pods (the
	 * uplink's code, whose SNAT branches it never takes there). */
	{ ZH_PROG_TC_TUNNEL, ZH_FEAT_PROG_TC_TUNNEL,
	  TC_BASE | TC_NAT | F(TC_SKB_PULL_DATA) | F(TC_CSUM_UPDATE) |
		  F(TC_REDIRECT) | F(TC_MAP_DELETE_ELEM),
	  TC_REJECT | F(TC_REDIRECT_PEER) | F(TC_CHECK_MTU) |
		  F(TC_GET_PRANDOM_U32) | F(TC_REDIRECT_NEIGH) |
		  F(TC_FIB_LOOKUP) | F(TC_SET_TUNNEL_KEY) | F(TC_VXLAN_ENCAP) |
		  F(TC_VXLAN_DECAP) | F(KTIME_COARSE) },
	/* Socket-level LB: the helpers of sock_addr programs stand together
	 * (sock_addr_helpers); the hook is a feature of its own. */
	{ ZH_PROG_SOCK_CONNECT4, ZH_FEAT_PROG_SOCK_CONNECT4,
	  F(SOCK_HELPERS) | F(SOCK_CONNECT), F(SOCK_SET_RETVAL) },
	{ ZH_PROG_SOCK_CONNECT6, ZH_FEAT_PROG_SOCK_CONNECT6,
	  F(SOCK_HELPERS) | F(SOCK_CONNECT), F(SOCK_SET_RETVAL) },
	{ ZH_PROG_SOCK_SENDMSG4, ZH_FEAT_PROG_SOCK_SENDMSG4,
	  F(SOCK_HELPERS) | F(SOCK_SENDMSG), F(SOCK_SET_RETVAL) },
	{ ZH_PROG_SOCK_SENDMSG6, ZH_FEAT_PROG_SOCK_SENDMSG6,
	  F(SOCK_HELPERS) | F(SOCK_SENDMSG), F(SOCK_SET_RETVAL) },
	{ ZH_PROG_SOCK_RECVMSG4, ZH_FEAT_PROG_SOCK_RECVMSG4,
	  F(SOCK_HELPERS) | F(SOCK_RECVMSG), 0 },
	{ ZH_PROG_SOCK_RECVMSG6, ZH_FEAT_PROG_SOCK_RECVMSG6,
	  F(SOCK_HELPERS) | F(SOCK_RECVMSG), 0 },
	{ ZH_PROG_SOCK_PEER4, ZH_FEAT_PROG_SOCK_PEER4,
	  F(SOCK_HELPERS) | F(SOCK_GETPEERNAME), 0 },
	{ ZH_PROG_SOCK_PEER6, ZH_FEAT_PROG_SOCK_PEER6,
	  F(SOCK_HELPERS) | F(SOCK_GETPEERNAME), 0 },
	{ ZH_PROG_TC_TO_POD, ZH_FEAT_PROG_TC_TO_POD,
	  TC_BASE | F(TC_MAP_DELETE_ELEM) | F(TC_SKB_PULL_DATA),
	  F(KTIME_COARSE) },
};
const size_t zh_prog_defs_n = ARRAY_SIZE(zh_prog_defs);

static int first_missing(const struct zh_kfeat *f, __u64 needs)
{
	__u64 lack = needs & ~(f->present & ~f->disabled);

	return lack ? __builtin_ctzll(lack) : -1;
}

int zh_prog_missing(const struct zh_kfeat *f, const char *prog)
{
	for (size_t i = 0; i < zh_prog_defs_n; i++)
		if (!strcmp(zh_prog_defs[i].name, prog))
			return first_missing(
				f, F(MAPS) | 1ULL << zh_prog_defs[i].feat |
					   zh_prog_defs[i].needs);
	return ZH_FEAT_MAPS; /* no such program: nothing can serve it */
}

static const struct {
	const char *name;
	const char *progs[6];
	__u64 needs;
	bool tc_attach;
} uses[ZH_USE_MAX] = {
	[ZH_USE_TC] = { "datapath tc",
			{ ZH_PROG_TC_FROM_POD, ZH_PROG_TC_POD },
			0,
			true },
	/* zh_tc_from_pod sits behind the XDP entry (a tc pod's frames). */
	[ZH_USE_XDP] = { "datapath xdp",
			 { ZH_PROG_XDP_FROM_POD, ZH_PROG_XDP_POD,
			   ZH_PROG_TC_FROM_POD },
			 F(XDP_VETH),
			 true },
	[ZH_USE_AFXDP] = { "AF_XDP pods",
			   { ZH_PROG_XDP_POD_XSK, ZH_PROG_TC_FROM_POD },
			   F(XDP_VETH) | F(AFXDP),
			   true },
	/* Replies from local backends leave through zh_tc_from_pod. */
	[ZH_USE_NODEPORT] = { "NodePorts",
			      { ZH_PROG_TC_UPLINK, ZH_PROG_TC_FROM_POD },
			      F(TC_REDIRECT_NEIGH),
			      true },
	[ZH_USE_SAMPLING] = { "latency sampling", {}, SAMPLE, false },
	/* getpeername is a nicety: without it the peer reads as the
	 * backend, and the rest works (zh_socklb_attach() leaves it out). */
	[ZH_USE_SOCKLB] = { "socket-level load balancing",
			    { ZH_PROG_SOCK_CONNECT4, ZH_PROG_SOCK_CONNECT6,
			      ZH_PROG_SOCK_SENDMSG4, ZH_PROG_SOCK_SENDMSG6,
			      ZH_PROG_SOCK_RECVMSG4, ZH_PROG_SOCK_RECVMSG6 },
			    0,
			    false },
	[ZH_USE_NATIVE] = { "the cross-node fast path (routing native)",
			    { ZH_PROG_TC_FROM_POD, ZH_PROG_TC_UPLINK },
			    F(TC_REDIRECT_NEIGH),
			    true },
	[ZH_USE_VXLAN] = { "the cross-node fast path (routing vxlan)",
			   { ZH_PROG_TC_FROM_POD, ZH_PROG_TC_TUNNEL },
			   F(TC_SET_TUNNEL_KEY),
			   true },
};

const char *zh_dsr_missing(const struct zh_kfeat *f)
{
	if (!zh_kfeat_has(f, ZH_FEAT_TC_REDIRECT_NEIGH))
		return "no bpf_redirect_neigh in tc";
	if (!zh_kfeat_has(f, ZH_FEAT_TC_CHECK_MTU))
		return "no bpf_check_mtu in tc";
	return NULL;
}

const char *zh_use_name(enum zh_use use)
{
	return use < ZH_USE_MAX ? uses[use].name : "?";
}

int zh_use_missing(const struct zh_kfeat *f, enum zh_use use)
{
	int id;

	if (use >= ZH_USE_MAX)
		return ZH_FEAT_MAPS;
	for (size_t i = 0; i < ARRAY_SIZE(uses[use].progs); i++) {
		if (!uses[use].progs[i])
			break;
		id = zh_prog_missing(f, uses[use].progs[i]);
		if (id >= 0)
			return id;
	}
	id = first_missing(f, uses[use].needs);
	if (id >= 0)
		return id;
	/* tc attaches through tcx, else through clsact: one will do. */
	if (uses[use].tc_attach && !zh_kfeat_has(f, ZH_FEAT_TCX) &&
	    !zh_kfeat_has(f, ZH_FEAT_TC_CLSACT))
		return ZH_FEAT_TC_CLSACT;
	return -1;
}

const char *zh_feat_summary(const struct zh_kfeat *f, char *buf, size_t len)
{
	int have = 0, n;
	size_t off;

	for (int id = 0; id < ZH_FEAT_MAX; id++)
		have += zh_kfeat_has(f, id);
	n = snprintf(buf, len, "kernel %s: %d of %d features",
		     f->kernel[0] ? f->kernel : "?", have, ZH_FEAT_MAX);
	off = n < 0 ? 0 : (size_t)n;
	for (int id = 0; id < ZH_FEAT_MAX && off < len; id++) {
		if (zh_kfeat_has(f, id))
			continue;
		n = snprintf(buf + off, len - off, "; %s %s (%s%s)",
			     feat_names[id],
			     f->disabled >> id & 1 ? "disabled" : "absent",
			     docs[id].fallback ? "fallback: " : "refused: ",
			     docs[id].fallback ? docs[id].fallback :
						 docs[id].used_by);
		off += n < 0 ? 0 : (size_t)n;
	}
	return buf;
}
