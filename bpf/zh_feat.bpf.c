// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * zh_feat.bpf.c - one minimal program per helper feature (zh_abi.h,
 * ZH_FEATURES), named as the feature. user/lib/features.c loads each one on
 * its own: the helper counts as present when the kernel accepts the program,
 * whatever its verifier log says. Each calls its helper the way zh_fast does
 * (same program type, valid arguments), so a load fails only for the helper.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* Map helpers are probed on a hash map, as the datapath uses them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} probe_hash SEC(".maps");

/* Created only for xdp_redirect_map: where zh_fast redirects into. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} probe_xsks SEC(".maps");

#define MAP_PROBES(hook, ctx_t)                                           \
	SEC(#hook)                                                        \
	int hook##_map_lookup_elem(ctx_t *ctx)                            \
	{                                                                 \
		__u32 k = 0;                                              \
                                                                          \
		return bpf_map_lookup_elem(&probe_hash, &k) != NULL;      \
	}                                                                 \
	SEC(#hook)                                                        \
	int hook##_map_update_elem(ctx_t *ctx)                            \
	{                                                                 \
		__u32 k = 0;                                              \
		__u64 v = 0;                                              \
                                                                          \
		return bpf_map_update_elem(&probe_hash, &k, &v, BPF_ANY); \
	}                                                                 \
	SEC(#hook)                                                        \
	int hook##_map_delete_elem(ctx_t *ctx)                            \
	{                                                                 \
		__u32 k = 0;                                              \
                                                                          \
		return bpf_map_delete_elem(&probe_hash, &k);              \
	}                                                                 \
	SEC(#hook)                                                        \
	int hook##_ktime_get_ns(ctx_t *ctx)                               \
	{                                                                 \
		return bpf_ktime_get_ns() & 1;                            \
	}                                                                 \
	SEC(#hook)                                                        \
	int hook##_get_prandom_u32(ctx_t *ctx)                            \
	{                                                                 \
		return bpf_get_prandom_u32() & 1;                         \
	}                                                                 \
	SEC(#hook)                                                        \
	int hook##_csum_diff(ctx_t *ctx)                                  \
	{                                                                 \
		__be32 a = 0, b = 1;                                      \
                                                                          \
		return bpf_csum_diff(&a, 4, &b, 4, 0) & 1;                \
	}

MAP_PROBES(tc, struct __sk_buff)
MAP_PROBES(xdp, struct xdp_md)

SEC("tc")
int tc_csum_update(struct __sk_buff *skb)
{
	return bpf_csum_update(skb, 0) & 1;
}

SEC("tc")
int tc_csum_level(struct __sk_buff *skb)
{
	return bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET) & 1;
}

SEC("tc")
int tc_l3_csum_replace(struct __sk_buff *skb)
{
	return bpf_l3_csum_replace(skb, 24, 0, 0, 2) & 1;
}

SEC("tc")
int tc_l4_csum_replace(struct __sk_buff *skb)
{
	return bpf_l4_csum_replace(skb, 40, 0, 0, BPF_F_PSEUDO_HDR | 4) & 1;
}

SEC("tc")
int tc_skb_store_bytes(struct __sk_buff *skb)
{
	__u32 v = 0;

	return bpf_skb_store_bytes(skb, 0, &v, sizeof(v), 0) & 1;
}

SEC("tc")
int tc_skb_load_bytes(struct __sk_buff *skb)
{
	__u32 v = 0;

	return bpf_skb_load_bytes(skb, 0, &v, sizeof(v)) & 1;
}

SEC("tc")
int tc_skb_pull_data(struct __sk_buff *skb)
{
	return bpf_skb_pull_data(skb, 0) & 1;
}

SEC("tc")
int tc_skb_change_tail(struct __sk_buff *skb)
{
	return bpf_skb_change_tail(skb, skb->len, 0) & 1;
}

SEC("tc")
int tc_redirect(struct __sk_buff *skb)
{
	return bpf_redirect(skb->ifindex, 0);
}

SEC("tc")
int tc_redirect_peer(struct __sk_buff *skb)
{
	return bpf_redirect_peer(skb->ifindex, 0);
}

SEC("tc")
int tc_redirect_neigh(struct __sk_buff *skb)
{
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
}

/* The coarse clock (5.11), in both hooks: one feature, policy.h's
 * conntrack clock in tc and XDP alike. */
SEC("tc")
int tc_ktime_coarse(struct __sk_buff *skb)
{
	return bpf_ktime_get_coarse_ns() & 1;
}

SEC("xdp")
int xdp_ktime_coarse(struct xdp_md *ctx)
{
	return bpf_ktime_get_coarse_ns() & 1;
}

SEC("tc")
int tc_check_mtu(struct __sk_buff *skb)
{
	__u32 mtu = 0;

	return bpf_check_mtu(skb, skb->ifindex, &mtu, 0, 0) & 1;
}

SEC("xdp")
int xdp_check_mtu(struct xdp_md *ctx)
{
	__u32 mtu = 0;

	return bpf_check_mtu(ctx, ctx->ingress_ifindex, &mtu, 0, 0) & 1;
}

SEC("tc")
int tc_fib_lookup(struct __sk_buff *skb)
{
	struct bpf_fib_lookup p = { .family = 2, .ifindex = skb->ifindex };

	return bpf_fib_lookup(skb, &p, sizeof(p), 0) & 1;
}

SEC("tc")
int tc_skb_set_tunnel_key(struct __sk_buff *skb)
{
	struct bpf_tunnel_key k = { .remote_ipv4 = 1 };

	return bpf_skb_set_tunnel_key(skb, &k, sizeof(k), 0) & 1;
}

/* Is a port of the node's a local socket's (snat.h): both protocols, and
 * the reference released, as zh_fast does it. */
#define SK_LOOKUP_PROBE(hook, ctx_t)                            \
	SEC(#hook)                                              \
	int hook##_sk_lookup(ctx_t *ctx)                        \
	{                                                       \
		struct bpf_sock_tuple t = {};                   \
		struct bpf_sock *sk;                            \
		int n = 0;                                      \
                                                                \
		sk = bpf_sk_lookup_udp(ctx, &t, sizeof(t.ipv4), \
				       BPF_F_CURRENT_NETNS, 0); \
		if (sk) {                                       \
			n++;                                    \
			bpf_sk_release(sk);                     \
		}                                               \
		sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv6), \
				       BPF_F_CURRENT_NETNS, 0); \
		if (sk) {                                       \
			n++;                                    \
			bpf_sk_release(sk);                     \
		}                                               \
		return n;                                       \
	}

SK_LOOKUP_PROBE(tc, struct __sk_buff)
SK_LOOKUP_PROBE(xdp, struct xdp_md)

/*
 * VXLAN in BPF (vxlan.h). The helper is old; its flags are what the
 * kernel may lack, and a load cannot tell: kfeatures.c runs these on a
 * crafted IPv4/UDP frame (BPF_PROG_TEST_RUN), and the feature is present
 * when they return 1. Each calls what vxlan.h calls with the same flags.
 */
SEC("tc")
int tc_vxlan_encap(struct __sk_buff *skb)
{
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
		      BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
		      BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(14);
	__u32 hash = bpf_get_hash_recalc(skb);

	if (bpf_skb_adjust_room(skb, 50, BPF_ADJ_ROOM_MAC, flags))
		return 0;
	/* Shrunk again as the decapsulation without the DECAP flags does. */
	if (bpf_skb_adjust_room(skb, -50, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO))
		return 0;
	return 1 + (hash & 0) + (skb->gso_size & 0);
}

SEC("tc")
int tc_vxlan_decap(struct __sk_buff *skb)
{
	/* BPF_F_ADJ_ROOM_DECAP_L3_IPV4 and _IPV6 (6.3). */
	if (bpf_skb_adjust_room(skb, -50, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO | (1ULL << 7)))
		return 0;
	return 1;
}

SEC("xdp")
int xdp_redirect(struct xdp_md *ctx)
{
	return bpf_redirect(ctx->ingress_ifindex, 0);
}

SEC("xdp")
int xdp_redirect_map(struct xdp_md *ctx)
{
	return bpf_redirect_map(&probe_xsks, ctx->rx_queue_index, XDP_PASS);
}

SEC("xdp")
int xdp_adjust_tail(struct xdp_md *ctx)
{
	return bpf_xdp_adjust_tail(ctx, 0) ? XDP_DROP : XDP_PASS;
}

/* XDP metadata: XDP writes it, tc reads it (the handover); both load. */
SEC("xdp")
int xdp_meta(struct xdp_md *ctx)
{
	void *meta, *data;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u32)))
		return XDP_PASS;
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if (meta + sizeof(__u32) <= data)
		*(__u32 *)meta = 1;
	return XDP_PASS;
}

SEC("tc")
int xdp_meta_tc(struct __sk_buff *skb)
{
	void *meta = (void *)(long)skb->data_meta;
	void *data = (void *)(long)skb->data;

	if (meta + sizeof(__u32) <= data && *(__u32 *)meta == 1)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/*
 * Socket-level load balancing (sock.h). A cgroup sock_addr program of an
 * attach type the kernel does not know is refused at load: one minimal
 * program per hook, and one with every helper the hooks call but
 * bpf_set_retval (5.18), which only refuses at once where it is missing.
 */
SEC("cgroup/connect4")
int sock_addr_helpers(struct bpf_sock_addr *ctx)
{
	__u32 k = 0;
	__u64 v = bpf_get_socket_cookie(ctx) ^ bpf_get_netns_cookie(ctx) ^
		  bpf_ktime_get_ns();

	if (bpf_map_lookup_elem(&probe_hash, &k))
		return 1;
	return bpf_map_update_elem(&probe_hash, &k, &v, BPF_ANY) ? 0 : 1;
}

SEC("cgroup/connect4")
int cgroup_connect(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/sendmsg4")
int cgroup_sendmsg(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/recvmsg4")
int cgroup_recvmsg(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/getpeername4")
int cgroup_getpeername(struct bpf_sock_addr *ctx)
{
	return 1;
}

/* cgroup/sock_release (5.9) doing what zh_sock_release does: the socket
 * cookie, a compare-and-swap on a map value (BPF_CMPXCHG, 5.12). No
 * ZH_FEATURES bit (zh_kfeat is full): zh_feat_sock_release() loads it
 * for `zerohopctl features`; the loader loads zh_sock_release apart. */
SEC("cgroup/sock_release")
int sock_release(struct bpf_sock *sk)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&probe_hash, &k);

	if (v && sk->dst_port)
		__sync_val_compare_and_swap(v, bpf_get_socket_cookie(sk), 0);
	return 1;
}

SEC("cgroup/connect4")
int sock_set_retval(struct bpf_sock_addr *ctx)
{
	bpf_set_retval(-111 /* ECONNREFUSED */);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
