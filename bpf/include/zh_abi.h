/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * zh_abi.h - the one header shared by bpf/, user/ and cni/.
 *
 * Every map name, key, value and counter index lives here and nowhere else.
 * Fixed-width types, explicit padding, sizes pinned with _Static_assert.
 * Changing a layout means bumping ZH_PIN_VERSION so that old pins are never
 * read with a new layout.
 */
#ifndef ZH_ABI_H
#define ZH_ABI_H

#include <linux/types.h>

#define ZH_PIN_ROOT "/sys/fs/bpf/zerohop"
#define ZH_PIN_VERSION "v7"
#define ZH_PIN_DIR ZH_PIN_ROOT "/" ZH_PIN_VERSION

/* Map names: at most 15 characters, the kernel keeps 16 with the NUL. */
#define ZH_MAP_ENDPOINTS "zh_endpoints"
#define ZH_MAP_IFACES "zh_ifaces"
#define ZH_MAP_STATS "zh_stats"
#define ZH_MAP_CONFIG "zh_config"
#define ZH_MAP_LAT "zh_lat"
#define ZH_MAP_LAT_FLOWS "zh_lat_flows"
#define ZH_MAP_SERVICES "zh_services"
#define ZH_MAP_BACKENDS "zh_backends"
#define ZH_MAP_MAGLEV "zh_maglev"
#define ZH_MAP_CT "zh_ct"
#define ZH_MAP_AFFINITY "zh_affinity"
#define ZH_MAP_NODE_ADDRS "zh_node_addrs"
#define ZH_MAP_XSKS "zh_xsks"
#define ZH_MAP_XSK_STEER "zh_xsk_steer"
#define ZH_MAP_NODES "zh_nodes"
#define ZH_MAP_CLUSTER_CIDRS "zh_cluster_cidr"
#define ZH_MAP_NOMASQ "zh_nomasq"
#define ZH_MAP_SNAT_SRC "zh_snat_src"
#define ZH_MAP_SOCK_REV "zh_sock_rev"
#define ZH_MAP_SOCK_CONN "zh_sock_conn"
#define ZH_MAP_SOCK_STATS "zh_sock_stats"
#define ZH_MAP_NETNS "zh_netns"
#define ZH_MAP_VXLAN "zh_vxlan"
#define ZH_MAP_VXLAN_STATS "zh_vxlan_stats"

/* Program names as pinned (the function names in zh_fast.bpf.c). */
#define ZH_PROG_TC_FROM_POD "zh_tc_from_pod"
#define ZH_PROG_XDP_FROM_POD "zh_xdp_from_pod"
#define ZH_PROG_XDP_POD "zh_xdp_pod"
#define ZH_PROG_XDP_POD_XSK "zh_xdp_pod_xsk"
#define ZH_PROG_TC_POD "zh_tc_pod"
#define ZH_PROG_TC_UPLINK "zh_tc_uplink"
#define ZH_PROG_XDP_UPLINK "zh_xdp_uplink"
#define ZH_PROG_TC_TUNNEL "zh_tc_tunnel"
/* Socket-level load balancing: cgroup sock_addr programs (sock.h). */
#define ZH_PROG_SOCK_CONNECT4 "zh_sock_connect4"
#define ZH_PROG_SOCK_CONNECT6 "zh_sock_connect6"
#define ZH_PROG_SOCK_SENDMSG4 "zh_sock_sendmsg4"
#define ZH_PROG_SOCK_SENDMSG6 "zh_sock_sendmsg6"
#define ZH_PROG_SOCK_RECVMSG4 "zh_sock_recvmsg4"
#define ZH_PROG_SOCK_RECVMSG6 "zh_sock_recvmsg6"
#define ZH_PROG_SOCK_PEER4 "zh_sock_peer4"
#define ZH_PROG_SOCK_PEER6 "zh_sock_peer6"
/* cgroup/sock_release: a closing socket frees its zh_sock_conn slot. No
 * ZH_FEATURES bit: the loader loads it apart, where the kernel takes it
 * (kernel 5.12+: the hook, 5.9, and BPF_CMPXCHG), and the agent says
 * that it runs with ZH_CFG_F_SOCK_RELEASE. */
#define ZH_PROG_SOCK_RELEASE "zh_sock_release"
/* NetworkPolicy: tc egress of the host-side veth, what the kernel delivers
 * into a pod (bpf/lib/policy.h). */
#define ZH_PROG_TC_TO_POD "zh_tc_to_pod"

#define ZH_MAX_ENDPOINTS 65536
#define ZH_CONTAINER_ID_LEN 96
#define ZH_NETNS_LEN 128
#define ZH_IFNAME_LEN 16
#define ZH_ETH_ALEN 6
#define ZH_NETWORK_LEN 64

enum zh_family {
	ZH_AF_INET = 4,
	ZH_AF_INET6 = 6,
};

enum zh_datapath {
	ZH_DATAPATH_TC = 0,
	ZH_DATAPATH_XDP = 1,
};

/*
 * An XDP-mode host veth carries zh_xdp_from_pod and, behind it,
 * zh_tc_from_pod for what XDP cannot deliver (a tc pod, a NodePort reply).
 * XDP hands such a frame over with this value in its metadata; every other
 * frame XDP passed it has already counted, and the tc entry lets it be.
 * Where the kernel has no XDP metadata (ZH_FEAT_XDP_META), the tc entry
 * classifies each frame again as the XDP entry did and takes only what XDP
 * would have handed over.
 */
#define ZH_META_TO_TC 0x7a68746bU /* "zhtk" */

/*
 * Kernel features. user/lib/kfeatures.c probes each one on a node by loading
 * or attaching a minimal program that uses it, and keeps the result pinned
 * next to the programs (zh_features). The loader hands the same set to the
 * programs as the load-time constant zh_kfeat (bpf/lib/kfeat.h): code
 * behind a missing feature is left out by the verifier, never run.
 *
 * X(ID, name): bit ZH_FEAT_ID; the name is what `zerohopctl features`,
 * /metrics and ZEROHOP_DISABLE_FEATURES call it. Helper features are named
 * after the hook and the helper (bpf_ dropped): a helper can be allowed in
 * tc programs and refused in XDP ones, so each pair is probed. The last
 * ones are zh_fast's programs themselves: this kernel's verifier accepts
 * the program as built (found when the object does not load as a whole).
 * The bits are kept next to the pins: a feature added later goes at the
 * end, so that a set written by an older build still reads the same (the
 * new feature absent in it).
 */
#define ZH_FEATURES(X)                                \
	X(MAPS, "bpf_maps")                           \
	X(TCX, "tcx")                                 \
	X(TC_CLSACT, "tc_clsact")                     \
	X(XDP_VETH, "xdp_veth_native")                \
	X(AFXDP, "afxdp")                             \
	X(XDP_META, "xdp_meta")                       \
	X(TC_MAP_LOOKUP_ELEM, "tc_map_lookup_elem")   \
	X(TC_MAP_UPDATE_ELEM, "tc_map_update_elem")   \
	X(TC_MAP_DELETE_ELEM, "tc_map_delete_elem")   \
	X(TC_KTIME_GET_NS, "tc_ktime_get_ns")         \
	X(TC_GET_PRANDOM_U32, "tc_get_prandom_u32")   \
	X(TC_CSUM_DIFF, "tc_csum_diff")               \
	X(TC_CSUM_UPDATE, "tc_csum_update")           \
	X(TC_CSUM_LEVEL, "tc_csum_level")             \
	X(TC_L3_CSUM_REPLACE, "tc_l3_csum_replace")   \
	X(TC_L4_CSUM_REPLACE, "tc_l4_csum_replace")   \
	X(TC_SKB_STORE_BYTES, "tc_skb_store_bytes")   \
	X(TC_SKB_LOAD_BYTES, "tc_skb_load_bytes")     \
	X(TC_SKB_PULL_DATA, "tc_skb_pull_data")       \
	X(TC_SKB_CHANGE_TAIL, "tc_skb_change_tail")   \
	X(TC_REDIRECT, "tc_redirect")                 \
	X(TC_REDIRECT_PEER, "tc_redirect_peer")       \
	X(TC_REDIRECT_NEIGH, "tc_redirect_neigh")     \
	X(XDP_MAP_LOOKUP_ELEM, "xdp_map_lookup_elem") \
	X(XDP_MAP_UPDATE_ELEM, "xdp_map_update_elem") \
	X(XDP_MAP_DELETE_ELEM, "xdp_map_delete_elem") \
	X(XDP_KTIME_GET_NS, "xdp_ktime_get_ns")       \
	X(XDP_GET_PRANDOM_U32, "xdp_get_prandom_u32") \
	X(XDP_CSUM_DIFF, "xdp_csum_diff")             \
	X(XDP_REDIRECT, "xdp_redirect")               \
	X(XDP_REDIRECT_MAP, "xdp_redirect_map")       \
	X(XDP_ADJUST_TAIL, "xdp_adjust_tail")         \
	X(PROG_TC_FROM_POD, "zh_tc_from_pod")         \
	X(PROG_XDP_FROM_POD, "zh_xdp_from_pod")       \
	X(PROG_XDP_POD, "zh_xdp_pod")                 \
	X(PROG_XDP_POD_XSK, "zh_xdp_pod_xsk")         \
	X(PROG_TC_POD, "zh_tc_pod")                   \
	X(PROG_TC_UPLINK, "zh_tc_uplink")             \
	X(PROG_XDP_UPLINK, "zh_xdp_uplink")           \
	X(TC_CHECK_MTU, "tc_check_mtu")               \
	X(XDP_CHECK_MTU, "xdp_check_mtu")             \
	X(SOCK_HELPERS, "sock_addr_helpers")          \
	X(SOCK_CONNECT, "cgroup_connect")             \
	X(SOCK_SENDMSG, "cgroup_sendmsg")             \
	X(SOCK_RECVMSG, "cgroup_recvmsg")             \
	X(SOCK_GETPEERNAME, "cgroup_getpeername")     \
	X(SOCK_SET_RETVAL, "sock_set_retval")         \
	X(PROG_SOCK_CONNECT4, "zh_sock_connect4")     \
	X(PROG_SOCK_CONNECT6, "zh_sock_connect6")     \
	X(PROG_SOCK_SENDMSG4, "zh_sock_sendmsg4")     \
	X(PROG_SOCK_SENDMSG6, "zh_sock_sendmsg6")     \
	X(PROG_SOCK_RECVMSG4, "zh_sock_recvmsg4")     \
	X(PROG_SOCK_RECVMSG6, "zh_sock_recvmsg6")     \
	X(PROG_SOCK_PEER4, "zh_sock_peer4")           \
	X(PROG_SOCK_PEER6, "zh_sock_peer6")           \
	X(TC_FIB_LOOKUP, "tc_fib_lookup")             \
	X(TC_SET_TUNNEL_KEY, "tc_skb_set_tunnel_key") \
	X(PROG_TC_TUNNEL, "zh_tc_tunnel")             \
	X(PROG_TC_TO_POD, "zh_tc_to_pod")             \
	X(TC_SK_LOOKUP, "tc_sk_lookup")               \
	X(XDP_SK_LOOKUP, "xdp_sk_lookup")             \
	X(TC_VXLAN_ENCAP, "tc_vxlan_encap")           \
	X(TC_VXLAN_DECAP, "tc_vxlan_decap")           \
	X(KTIME_COARSE, "ktime_get_coarse_ns")

enum zh_feature {
#define ZH_FEAT_ENUM(id, name) ZH_FEAT_##id,
	ZH_FEATURES(ZH_FEAT_ENUM)
#undef ZH_FEAT_ENUM
		ZH_FEAT_MAX,
};

#define ZH_FEAT_BIT(id) (1ULL << ZH_FEAT_##id)

/* zh_features: one entry, written once per pin directory by the loader
 * (under the pin lock), read by every later agent and plugin run. */
#define ZH_MAP_FEATURES "zh_features"
#define ZH_KERNEL_LEN 64

struct zh_kfeat {
	__u64 present; /* ZH_FEAT_* bits whose probe loaded or attached */
	__u64 disabled; /* reported absent on purpose (ZEROHOP_DISABLE_FEATURES) */
	__u64 probed; /* the bits this set has an answer for */
	__u64 probed_at; /* CLOCK_REALTIME seconds */
	char kernel[ZH_KERNEL_LEN]; /* uname -r of the kernel probed */
};

/* zh_endpoints: pod IP -> where to deliver it. */
struct zh_ep_key {
	__u8 family; /* enum zh_family */
	__u8 pad[3];
	__u32 addr[4]; /* network byte order; IPv4 uses addr[0] */
};

struct zh_endpoint {
	__u32 ifindex; /* host-side veth */
	__u8 mac[ZH_ETH_ALEN]; /* pod interface MAC: destination MAC */
	__u8 gw_mac[ZH_ETH_ALEN]; /* host-side veth MAC: the pod's gateway */
	/* enum zh_datapath of the pod: an XDP redirect only reaches a pod
	 * whose veth runs XDP; to a tc pod the XDP entry passes the frame
	 * on to the tc entry on the same veth. */
	__u8 datapath;
	__u8 flags; /* ZH_EP_F_* */
	__u8 pad[2];
};

/* Deliver through the veth's own RX path (a redirect to the host-side
 * veth's egress), never bpf_redirect_peer(), which skips it: the pod's
 * XDP program there steers frames into its AF_XDP sockets. */
#define ZH_EP_F_VIA_RX (1U << 0)
/* NetworkPolicy: zh_pol_eps has an entry for this address that isolates
 * it (or is pending): the fast path judges traffic to it. Unset, the
 * address pays one bit test (bpf/lib/policy.h). */
#define ZH_EP_F_POLICY (1U << 1)

/*
 * AF_XDP pods. The pod-side program (zh_xdp_pod_xsk) looks up every frame
 * by {family, proto, destination port, destination address} in
 * zh_xsk_steer, then by the same key with port 0 (every port of the
 * protocol); a hit goes to zh_xsks[slot + rx queue], or on to the kernel
 * stack while no socket is registered there. The CNI plugin allocates each
 * pod a run of `queues` slots and writes the rules; zerohopd inserts the
 * sockets that pods hand it (user/lib/xsk_proto.h).
 */
#define ZH_XSK_SLOTS 4096
#define ZH_XSK_MAX_QUEUES 16
#define ZH_XSK_MAX_STEER 8
#define ZH_MAX_STEER (ZH_XSK_SLOTS * 2)

struct zh_steer_key {
	__u8 family; /* enum zh_family */
	__u8 proto; /* IPPROTO_UDP or IPPROTO_TCP */
	__be16 port; /* destination port; 0: every port */
	__u32 addr[4]; /* the pod's address, network byte order */
};

struct zh_steer {
	__u32 slot; /* the pod's first zh_xsks index */
	__u32 queues; /* queue q goes to slot + q; others to the kernel */
};

struct zh_steer_rule {
	__u8 proto;
	__u8 pad;
	__be16 port; /* 0: every port */
};

/* A pod's AF_XDP setup, in its zh_ifaces entry (queues 0: none). */
struct zh_iface_xsk {
	__u32 slot; /* first zh_xsks index */
	__u8 queues;
	__u8 xdp_mode; /* the pod-side program's, as the kernel reports it:
			* ZH_XSK_XDP_NATIVE (1) or _GENERIC (2) */
	/* Written by zerohopd: the bind mode of the newest registration
	 * (ZH_XSK_MODE_COPY/_ZEROCOPY, 0: none) and which queues have a live
	 * one (bit q). */
	__u8 bind_mode;
	__u8 nsteer;
	__u16 registered;
	__u8 pad[2];
	struct zh_steer_rule steer[ZH_XSK_MAX_STEER];
};

/*
 * zh_ifaces: host-side veth ifindex -> the pod behind it. The BPF programs
 * read the identity fields (anti-spoofing); the rest is for zerohopctl.
 */
#define ZH_IFACE_F_V4 (1U << 0)
#define ZH_IFACE_F_V6 (1U << 1)
/* NetworkPolicy: an address of this pod has a zh_pol_eps entry that
 * isolates it (or is pending): traffic from it is judged. */
#define ZH_IFACE_F_POLICY (1U << 2)
/* The pod's link is a netkit pair: its program runs in the pod's own
 * transmit path (the peer's hook), not at the host side's tc ingress, where
 * bpf_redirect_peer() works; local deliveries leave by bpf_redirect() to
 * the destination's host side instead. */
#define ZH_IFACE_F_NETKIT (1U << 3)

struct zh_iface {
	__u8 mac[ZH_ETH_ALEN]; /* the pod's own MAC */
	__u8 gw_mac[ZH_ETH_ALEN]; /* host-side veth MAC: what the pod routes to */
	__u8 datapath; /* enum zh_datapath */
	__u8 pad0[3];
	__u32 flags; /* ZH_IFACE_F_* */
	__u32 ipv4; /* network byte order */
	__u32 ipv6[4]; /* network byte order */
	__u32 pod_ifindex; /* ifindex inside the pod's netns */
	char host_ifname[ZH_IFNAME_LEN];
	char pod_ifname[ZH_IFNAME_LEN];
	char container_id[ZH_CONTAINER_ID_LEN];
	char netns[ZH_NETNS_LEN];
	char network[ZH_NETWORK_LEN]; /* the CNI network's name */
	struct zh_iface_xsk xsk;
};

/*
 * zh_stats: per-CPU array indexed by enum zh_stat, one counter per thing
 * that can happen to a frame, with its name (zerohopctl stats, /metrics).
 * X(ID, name): ZH_STAT_ID. What is not dropped comes first, the drop
 * reasons after it: the two lists make the order, so that zh_stat_is_drop()
 * holds by construction.
 */
#define ZH_STATS_KEEP(X)                                                     \
	X(REDIRECT, "redirect")                                              \
	X(PASS_NOT_IP, "pass_not_ip") /* ARP, other ethertypes */            \
	X(PASS_NO_ENDPOINT, "pass_no_endpoint") /* not a local pod */        \
	/* IPv6 link-local or unspecified source (ND, DAD) */                \
	X(PASS_LINK_LOCAL, "pass_link_local")                                \
	X(PASS_TTL, "pass_ttl") /* expiring: the kernel answers */           \
	X(PASS_NO_IFACE, "pass_no_iface") /* ingress not ours */             \
	X(PASS_NOT_TO_GW, "pass_not_to_gateway") /* not to our MAC */        \
	X(PASS_IP_OPTIONS, "pass_ip_options") /* the kernel's rules */       \
	X(PASS_CT_FULL, "pass_conntrack_full") /* no room in zh_ct */        \
	/* XDP entry: no XDP on the destination's veth: tc delivers */       \
	X(PASS_TO_TC, "pass_to_tc")                                          \
	X(XSK_REDIRECT, "xsk_redirect") /* into an AF_XDP socket */          \
	/* steered, but no socket for the queue: the pod's kernel */         \
	X(PASS_XSK_NO_SOCKET, "pass_xsk_no_socket")                          \
	/* source NAT (masquerade, a NodePort's remote backend): out of an \
	 * uplink by bpf_redirect_neigh() */ \
	X(SNAT, "snat")

#define ZH_STATS_DROP(X)                                                      \
	X(DROP_SPOOF_MAC, "drop_spoof_mac")                                   \
	X(DROP_SPOOF_IP, "drop_spoof_ip")                                     \
	/* cut short, a bad header, or VLAN-tagged from a pod */              \
	X(DROP_MALFORMED, "drop_malformed")                                   \
	/* the helper failed, or the target veth is gone (its pod went, and \
	 * its endpoint is not removed yet) */ \
	X(DROP_REDIRECT, "drop_redirect_failed")                              \
	/* a Service without ready backends (answered: ICMP unreachable) */   \
	X(DROP_NO_BACKEND, "drop_no_backend")                                 \
	X(DROP_UNKNOWN_VIP, "drop_unknown_vip") /* in the Service CIDR */     \
	X(DROP_NAT, "drop_nat_failed") /* a NAT rewrite failed */             \
	/* no free source port for a source NAT after ZH_SNAT_TRIES */        \
	X(DROP_SNAT_NO_PORT, "drop_snat_no_port")                             \
	/* externalTrafficPolicy Local, no backend on this node (kube-proxy \
	 * drops these too: the load balancer's health check steers away) */ \
	X(DROP_NO_LOCAL_BACKEND, "drop_no_local_backend")                     \
	/* NetworkPolicy (policy.h): the destination's ingress denies */      \
	X(DROP_POLICY_INGRESS, "drop_policy_ingress")                         \
	X(DROP_POLICY_EGRESS, "drop_policy_egress") /* the source's egress */ \
	/* a pod whose policy is not known yet (CNI ADD, agent not done) */   \
	X(DROP_POLICY_PENDING, "drop_policy_pending")                         \
	/* its class did not fit the maps: fail closed */                     \
	X(DROP_POLICY_FAILED, "drop_policy_failed")                           \
	/* no room in zh_pol_ct for an allowed flow: fail closed */           \
	X(DROP_POLICY_CT_FULL, "drop_policy_ct_full")                         \
	/* NodePort DSR: no room for the option under the MTU (answered:   \
	 * ICMP fragmentation needed / packet too big, lb_dsr.h) */  \
	X(DROP_DSR_TOO_BIG, "drop_dsr_too_big")

#define ZH_STAT_ENUM(id, name) ZH_STAT_##id,
enum zh_stat {
	ZH_STATS_KEEP(ZH_STAT_ENUM) ZH_STATS_DROP(ZH_STAT_ENUM) ZH_STAT_MAX,
};
#undef ZH_STAT_ENUM

enum {
#define ZH_STAT_ONE(id, name) +1
	ZH_STAT_NDROP = 0 ZH_STATS_DROP(ZH_STAT_ONE),
#undef ZH_STAT_ONE
};

/* A drop reason (the last ZH_STAT_NDROP), not what happens to a frame kept. */
static inline __attribute__((always_inline)) int zh_stat_is_drop(int stat)
{
	return stat >= ZH_STAT_MAX - ZH_STAT_NDROP && stat < ZH_STAT_MAX;
}

struct zh_counter {
	__u64 packets;
	__u64 bytes;
};

/*
 * Latency probes: a UDP datagram whose payload starts with struct zh_probe
 * (xdpbench sends them). Every hop the datagram crosses records
 * now - tx_ns; both clocks are CLOCK_MONOTONIC (bpf_ktime_get_ns() in BPF),
 * so they compare on one host. Host byte order: sender and datapath share
 * the CPU.
 */
#define ZH_PROBE_MAGIC 0x6b70687aU /* "zhpk" in memory on little endian */

struct zh_probe {
	__u32 magic; /* ZH_PROBE_MAGIC */
	__u32 seq; /* the sender's own */
	__u64 tx_ns; /* CLOCK_MONOTONIC when the sender sent it */
};

/*
 * zh_config: one entry, written by the agent (zerohopd --sample/--probes),
 * `zerohopctl latency --probes/--sample` and the service programming; each
 * writer changes its own fields only (read, modify, write under the pin
 * lock). Zero flags and sample_every (as in a fresh map) mean no latency
 * work at all: the programs read this entry and return.
 */
#define ZH_CFG_F_PROBES (1U << 0) /* time probe datagrams (struct zh_probe) */
/* Masquerade: pod traffic to what zh_nomasq does not hold leaves with the
 * node's address (zh_snat_src), in BPF (zerohopd --masquerade). */
#define ZH_CFG_F_MASQ (1U << 1)

struct zh_config {
	__u32 flags; /* ZH_CFG_F_* */
	__u32 sample_every; /* time 1 in N packets from pods; 0: off */
	/* Non-zero while zh_services has entries (libzerohop's service
	 * programming keeps it so): only then does the egress hop consult the
	 * balancer, so a node without Services pays no lookup for it. */
	__u32 services;
	/* The Service CIDRs (zerohopd --service-cidr): traffic to an address
	 * in them that is no Service is dropped, not routed. Length 0: none. */
	__u8 svc_cidr4_len;
	__u8 svc_cidr6_len;
	__u8 pad[2];
	__u32 svc_cidr4; /* network byte order */
	__u32 svc_cidr6[4];
	/* Maglev table size: the smallest prime >= this many slots per ready
	 * backend (zerohopd --maglev-per-backend); 0: ZH_MAGLEV_PER_BACKEND.
	 * Read by the control plane only. */
	__u32 maglev_per_backend;
};

/*
 * Per-hop latency. A hop is a point where one of our programs sees a packet,
 * and is one-directional by definition:
 *
 *   egress   the host-side veth's ingress: the packet just left its pod
 *            (probes only: from the sender's timestamp)
 *   deliver  the destination pod's interface, after our redirect
 *   kernel   a pod's interface, after the kernel's path (what we passed, or
 *            what never crossed us, such as host -> pod)
 *   afxdp    a pod's interface, steered into an AF_XDP socket
 *
 * Two sources: probes measure from the sender's own send time; sampled
 * packets from the moment the egress hop stamped them (zh_lat_flows, keyed
 * by flow, matched and removed at the next hop).
 */
enum zh_hop {
	ZH_HOP_EGRESS = 0,
	ZH_HOP_DELIVER,
	ZH_HOP_KERNEL,
	ZH_HOP_AFXDP,
	ZH_HOP_MAX,
};

enum zh_lat_src {
	ZH_LAT_PROBE = 0,
	ZH_LAT_SAMPLE,
	ZH_LAT_SRC_MAX,
};

/* zh_lat: per-CPU array of struct zh_hist (zh_hist.h), one per slot. */
#define ZH_LAT_SLOT(hop, src) ((hop)*ZH_LAT_SRC_MAX + (src))
#define ZH_LAT_SLOTS (ZH_HOP_MAX * ZH_LAT_SRC_MAX)
#define ZH_LAT_FLOWS 16384
/* Deltas above this are clock trouble or a stale stamp: not recorded. */
#define ZH_LAT_MAX_NS 10000000000ULL

struct zh_flow_key {
	__u8 family; /* enum zh_family */
	__u8 proto; /* IPPROTO_*; ports are 0 for other protocols */
	__be16 sport;
	__be16 dport;
	__u8 pad[2];
	__u32 saddr[4]; /* network byte order; IPv4 uses [0] */
	__u32 daddr[4];
};

struct zh_lat_stamp {
	__u64 origin_ns; /* when the egress hop saw it */
	__u8 hop; /* where it will be recorded: ZH_HOP_DELIVER or _KERNEL */
	__u8 src; /* enum zh_lat_src */
	__u8 pad[6];
};

/*
 * Services (kube-proxy replacement). Userspace (libzerohop svc_maps.c) owns
 * every write; the programs only read, except zh_ct and zh_affinity.
 *
 * zh_services: {family, proto, port, VIP} -> struct zh_svc. A NodePort is
 * the same key with an all-zero address (any address of the node).
 *
 * zh_maglev: one flat array of backend ids. A service's Maglev table is
 * the slots [table_off, table_off + table_size); table_size is a prime
 * (user/lib/maglev.h). A new table is written into free slots first and the
 * service entry then replaced in one update, so a reader sees the old table
 * or the new one, never a mix; the old slots are reused only afterwards.
 *
 * zh_backends: backend id -> address. A terminating backend stays here (its
 * flows go on) but leaves the Maglev table (no new flows). A flow whose
 * backend id is gone picks again.
 *
 * zh_ct: both directions of a Service flow, keyed as the packet is seen
 * from the pod that sent it: ZH_CT_FWD client -> VIP, ZH_CT_REV backend ->
 * client (whose source goes back to VIP:port).
 */
#define ZH_MAX_SERVICES 131072
#define ZH_MAX_BACKENDS 262144
/* 4 Mi slots: 32 MiB (the kernel keeps each u32 in 8 bytes); zerohopd
 * --maglev-slots sizes it when it loads the objects. */
#define ZH_MAGLEV_SLOTS (1U << 22)
#define ZH_CT_MAX 262144
#define ZH_AFFINITY_MAX 65536
/* zh_node_addrs: the node's own addresses (zerohopd keeps them in sync):
 * zh_ep_key -> 1. Only traffic to them can be for a NodePort. */
#define ZH_MAX_NODE_ADDRS 1024
/* Maglev table size: the smallest prime >= this many slots per backend. */
#define ZH_MAGLEV_PER_BACKEND 100U

struct zh_svc_key {
	__u8 family; /* enum zh_family */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__be16 port;
	__u32 addr[4]; /* network byte order; IPv4 uses [0]; NodePort: 0 */
};

#define ZH_SVC_F_NODEPORT (1U << 0)
/* externalTrafficPolicy Local (a node port, an external or load-balancer
 * IP): the client's address is kept (no SNAT), only this node's backends
 * are in the table, and with none the request is dropped. */
#define ZH_SVC_F_ETP_LOCAL (1U << 1)

struct zh_svc {
	__u32 id; /* never 0; unique while any flow may refer to it */
	__u32 table_off; /* first slot in zh_maglev */
	__u32 table_size; /* prime; 0: no ready backend (refused) */
	__u32 affinity_s; /* ClientIP affinity timeout; 0: none */
	__u32 flags; /* ZH_SVC_F_* */
	__be16 port; /* NodePort entries: the service port to answer from */
	__u8 pad[2];
};

#define ZH_BE_F_TERMINATING (1U << 0)

struct zh_backend {
	__u8 family;
	__u8 flags; /* ZH_BE_F_* */
	__be16 port;
	__u32 addr[4];
	__u32 svc_id;
};

enum zh_ct_dir {
	ZH_CT_FWD = 0,
	ZH_CT_REV = 1,
	/* Source NAT (snat.h): the flow as it leaves before the SNAT (vip,
	 * vport: the source it gets; out_ifindex: the uplink), and the reply
	 * as it arrives at the node's address (vip, vport: the destination
	 * it gets back). A SNAT_REV key is the reservation of its port. */
	ZH_CT_SNAT_FWD = 2,
	ZH_CT_SNAT_REV = 3,
};

/* TCP state, enough to expire closed flows sooner than idle ones. */
enum zh_ct_state {
	ZH_CT_NEW = 0, /* SYN seen, or any UDP */
	ZH_CT_ESTABLISHED,
	ZH_CT_CLOSING, /* FIN or RST seen */
};

/* Idle timeouts, as conntrack's defaults order them. */
#define ZH_CT_TIMEOUT_TCP_NEW_S 60
#define ZH_CT_TIMEOUT_TCP_EST_S 21600
#define ZH_CT_TIMEOUT_TCP_CLOSING_S 10
#define ZH_CT_TIMEOUT_UDP_S 120
/* A UDP request looks its reply's entry up once per 2^this ns of the clock
 * (ct.h zh_ct_recheck_due). */
#define ZH_CT_RECHECK_SHIFT 30

struct zh_ct_key {
	__u8 family;
	__u8 proto;
	__u8 dir; /* enum zh_ct_dir */
	__u8 pad;
	__be16 sport;
	__be16 dport;
	__u32 saddr[4];
	__u32 daddr[4];
};

/*
 * Hairpin: a pod whose flow to a Service was balanced to itself. It must
 * not see its own address as the source, so the request's source becomes
 * the VIP (port kept); the REV entry is then keyed {backend, VIP} and the
 * reply's destination goes back to the pod as well.
 */
#define ZH_CT_F_HAIRPIN (1U << 0)
/* REV written by NodePort DSR on the backend's node (lb_dsr.h): @vip/@vport
 * are another node's front end, @out_ifindex this node's uplink. */
#define ZH_CT_F_DSR (1U << 1)

struct zh_ct {
	__u64 last_seen_ns; /* bpf_ktime_get_ns() */
	__u32 svc_id;
	__u32 backend_id; /* FWD */
	__u32 vip[4]; /* REV: the source to restore */
	__be16 vport; /* REV */
	__u8 state; /* enum zh_ct_state */
	__u8 flags; /* ZH_CT_F_* */
	/* REV of a NodePort flow: the uplink it came in on, where the reply
	 * goes straight back out (the kernel would take a reply from the
	 * node's own address for a martian). 0: routed by the kernel. */
	__u32 out_ifindex;
};

struct zh_affinity_key {
	__u32 svc_id;
	__u8 family;
	__u8 pad[3];
	__u32 client[4];
};

struct zh_affinity {
	__u64 last_seen_ns;
	__u32 backend_id;
	__u32 pad;
};

/*
 * Across nodes (README: Across nodes). The agent keeps a table of the
 * cluster's nodes (user/lib/nodes.c: from --nodes FILE, zerohopctl node,
 * or the Kubernetes Node objects) and writes two LPM tries from it:
 *
 * zh_nodes: a remote node's pod CIDR -> struct zh_node: how a pod's packet
 * to it leaves this node without the host stack. Native routing: out of
 * the uplink toward the node's address (bpf_redirect_neigh); VXLAN: into
 * the collect_md VXLAN device with the tunnel key set toward it. This
 * node's own pod CIDRs are not in it (its pods are zh_endpoints').
 *
 * zh_cluster_cidr: every pod CIDR and every node address of the cluster,
 * this node's included -> ZH_CLUSTER_F_* flags: "inside the cluster", for
 * the masquerade (nothing inside is SNATed) and for the uplink's fast
 * path, which delivers into pods only what comes from inside.
 *
 * Both are keyed by struct zh_lpm_key: prefixlen counts the 32 bits of
 * family and pad first, then the address's prefix, so that one trie holds
 * both families and never matches across them.
 */
#define ZH_MAX_NODE_CIDRS 16384
#define ZH_MAX_CLUSTER_CIDRS 32768
#define ZH_LPM_FAMILY_BITS 32

/* struct zh_lpm_key (below, with the masquerade's zh_nomasq): the same
 * key, prefixlen ZH_LPM_FAMILY_BITS + the prefix length. */

#define ZH_NODE_F_VXLAN (1U << 0) /* through the VXLAN device, not native */

struct zh_node {
	__u32 addr[4]; /* the node's address (underlay), network byte order */
	__u8 family; /* of addr: enum zh_family */
	__u8 flags; /* ZH_NODE_F_* */
	/* VXLAN: the MAC of the node's VXLAN device, the inner frame's
	 * destination (so that its device takes the frame as its own). */
	__u8 mac[ZH_ETH_ALEN];
	__u32 ifindex; /* out of here: the uplink, or the VXLAN device */
	__u32 vni; /* VXLAN: the tunnel id */
};

/*
 * VXLAN in BPF (bpf/lib/vxlan.h). zh_vxlan: one entry, written by the
 * agent with the node table (user/lib/nodes.c) in routing vxlan: what this
 * node's VXLAN device would put into the outer headers, so that the tc
 * programs encapsulate a pod's packet themselves (bpf_skb_adjust_room) and
 * send it out of the uplink, and decapsulate on the uplink what is for a
 * pod here; the kernel's device stays for the rest. Family 0 (a fresh
 * map, routing native): nothing is done in BPF.
 */
#define ZH_VXLAN_F_ENCAP (1U << 0) /* encapsulate pods' packets in BPF */
#define ZH_VXLAN_F_DECAP (1U << 1) /* decapsulate on the uplink in BPF */
/* The UDP source port range of the outer header, as the kernel's
 * udp_flow_src_port() with the default ip_local_port_range (32768-60999):
 * MIN <= port < MAX. */
#define ZH_VXLAN_SPORT_MIN 32768U
#define ZH_VXLAN_SPORT_MAX 60999U
#define ZH_VXLAN_TTL 64

struct zh_vxlan {
	__u32 saddr[4]; /* this node's underlay address, network byte order */
	__u8 family; /* of saddr (enum zh_family); 0: off */
	__u8 flags; /* ZH_VXLAN_F_* */
	__u8 mac[ZH_ETH_ALEN]; /* this node's VXLAN device: the inner source */
	__u32 uplink; /* ifindex the encapsulated packets leave by */
	__u32 dev; /* the VXLAN device's ifindex */
	__be16 port; /* the device's UDP port */
	__u8 pad[2];
	__u32 vni;
};

/* zh_vxlan_stats: per-CPU array of __u64 indexed by enum zh_vxlan_stat. */
#define ZH_VXLAN_STATS(X)                                                   \
	X(ENCAP, "encap") /* encapsulated in BPF, out of the uplink */      \
	X(DECAP, "decap") /* decapsulated in BPF on the uplink */           \
	/* decapsulated, not delivered by BPF: into the device's receive */ \
	X(DECAP_TO_DEV, "decap_to_device")                                  \
	/* to a pod of another node through the kernel's VXLAN device */    \
	X(DEV_ENCAP, "device_encap")                                        \
	/* bpf_skb_adjust_room() refused to encapsulate: the device did */  \
	X(ENCAP_REFUSED, "encap_refused")

#define ZH_VXLAN_STAT_ENUM(id, name) ZH_VXLAN_STAT_##id,
enum zh_vxlan_stat {
	ZH_VXLAN_STATS(ZH_VXLAN_STAT_ENUM) ZH_VXLAN_STAT_MAX,
};
#undef ZH_VXLAN_STAT_ENUM

#define ZH_CLUSTER_F_POD_CIDR (1U << 0) /* a node's pod CIDR */
#define ZH_CLUSTER_F_NODE_IP (1U << 1) /* a node's own address (/32, /128) */
#define ZH_CLUSTER_F_LOCAL (1U << 2) /* this node's */

/*
 * Source NAT (bpf/lib/snat.h). Masquerade: a pod's packet to an address
 * that zh_nomasq does not hold (the cluster's pod and node CIDRs, the
 * Service CIDRs, zerohopd --no-masquerade) leaves the node with the
 * address of zh_snat_src's default entry (key 0) and a source port of its
 * range. A NodePort request whose backend is on another node (and whose
 * Service is externalTrafficPolicy Cluster) leaves with the address of
 * the uplink it came in on (key: its ifindex), so that the reply comes
 * back through this node, as kube-proxy's MASQUERADE does it.
 *
 * zh_nomasq: an LPM trie; prefixlen counts the family byte and the pad
 * (32 bits) before the address bits. Value: ZH_NOMASQ_F_* (informative).
 */
#define ZH_MAX_NOMASQ 1024
#define ZH_MAX_SNAT_SRC 64
/* Free ports probed for a new flow: a random one, then the next ones. */
#define ZH_SNAT_TRIES 32
/* Outside Linux's ip_local_port_range (32768-60999) and the NodePort
 * range (30000-32767): the node's own sockets never pick these. */
#define ZH_SNAT_PORT_MIN 61000
#define ZH_SNAT_PORT_MAX 65535

struct zh_lpm_key {
	__u32 prefixlen; /* 32 + the CIDR's length */
	__u8 family; /* enum zh_family */
	__u8 pad[3];
	__u32 addr[4]; /* network byte order; IPv4 uses [0] */
};

#define ZH_NOMASQ_F_CLUSTER (1U << 0) /* pod or node CIDR, node address */
#define ZH_NOMASQ_F_SERVICE (1U << 1) /* a Service CIDR */
#define ZH_NOMASQ_F_USER (1U << 2) /* --no-masquerade */

#define ZH_SNAT_SRC_F_V4 (1U << 0)
#define ZH_SNAT_SRC_F_V6 (1U << 1)
/* A new flow first tries the port it came from (netfilter's way: one
 * client's flows rarely search), when the reply's key is free, the port
 * is no NodePort and no socket of the node owns it toward the peer
 * (bpf_sk_lookup_*: tc_sk_lookup, xdp_sk_lookup); else a port of the
 * range. Replies are then recognised at any port of the address, by
 * their conntrack entry. zerohopd sets it on the NodePort entries. */
#define ZH_SNAT_SRC_F_KEEP_PORT (1U << 2)

struct zh_snat_src {
	__u32 ifindex; /* the uplink the packet leaves by */
	__u32 flags; /* ZH_SNAT_SRC_F_*: which addresses are set */
	__u32 v4; /* network byte order */
	__u32 v6[4];
	__u16 port_min; /* host byte order, inclusive */
	__u16 port_max;
};

/*
 * Socket-level load balancing (bpf/lib/sock.h): cgroup programs on the
 * root of the cgroup v2 hierarchy see every connect() and unconnected UDP
 * sendmsg() of the node (pods, hostNetwork pods, the node) before the
 * socket routes, and put a backend in place of a Service address, picked
 * from the same zh_services, zh_maglev, zh_backends and zh_affinity as the
 * per-packet balancer (lb.h). No conntrack: the socket itself remembers.
 *
 * zh_sock_rev: {socket cookie, backend} -> the Service address the socket
 * asked for, so that recvmsg() (UDP) and getpeername() report the VIP.
 * Written at each translation; LRU, a socket gone leaves its entry to age.
 */
#define ZH_SOCK_REV_MAX 262144

struct zh_sock_rev_key {
	__u64 cookie; /* bpf_get_socket_cookie() */
	__u32 addr[4]; /* the backend, network byte order */
	__be16 port; /* the backend's */
	__u8 family; /* enum zh_family */
	__u8 pad[5];
};

struct zh_sock_rev {
	__u32 vip[4]; /* what the socket asked for */
	__be16 vport;
	__u8 pad[2];
	__u32 svc_id;
	__u32 backend_id;
	__u32 pad2;
};

/*
 * zh_sock_conn: array, slot (cookie & (ZH_SOCK_CONN_MAX - 1)): what
 * connect() translated, the same record as zh_sock_rev's, written there
 * instead of an LRU insert (a plain store into a preallocated slot: ~90 ns
 * of connect4 against ~520 ns for the LRU insert, bpf_stats in xdpbench
 * tcp-crr at 10k Services). A connected socket has one peer, so one slot.
 * Socket cookies are handed out in increasing order, so a slot is taken
 * over by the socket ZH_SOCK_CONN_MAX cookies later: recvmsg/getpeername
 * check that the key (cookie first) is theirs. key.cookie is written last
 * (0 while the rest is written) and read before and after the rest: a
 * record torn by a writer reusing the slot is never taken.
 *
 * Who keeps a record once its slot is wanted by another socket depends on
 * ZH_CFG_F_SOCK_RELEASE (zh_config.flags: zh_sock_release runs where
 * connect4/6 do): set, a closing socket clears its own slot (cookie to 0),
 * so a slot still holding another cookie is a live socket's, and the
 * connect() that takes it moves that record into zh_sock_rev first (two
 * live connected sockets colliding: rare); recvmsg/getpeername read the
 * slot first, then zh_sock_rev, and copy nothing. Unset (no sock_release
 * on this kernel, or not attached), dead sockets leave their slots as
 * they were, so connect() takes a slot without asking, and
 * recvmsg/getpeername copy the record into zh_sock_rev the first time
 * they find it here, so that a socket that reads its peer keeps it as
 * long as zh_sock_rev would (an untouched zh_sock_rev entry ages out
 * after as many newer inserts). bpf/lib/sock.h says why either is safe.
 */
#define ZH_SOCK_CONN_MAX 262144 /* a power of 2: the slot is a mask */

struct zh_sock_conn {
	struct zh_sock_rev_key key;
	struct zh_sock_rev rev;
};

/*
 * zh_sock_stats: per-CPU array of __u64 indexed by enum zh_sock_stat: the
 * translations by hook (zerohopctl stats, /metrics), then what refused,
 * then the connected UDP sockets of removed backends that userspace
 * destroyed (SOCK_DESTROY) or failed to: zerohopd and zerohopctl add those
 * to CPU 0's slot under the pin lock (user/lib/sockdiag.h).
 */
#define ZH_SOCK_STATS(X)                                                      \
	X(CONNECT4, "connect4")                                               \
	X(CONNECT6, "connect6")                                               \
	X(SENDMSG4, "sendmsg4")                                               \
	X(SENDMSG6, "sendmsg6")                                               \
	X(RECVMSG4, "recvmsg4")                                               \
	X(RECVMSG6, "recvmsg6")                                               \
	X(GETPEERNAME4, "getpeername4")                                       \
	X(GETPEERNAME6, "getpeername6")                                       \
	/* a Service without ready backends: the call failed, ECONNREFUSED */ \
	X(REFUSED, "refused_no_backend")                                      \
	/* by zerohopd and zerohopctl, not a program (sockdiag.h) */          \
	X(UDP_DESTROYED, "udp_destroyed")                                     \
	X(UDP_DESTROY_FAILED, "udp_destroy_failed")

#define ZH_SOCK_STAT_ENUM(id, name) ZH_SOCK_STAT_##id,
enum zh_sock_stat {
	ZH_SOCK_STATS(ZH_SOCK_STAT_ENUM) ZH_SOCK_STAT_MAX,
};
#undef ZH_SOCK_STAT_ENUM

/*
 * zh_netns: hash, a network namespace's cookie (__u64, never reused) ->
 * struct zh_netns: what the socket-level balancer knows of the netns a
 * socket lives in. A pod's (the CNI plugin writes it at ADD from the pod's
 * SO_NETNS_COOKIE; it goes with the pod's endpoint entries, by @ifindex)
 * gives its addresses: an unbound socket's sessionAffinity client is the
 * pod's address of the family, the key the per-packet path uses for the
 * same pod. The node's own (the agent's netns, ZH_NETNS_F_NODE) gives the
 * node's address of each family, and is the only netns whose sockets
 * reach a NodePort at localhost (as kube-proxy: on the host only).
 */
#define ZH_NETNS_MAX 16384
#define ZH_NETNS_F_NODE 0x1 /* the node's netns (the agent's) */
#define ZH_NETNS_F_V4 0x2 /* @addr4 is set */
#define ZH_NETNS_F_V6 0x4 /* @addr6 is set */

struct zh_netns {
	__u32 addr4; /* network byte order */
	__u32 addr6[4];
	__u32 ifindex; /* the pod's host-side veth; 0: the node */
	__u32 flags; /* ZH_NETNS_F_* */
	__u32 pad;
};

/*
 * zh_trace: for the kernel-tier tests only (bpf/lib/trace.h). When an object
 * is loaded with zh_trace_on set, every redirect helper call records here
 * which helper it was, its target and its result, so that a test sees where
 * a TC_ACT_REDIRECT or XDP_REDIRECT verdict sends the frame. One entry,
 * never pinned; the loader leaves it off and the programs never write it.
 */
#define ZH_MAP_TRACE "zh_trace"

enum zh_trace_kind {
	ZH_TRACE_NONE = 0,
	ZH_TRACE_REDIRECT, /* bpf_redirect(): out of (XDP: into) @target */
	ZH_TRACE_REDIRECT_PEER, /* bpf_redirect_peer(): into @target's peer */
	ZH_TRACE_REDIRECT_NEIGH, /* bpf_redirect_neigh(): out of @target */
	ZH_TRACE_REDIRECT_MAP, /* bpf_redirect_map(): zh_xsks[@target] */
};

struct zh_trace {
	__u32 calls; /* redirect helpers called since the test zeroed it */
	__u32 kind; /* the last one's enum zh_trace_kind */
	__u32 target; /* its ifindex or map key */
	__u32 pad;
	__s64 ret; /* what it returned */
};

/*
 * NetworkPolicy (issue 16). user/lib/policy.c compiles the cluster's
 * Pods, Namespaces and NetworkPolicies into the contents of these maps
 * and an ordered list of writes (user/lib/policy_diff.c), which zerohopd
 * executes (user/lib/pol_maps.c); bpf/lib/policy.h reads them.
 *
 * Identities are node-local numbers for "addresses no rule can tell
 * apart": each address gets the signature of the peers it matches (pod
 * and namespace selectors, ipBlocks with their own excepts) and of the
 * named ports its pod resolves for egress rules; equal signatures share a
 * number. A class is the same for the policies selecting a local pod, per
 * direction. Policy is one hash, zh_policy, shared by every endpoint:
 *
 *   {class, dir, proto, identity} -> sorted disjoint port intervals
 *
 * where identity ZH_POL_ID_ANY is the class's wildcard cell (the rules
 * whose peers are everyone) and an identity gets its own cell only where
 * its allows differ from the wildcard's; ZH_POL_CELL_F_SPECIFIC on the
 * wildcard cell says whether any does (else that one lookup decides). An
 * empty wildcard cell is not written: on a miss the identity's cell is
 * looked up, and a second miss denies. A cell
 * of identity I always includes its class's wildcard cell (NetworkPolicy
 * only allows), so an address resolved to a less specific identity (a
 * miss, an overflow) can lose allows, never gain one: fail closed.
 *
 * The endpoint state is a map of its own, zh_pol_eps (zh_ep_key ->
 * struct zh_pol_ep), not embedded in zh_endpoints/zh_ifaces (whose layout
 * is the ABI): the fast path reads it only for an address whose
 * zh_endpoints entry has ZH_EP_F_POLICY (destination) or whose pod's
 * zh_ifaces entry has ZH_IFACE_F_POLICY (source), bits of the flags those
 * lookups load anyway, so an unpolicied pod pays two bit tests.
 *
 * zh_pol_ct: flows with a policed end, both directions, keyed like zh_ct
 * (dir 0; the reply's entry flagged ZH_POL_CT_F_REV); IPv4 flows in
 * zh_pol_ct4, whose key is 16 bytes -> the zh_pol_state
 * epoch they were approved under. A REV hit passes (a
 * reply); a forged "reply" has none and is judged as a new flow. A hit
 * under another epoch is judged again (revocation at the next packet).
 */
#define ZH_MAP_IPCACHE "zh_ipcache"
#define ZH_MAP_IPCACHE_LPM "zh_ipcache_lpm"
#define ZH_MAP_POLICY "zh_policy"
#define ZH_MAP_POL_PORTS "zh_pol_ports"
#define ZH_MAP_POLCTR "zh_polctr"
#define ZH_MAP_POL_STATE "zh_pol_state"
#define ZH_MAP_POL_EPS "zh_pol_eps"
#define ZH_MAP_POL_CT "zh_pol_ct"
#define ZH_MAP_POL_NPCTR "zh_pol_npctr"
#define ZH_MAP_POL_CT4 "zh_pol_ct4"

#define ZH_MAX_IPCACHE 262144 /* pod and node addresses, all nodes */
#define ZH_MAX_IPCACHE_LPM 65536 /* ipBlock cidr and except prefixes */
#define ZH_MAX_POLICY 262144 /* cells */
#define ZH_MAX_POL_PORTS 256 /* port bitmaps: 8 KiB each, 2 MiB */
#define ZH_MAX_POL_CLASSES 65536 /* class numbers are u16; 0: none */
#define ZH_MAX_POL_CT 262144 /* policed flows, two entries each */
/* Policy numbers (zh_pol_cell.np): twice the compiler's bound on
 * policies, so that old and new numbers fit together; 0: none. */
#define ZH_MAX_POL_NPS 32768

/* Reserved identities; the compiler numbers the others from
 * ZH_POL_ID_FIRST. */
#define ZH_POL_ID_ANY 0 /* zh_policy keys only: the wildcard cell */
#define ZH_POL_ID_HOST 1 /* this node's addresses: always allowed */
#define ZH_POL_ID_WORLD 2 /* the empty signature: matches no peer */
#define ZH_POL_ID_FIRST 16

enum zh_pol_dir {
	ZH_POL_INGRESS = 0, /* the class is the destination's */
	ZH_POL_EGRESS = 1, /* the class is the source's */
};

/* zh_policy key's proto: TCP, UDP and SCTP by number; every other
 * protocol (ICMP...) as ZH_POL_PROTO_OTHER with port 0. */
#define ZH_POL_PROTO_OTHER 0

/* zh_ipcache: zh_ep_key (an exact pod or node address) -> zh_ipc. */
struct zh_ipc {
	__u32 identity;
	__u32 flags; /* reserved: 0 */
};

/*
 * zh_ipcache_lpm: consulted on a zh_ipcache miss when the class has
 * ZH_POL_EP_F_CIDR_*; every ipBlock cidr and except prefix, and /0 of
 * each family (ZH_POL_ID_WORLD). prefixlen counts the family byte and
 * the padding too: 32 + the prefix's length.
 */
struct zh_ipc_lpm_key {
	__u32 prefixlen;
	__u8 family; /* enum zh_family */
	__u8 pad[3];
	__u32 addr[4]; /* network byte order; IPv4 uses addr[0] */
};

/* zh_policy. */
struct zh_pol_key {
	__u16 class;
	__u8 dir; /* enum zh_pol_dir */
	__u8 proto; /* IPPROTO_TCP/UDP/SCTP or ZH_POL_PROTO_OTHER */
	__u32 identity; /* the peer's, or ZH_POL_ID_ANY */
};

#define ZH_POL_CELL_IVS 8

struct zh_pol_iv {
	__u16 lo, hi; /* destination ports, host byte order, inclusive */
};

/* The wildcard cell of its {class, dir, proto}: some identity has a cell
 * of its own (look it up first). */
#define ZH_POL_CELL_F_SPECIFIC (1U << 0)
/* More intervals than fit: the ports are zh_pol_ports[bitmap]. */
#define ZH_POL_CELL_F_BITMAP (1U << 1)

struct zh_pol_cell {
	__u8 n; /* intervals used in iv[] */
	__u8 flags; /* ZH_POL_CELL_F_* */
	/* Bit i: interval i denies. Reserved for ClusterNetworkPolicy:
	 * NetworkPolicy only allows, so 0; a port in no interval is denied. */
	__u16 verdicts;
	__u32 bitmap; /* with ZH_POL_CELL_F_BITMAP */
	struct zh_pol_iv iv[ZH_POL_CELL_IVS];
	/* The policy credited with what interval i allows: its number in
	 * zh_pol_npctr (0: none). With ZH_POL_CELL_F_BITMAP, np[0] for all
	 * the bitmap's ports. */
	__u16 np[ZH_POL_CELL_IVS];
};

/* zh_pol_ports: array; bit p of bits[] (p / 64, p % 64): port p allowed. */
struct zh_pol_ports {
	__u64 bits[65536 / 64];
};

/* The policy state of a local pod's address. */
#define ZH_POL_EP_F_ISO_IN (1U << 0) /* a policy isolates its ingress */
#define ZH_POL_EP_F_ISO_EG (1U << 1) /* ... its egress */
#define ZH_POL_EP_F_CIDR_IN (1U << 2) /* its ingress rules have ipBlocks */
#define ZH_POL_EP_F_CIDR_EG (1U << 3)
#define ZH_POL_EP_F_AUDIT (1U << 4) /* count and log, do not drop */
/* A class whose cells did not fit: none written, so everything but the
 * node is denied in that direction (counted under its own reason). */
#define ZH_POL_EP_F_FAILED_IN (1U << 5)
#define ZH_POL_EP_F_FAILED_EG (1U << 6)
/* CNI ADD done, policy not known yet: deny all but the node (set by the
 * plugin when zh_pol_state.mode is not off, replaced by the agent). */
#define ZH_POL_EP_F_PENDING (1U << 7)

struct zh_pol_ep {
	__u32 identity; /* its own, as zh_ipcache has it */
	__u16 class_in; /* 0: not isolated */
	__u16 class_eg;
	__u32 flags; /* ZH_POL_EP_F_* */
};

/* zh_pol_ct4: IPv4 flows of zh_pol_ct, in a key of 16 bytes instead of
 * 40 (hashed and compared on every packet of an established flow); same
 * value, same rules. zh_pol_ct then holds the IPv6 ones. */
struct zh_pol_ct4_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* zh_pol_ct (key: struct zh_ct_key). */
#define ZH_POL_CT_F_AUDIT (1U << 0) /* passed by audit: would be denied */
/* The reverse of the flow approved: a packet keyed so is a reply. (The
 * key's dir is 0 for both: one lookup finds either.) */
#define ZH_POL_CT_F_REV (1U << 1)

struct zh_pol_ct {
	__u64 last_seen_ns; /* bpf_ktime_get_ns() */
	__u64 epoch; /* zh_pol_state.epoch it was approved under */
	__u8 state; /* enum zh_ct_state */
	__u8 flags; /* ZH_POL_CT_F_* */
	__u8 pad[6];
};

/* zh_polctr: per-CPU array indexed by class: what its cells decided. */
struct zh_pol_count {
	__u64 allowed;
	__u64 denied;
	__u64 audited; /* would have been denied */
	__u64 pad;
};

/*
 * zh_pol_npctr: per-CPU array of __u64 indexed by policy number: the
 * flows (first packets, and packets judged again after an epoch bump)
 * allowed with that NetworkPolicy credited. An interval of a cell is the
 * union of the policies of its class that allow ports in it; it credits
 * the first of them by namespace/name (user/lib/policy.c). Denials are
 * per class (zh_polctr), the agent credits them to every policy of the
 * class (every policy selecting the pod in that direction).
 */

/* zh_pol_state: one entry. The agent bumps epoch after a change that may
 * remove access; a conntrack entry approved under another epoch is
 * judged again at its next packet (NETWORKPOLICY-NOTES 6.4). zh_config's
 * layout stays as it is. */
#define ZH_POL_MODE_OFF 0
#define ZH_POL_MODE_AUDIT 1
#define ZH_POL_MODE_ON 2

struct zh_pol_state {
	__u64 epoch;
	__u32 mode; /* ZH_POL_MODE_* */
	__u32 pad;
};

/*
 * Per-packet Service work the egress hop can leave out (lb.h, README's
 * socket-level load balancing section). zh_config.flags bits:
 *
 * ZH_CFG_F_SOCK_PODS: socket-level LB balances every pod's TCP and UDP
 * sockets (zerohopd set it: its connect/sendmsg hooks, both families, are
 * on the cgroup v2 root). A pod's packet is then looked up in zh_services
 * only when it goes to a Service CIDR (a ClusterIP that something no hook
 * sees still asks for: a raw socket, a flow from before the hooks); the
 * rest of a pod's traffic, translated at connect() already, pays no
 * lookup. Nothing changes for the uplink or other nodes.
 *
 * ZH_CFG_F_REV_GATED: zh_svc_be is complete (the agent filled it from
 * zh_ct and the running programs keep it so), and the reverse lookups of
 * replies are asked only where it says a per-packet flow can exist.
 * Unset (a fresh or carried zh_config, while another version's programs
 * may still run), every reply pays the lookup, as before.
 */
#define ZH_CFG_F_SOCK_PODS (1U << 2)
#define ZH_CFG_F_REV_GATED (1U << 3)
/* zh_sock_release is attached on the cgroup of the connect hooks: a
 * closed socket's zh_sock_conn slot is empty (see zh_sock_conn). Set
 * after the hooks are attached, cleared before they go. */
#define ZH_CFG_F_SOCK_RELEASE (1U << 4)
/* NodePort DSR (zerohopd --nodeport-mode=dsr, lb_dsr.h): a NodePort or
 * external-IP request from outside the cluster whose backend is on another
 * node goes there DNATed only, the front end (address, port) carried in an
 * IPv4 option or an IPv6 Destination Options header; that node strips it,
 * and its pod's replies leave from it with the front end as their source,
 * straight to the client. Unset: SNAT (the reply returns through here). */
#define ZH_CFG_F_NODEPORT_DSR (1U << 5)

/*
 * zh_svc_be: array, written by the datapath (lb.h) when it makes a
 * per-packet Service flow, and by the agent from zh_ct at start; read
 * where a reply would be turned back to its VIP. Slot (host veth ifindex
 * & (ZH_SVC_BE_SLOTS - 1)) non-zero: that pod may be a backend of such a
 * flow, its replies are looked up in zh_ct. Slot ZH_SVC_BE_ROUTED: some
 * flow's backend is no local pod (another node, the host), so replies
 * the kernel routes into a pod, and those from the uplink, are looked up.
 * A slot two ifindexes share, or one whose pod left, only costs a lookup.
 */
#define ZH_MAP_SVC_BE "zh_svc_be"
#define ZH_SVC_BE_SLOTS 65536
#define ZH_SVC_BE_ROUTED 0

#ifndef __bpf__
_Static_assert(sizeof(struct zh_ep_key) == 20, "zh_ep_key layout");
_Static_assert(sizeof(struct zh_endpoint) == 20, "zh_endpoint layout");
_Static_assert(sizeof(struct zh_iface_xsk) == 44, "zh_iface_xsk layout");
_Static_assert(sizeof(struct zh_iface) == 408, "zh_iface layout");
_Static_assert(sizeof(struct zh_steer_key) == 20, "zh_steer_key layout");
_Static_assert(sizeof(struct zh_steer) == 8, "zh_steer layout");
_Static_assert(sizeof(struct zh_counter) == 16, "zh_counter layout");
_Static_assert(sizeof(struct zh_probe) == 16, "zh_probe layout");
_Static_assert(sizeof(struct zh_config) == 40, "zh_config layout");
_Static_assert(sizeof(struct zh_flow_key) == 40, "zh_flow_key layout");
_Static_assert(sizeof(struct zh_lat_stamp) == 16, "zh_lat_stamp layout");
_Static_assert(sizeof(struct zh_svc_key) == 20, "zh_svc_key layout");
_Static_assert(sizeof(struct zh_svc) == 24, "zh_svc layout");
_Static_assert(sizeof(struct zh_backend) == 24, "zh_backend layout");
_Static_assert(sizeof(struct zh_ct_key) == 40, "zh_ct_key layout");
_Static_assert(sizeof(struct zh_ct) == 40, "zh_ct layout");
_Static_assert(sizeof(struct zh_affinity_key) == 24, "zh_affinity_key layout");
_Static_assert(sizeof(struct zh_affinity) == 16, "zh_affinity layout");
_Static_assert(sizeof(struct zh_kfeat) == 96, "zh_kfeat layout");
_Static_assert(sizeof(struct zh_trace) == 24, "zh_trace layout");
_Static_assert(sizeof(struct zh_lpm_key) == 24, "zh_lpm_key layout");
_Static_assert(sizeof(struct zh_node) == 32, "zh_node layout");
_Static_assert(sizeof(struct zh_snat_src) == 32, "zh_snat_src layout");
_Static_assert(sizeof(struct zh_sock_rev_key) == 32, "zh_sock_rev_key layout");
_Static_assert(sizeof(struct zh_sock_conn) == 64, "zh_sock_conn layout");
_Static_assert((ZH_SOCK_CONN_MAX & (ZH_SOCK_CONN_MAX - 1)) == 0,
	       "zh_sock_conn slots: a power of 2");
_Static_assert(sizeof(struct zh_sock_rev) == 32, "zh_sock_rev layout");
_Static_assert(sizeof(struct zh_netns) == 32, "zh_netns layout");
_Static_assert(sizeof(struct zh_ipc) == 8, "zh_ipc layout");
_Static_assert(sizeof(struct zh_ipc_lpm_key) == 24, "zh_ipc_lpm_key layout");
_Static_assert(sizeof(struct zh_pol_key) == 8, "zh_pol_key layout");
_Static_assert(sizeof(struct zh_pol_cell) == 56, "zh_pol_cell layout");
_Static_assert(sizeof(struct zh_pol_ports) == 8192, "zh_pol_ports layout");
_Static_assert(sizeof(struct zh_pol_ep) == 12, "zh_pol_ep layout");
_Static_assert(sizeof(struct zh_pol_count) == 32, "zh_pol_count layout");
_Static_assert(sizeof(struct zh_pol_state) == 16, "zh_pol_state layout");
_Static_assert(sizeof(struct zh_pol_ct) == 24, "zh_pol_ct layout");
_Static_assert(sizeof(struct zh_vxlan) == 40, "zh_vxlan layout");
_Static_assert(sizeof(struct zh_pol_ct4_key) == 16, "zh_pol_ct4_key layout");
_Static_assert(ZH_FEAT_MAX <= 64, "zh_kfeat has 64 bits");
#endif

#endif /* ZH_ABI_H */
