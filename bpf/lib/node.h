/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * node.h - pods on other nodes (zh_abi.h: zh_nodes, zh_cluster_cidr).
 *
 * zh_node_route() finds the node behind a destination that is no local
 * pod; the tc verdict then sends the frame there without the host stack:
 *
 *   native  the FIB gives the next hop and its MAC (bpf_fib_lookup): out of
 *           that device with bpf_redirect(); where the FIB cannot answer
 *           (no neighbour yet, or forwarding off on the uplink, which the
 *           FIB lookup insists on), bpf_redirect_neigh() toward the node's
 *           address, whose neighbour the kernel resolves itself;
 *   vxlan   the tunnel key toward the node's address
 *           (bpf_skb_set_tunnel_key) and into the collect_md VXLAN device,
 *           the inner frame addressed to the remote VXLAN device's MAC.
 *
 * The XDP entry hands such frames to the tc entry behind it: an
 * XDP_REDIRECT out of a veth uplink fails unless its peer runs XDP, and
 * neither the neighbour helper nor the tunnel key exists in XDP.
 */
#ifndef ZH_NODE_H
#define ZH_NODE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "parse.h"
#include "kfeat.h"
#include "trace.h"
#include "vxlan.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* The LPM key of a whole address of @family (enum zh_family). */
static __always_inline void zh_lpm_host(struct zh_lpm_key *k, __u8 family,
					const __u32 *addr)
{
	k->prefixlen = ZH_LPM_FAMILY_BITS + (family == ZH_AF_INET ? 32 : 128);
	k->family = family;
	__builtin_memcpy(k->addr, addr, sizeof(k->addr));
}

/*
 * The remote node whose pod CIDR holds @key's address, or NULL. Both
 * lookups are functions of their own: an LPM key gets a stack frame of
 * its own, never alongside the balancer's or the masquerade's (the
 * entries' frames have no 24 bytes to spare).
 */
static __always_inline struct zh_node *
zh_node_route(const struct zh_ep_key *key)
{
	struct zh_lpm_key k = {};

	zh_lpm_host(&k, key->family, key->addr);
	return bpf_map_lookup_elem(&zh_nodes, &k);
}

/* Is @addr inside the cluster: a pod CIDR or a node's address? */
static __always_inline int zh_in_cluster(__u32 family, const __u32 *addr)
{
	struct zh_lpm_key k = {};

	zh_lpm_host(&k, family, addr);
	return bpf_map_lookup_elem(&zh_cluster_cidr, &k) != NULL;
}

/* VXLAN: the tunnel key toward the node, then into the VXLAN device. */
static __always_inline int zh_skb_to_tunnel(struct __sk_buff *skb,
					    const struct zh_node *n)
{
	struct bpf_tunnel_key tk = {};
	void *data, *data_end;
	struct ethhdr *eth;
	__u64 flags = 0;
	int act;

	/* Encapsulated in BPF where it can be (vxlan.h), else the device. */
	act = zh_vxlan_encap(skb, n);
	if (act != ZH_RET_PASSTHROUGH)
		return act;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	if (!zh_kernel_has(TC_SET_TUNNEL_KEY) || !eth)
		return TC_ACT_SHOT;
	zh_vxlan_count(ZH_VXLAN_STAT_DEV_ENCAP);
	zh_mac_copy(eth->h_dest, n->mac);
	tk.tunnel_id = n->vni;
	tk.tunnel_ttl = 64;
	if (n->family == ZH_AF_INET) {
		tk.remote_ipv4 = bpf_ntohl(n->addr[0]); /* host order here */
		/* No UDP checksum over IPv4, as BPF's own encapsulation
		 * (vxlan.h) and the kernel's VXLAN default: the receiving
		 * node decapsulates it in BPF, which leaves checksummed
		 * tunnel packets to its device. */
		flags = BPF_F_ZERO_CSUM_TX;
	} else {
		__builtin_memcpy(tk.remote_ipv6, n->addr,
				 sizeof(tk.remote_ipv6));
		flags = BPF_F_TUNINFO_IPV6;
	}
	if (bpf_skb_set_tunnel_key(skb, &tk, sizeof(tk), flags))
		return TC_ACT_SHOT;
	return zh_redirect(n->ifindex, 0);
}

/* Native: the next hop from the FIB, else from the node table. */
static __always_inline int
zh_skb_to_uplink(struct __sk_buff *skb, const struct zh_node *n, __u8 family)
{
	struct bpf_redir_neigh nh = {};
	void *data, *data_end;
	struct ethhdr *eth;
	long rc;

	if (zh_kernel_has(TC_FIB_LOOKUP)) {
		struct bpf_fib_lookup p = { .ifindex = n->ifindex };

		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (family == ZH_AF_INET) {
			struct iphdr *iph =
				zh_hdr(data, data_end, ETH_HLEN, sizeof(*iph));

			if (!iph)
				return TC_ACT_SHOT;
			p.family = AF_INET;
			p.tos = iph->tos;
			p.l4_protocol = iph->protocol;
			p.tot_len = bpf_ntohs(iph->tot_len);
			p.ipv4_src = iph->saddr;
			p.ipv4_dst = iph->daddr;
		} else {
			struct ipv6hdr *ip6 =
				zh_hdr(data, data_end, ETH_HLEN, sizeof(*ip6));

			if (!ip6)
				return TC_ACT_SHOT;
			p.family = AF_INET6;
			p.l4_protocol = ip6->nexthdr;
			p.tot_len = bpf_ntohs(ip6->payload_len);
			__builtin_memcpy(p.ipv6_src, &ip6->saddr,
					 sizeof(p.ipv6_src));
			__builtin_memcpy(p.ipv6_dst, &ip6->daddr,
					 sizeof(p.ipv6_dst));
		}
		rc = bpf_fib_lookup(skb, &p, sizeof(p), BPF_FIB_LOOKUP_OUTPUT);
		if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
			data = (void *)(long)skb->data;
			data_end = (void *)(long)skb->data_end;
			eth = zh_hdr(data, data_end, 0, sizeof(*eth));
			if (!eth)
				return TC_ACT_SHOT;
			/* Byte by byte: the FIB's MACs sit at offsets
			 * that are no multiple of 4 on the stack, which
			 * the verifier refuses wider loads from. */
			for (int i = 0; i < ZH_ETH_ALEN; i++) {
				eth->h_dest[i] = p.dmac[i];
				eth->h_source[i] = p.smac[i];
			}
			return zh_redirect(p.ifindex, 0);
		}
		/* A route, but no neighbour entry yet: the kernel resolves
		 * the gateway the FIB named. */
		if (rc == BPF_FIB_LKUP_RET_NO_NEIGH &&
		    zh_kernel_has(TC_REDIRECT_NEIGH)) {
			if (p.family == AF_INET) {
				nh.nh_family = AF_INET;
				nh.ipv4_nh = p.ipv4_dst;
			} else {
				nh.nh_family = AF_INET6;
				__builtin_memcpy(nh.ipv6_nh, p.ipv6_dst,
						 sizeof(nh.ipv6_nh));
			}
			return zh_redirect_neigh_nh(p.ifindex, &nh);
		}
	}
	if (!zh_kernel_has(TC_REDIRECT_NEIGH))
		return TC_ACT_OK; /* the kernel's routes */
	if (n->family == ZH_AF_INET) {
		nh.nh_family = AF_INET;
		nh.ipv4_nh = n->addr[0];
	} else {
		nh.nh_family = AF_INET6;
		__builtin_memcpy(nh.ipv6_nh, n->addr, sizeof(nh.ipv6_nh));
	}
	return zh_redirect_neigh_nh(n->ifindex, &nh);
}

#endif /* ZH_NODE_H */
