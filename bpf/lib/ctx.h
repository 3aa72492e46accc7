/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * ctx.h - one name per operation over both program contexts, in the way of
 * Cilium's overloadable helpers: _Generic picks the tc body (struct
 * __sk_buff) or the XDP one (struct xdp_md) at compile time, so code above
 * this layer is written once for both hooks.
 *
 *   zh_ctx_data/end/len/ifindex   the frame and where it came in
 *   zh_ctx_pull                   make the headers we parse linear
 *   zh_ctx_nat                    write a Service rewrite (nat.h)
 *   zh_ctx_reject                 answer with ICMP unreachable (reject.h)
 *   zh_ctx_deliver                hand the frame to a pod on this node
 */
#ifndef ZH_CTX_H
#define ZH_CTX_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "nat.h"
#include "reject.h"
#include "kfeat.h"
#include "trace.h"

/*
 * The frame's bounds, read from the context every time in one 32-bit load
 * the compiler cannot merge with another: reused from an earlier load, a
 * packet pointer comes back zero-extended (<<= 32, >>= 32), which the
 * verifier refuses ("pointer arithmetic on pkt_end prohibited").
 */
#define ZH_CTX_LOAD(ctx, field)                                                \
	({                                                                     \
		void *p_;                                                      \
		asm volatile("%[p] = *(u32 *)(%[c] + %[off])"                  \
			     : [p] "=r"(p_)                                    \
			     : [c] "r"(ctx), [off] "i"(__builtin_offsetof(     \
						     typeof(*(ctx)), field))); \
		p_;                                                            \
	})
#define zh_ctx_data(ctx) ZH_CTX_LOAD(ctx, data)
#define zh_ctx_end(ctx) ZH_CTX_LOAD(ctx, data_end)

/* --- tc ------------------------------------------------------------------- */

/* The Ethernet and IPv6 headers: what the parsers read first. */
#define ZH_PULL_LEN (sizeof(struct ethhdr) + sizeof(struct ipv6hdr))

/* Make the headers linear: a no-op for nearly every frame, but a veth may
 * hand us a paged skb. Never ask for more than the frame has: the pull
 * would fail outright. */
static __always_inline void zh_skb_pull(struct __sk_buff *skb)
{
	if (skb->data + ZH_PULL_LEN > skb->data_end)
		bpf_skb_pull_data(skb, skb->len < ZH_PULL_LEN ? skb->len :
								ZH_PULL_LEN);
}

static __always_inline __u32 zh_skb_len(struct __sk_buff *skb)
{
	return skb->len;
}

static __always_inline __u32 zh_skb_ifindex(struct __sk_buff *skb)
{
	return skb->ifindex;
}

/*
 * Is the veth behind @ifindex gone? A pod whose netns was deleted without
 * DEL keeps its endpoint until the agent removes it (at the link event, or
 * its sweep); bpf_redirect_peer() and bpf_redirect() take a gone ifindex
 * all the same, and the kernel drops the frame after us. The one helper
 * that looks a device up by ifindex, now, is bpf_check_mtu(): -ENODEV.
 * Without it (before 5.12) such frames count as redirects.
 */
static __always_inline int zh_skb_gone(struct __sk_buff *skb, __u32 ifindex)
{
	__u32 mtu = 0;

	return zh_kernel_has(TC_CHECK_MTU) &&
	       bpf_check_mtu(skb, ifindex, &mtu, 0, 0) < 0;
}

/* Into the destination pod: straight to it with bpf_redirect_peer(), or,
 * for an AF_XDP pod, out of its host-side veth so that the pod's veth
 * receives it (and its XDP program sees it). Every pod is reached the
 * second way on a kernel without bpf_redirect_peer() (before 5.10). */
static __always_inline int zh_skb_deliver(struct __sk_buff *skb, __u32 ifindex,
					  int via_rx)
{
	if (via_rx || !zh_kernel_has(TC_REDIRECT_PEER))
		return zh_redirect(ifindex, 0);
	return zh_redirect_peer(ifindex, 0);
}

/* --- XDP ------------------------------------------------------------------ */

static __always_inline void zh_xdp_pull(struct xdp_md *ctx)
{
}

static __always_inline __u32 zh_xdp_len(struct xdp_md *ctx)
{
	return (__u32)(zh_ctx_end(ctx) - zh_ctx_data(ctx));
}

static __always_inline __u32 zh_xdp_ifindex(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex;
}

static __always_inline int zh_xdp_ctx_nat(struct xdp_md *ctx,
					  const struct zh_nat *n)
{
	return zh_xdp_nat(zh_ctx_data(ctx), zh_ctx_end(ctx), n);
}

/* XDP answers on the veth it came in on (XDP_TX), whoever asked. */
static __always_inline int zh_xdp_ctx_reject(struct xdp_md *ctx,
					     const int to_peer)
{
	return zh_xdp_reject(ctx);
}

static __always_inline int zh_xdp_gone(struct xdp_md *ctx, __u32 ifindex)
{
	__u32 mtu = 0;

	return zh_kernel_has(XDP_CHECK_MTU) &&
	       bpf_check_mtu(ctx, ifindex, &mtu, 0, 0) < 0;
}

/* A destination veth whose peer runs XDP takes the frame (ndo_xdp_xmit). */
static __always_inline int zh_xdp_deliver(struct xdp_md *ctx, __u32 ifindex,
					  int via_rx)
{
	return zh_redirect(ifindex, 0);
}

/* --- one name for both ------------------------------------------------------ */

#define ZH_CTX(ctx, skb_fn, xdp_fn) \
	_Generic((ctx), struct __sk_buff * : skb_fn, struct xdp_md * : xdp_fn)

#define zh_ctx_pull(ctx) ZH_CTX(ctx, zh_skb_pull, zh_xdp_pull)(ctx)
#define zh_ctx_len(ctx) ZH_CTX(ctx, zh_skb_len, zh_xdp_len)(ctx)
#define zh_ctx_ifindex(ctx) ZH_CTX(ctx, zh_skb_ifindex, zh_xdp_ifindex)(ctx)
#define zh_ctx_gone(ctx, ifindex) \
	ZH_CTX(ctx, zh_skb_gone, zh_xdp_gone)(ctx, ifindex)
/* 0, or non-zero when the packet could not be (wholly) written. */
#define zh_ctx_nat(ctx, n) ZH_CTX(ctx, zh_skb_nat, zh_xdp_ctx_nat)(ctx, n)
/* The hook's redirect or TX verdict, or anything else when it failed. */
#define zh_ctx_reject(ctx, to_peer) \
	ZH_CTX(ctx, zh_skb_reject, zh_xdp_ctx_reject)(ctx, to_peer)
/* The hook's redirect verdict, or anything else when it failed. */
#define zh_ctx_deliver(ctx, ifindex, via_rx) \
	ZH_CTX(ctx, zh_skb_deliver, zh_xdp_deliver)(ctx, ifindex, via_rx)

#endif /* ZH_CTX_H */
