// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * zh_fast.bpf.c - entry programs of the same-node fast path: each parses
 * nothing itself, asks fwd.h what to do and verdict.h to do it.
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
 *                  rest to its kernel stack; a policed pod's ingress is
 *                  judged first (NetworkPolicy, xsk.h zh_xsk_policy).
 * zh_tc_pod        tc ingress of the pod-side veth in tc mode.
 * zh_tc_uplink     tc ingress of the node's uplink: NodePorts, the replies
 *                  of what was SNATed (masquerade, NodePorts to other
 *                  nodes), NodePort DSR requests another node sent (their
 *                  option taken out, lb_dsr.h), and pods of other nodes to
 *                  pods here (straight into them; routing vxlan:
 *                  decapsulated here first, vxlan.h).
 * zh_tc_to_pod     tc egress of the host-side veth: NetworkPolicy on what
 *                  the kernel delivers into a policed pod (policy.h).
 * zh_xdp_uplink    XDP in front of it where the uplink runs XDP natively:
 *                  a NodePort request for an XDP pod is delivered from
 *                  there; the rest goes on to zh_tc_uplink, which finds the
 *                  same conntrack entry.
 * zh_tc_tunnel     tc ingress of the VXLAN device (routing vxlan): what
 *                  it decapsulated for a pod here goes straight into it
 *                  (a NodePort DSR request too, its option taken out).
 *
 * The pod-side programs time arrivals (lat.h) and turn replies from
 * backends the kernel routed (another node, the host) back to the VIP.
 *
 * zh_sock_*        cgroup sock_addr programs on the cgroup v2 root
 *                  (sock.h): socket-level load balancing. In this object
 *                  so that they share its maps and its loader: probed,
 *                  loaded, pinned and upgraded per program like the rest.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "lib/ctx.h"
#include "lib/fwd.h"
#include "lib/lat.h"
#include "lib/verdict.h"
#include "lib/xsk.h"
#include "lib/kfeat.h"
#include "lib/sock.h"

SEC("tc")
int zh_tc_from_pod(struct __sk_buff *skb)
{
	struct zh_fwd fwd = { .tc = 1 };
	int stat;

	zh_ctx_pull(skb);
	fwd.handover = zh_tc_handover(skb);
	stat = zh_from_pod(zh_ctx_data(skb), zh_ctx_end(skb),
			   zh_ctx_ifindex(skb), &fwd);
	return zh_tc_verdict(skb, stat, &fwd, 0);
}

SEC("xdp")
int zh_xdp_from_pod(struct xdp_md *ctx)
{
	struct zh_fwd fwd = { .xdp = 1 };
	int stat;

	stat = zh_from_pod(zh_ctx_data(ctx), zh_ctx_end(ctx),
			   zh_ctx_ifindex(ctx), &fwd);
	return zh_xdp_verdict(ctx, stat, &fwd, 0);
}

SEC("tc")
int zh_tc_uplink(struct __sk_buff *skb)
{
	struct zh_fwd fwd = { .tc = 1 };
	int stat;

	zh_ctx_pull(skb);
	/* VXLAN for a pod here (vxlan.h): decapsulated, then on as the
	 * device's ingress (zh_tc_tunnel) would take it. */
	stat = zh_vxlan_decap(skb);
	if (stat < 0)
		return TC_ACT_SHOT;
	fwd.tunnel = (__u8)stat;
	/* NodePort DSR (lb_dsr.h): the front end another node put in a
	 * request for a pod here, taken out. */
	if (zh_dsr_on()) {
		stat = zh_dsr_in(skb, skb->ifindex);
		if (stat < 0)
			return TC_ACT_SHOT;
		fwd.dsr = (__u8)stat;
	}
	stat = zh_from_uplink(skb, zh_ctx_data(skb), zh_ctx_end(skb),
			      zh_ctx_ifindex(skb), &fwd);
	/* What the fast path does not deliver or drop, the device gets. */
	if (fwd.tunnel && stat != ZH_STAT_REDIRECT && !zh_stat_is_drop(stat))
		return zh_vxlan_to_dev(skb);
	return zh_tc_verdict(skb, stat, &fwd, 1);
}

SEC("xdp")
int zh_xdp_uplink(struct xdp_md *ctx)
{
	struct zh_fwd fwd = { .xdp = 1 };
	int stat;

	stat = zh_from_uplink(ctx, zh_ctx_data(ctx), zh_ctx_end(ctx),
			      zh_ctx_ifindex(ctx), &fwd);
	return zh_xdp_verdict(ctx, stat, &fwd, 1);
}

SEC("tc")
int zh_tc_tunnel(struct __sk_buff *skb)
{
	struct zh_fwd fwd = { .tc = 1, .tunnel = 1 };
	int stat;

	zh_ctx_pull(skb);
	/* NodePort DSR (lb_dsr.h): a request another node sent through the
	 * tunnel, its front end taken out. */
	if (zh_dsr_on()) {
		__u32 uplink = zh_dsr_tunnel_uplink(skb);

		stat = uplink ? zh_dsr_in(skb, uplink) : 0;
		if (stat < 0)
			return TC_ACT_SHOT;
		fwd.dsr = (__u8)stat;
	}
	/* No context: no NodePorts come in here, so no port to keep. */
	stat = zh_from_uplink(NULL, zh_ctx_data(skb), zh_ctx_end(skb),
			      zh_ctx_ifindex(skb), &fwd);
	return zh_tc_verdict(skb, stat, &fwd, 1);
}

/* A reply from a backend the kernel routed here goes back to the VIP: 0,
 * or non-zero when its rewrite failed. */
#define zh_pod_reply_nat(ctx)                                        \
	({                                                           \
		struct zh_nat nat_ = {};                             \
		zh_lb_on() && zh_lb_pod_reply(zh_ctx_data(ctx),      \
					      zh_ctx_end(ctx),       \
					      &nat_) == ZH_RET_NAT ? \
			zh_ctx_nat(ctx, &nat_) :                     \
			0;                                           \
	})

static __always_inline int zh_xdp_to_pod(struct xdp_md *ctx, const int xsk)
{
	int act = ZH_RET_PASSTHROUGH;

	/* NetworkPolicy before the sockets (xsk.h): nothing denied is
	 * steered into one, nor handed to the pod's stack. */
	if (xsk) {
		act = zh_xsk_policy(zh_ctx_data(ctx), zh_ctx_end(ctx));
		if (act) {
			zh_count(act, zh_ctx_end(ctx) - zh_ctx_data(ctx));
			return XDP_DROP;
		}
		act = ZH_RET_PASSTHROUGH;
	}
	zh_pod_reply_nat(ctx); /* a frame it could not write goes on as is */
	if (xsk)
		act = zh_xsk_redirect(ctx, zh_ctx_data(ctx), zh_ctx_end(ctx));
	zh_lat_to_pod(zh_ctx_data(ctx), zh_ctx_end(ctx), act == XDP_REDIRECT);
	return act == ZH_RET_PASSTHROUGH ? XDP_PASS : act;
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
	if (zh_pod_reply_nat(skb))
		return TC_ACT_SHOT;
	zh_lat_to_pod(zh_ctx_data(skb), zh_ctx_end(skb), 0);
	return TC_ACT_UNSPEC; /* TCX_NEXT: whatever else is attached runs */
}

/* NetworkPolicy (policy.h): tc egress of the host veth, what the kernel
 * delivers into the pod. Exits at once for an unpolicied pod. */
SEC("tc")
int zh_tc_to_pod(struct __sk_buff *skb)
{
	int stat;

	zh_ctx_pull(skb);
	stat = zh_pol_to_pod(zh_ctx_data(skb), zh_ctx_end(skb),
			     zh_ctx_ifindex(skb));
	if (!stat)
		return TC_ACT_UNSPEC; /* TCX_NEXT */
	zh_count(stat, skb->len);
	return TC_ACT_SHOT;
}

/* Socket-level load balancing (sock.h). */
SEC("cgroup/connect4")
int zh_sock_connect4(struct bpf_sock_addr *ctx)
{
	return zh_sock_fwd(ctx, 0, ZH_SOCK_STAT_CONNECT4, 0);
}

SEC("cgroup/connect6")
int zh_sock_connect6(struct bpf_sock_addr *ctx)
{
	return zh_sock_fwd(ctx, 1, ZH_SOCK_STAT_CONNECT6, 0);
}

SEC("cgroup/sendmsg4")
int zh_sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	return zh_sock_fwd(ctx, 0, ZH_SOCK_STAT_SENDMSG4, 1);
}

SEC("cgroup/sendmsg6")
int zh_sock_sendmsg6(struct bpf_sock_addr *ctx)
{
	return zh_sock_fwd(ctx, 1, ZH_SOCK_STAT_SENDMSG6, 1);
}

SEC("cgroup/recvmsg4")
int zh_sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	return zh_sock_rev_nat(ctx, 0, ZH_SOCK_STAT_RECVMSG4);
}

SEC("cgroup/recvmsg6")
int zh_sock_recvmsg6(struct bpf_sock_addr *ctx)
{
	return zh_sock_rev_nat(ctx, 1, ZH_SOCK_STAT_RECVMSG6);
}

SEC("cgroup/getpeername4")
int zh_sock_peer4(struct bpf_sock_addr *ctx)
{
	return zh_sock_rev_nat(ctx, 0, ZH_SOCK_STAT_GETPEERNAME4);
}

SEC("cgroup/getpeername6")
int zh_sock_peer6(struct bpf_sock_addr *ctx)
{
	return zh_sock_rev_nat(ctx, 1, ZH_SOCK_STAT_GETPEERNAME6);
}

/* A closing socket frees its zh_sock_conn slot (sock.h). Always 1: the
 * hook cannot refuse a close. */
SEC("cgroup/sock_release")
int zh_sock_release(struct bpf_sock *sk)
{
	zh_sock_conn_free(sk);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
