/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * verdict.h - what the fast path decided (fwd.h: a zh_stat, or a zh_ret),
 * carried out: one function per hook type, for both of its entries (from a
 * pod's host veth, @uplink 0; from the node's uplink, 1). Each writes the
 * Service rewrite, times the hop, answers a Service without backends, hands
 * the frame on, and counts it once, by what finally became of it.
 */
#ifndef ZH_VERDICT_H
#define ZH_VERDICT_H

#include "ctx.h"
#include "fwd.h"
#include "lat.h"
#include "kfeat.h"
#include "trace.h"
#include "node.h"

/* A reply of a NodePort flow from a local backend: it leaves by the uplink
 * it came in on (zh_ct's out_ifindex), not through the kernel. */
static __always_inline int zh_nodeport_reply(int stat, const struct zh_fwd *fwd)
{
	return stat == ZH_STAT_PASS_NO_ENDPOINT && fwd->nat.op &&
	       fwd->nat.out_ifindex;
}

/* To a pod on another node, as zh_to_node() planned (node.h), by the
 * packet's destination (rewritten already where a Service balanced it
 * there). A function of its own: the node table's key, the FIB's and the
 * tunnel's parameters get a stack frame of their own, never alongside the
 * balancer's. */
static __attribute__((noinline)) int zh_skb_to_node(struct __sk_buff *skb,
						    __u32 family)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct zh_ep_key key = { .family = (__u8)family };
	struct zh_node *n;

	if (family == ZH_AF_INET) {
		struct iphdr *iph =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*iph));

		if (!iph)
			return TC_ACT_SHOT;
		key.addr[0] = iph->daddr;
	} else {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*ip6));

		if (!ip6)
			return TC_ACT_SHOT;
		__builtin_memcpy(key.addr, &ip6->daddr, sizeof(key.addr));
	}
	n = zh_node_route(&key);
	if (!n)
		return TC_ACT_OK; /* gone meanwhile: the kernel's routes */
	if (n->flags & ZH_NODE_F_VXLAN)
		return zh_skb_to_tunnel(skb, n);
	return zh_skb_to_uplink(skb, n, (__u8)family);
}

/*
 * A source-NATed packet (ZH_STAT_SNAT) out of uplink @ifindex: to a pod of
 * another node (a NodePort request whose backend is there, or the reply
 * to a NodePort client on another node) by the node path, so that it
 * reaches the pod in VXLAN mode too, where the uplink has no route to pod
 * CIDRs; anything else (outside the cluster) by bpf_redirect_neigh() on
 * the uplink, the kernel's route and neighbour. In a frame of its own, as
 * zh_skb_to_node().
 */
static __attribute__((noinline)) int zh_skb_snat_out(struct __sk_buff *skb,
						     __u32 ifindex)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct zh_ep_key key = {};
	struct zh_node *n;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*iph));

		if (!iph)
			return TC_ACT_SHOT;
		key.family = ZH_AF_INET;
		key.addr[0] = iph->daddr;
	} else {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*ip6));

		if (!ip6)
			return TC_ACT_SHOT;
		key.family = ZH_AF_INET6;
		__builtin_memcpy(key.addr, &ip6->daddr, sizeof(key.addr));
	}
	n = zh_node_route(&key);
	if (n && (n->flags & ZH_NODE_F_VXLAN) &&
	    zh_kernel_has(TC_SET_TUNNEL_KEY))
		return zh_skb_to_tunnel(skb, n);
	if (n && !(n->flags & ZH_NODE_F_VXLAN))
		return zh_skb_to_uplink(skb, n, key.family);
	return zh_redirect_neigh(ifindex, 0);
}

/* Did the XDP entry hand this frame over (ZH_META_TO_TC in its metadata)?
 * Without XDP metadata it cannot say: zh_from_pod() classifies again. */
static __always_inline int zh_tc_handover(struct __sk_buff *skb)
{
	void *meta = (void *)(long)skb->data_meta;
	void *data = (void *)(long)skb->data;

	if (!zh_kernel_has(XDP_META))
		return 0;
	return meta + sizeof(__u32) <= data && *(__u32 *)meta == ZH_META_TO_TC;
}

/* XDP: pass the frame on to the tc entry, marked as handed over where the
 * kernel has XDP metadata (the tc entry finds it again otherwise). */
static __always_inline int zh_xdp_handover(struct xdp_md *ctx)
{
	void *meta, *data;

	if (!zh_kernel_has(XDP_META))
		return XDP_PASS;
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u32)))
		return XDP_PASS; /* unmarked: tc leaves it to the kernel */
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if (meta + sizeof(__u32) <= data)
		*(__u32 *)meta = ZH_META_TO_TC;
	return XDP_PASS;
}

/* The Service rewrite, where one is planned and the frame is kept. */
#define zh_verdict_nat(ctx, stat, fwd)                  \
	((fwd)->nat.op && !zh_stat_is_drop(stat) &&     \
			 zh_ctx_nat(ctx, &(fwd)->nat) ? \
		 ZH_STAT_DROP_NAT :                     \
		 (stat))

static __always_inline int zh_tc_verdict(struct __sk_buff *skb, int stat,
					 struct zh_fwd *fwd, const int uplink)
{
	int act;

	if (stat == ZH_RET_XDP_DONE || stat == ZH_RET_PASSTHROUGH)
		return TC_ACT_OK;
	/* Classified again behind XDP: what XDP did not hand over is its. */
	if (fwd->reclassify && !fwd->handover && !zh_nodeport_reply(stat, fwd))
		return TC_ACT_OK;
	/* NodePort DSR (lb_dsr.h): what the option would make too big is
	 * answered before the DNAT, from the front end. */
	if (uplink && fwd->dsr == ZH_DSR_OUT && stat == ZH_STAT_REDIRECT) {
		act = zh_dsr_too_big(skb, fwd->ifindex, fwd->family);
		if (act) /* counted */
			return act == TC_ACT_REDIRECT ? act : TC_ACT_SHOT;
	}
	/* The helpers may move the packet: data is read after them. */
	stat = zh_verdict_nat(skb, stat, fwd);
	if (!uplink)
		zh_lat_from_pod(zh_ctx_data(skb), zh_ctx_end(skb), stat);
	if (stat == ZH_STAT_DROP_NO_BACKEND) {
		zh_count(stat, skb->len); /* the request, not our answer */
		/* From a netkit peer: not at tc ingress, no peer redirect. */
		act = zh_ctx_reject(skb, !uplink && !fwd->netkit);
		return act == TC_ACT_REDIRECT ? act : TC_ACT_SHOT;
	}
	/* A NodePort reply: straight back out of the uplink it came in on,
	 * its L2 header from the neighbour table. (Without that helper the
	 * agent answers no NodePort, so there is no such reply.) */
	if (!uplink && zh_kernel_has(TC_REDIRECT_NEIGH) &&
	    zh_nodeport_reply(stat, fwd)) {
		zh_count(stat, skb->len);
		return zh_redirect_neigh(fwd->nat.out_ifindex, 0);
	}
	/* Source NAT: out of the uplink, its L2 header from the neighbour
	 * table (snat.h; fwd.h asked for the helper before it planned). */
	if (zh_kernel_has(TC_REDIRECT_NEIGH) && stat == ZH_STAT_SNAT) {
		if (fwd->l3_old != fwd->l3_new)
			bpf_csum_update(skb, bpf_csum_diff(&fwd->l3_old, 4,
							   &fwd->l3_new, 4, 0));
		act = zh_skb_snat_out(skb, fwd->ifindex);
		if (act == TC_ACT_REDIRECT) {
			zh_count(stat, skb->len);
			return act;
		}
		stat = ZH_STAT_DROP_REDIRECT;
	}
	/* A veth gone: a drop, not a delivery that never happens. */
	if (stat == ZH_STAT_REDIRECT && zh_ctx_gone(skb, fwd->ifindex))
		stat = ZH_STAT_DROP_REDIRECT;
	if (stat == ZH_STAT_REDIRECT) {
		/* Fails harmlessly unless the skb is CHECKSUM_COMPLETE. */
		if (fwd->l3_old != fwd->l3_new)
			bpf_csum_update(skb, bpf_csum_diff(&fwd->l3_old, 4,
							   &fwd->l3_new, 4, 0));
		/* (The uplink's entries deliver here only, but for a DSR
		 * request, which goes on to its backend's node.) */
		if (uplink && fwd->dsr == ZH_DSR_OUT && fwd->remote &&
		    zh_dsr_push(skb, &fwd->nat))
			act = TC_ACT_SHOT;
		else
			act = fwd->remote ?
				      zh_skb_to_node(skb, fwd->family) :
				      zh_ctx_deliver(skb, fwd->ifindex,
						     fwd->via_rx | fwd->netkit);
		if (act == TC_ACT_REDIRECT) {
			zh_count(stat, skb->len);
			return act;
		}
		stat = ZH_STAT_DROP_REDIRECT;
	}
	zh_count(stat, skb->len);
	return zh_stat_is_drop(stat) ? TC_ACT_SHOT : TC_ACT_OK;
}

static __always_inline int zh_xdp_verdict(struct xdp_md *ctx, int stat,
					  struct zh_fwd *fwd, const int uplink)
{
	__u64 len = zh_ctx_len(ctx);
	int act;

	/* What tc behind us does: a tc pod, a NodePort reply (which leaves by
	 * bpf_redirect_neigh()), and on the uplink the ICMP answer and all
	 * that is no NodePort's. Untouched, uncounted. */
	if (uplink) {
		if (stat == ZH_RET_PASSTHROUGH || stat == ZH_STAT_PASS_TO_TC ||
		    stat == ZH_STAT_DROP_NO_BACKEND)
			return XDP_PASS;
	} else if (stat == ZH_STAT_PASS_TO_TC || zh_nodeport_reply(stat, fwd)) {
		return zh_xdp_handover(ctx);
	}
	stat = zh_verdict_nat(ctx, stat, fwd);
	if (!uplink)
		zh_lat_from_pod(zh_ctx_data(ctx), zh_ctx_end(ctx), stat);
	/* (The uplink's XDP left that to tc, above: not compiled in there.) */
	if (!uplink && stat == ZH_STAT_DROP_NO_BACKEND) {
		zh_count(stat, len);
		return zh_ctx_reject(ctx, 1) == XDP_TX ? XDP_TX : XDP_DROP;
	}
	if (stat == ZH_STAT_REDIRECT && zh_ctx_gone(ctx, fwd->ifindex))
		stat = ZH_STAT_DROP_REDIRECT;
	if (stat == ZH_STAT_REDIRECT) {
		act = zh_ctx_deliver(ctx, fwd->ifindex, fwd->via_rx);
		if (act == XDP_REDIRECT) {
			zh_count(stat, len);
			return act;
		}
		stat = ZH_STAT_DROP_REDIRECT;
	}
	zh_count(stat, len);
	return zh_stat_is_drop(stat) ? XDP_DROP : XDP_PASS;
}

#endif /* ZH_VERDICT_H */
