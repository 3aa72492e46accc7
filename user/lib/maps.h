/* SPDX-License-Identifier: Apache-2.0 */
/* maps.h - what libzerohop reads and writes in the pinned maps: endpoints,
 * AF_XDP steering, the node's addresses, counters, settings, latency. */
#ifndef ZH_MAPS_H
#define ZH_MAPS_H

#include <stdbool.h>
#include <linux/types.h>

#include "zh_abi.h"
#include "zh_hist.h"
#include "pin.h"

struct bpf_map_info;

/* Endpoints: the identity of the pod behind @host_ifindex and the routes to
 * its addresses, and its AF_XDP steering rules (iface->xsk; its zh_xsks
 * slots start empty). Writes are all or nothing. */
int zh_ep_write(const struct zh_objs *o, __u32 host_ifindex,
		const struct zh_iface *iface, const struct zh_endpoint *ep);
/* Remove the pod behind @host_ifindex, its AF_XDP rules and sockets too,
 * and the zh_ct entries of its addresses (either way); -ENOENT when there
 * is none. Call it once the pod can send no more (its veth deleted): a
 * packet after it would open a flow again. */
int zh_ep_remove(const struct zh_objs *o, __u32 host_ifindex);
/*
 * The addresses of removed pods whose zh_ct entries are still to go: the
 * walk of zh_ct takes ~0.6 us an entry here (~120 ms for 200 000), which a
 * caller holding the pin lock does better after letting go of it.
 */
#define ZH_EP_FLOWS_MAX 8
struct zh_ep_flows {
	struct zh_ep_key addr[ZH_EP_FLOWS_MAX];
	int n;
};
/*
 * Forget the zh_ct entries that name one of @flows' addresses, either
 * way: the flows a pod opened to Services (it the source), their replies
 * (it the destination), and those where it was the backend. An address
 * comes round again: the next pod given it must not inherit a flow's NAT
 * (a TCP one lives for hours). Needs no pin lock. Returns how many went,
 * or a negative errno.
 */
int zh_ct_forget(const struct zh_objs *o, const struct zh_ep_flows *flows);
/* zh_ep_remove(), but the pod's zh_ct entries are left to the caller's
 * zh_ct_forget(@flows) while @flows has room. */
int zh_ep_remove_into(const struct zh_objs *o, __u32 host_ifindex,
		      struct zh_ep_flows *flows);
/*
 * How an endpoint entry keeps a container ID (zh_iface.container_id):
 * whole when it fits (ZH_CONTAINER_ID_LEN - 1 bytes), else its first 62
 * bytes, '#' and 32 hex digits of its SHA-256. CNI allows IDs of any
 * length (containerd's run to 150 and more), and two that share their
 * start must not match; '#' is in no valid ID. Every comparison goes
 * through zh_container_id_is().
 */
void zh_container_id_key(const char *id, char out[ZH_CONTAINER_ID_LEN]);
bool zh_container_id_is(const char *stored, const char *id);

/* Remove every pod recorded for @container_id/@pod_ifname (a veth that
 * vanished without DEL); returns how many were removed. Their zh_ct
 * entries go too, or, while @flows has room, are left to the caller's
 * zh_ct_forget(@flows). */
int zh_ep_remove_owner(const struct zh_objs *o, const char *container_id,
		       const char *pod_ifname, struct zh_ep_flows *flows);
/* 1 when every steering rule of @iface is in zh_xsk_steer and points at
 * its slots, 0 when one is missing or another's (or it has none), or a
 * negative errno. */
int zh_steer_check(const struct zh_objs *o, const struct zh_iface *iface);
/* The first free run of @queues zh_xsks slots (none of a zh_ifaces
 * entry's); -ENOSPC when there is none. Call with the pin lock held. */
int zh_xsk_slot_alloc(const struct zh_objs *o, unsigned int queues,
		      __u32 *slot);
int zh_ep_lookup(const struct zh_objs *o, const struct zh_ep_key *key,
		 struct zh_endpoint *ep);
int zh_iface_lookup(const struct zh_objs *o, __u32 host_ifindex,
		    struct zh_iface *iface);
/* Walk zh_ifaces; @cb returns non-zero to stop (and that is returned). */
int zh_iface_foreach(const struct zh_objs *o,
		     int (*cb)(__u32 host_ifindex, const struct zh_iface *iface,
			       void *arg),
		     void *arg);
void zh_ep_key_v4(struct zh_ep_key *key, __u32 addr_be);
void zh_ep_key_v6(struct zh_ep_key *key, const __u32 addr_be[4]);

/* Make zh_node_addrs the addresses of the calling thread's netns (the
 * node's): what a NodePort answers on. @count: how many, may be NULL. */
int zh_node_addrs_sync(const struct zh_objs *o, int *count);

/*
 * zh_netns (zh_abi.h): the calling thread's netns cookie (SO_NETNS_COOKIE,
 * kernel 5.14; -ENOPROTOOPT before); write @n for @cookie; forget what
 * was written for the pod on host veth @host_ifindex (zh_ep_remove() does
 * it too: how many went).
 */
int zh_netns_cookie(__u64 *cookie);
int zh_netns_write(const struct zh_objs *o, __u64 cookie,
		   const struct zh_netns *n);
int zh_netns_forget(const struct zh_objs *o, __u32 host_ifindex);
/*
 * The node's entry: the calling thread's netns (the agent's, the node's)
 * with ZH_NETNS_F_NODE and the node's address of each family, the source
 * the kernel picks towards @probe4/@probe6 (network byte order; the
 * Service CIDR's first address, never a Service's; 0/NULL: none), else the
 * first address of the family that is neither loopback nor link-local.
 * Any other node entry goes. 0, or a negative errno (-ENOPROTOOPT: the
 * kernel cannot tell the netns).
 */
int zh_netns_node_sync(const struct zh_objs *o, __u32 probe4,
		       const __u32 *probe6, struct zh_netns *out);

/*
 * Slots [@first, @first + @slots) of the per-CPU array @fd, whose values
 * are @words u64s each, summed over the CPUs into @out[slot * words + w]
 * (zeroed first). With @reset each slot is zeroed once read. 0, or a
 * negative errno (-EBADF: no map).
 */
int zh_percpu_sum(int fd, __u32 first, __u32 slots, size_t words, __u64 *out,
		  bool reset);

/* Sum the per-CPU counters. */
int zh_stats_read(const struct zh_objs *o, struct zh_counter out[ZH_STAT_MAX]);
int zh_stats_reset(const struct zh_objs *o);
const char *zh_stat_name(int stat);

/* Latency (zh_abi.h: enum zh_hop, enum zh_lat_src). */
int zh_config_get(const struct zh_objs *o, struct zh_config *cfg);
int zh_config_set(const struct zh_objs *o, const struct zh_config *cfg);
/* Sum the per-CPU histograms of one slot into @out. */
int zh_lat_read(const struct zh_objs *o, int hop, int src, struct zh_hist *out);
/* Zero every histogram and forget every stamped flow. */
int zh_lat_reset(const struct zh_objs *o);
const char *zh_hop_name(int hop);
/* "off" or "0": 0; else a count 1..ZH_SAMPLE_MAX. -EINVAL otherwise. */
#define ZH_SAMPLE_MAX 1000000000U
/*
 * The agent's default: 1 in 1000 packets from pods timed per hop. What a
 * packet not chosen pays (make bench-latency) was measured at +29 to +44 ns
 * and a timed one +190 to +300 ns, so on average under 45 ns: within the
 * 50 ns a default may cost, and the histograms fill from real traffic.
 */
#define ZH_SAMPLE_DEFAULT 1000U
int zh_sample_parse(const char *s, __u32 *every);
const char *zh_lat_src_name(int src);

/*
 * How many entries the map behind @fd (@info from bpf_obj_get_info_by_fd)
 * holds. The kernel keeps no count a process can read without a program:
 * an array is always full; a hash is read in batches of 256 keys and
 * values (one syscall each), key by key only where the kernel has no batch
 * lookup for its type. 0.3-0.5 us an entry (make bench-load): callers that
 * may be asked often bound how often they count (metrics.c).
 */
int zh_map_count(int fd, const struct bpf_map_info *info, __u64 *n);

#endif /* ZH_MAPS_H */
