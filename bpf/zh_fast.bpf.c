// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * zh_fast.bpf.c - entry programs of the same-node fast path.
 *
 * zh_tc_from_pod   tc ingress of the host-side veth; delivers with
 *                  bpf_redirect_peer() straight into the destination pod.
 * zh_xdp_from_pod  XDP on the host-side veth; XDP_REDIRECT to the
 *                  destination's host-side veth, whose peer receives it.
 *                  A destination without XDP (a tc pod) is left to
 *                  zh_tc_from_pod, attached on the same veth as well.
 * zh_xdp_pod       XDP on the pod-side veth in XDP mode: veth only accepts
 *                  redirected frames (ndo_xdp_xmit) when its peer runs XDP.
 * zh_xdp_pod_xsk   zh_xdp_pod for a pod with AF_XDP sockets, in either
 *                  mode (native XDP: generic XDP skips what tc redirected):
 *                  steers its rules' traffic into the sockets (xsk.h), the
 *                  rest to its kernel stack.
 * zh_tc_pod        tc ingress of the pod-side veth in tc mode.
 * zh_tc_uplink     tc ingress of the node's uplink: NodePorts.
 * zh_xdp_uplink    XDP in front of it where the uplink runs XDP natively.
 *
 * The pod-side programs time arrivals (lat.h) and turn replies from
 * backends the kernel routed (another node, the host) back to the VIP.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "lib/fwd.h"
#include "lib/lat.h"
#include "lib/nat.h"
#include "lib/reject.h"
#include "lib/xsk.h"
#include "lib/kfeat.h"

#define ZH_PULL_LEN (sizeof(struct ethhdr) + sizeof(struct ipv6hdr))

/* A reply of a NodePort flow from a local backend: it leaves by the uplink
 * it came in on (zh_ct's out_ifindex), not through the kernel. */
static __always_inline int zh_nodeport_reply(int stat, const struct zh_fwd *fwd)
{
	return stat == ZH_STAT_PASS_NO_ENDPOINT && fwd->nat.op &&
	       fwd->nat.out_ifindex;
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

/* Into the destination pod: straight to it with bpf_redirect_peer(), or,
 * for an AF_XDP pod, out of its host-side veth so that the pod's veth
 * receives it (and its XDP program sees it). Every pod is reached the
 * second way on a kernel without bpf_redirect_peer() (before 5.10). */
static __always_inline int zh_tc_deliver(const struct zh_fwd *fwd)
{
	if (fwd->via_rx || !zh_kernel_has(TC_REDIRECT_PEER))
		return bpf_redirect(fwd->ifindex, 0);
	return bpf_redirect_peer(fwd->ifindex, 0);
}

SEC("tc")
int zh_tc_from_pod(struct __sk_buff *skb)
{
	struct zh_fwd fwd = { .tc = 1 };
	void *data, *data_end;
	int stat;

	/* Make the Ethernet and IPv6 headers linear; a no-op for nearly
	 * every frame, but a veth may hand us a paged skb. Never ask for
	 * more than the frame has: the pull would fail outright. */
	if (skb->data + ZH_PULL_LEN > skb->data_end)
		bpf_skb_pull_data(skb, skb->len < ZH_PULL_LEN ? skb->len :
								ZH_PULL_LEN);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;

	fwd.handover = zh_tc_handover(skb);
	stat = zh_from_pod(data, data_end, skb->ifindex, &fwd);
	if (stat == ZH_XDP_DONE)
		return TC_ACT_OK;
	/* Classified again behind XDP: what XDP did not hand over is its. */
	if (fwd.reclassify && !fwd.handover && !zh_nodeport_reply(stat, &fwd))
		return TC_ACT_OK;
	if (fwd.nat.op && !zh_stat_is_drop(stat)) {
		if (zh_tc_nat(skb, &fwd.nat))
			stat = ZH_STAT_DROP_NAT;
		/* The helpers may have moved the packet. */
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	zh_lat_from_pod(data, data_end, stat);
	if (stat == ZH_STAT_DROP_NO_BACKEND) {
		int act;

		zh_count(stat, skb->len); /* the request, not our answer */
		act = zh_tc_reject(skb, 1);
		return act == TC_ACT_REDIRECT ? act : TC_ACT_SHOT;
	}
	/* A NodePort reply: straight back out of the uplink it came in on,
	 * its L2 header from the neighbour table. (Without that helper the
	 * agent answers no NodePort, so there is no such reply.) */
	if (zh_kernel_has(TC_REDIRECT_NEIGH) && zh_nodeport_reply(stat, &fwd)) {
		zh_count(stat, skb->len);
		return bpf_redirect_neigh(fwd.nat.out_ifindex, NULL, 0, 0);
	}
	if (stat == ZH_STAT_REDIRECT) {
		int act;

		/* Fails harmlessly unless the skb is CHECKSUM_COMPLETE. */
		if (fwd.l3_old != fwd.l3_new)
			bpf_csum_update(skb, bpf_csum_diff(&fwd.l3_old, 4,
							   &fwd.l3_new, 4, 0));
		act = zh_tc_deliver(&fwd);
		if (act == TC_ACT_REDIRECT) {
			zh_count(stat, skb->len);
			return act;
		}
		stat = ZH_STAT_DROP_REDIRECT;
	}
	zh_count(stat, skb->len);
	return zh_stat_is_drop(stat) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("xdp")
int zh_xdp_from_pod(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct zh_fwd fwd = { .xdp = 1 };
	int stat;

	stat = zh_from_pod(data, data_end, ctx->ingress_ifindex, &fwd);
	/* Untouched, uncounted: the tc entry on this veth takes it. So does
	 * a NodePort reply, which leaves by bpf_redirect_neigh(). */
	if (stat == ZH_STAT_PASS_TO_TC || zh_nodeport_reply(stat, &fwd))
		return zh_xdp_handover(ctx);
	if (fwd.nat.op && !zh_stat_is_drop(stat) &&
	    zh_xdp_nat(data, data_end, &fwd.nat))
		stat = ZH_STAT_DROP_NAT;
	zh_lat_from_pod(data, data_end, stat);
	if (stat == ZH_STAT_DROP_NO_BACKEND) {
		zh_count(stat, len);
		return zh_xdp_reject(ctx) == XDP_TX ? XDP_TX : XDP_DROP;
	}
	if (stat == ZH_STAT_REDIRECT) {
		int act = bpf_redirect(fwd.ifindex, 0);

		if (act == XDP_REDIRECT) {
			zh_count(stat, len);
			return act;
		}
		stat = ZH_STAT_DROP_REDIRECT;
	}
	zh_count(stat, len);
	return zh_stat_is_drop(stat) ? XDP_DROP : XDP_PASS;
}

static __always_inline int zh_xdp_to_pod(struct xdp_md *ctx, int xsk)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct zh_nat nat = {};
	int act = ZH_XSK_NONE;

	if (zh_lb_on() && zh_lb_pod_reply(data, data_end, &nat) == ZH_LB_NAT)
		zh_xdp_nat(data, data_end, &nat);
	if (xsk)
		act = zh_xsk_redirect(ctx, data, data_end);
	zh_lat_to_pod(data, data_end, act == XDP_REDIRECT);
	return act == ZH_XSK_NONE ? XDP_PASS : act;
}

SEC("xdp")
int zh_xdp_pod(struct xdp_md *ctx)
{
	return zh_xdp_to_pod(ctx, 0);
}

SEC("xdp")
int zh_xdp_pod_xsk(struct xdp_md *ctx)
{
	return zh_xdp_to_pod(ctx, 1);
}

SEC("tc")
int zh_tc_pod(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct zh_nat nat = {};

	if (zh_lb_on() && zh_lb_pod_reply(data, data_end, &nat) == ZH_LB_NAT) {
		if (zh_tc_nat(skb, &nat))
			return TC_ACT_SHOT;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	zh_lat_to_pod(data, data_end, 0);
	return TC_ACT_UNSPEC; /* TCX_NEXT: whatever else is attached runs */
}

SEC("tc")
int zh_tc_uplink(struct __sk_buff *skb)
{
	struct zh_fwd fwd = {};
	void *data, *data_end;
	int stat, act;

	if (!zh_lb_on())
		return TC_ACT_OK;
	if (skb->data + ZH_PULL_LEN > skb->data_end)
		bpf_skb_pull_data(skb, skb->len < ZH_PULL_LEN ? skb->len :
								ZH_PULL_LEN);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;

	stat = zh_from_uplink(data, data_end, skb->ifindex, &fwd);
	if (stat == ZH_LB_PASSTHROUGH)
		return TC_ACT_OK;
	zh_count(stat, skb->len);
	if (stat == ZH_STAT_DROP_NO_BACKEND) {
		act = zh_tc_reject(skb, 0);
		return act == TC_ACT_REDIRECT ? act : TC_ACT_SHOT;
	}
	if (zh_stat_is_drop(stat))
		return TC_ACT_SHOT;
	if (fwd.nat.op && zh_tc_nat(skb, &fwd.nat)) {
		zh_count(ZH_STAT_DROP_NAT, skb->len);
		return TC_ACT_SHOT;
	}
	if (stat != ZH_STAT_REDIRECT)
		return TC_ACT_OK; /* translated; the kernel routes it */
	if (fwd.l3_old != fwd.l3_new)
		bpf_csum_update(skb, bpf_csum_diff(&fwd.l3_old, 4, &fwd.l3_new,
						   4, 0));
	act = zh_tc_deliver(&fwd);
	return act == TC_ACT_REDIRECT ? act : TC_ACT_SHOT;
}

/*
 * XDP on the uplink where the driver runs it natively: a NodePort request
 * for an XDP pod is delivered from here (XDP_REDIRECT). Everything else
 * goes on to zh_tc_uplink behind it, which finds the same conntrack entry:
 * a tc pod (PASS_TO_TC) and a refusal (the ICMP error is tc's) uncounted.
 */
SEC("xdp")
int zh_xdp_uplink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct zh_fwd fwd = { .xdp = 1 };
	int stat, act;

	if (!zh_lb_on())
		return XDP_PASS;
	stat = zh_from_uplink(data, data_end, ctx->ingress_ifindex, &fwd);
	if (stat == ZH_LB_PASSTHROUGH || stat == ZH_STAT_PASS_TO_TC ||
	    stat == ZH_STAT_DROP_NO_BACKEND)
		return XDP_PASS;
	if (!zh_stat_is_drop(stat) && fwd.nat.op &&
	    zh_xdp_nat(data, data_end, &fwd.nat))
		stat = ZH_STAT_DROP_NAT;
	if (stat == ZH_STAT_REDIRECT) {
		act = bpf_redirect(fwd.ifindex, 0);
		if (act != XDP_REDIRECT)
			stat = ZH_STAT_DROP_REDIRECT;
	}
	zh_count(stat, len);
	if (stat == ZH_STAT_REDIRECT)
		return XDP_REDIRECT;
	return zh_stat_is_drop(stat) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
