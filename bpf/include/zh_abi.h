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
#define ZH_PIN_VERSION "v2"
#define ZH_PIN_DIR ZH_PIN_ROOT "/" ZH_PIN_VERSION

/* Map names: at most 15 characters, the kernel keeps 16 with the NUL. */
#define ZH_MAP_ENDPOINTS "zh_endpoints"
#define ZH_MAP_IFACES "zh_ifaces"
#define ZH_MAP_STATS "zh_stats"
#define ZH_MAP_CONFIG "zh_config"
#define ZH_MAP_LAT "zh_lat"
#define ZH_MAP_LAT_FLOWS "zh_lat_flows"

/* Program names as pinned (the function names in zh_fast.bpf.c). */
#define ZH_PROG_TC_FROM_POD "zh_tc_from_pod"
#define ZH_PROG_XDP_FROM_POD "zh_xdp_from_pod"
#define ZH_PROG_XDP_POD "zh_xdp_pod"
#define ZH_PROG_TC_POD "zh_tc_pod"

#define ZH_MAX_ENDPOINTS 65536
#define ZH_CONTAINER_ID_LEN 96
#define ZH_NETNS_LEN 128
#define ZH_IFNAME_LEN 16
#define ZH_ETH_ALEN 6

enum zh_family {
	ZH_AF_INET = 4,
	ZH_AF_INET6 = 6,
};

enum zh_datapath {
	ZH_DATAPATH_TC = 0,
	ZH_DATAPATH_XDP = 1,
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
};

/*
 * zh_ifaces: host-side veth ifindex -> the pod behind it. The BPF programs
 * read the identity fields (anti-spoofing); the rest is for zerohopctl.
 */
#define ZH_IFACE_F_V4 (1U << 0)
#define ZH_IFACE_F_V6 (1U << 1)

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
};

/*
 * zh_stats: per-CPU array indexed by enum zh_stat. Drops carry a named
 * reason; the names in zh_stat_names() (user/lib) follow this order.
 */
enum zh_stat {
	ZH_STAT_REDIRECT = 0,
	ZH_STAT_PASS_NOT_IP, /* ARP, other ethertypes */
	ZH_STAT_PASS_NO_ENDPOINT, /* destination not a local pod */
	ZH_STAT_PASS_LINK_LOCAL, /* IPv6 link-local/unspecified source */
	ZH_STAT_PASS_TTL, /* TTL/hop limit expiring: the kernel answers */
	ZH_STAT_PASS_NO_IFACE, /* ingress interface not ours */
	ZH_STAT_PASS_NOT_TO_GW, /* not addressed to the gateway MAC */
	ZH_STAT_PASS_IP_OPTIONS, /* IPv4 options: the kernel's rules apply */
	ZH_STAT_DROP_SPOOF_MAC,
	ZH_STAT_DROP_SPOOF_IP,
	ZH_STAT_DROP_MALFORMED,
	ZH_STAT_DROP_REDIRECT, /* redirect helper failed */
	ZH_STAT_MAX,
};

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
 * zh_config: one entry, written by the agent (zerohopd --sample/--no-probes)
 * or `zerohopctl latency --probes/--sample`. All zero (as a fresh map is)
 * means no latency work at all: the programs read this entry and return.
 */
#define ZH_CFG_F_PROBES (1U << 0) /* time probe datagrams (struct zh_probe) */

struct zh_config {
	__u32 flags; /* ZH_CFG_F_* */
	__u32 sample_every; /* time 1 in N packets from pods; 0: off */
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
 *   afxdp    an AF_XDP socket's ring (reserved)
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

#ifndef __bpf__
_Static_assert(sizeof(struct zh_ep_key) == 20, "zh_ep_key layout");
_Static_assert(sizeof(struct zh_endpoint) == 16, "zh_endpoint layout");
_Static_assert(sizeof(struct zh_iface) == 300, "zh_iface layout");
_Static_assert(sizeof(struct zh_counter) == 16, "zh_counter layout");
_Static_assert(sizeof(struct zh_probe) == 16, "zh_probe layout");
_Static_assert(sizeof(struct zh_config) == 8, "zh_config layout");
_Static_assert(sizeof(struct zh_flow_key) == 40, "zh_flow_key layout");
_Static_assert(sizeof(struct zh_lat_stamp) == 16, "zh_lat_stamp layout");
#endif

#endif /* ZH_ABI_H */
