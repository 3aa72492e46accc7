/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * maps.h - the map definitions, laid out by zh_abi.h, and counter helpers.
 * Every map is pinned by name under the loader's pin_root_path (pin.c), so
 * a second load finds and reuses it.
 */
#ifndef ZH_MAPS_H
#define ZH_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "zh_abi.h"
#include "zh_hist.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_ENDPOINTS);
	__type(key, struct zh_ep_key);
	__type(value, struct zh_endpoint);
} zh_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct zh_iface);
} zh_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_STAT_MAX);
	__type(key, __u32);
	__type(value, struct zh_counter);
} zh_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zh_config);
} zh_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_LAT_SLOTS);
	__type(key, __u32);
	__type(value, struct zh_hist);
} zh_lat SEC(".maps");

/* Stamped at one CPU, matched on whichever delivers it: shared, LRU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_LAT_FLOWS);
	__type(key, struct zh_flow_key);
	__type(value, struct zh_lat_stamp);
} zh_lat_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_SERVICES);
	__type(key, struct zh_svc_key);
	__type(value, struct zh_svc);
} zh_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct zh_backend);
} zh_backends SEC(".maps");

/* Mmapable: userspace writes whole tables through a mapping (the kernel
 * spaces the u32 slots 8 bytes apart there, as it rounds array values). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, ZH_MAGLEV_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} zh_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_CT_MAX);
	__type(key, struct zh_ct_key);
	__type(value, struct zh_ct);
} zh_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_AFFINITY_MAX);
	__type(key, struct zh_affinity_key);
	__type(value, struct zh_affinity);
} zh_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_NODE_ADDRS);
	__type(key, struct zh_ep_key);
	__type(value, __u32);
} zh_node_addrs SEC(".maps");

/* Across nodes (zh_abi.h): a remote pod CIDR -> its node, and everything
 * inside the cluster. Written by the agent's node table. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, ZH_MAX_NODE_CIDRS);
	__type(key, struct zh_lpm_key);
	__type(value, struct zh_node);
} zh_nodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, ZH_MAX_CLUSTER_CIDRS);
	__type(key, struct zh_lpm_key);
	__type(value, __u32);
} zh_cluster_cidr SEC(".maps");

/* AF_XDP sockets of the pods that opted in (zerohopd inserts them). */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_XSK_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} zh_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_STEER);
	__type(key, struct zh_steer_key);
	__type(value, struct zh_steer);
} zh_xsk_steer SEC(".maps");

/* Source NAT (snat.h): what is never masqueraded, longest prefix first. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, ZH_MAX_NOMASQ);
	__type(key, struct zh_lpm_key);
	__type(value, __u32);
} zh_nomasq SEC(".maps");

/* ... and the node's source addresses and ports: key 0 masquerade's,
 * an uplink's ifindex its own (NodePort). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_SNAT_SRC);
	__type(key, __u32);
	__type(value, struct zh_snat_src);
} zh_snat_src SEC(".maps");

/* VXLAN in BPF (vxlan.h): this node's tunnel parameters, and what the
 * programs did with tunnel traffic. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zh_vxlan);
} zh_vxlan SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_VXLAN_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} zh_vxlan_stats SEC(".maps");

/* NetworkPolicy (zh_abi.h; read by policy.h, written by zerohopd). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_IPCACHE);
	__type(key, struct zh_ep_key);
	__type(value, struct zh_ipc);
} zh_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, ZH_MAX_IPCACHE_LPM);
	__type(key, struct zh_ipc_lpm_key);
	__type(value, struct zh_ipc);
} zh_ipcache_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_POLICY);
	__type(key, struct zh_pol_key);
	__type(value, struct zh_pol_cell);
} zh_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_POL_PORTS);
	__type(key, __u32);
	__type(value, struct zh_pol_ports);
} zh_pol_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_POL_CLASSES);
	__type(key, __u32);
	__type(value, struct zh_pol_count);
} zh_polctr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_POL_NPS);
	__type(key, __u32);
	__type(value, __u64);
} zh_pol_npctr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zh_pol_state);
} zh_pol_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_ENDPOINTS);
	__type(key, struct zh_ep_key);
	__type(value, struct zh_pol_ep);
} zh_pol_eps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_POL_CT);
	__type(key, struct zh_ct_key);
	__type(value, struct zh_pol_ct);
} zh_pol_ct SEC(".maps");

/* Where a per-packet Service flow's replies can come from (zh_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_SVC_BE_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} zh_svc_be SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_MAX_POL_CT);
	__type(key, struct zh_pol_ct4_key);
	__type(value, struct zh_pol_ct);
} zh_pol_ct4 SEC(".maps");

/*
 * What a step returns besides an enum zh_stat: values above every zh_stat,
 * so that one int carries either, and none is negative.
 */
enum zh_ret {
	ZH_RET_PASSTHROUGH = ZH_STAT_MAX + 1, /* not this step's business */
	ZH_RET_NAT, /* a Service rewrite is planned (struct zh_nat) */
	ZH_RET_XDP_DONE, /* tc behind XDP: XDP has dealt with the frame */
};

/* The agent's settings: zh_config's one entry (NULL only if the map is
 * broken). An array lookup the verifier inlines. */
static __always_inline struct zh_config *zh_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&zh_config, &zero);
}

/* Non-zero while any Service exists: only then is the balancer asked, so
 * that a node without Services pays no lookup for it. */
static __always_inline int zh_lb_on(void)
{
	struct zh_config *cfg = zh_cfg();

	return cfg && cfg->services;
}

/*
 * Must a packet from the pod behind host veth @ifindex (0: one the kernel
 * routed, ZH_SVC_BE_ROUTED) be looked up as the reply of a per-packet
 * Service flow? Always, until the agent vouches for zh_svc_be
 * (ZH_CFG_F_REV_GATED); then only where it says such a flow can exist.
 * Array lookups: the verifier inlines them.
 */
static __always_inline int zh_lb_rev_wanted(const struct zh_config *cfg,
					    __u32 ifindex)
{
	__u32 slot = ifindex & (ZH_SVC_BE_SLOTS - 1);
	__u32 *be;

	if (!(cfg->flags & ZH_CFG_F_REV_GATED))
		return 1;
	be = bpf_map_lookup_elem(&zh_svc_be, &slot);
	return !be || *be;
}

/* Masquerade on (zerohopd --masquerade): only then are pod packets to
 * off-node addresses looked up in zh_nomasq. */
static __always_inline int zh_masq_on(void)
{
	struct zh_config *cfg = zh_cfg();

	return cfg && (cfg->flags & ZH_CFG_F_MASQ);
}

static __always_inline void zh_count(__u32 stat, __u64 bytes)
{
	struct zh_counter *c = bpf_map_lookup_elem(&zh_stats, &stat);

	/* Per-CPU slot: no atomics needed. */
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

#endif /* ZH_MAPS_H */
