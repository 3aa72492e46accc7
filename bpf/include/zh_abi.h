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
#define ZH_PIN_VERSION "v1"
#define ZH_PIN_DIR ZH_PIN_ROOT "/" ZH_PIN_VERSION

/* Map names: at most 15 characters, the kernel keeps 16 with the NUL. */
#define ZH_MAP_ENDPOINTS "zh_endpoints"
#define ZH_MAP_IFACES "zh_ifaces"
#define ZH_MAP_STATS "zh_stats"

/* Program names as pinned (the function names in zh_fast.bpf.c). */
#define ZH_PROG_TC_FROM_POD "zh_tc_from_pod"
#define ZH_PROG_XDP_FROM_POD "zh_xdp_from_pod"
#define ZH_PROG_XDP_POD "zh_xdp_pod"

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

#ifndef __bpf__
_Static_assert(sizeof(struct zh_ep_key) == 20, "zh_ep_key layout");
_Static_assert(sizeof(struct zh_endpoint) == 16, "zh_endpoint layout");
_Static_assert(sizeof(struct zh_iface) == 300, "zh_iface layout");
_Static_assert(sizeof(struct zh_counter) == 16, "zh_counter layout");
_Static_assert(sizeof(struct zh_probe) == 16, "zh_probe layout");
#endif

#endif /* ZH_ABI_H */
