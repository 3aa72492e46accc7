// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_dsr.c - NodePort Direct Server Return (bpf/lib/lb_dsr.h, zh_config
 * ZH_CFG_F_NODEPORT_DSR) through BPF_PROG_TEST_RUN, byte for byte:
 *
 *   - node A: a NodePort request from outside whose backend is a pod of
 *     another node leaves DNATed only (the client's address kept), with
 *     the front end (node address, node port) as an IPv4 option or an IPv6
 *     Destination Options header; checksums verified; IPv4 and IPv6, TCP
 *     and UDP; into the tunnel (routing vxlan) or out of the uplink;
 *   - node B: such a request for a pod here has the option taken out, the
 *     reply's REV entry written (the front end, the uplink), and goes into
 *     the pod; also on a CHECKSUM_COMPLETE skb;
 *   - the pod's reply leaves node B's uplink from the front end;
 *   - snat mode (the flag off): SNAT as before, and an option is not taken
 *     out; a client inside the cluster is SNATed in dsr mode as well, and
 *     its option ignored on node B;
 *   - too big for the way with the option: ICMP fragmentation needed /
 *     packet too big from the front end, the MTU less the option;
 *   - ICMP errors about DSR flows: pod B's "port unreachable" leaves node
 *     B as the front end's; a router's "too big" about B's reply, sent to
 *     the front end, goes from node A on to the backend (native, vxlan),
 *     and node B delivers it into the pod;
 *   - the same errors about a NodePort flow whose backend is a pod of
 *     this node, in snat mode: the pod's leaves as the front end's, a
 *     router's about its reply goes into it.
 *
 * Exit 77 (skipped) when not run as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "fixture.h"

#define OUTSIDE4 "198.51.100.7"
#define OUTSIDE6 "2001:db8:77::7"
#define NODE6 "2001:db8::1"
#define INSIDE4 "192.0.2.7" /* another node: inside the cluster */
#define INSIDE6 "2001:db8::7"
#define REMOTE_BE4 "10.1.0.5" /* a pod of node 192.0.2.50 */
#define REMOTE_BE6 "fd00:1::5"
#define NODE_PORT 30080
#define BE_PORT 8080
#define CLIENT_PORT 40000
#define PORT_MIN 61000
#define PORT_MAX 61003
#define OPT4 8
#define HDR6 24
#define MTU 400 /* the way to node B in the MTU case (frames are small here) */

static const __u8 mac_out[ETH_ALEN] = { 0x02, 0, 0, 0, 0x0e, 0x01 };
static const __u8 mac_vx[ETH_ALEN] = { 0x02, 0x7a, 0xc0, 0x00, 0x02, 0x32 };

static __u8 fam(int af)
{
	return af == AF_INET ? ZH_AF_INET : ZH_AF_INET6;
}

static void lpm(int fd, int af, const char *addr, __u32 len, const void *v)
{
	struct zh_lpm_key k = { .prefixlen = ZH_LPM_FAMILY_BITS + len,
				.family = fam(af) };

	parse_addr(af, addr, k.addr);
	map_put(fd, &k, v);
}

/* The remote node of @af's pod CIDR: through the VXLAN device (POD_C's
 * host veth stands for it), or native out of the uplink. */
static void remote_node(int af, bool vxlan)
{
	struct zh_node n = { .family = ZH_AF_INET,
			     .flags = vxlan ? ZH_NODE_F_VXLAN : 0,
			     .ifindex =
				     (__u32)ifindex_of[vxlan ? POD_C : FOREIGN],
			     .vni = 7 };

	memcpy(n.mac, mac_vx, ETH_ALEN);
	parse_addr(AF_INET, "192.0.2.50", n.addr);
	lpm(bpf_map__fd(skel->maps.zh_nodes), af,
	    af == AF_INET ? "10.1.0.0" : "fd00:1::", af == AF_INET ? 24 : 64,
	    &n);
}

/* NodePort @id at @port of @af/@proto, every slot to backend @id. */
static void np_svc(__u32 id, int af, __u8 proto, __u16 port, const char *be)
{
	struct zh_svc_key k = { .family = fam(af),
				.proto = proto,
				.port = htons(port) };
	struct zh_svc v = { .id = id,
			    .table_off = id * 7,
			    .table_size = 7,
			    .flags = ZH_SVC_F_NODEPORT,
			    .port = htons(80) };
	struct zh_backend b = { .family = fam(af),
				.port = htons(BE_PORT),
				.svc_id = id };

	parse_addr(af, be, b.addr);
	map_put(bpf_map__fd(skel->maps.zh_backends), &id, &b);
	map_put(bpf_map__fd(skel->maps.zh_services), &k, &v);
	for (__u32 i = 0; i < 7; i++) {
		__u32 slot = id * 7 + i;

		map_put(bpf_map__fd(skel->maps.zh_maglev), &slot, &id);
	}
}

#define LB4 "198.51.100.200" /* a LoadBalancer IP routed to node A */
#define SVC_LB 5

/* LoadBalancer IP LB4:80/TCP, every slot to its backend REMOTE_BE4:8080:
 * keyed by its address, as a cluster IP. */
static void lb_ip_svc(void)
{
	struct zh_svc_key k = { .family = ZH_AF_INET,
				.proto = IPPROTO_TCP,
				.port = htons(80) };
	struct zh_svc v = { .id = SVC_LB,
			    .table_off = SVC_LB * 7,
			    .table_size = 7 };
	struct zh_backend b = { .family = ZH_AF_INET,
				.port = htons(BE_PORT),
				.svc_id = SVC_LB };
	__u32 id = SVC_LB;

	parse_addr(AF_INET, LB4, k.addr);
	parse_addr(AF_INET, REMOTE_BE4, b.addr);
	map_put(bpf_map__fd(skel->maps.zh_backends), &id, &b);
	map_put(bpf_map__fd(skel->maps.zh_services), &k, &v);
	for (__u32 i = 0; i < 7; i++) {
		__u32 slot = SVC_LB * 7 + i;

		map_put(bpf_map__fd(skel->maps.zh_maglev), &slot, &id);
	}
}

static void snat_src(void)
{
	struct zh_snat_src s = { .ifindex = (__u32)ifindex_of[FOREIGN],
				 .flags = ZH_SNAT_SRC_F_V4 | ZH_SNAT_SRC_F_V6,
				 .port_min = PORT_MIN,
				 .port_max = PORT_MAX };
	__u32 k = s.ifindex;

	parse_addr(AF_INET, NODE4, &s.v4);
	parse_addr(AF_INET6, NODE6, s.v6);
	map_put(bpf_map__fd(skel->maps.zh_snat_src), &k, &s);
}

static int dsr_setup(void **state)
{
	__u32 flag = ZH_CLUSTER_F_POD_CIDR;
	int cc = bpf_map__fd(skel->maps.zh_cluster_cidr);

	(void)state;
	map_clear(bpf_map__fd(skel->maps.zh_nodes));
	map_clear(bpf_map__fd(skel->maps.zh_ct));
	map_clear(cc);
	map_clear(bpf_map__fd(skel->maps.zh_snat_src));
	map_clear(bpf_map__fd(skel->maps.zh_services));
	map_clear(bpf_map__fd(skel->maps.zh_backends));
	map_clear(bpf_map__fd(skel->maps.zh_node_addrs));
	lpm(cc, AF_INET, "10.0.0.0", 8, &flag);
	lpm(cc, AF_INET6, "fd00::", 16, &flag);
	flag = ZH_CLUSTER_F_NODE_IP;
	lpm(cc, AF_INET, "192.0.2.0", 24, &flag);
	lpm(cc, AF_INET6, "2001:db8::", 64, &flag);
	snat_src();
	node_addr(AF_INET, NODE4);
	node_addr(AF_INET6, NODE6);
	/* Node A's NodePorts (backends on node 192.0.2.50), and node B's
	 * pod B (the same maps play both nodes). */
	np_svc(1, AF_INET, IPPROTO_TCP, NODE_PORT, REMOTE_BE4);
	np_svc(2, AF_INET, IPPROTO_UDP, NODE_PORT, REMOTE_BE4);
	np_svc(3, AF_INET6, IPPROTO_TCP, NODE_PORT, REMOTE_BE6);
	np_svc(4, AF_INET6, IPPROTO_UDP, NODE_PORT, REMOTE_BE6);
	lb_ip_svc();
	cfg_flags(ZH_CFG_F_NODEPORT_DSR, ZH_CFG_F_MASQ, 1);
	return 0;
}

static int dsr_teardown(void **state)
{
	(void)state;
	cfg_flags(0, ZH_CFG_F_NODEPORT_DSR, 0);
	map_clear(bpf_map__fd(skel->maps.zh_services));
	map_clear(bpf_map__fd(skel->maps.zh_node_addrs));
	map_clear(bpf_map__fd(skel->maps.zh_nodes));
	map_clear(bpf_map__fd(skel->maps.zh_cluster_cidr));
	map_clear(bpf_map__fd(skel->maps.zh_ct));
	return 0;
}

static bool dsr_can(void)
{
	return kfeat.present & ZH_FEAT_BIT(TC_CHECK_MTU) & ~kfeat.disabled;
}

/* ---------------------------------------------------------- frames */

static struct frame outer(bool v6, __u8 proto, const char *s, __u16 sp,
			  const char *d, __u16 dp, short ttl)
{
	return (struct frame){ .l3 = v6 ? L3_IPV6 : L3_IPV4,
			       .proto = proto,
			       .src = s,
			       .sport = sp,
			       .dst = d,
			       .dport = dp,
			       .src_mac = mac_out,
			       .dst_mac = mac_out,
			       .ttl = ttl };
}

/*
 * @in (a frame_build() frame of @len bytes) with the front end @fe:@port
 * put in after its IP header, as node A writes it, into @out. Returns the
 * new length. Written here from the format (lb_dsr.h), not from BPF.
 */
static __u32 with_opt(const __u8 *in, __u32 len, bool v6, const char *fe,
		      __u16 port, __u8 *out)
{
	size_t ih = v6 ? IP6_HLEN : sizeof(struct iphdr);
	__u8 *o = out + L3 + ih;
	__u32 extra = v6 ? HDR6 : OPT4;

	memcpy(out, in, L3 + ih);
	memcpy(o + extra, in + L3 + ih, len - L3 - ih);
	if (v6) {
		o[0] = in[IP6_NEXTHDR];
		o[1] = HDR6 / 8 - 1;
		o[2] = 0x1e; /* RFC 4727 experiment, skip if unknown */
		o[3] = 18;
		put16(o + 4, port);
		parse_addr(AF_INET6, fe, o + 6);
		o[22] = 1; /* PadN, no data */
		o[23] = 0;
		out[IP6_NEXTHDR] = 60;
		put16(out + L3 + 4, (__u16)(get16(in + L3 + 4) + HDR6));
	} else {
		o[0] = 0x9e; /* copied, class 0, number 30 */
		o[1] = OPT4;
		put16(o + 2, port);
		parse_addr(AF_INET, fe, o + 4);
		out[L3] = 0x47;
		put16(out + L3 + 2, (__u16)(get16(in + L3 + 2) + OPT4));
		put16(out + IP4_CHECK, 0);
		put16(out + IP4_CHECK,
		      csum_fold(csum_add(0, out + L3, ih + OPT4)));
	}
	return len + extra;
}

/* The IPv4 header (options too) verifies, and so does the L4 checksum
 * wherever the L4 header starts (after the option or extension header). */
static void assert_csums(const __u8 *b, __u32 len, bool v6, __u8 proto)
{
	size_t l4;
	__u32 sum;
	__u8 tmp[FRAME_MAX];

	if (v6) {
		l4 = L3 + IP6_HLEN;
		if (b[IP6_NEXTHDR] == 60)
			l4 += (size_t)(b[l4 + 1] + 1) * 8;
	} else {
		l4 = L3 + (size_t)(b[L3] & 0xf) * 4;
		if (csum_fold(csum_add(0, b + L3, l4 - L3)))
			fail_here("IPv4 header checksum does not verify");
	}
	/* pseudo_sum() reads the addresses at their places and takes the
	 * protocol and length it is told. */
	memcpy(tmp, b, len);
	sum = pseudo_sum(tmp, v6, proto, (__u32)(len - l4));
	if (csum_fold(csum_add(sum, b + l4, len - l4)))
		fail_here("%s checksum does not verify",
			  proto == IPPROTO_TCP ? "TCP" : "UDP");
}

static int ct_dir_count(__u8 dir)
{
	int fd = bpf_map__fd(skel->maps.zh_ct), n = 0;
	struct zh_ct_key k, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &k)) {
		n += k.dir == dir;
		prev = &k;
	}
	return n;
}

/* ------------------------------------------------------------ node A */

static void node_a_one(bool v6, __u8 proto, bool vxlan)
{
	const char *out = v6 ? OUTSIDE6 : OUTSIDE4, *node = v6 ? NODE6 : NODE4;
	const char *be = v6 ? REMOTE_BE6 : REMOTE_BE4;
	__u64 want_d[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	struct frame f = outer(v6, proto, out, CLIENT_PORT, node, NODE_PORT, 0);
	__u8 in[FRAME_MAX], dnat[FRAME_MAX], want[FRAME_MAX];
	__u32 len, wlen;
	struct run r;

	map_clear(bpf_map__fd(skel->maps.zh_ct));
	map_clear(bpf_map__fd(skel->maps.zh_nodes));
	remote_node(v6 ? AF_INET6 : AF_INET, vxlan);
	len = (__u32)frame_build(&f, FOREIGN, in);
	cur_set(in, len, "node A: %s %s to the NodePort, %s",
		v6 ? "IPv6" : "IPv4", proto == IPPROTO_TCP ? "TCP" : "UDP",
		vxlan ? "vxlan" : "native");
	/* XDP hands it to tc, untouched. */
	run_prog(skel->progs.zh_xdp_uplink, ifindex_of[FOREIGN], in, len, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	assert_unchanged(in, len, &r);
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	/* DNAT only: the client's address and port kept, one hop on. */
	f = outer(v6, proto, out, CLIENT_PORT, be, BE_PORT, 63);
	if (vxlan)
		f.dst_mac = mac_vx;
	(void)frame_build(&f, FOREIGN, dnat);
	wlen = with_opt(dnat, len, v6, node, NODE_PORT, want);
	if (r.out_len != wlen)
		fail_here("output is %u bytes, want %u", r.out_len, wlen);
	assert_deltas(&r, want_d, wlen); /* counted as it left */
	if (vxlan) {
		if (kfeat.present & ZH_FEAT_BIT(TC_SET_TUNNEL_KEY) &
		    ~kfeat.disabled) {
			assert_bytes(want, wlen, &r);
			assert_redirect(&r, ZH_TRACE_REDIRECT,
					ifindex_of[POD_C]);
		}
	} else {
		/* The L2 header is the FIB's or the neighbour table's. */
		if (memcmp(r.out + L3, want + L3, wlen - L3))
			assert_bytes(want, wlen, &r);
	}
	assert_csums(r.out, r.out_len, v6, proto);
	/* The balancer's two entries, no SNAT. */
	if (ct_dir_count(ZH_CT_FWD) != 1 || ct_dir_count(ZH_CT_REV) != 1 ||
	    ct_dir_count(ZH_CT_SNAT_FWD) || ct_dir_count(ZH_CT_SNAT_REV))
		fail_here("conntrack: want one FWD, one REV, no SNAT entry");
	/* The flow's next request: the same. */
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	if (r.out_len != wlen || memcmp(r.out + L3, want + L3, wlen - L3))
		assert_bytes(want, wlen, &r);
}

static void test_dsr_node_a(void **state)
{
	(void)state;
	if (!dsr_can()) {
		printf("test_bpf_dsr: SKIP node A: no bpf_check_mtu in tc\n");
		return;
	}
	for (int v6 = 0; v6 < 2; v6++) {
		node_a_one(v6, IPPROTO_TCP, false);
		node_a_one(v6, IPPROTO_UDP, false);
		node_a_one(v6, IPPROTO_TCP, true);
		node_a_one(v6, IPPROTO_UDP, true);
	}
}

/* snat mode: the option never appears; the request leaves SNATed. A client
 * inside the cluster is SNATed in dsr mode too. */
static void snat_one(bool v6, const char *client)
{
	const char *node = v6 ? NODE6 : NODE4;
	__u64 want_d[ZH_STAT_MAX] = { [ZH_STAT_SNAT] = 1 };
	struct frame f =
		outer(v6, IPPROTO_TCP, client, CLIENT_PORT, node, NODE_PORT, 0);
	__u8 in[FRAME_MAX];
	__u32 len;
	struct run r;
	__u32 sip[4] = { 0 }, want_ip[4] = { 0 };

	map_clear(bpf_map__fd(skel->maps.zh_ct));
	len = (__u32)frame_build(&f, FOREIGN, in);
	cur_set(in, len, "%s from %s: SNAT", v6 ? "IPv6" : "IPv4", client);
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, want_d, len);
	if (r.out_len != len)
		fail_here("output is %u bytes, want %u: an option added",
			  r.out_len, len);
	memcpy(sip, r.out + (v6 ? IP6_SADDR : IP4_SADDR), v6 ? 16 : 4);
	parse_addr(v6 ? AF_INET6 : AF_INET, node, want_ip);
	if (memcmp(sip, want_ip, sizeof(sip)))
		fail_here("not SNATed to the node's address");
	assert_l4_csum(r.out, len, v6);
	if (ct_dir_count(ZH_CT_SNAT_FWD) != 1)
		fail_here("no SNAT entry");
}

static void test_dsr_snat(void **state)
{
	(void)state;
	for (int v6 = 0; v6 < 2; v6++) {
		remote_node(v6 ? AF_INET6 : AF_INET, false);
		/* In dsr mode, from inside the cluster. */
		snat_one(v6, v6 ? INSIDE6 : INSIDE4);
		/* snat mode. */
		cfg_flags(0, ZH_CFG_F_NODEPORT_DSR, -1);
		snat_one(v6, v6 ? OUTSIDE6 : OUTSIDE4);
		cfg_flags(ZH_CFG_F_NODEPORT_DSR, 0, -1);
	}
}

/* ------------------------------------------------------------ node B */

static void assert_rev(bool v6, __u8 proto, const char *client, const char *pod,
		       const char *fe)
{
	struct zh_ct_key k = { .family = v6 ? ZH_AF_INET6 : ZH_AF_INET,
			       .proto = proto,
			       .dir = ZH_CT_REV,
			       .sport = htons(BE_PORT),
			       .dport = htons(CLIENT_PORT) };
	__u32 want_vip[4] = { 0 };
	struct zh_ct v;

	parse_addr(v6 ? AF_INET6 : AF_INET, pod, k.saddr);
	parse_addr(v6 ? AF_INET6 : AF_INET, client, k.daddr);
	parse_addr(v6 ? AF_INET6 : AF_INET, fe, want_vip);
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.zh_ct), &k, &v))
		fail_here("no REV entry for the pod's reply");
	if (memcmp(v.vip, want_vip, sizeof(want_vip)) ||
	    v.vport != htons(NODE_PORT) || !(v.flags & ZH_CT_F_DSR) ||
	    v.out_ifindex != (__u32)ifindex_of[FOREIGN])
		fail_here("REV entry: front end, flag or uplink wrong");
}

/* The requests' payload: 0, the usual; a UDP one of 3 bytes has fewer
 * than a TCP header's 14 after its header (regression: it was not taken). */
static __u16 b_payload;

static void node_b_one(bool v6, __u8 proto, bool complete)
{
	const char *out = v6 ? OUTSIDE6 : OUTSIDE4, *node = v6 ? NODE6 : NODE4;
	const char *pod = v6 ? B6 : B4;
	__u64 into[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	__u64 reply_d[ZH_STAT_MAX] = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 };
	struct frame f = outer(v6, proto, out, CLIENT_PORT, pod, BE_PORT, 63);
	__u8 plain[FRAME_MAX], in[FRAME_MAX], want[FRAME_MAX];
	__u32 plen, len;
	struct run r;

	f.payload = b_payload;
	map_clear(bpf_map__fd(skel->maps.zh_ct));
	plen = (__u32)frame_build(&f, FOREIGN, plain);
	len = with_opt(plain, plen, v6, node, NODE_PORT, in);
	cur_set(in, len, "node B: %s %s with the front end%s",
		v6 ? "IPv6" : "IPv4", proto == IPPROTO_TCP ? "TCP" : "UDP",
		complete ? ", CHECKSUM_COMPLETE" : "");
	run_prog(skel->progs.zh_xdp_uplink, ifindex_of[FOREIGN], in, len, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	assert_unchanged(in, len, &r);
	run_prog_flags(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len,
		       complete ? BPF_F_TEST_SKB_CHECKSUM_COMPLETE : 0, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	if (r.out_len != plen)
		fail_here(
			"output is %u bytes, want %u: the option not taken out",
			r.out_len, plen);
	assert_deltas(&r, into, plen);
	assert_verdict(PROG_TC, &r, REDIRECT);
	/* The option gone, into pod B, one hop on. */
	assert_routed(plain, plen, &r, POD_B, true);
	assert_redirect(&r,
			kfeat.present & ZH_FEAT_BIT(TC_REDIRECT_PEER) &
					~kfeat.disabled ?
				ZH_TRACE_REDIRECT_PEER :
				ZH_TRACE_REDIRECT,
			ifindex_of[POD_B]);
	assert_rev(v6, proto, out, pod, node);
	/* The pod's reply: from the front end, out of the uplink. */
	f = (struct frame){ .l3 = v6 ? L3_IPV6 : L3_IPV4,
			    .proto = proto,
			    .src = pod,
			    .sport = BE_PORT,
			    .dst = out,
			    .dport = CLIENT_PORT };
	plen = (__u32)frame_build(&f, POD_B, plain);
	cur_set(plain, plen, "node B: pod B's reply");
	run_prog(skel->progs.zh_tc_from_pod, ifindex_of[POD_B], plain, plen,
		 &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, reply_d, plen);
	f.src = node;
	f.sport = NODE_PORT;
	(void)frame_build(&f, POD_B, want);
	assert_bytes(want, plen, &r);
	assert_l4_csum(r.out, plen, v6);
	assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH, ifindex_of[FOREIGN]);
	if (ct_dir_count(ZH_CT_SNAT_FWD) || ct_dir_count(ZH_CT_SNAT_REV))
		fail_here("the reply was SNATed");
}

static void test_dsr_node_b(void **state)
{
	(void)state;
	if (!dsr_can()) {
		printf("test_bpf_dsr: SKIP node B: no bpf_check_mtu in tc\n");
		return;
	}
	for (int v6 = 0; v6 < 2; v6++)
		for (int complete = 0; complete < 2; complete++) {
			if (complete && !has_csum_complete())
				continue;
			node_b_one(v6, IPPROTO_TCP, complete);
			node_b_one(v6, IPPROTO_UDP, complete);
		}
	b_payload = 3;
	node_b_one(false, IPPROTO_UDP, false);
	node_b_one(true, IPPROTO_UDP, false);
	b_payload = 0;
}

/* Not taken out: snat mode, a source inside the cluster (anti-spoofing: a
 * DSR client is outside), a destination that is no pod here. */
static void node_b_ignored(bool v6, const char *client, const char *dst,
			   const char *what)
{
	const char *node = v6 ? NODE6 : NODE4;
	struct frame f =
		outer(v6, IPPROTO_TCP, client, CLIENT_PORT, dst, BE_PORT, 63);
	__u8 plain[FRAME_MAX], in[FRAME_MAX];
	__u32 plen, len;
	struct run r;

	map_clear(bpf_map__fd(skel->maps.zh_ct));
	plen = (__u32)frame_build(&f, FOREIGN, plain);
	len = with_opt(plain, plen, v6, node, NODE_PORT, in);
	cur_set(in, len, "node B: %s", what);
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	/* Whatever becomes of it (from inside the cluster, IPv6: into the
	 * pod as any cross-node packet), the option stays. */
	if (r.out_len != len ||
	    memcmp(r.out + L3 + 20, in + L3 + 20, len - L3 - 20))
		fail_here("the option was taken out");
	if (ct_dir_count(ZH_CT_REV))
		fail_here("a REV entry was written");
}

static void test_dsr_node_b_ignored(void **state)
{
	(void)state;
	for (int v6 = 0; v6 < 2; v6++) {
		const char *out = v6 ? OUTSIDE6 : OUTSIDE4;

		node_b_ignored(v6, v6 ? INSIDE6 : INSIDE4, v6 ? B6 : B4,
			       "from inside the cluster");
		node_b_ignored(v6, out, v6 ? "fd00::99" : UNKNOWN4,
			       "to no pod here");
		cfg_flags(0, ZH_CFG_F_NODEPORT_DSR, -1);
		node_b_ignored(v6, out, v6 ? B6 : B4, "snat mode");
		cfg_flags(ZH_CFG_F_NODEPORT_DSR, 0, -1);
	}
}

/* ----------------------------------------------------- ICMP errors */

/* An ICMP error from @src to @to of @type/@code (@mtu) with @macs' MACs
 * (NULL: the uplink's), quoting @quote bytes (0: header and 8) of
 * @quoted, TTL @ttl (0: 64). */
static __u32 err_frame(bool v6, const char *src, const char *to, __u8 type,
		       __u8 code, __u16 mtu, const __u8 *quoted, __u16 quote,
		       __u8 ttl, int macs, __u8 *out)
{
	__u8 sa[16], da[16];
	struct icmp_err e = {
		.v6 = v6,
		.src = sa,
		.dst = da,
		.type = type,
		.code = code,
		.mtu = mtu,
		.quoted = quoted,
		.quote = quote,
		.src_mac = macs == FOREIGN ? mac_out : pods[macs].mac,
		.dst_mac = macs == FOREIGN ? mac_out : gw_mac_of[macs],
		.ttl = ttl
	};

	parse_addr(v6 ? AF_INET6 : AF_INET, src, sa);
	parse_addr(v6 ? AF_INET6 : AF_INET, to, da);
	return icmp_err_frame(&e, out);
}

/* Node B: the request @proto from OUTSIDE with node A's front end, taken
 * in for pod B (its REV entry written); what pod B got into @got. */
static __u32 node_b_request(bool v6, __u8 proto, __u8 *got)
{
	const char *out = v6 ? OUTSIDE6 : OUTSIDE4, *node = v6 ? NODE6 : NODE4;
	struct frame f =
		outer(v6, proto, out, CLIENT_PORT, v6 ? B6 : B4, BE_PORT, 63);
	__u8 plain[FRAME_MAX], in[FRAME_MAX];
	__u32 plen, len;
	struct run r;

	plen = (__u32)frame_build(&f, FOREIGN, plain);
	len = with_opt(plain, plen, v6, node, NODE_PORT, in);
	cur_set(in, len, "node B: the request");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	if (r.out_len != plen)
		fail_here("the option was not taken out");
	memcpy(got, r.out, r.out_len);
	return r.out_len;
}

/*
 * Node B: pod B answers a DSR request (OUTSIDE:40000 -> B:8080, as it got
 * it, the whole of it or its header and 8 bytes quoted) with "port
 * unreachable" to the client: it leaves the uplink as the front end's
 * (NODE's, the node port's) own answer, by the neighbour table, one hop
 * on: from NODE, quoting OUTSIDE:40000 -> NODE:30080, every checksum as a
 * sender computes it (the expected frame built from scratch). XDP hands
 * it to tc untouched. Left alone (the kernel's, untouched): about a port
 * no DSR flow holds, and in snat mode.
 */
static void dsr_icmp_b_one(bool v6, __u8 proto, bool whole)
{
	const char *out = v6 ? OUTSIDE6 : OUTSIDE4, *node = v6 ? NODE6 : NODE4,
		   *pod = v6 ? B6 : B4;
	__u8 unreach = v6 ? 1 : 3, port = v6 ? 4 : 3;
	__u64 snat[ZH_STAT_MAX] = { [ZH_STAT_SNAT] = 1 };
	__u8 got[FRAME_MAX], err[FRAME_MAX], want[FRAME_MAX], quoted[FRAME_MAX];
	struct frame f;
	__u32 glen, elen, wlen;
	__u16 quote;
	struct run r;

	map_clear(bpf_map__fd(skel->maps.zh_ct));
	glen = node_b_request(v6, proto, got);
	quote = whole ? (__u16)(glen - L3) : 0;
	elen = err_frame(v6, pod, out, unreach, port, 0, got, quote, 0, POD_B,
			 err);
	cur_set(err, elen, "node B: pod B's %s port unreachable, %s, %s quote",
		v6 ? "ICMPv6" : "ICMP", proto == IPPROTO_TCP ? "TCP" : "UDP",
		whole ? "whole" : "8-byte");
	run_prog(skel->progs.zh_tc_from_pod, ifindex_of[POD_B], err, elen, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, snat, elen);
	assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH, ifindex_of[FOREIGN]);
	/* What the client gets: the front end's answer to its own packet
	 * (as pod B got it: TTL 62). */
	f = outer(v6, proto, out, CLIENT_PORT, node, NODE_PORT, 62);
	(void)frame_build(&f, FOREIGN, quoted);
	wlen = err_frame(v6, node, out, unreach, port, 0, quoted, quote, 63,
			 POD_B, want);
	assert_int_equal(wlen, elen);
	assert_bytes(want, wlen, &r);

	/* The XDP entry hands it to tc, untouched. */
	run_prog(skel->progs.zh_xdp_from_pod, ifindex_of[POD_B], err, elen, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	assert_unchanged(err, elen, &r);

	/* One that would expire here: the kernel's, untouched. */
	elen = err_frame(v6, pod, out, unreach, port, 0, got, quote, 1, POD_B,
			 err);
	cur_set(err, elen, "node B: port unreachable, TTL 1");
	run_prog(skel->progs.zh_tc_from_pod, ifindex_of[POD_B], err, elen, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);

	/* About a client port no flow has: the kernel's. */
	f = outer(v6, proto, out, CLIENT_PORT + 1, pod, BE_PORT, 62);
	(void)frame_build(&f, FOREIGN, quoted);
	elen = err_frame(v6, pod, out, unreach, port, 0, quoted, quote, 0,
			 POD_B, err);
	cur_set(err, elen, "node B: port unreachable about no flow");
	run_prog(skel->progs.zh_tc_from_pod, ifindex_of[POD_B], err, elen, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);

	/* snat mode: the kernel's. */
	elen = err_frame(v6, pod, out, unreach, port, 0, got, quote, 0, POD_B,
			 err);
	cfg_flags(0, ZH_CFG_F_NODEPORT_DSR, -1);
	cur_set(err, elen, "node B: port unreachable, snat mode");
	run_prog(skel->progs.zh_tc_from_pod, ifindex_of[POD_B], err, elen, &r);
	cfg_flags(ZH_CFG_F_NODEPORT_DSR, 0, -1);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);
}

#define ROUTER4 "198.51.100.1" /* a router toward the client */
#define ROUTER6 "2001:db8:77::1"

/* @err through tc on node A's uplink: on to the backend's node, one hop on
 * (@vxlan: into the tunnel, else out of the uplink with the FIB's or the
 * neighbour table's L2 header), as @want, counted SNAT; XDP hands it to
 * tc untouched. */
static void err_to_node_b(const __u8 *err, __u32 len, const __u8 *want,
			  bool vxlan)
{
	__u64 snat[ZH_STAT_MAX] = { [ZH_STAT_SNAT] = 1 };
	struct run r;

	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, len, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, snat, len);
	if (r.out_len != len)
		fail_here("output is %u bytes, want %u", r.out_len, len);
	if (vxlan) {
		if (kfeat.present & ZH_FEAT_BIT(TC_SET_TUNNEL_KEY) &
		    ~kfeat.disabled) {
			__u8 w[FRAME_MAX];

			memcpy(w, want, len);
			memcpy(w, mac_vx, ETH_ALEN);
			assert_bytes(w, len, &r);
			assert_redirect(&r, ZH_TRACE_REDIRECT,
					ifindex_of[POD_C]);
		}
	} else if (memcmp(r.out + L3, want + L3, len - L3)) {
		assert_bytes(want, len, &r);
	}
	/* On a CHECKSUM_COMPLETE skb, skb->csum stays right (test_run
	 * checks it: -EBADMSG otherwise). */
	if (has_csum_complete()) {
		run_prog_flags(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN],
			       err, len, BPF_F_TEST_SKB_CHECKSUM_COMPLETE, &r);
		if (r.err)
			fail_here("CHECKSUM_COMPLETE: test_run: %s",
				  strerror(-r.err));
		assert_verdict(PROG_TC, &r, REDIRECT);
		if (memcmp(r.out + L3, want + L3, len - L3))
			assert_bytes(want, len, &r);
	}
	run_prog(skel->progs.zh_xdp_uplink, ifindex_of[FOREIGN], err, len, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	assert_unchanged(err, len, &r);
}

/*
 * A router toward the client cannot forward a reply of a DSR flow (node
 * B's NODE:30080 -> OUTSIDE:40000, TTL 63) and answers the front end:
 * "fragmentation needed" / "packet too big" (MTU 1280) to NODE (@lb: the
 * front end a LoadBalancer IP, LB4:80).
 *
 *   node A  (the front end: its Service entries, no SNAT entry) hands it
 *           on to the backend by the way the requests take (@vxlan: the
 *           tunnel), one hop on: to BE, quoting what BE sent (BE:8080 ->
 *           OUTSIDE:40000), the router's address kept, every checksum as
 *           a sender computes it (the expected frame built from scratch;
 *           skb->csum kept on a CHECKSUM_COMPLETE skb).
 *           About a client port no flow has, or in snat mode: the
 *           kernel's, untouched.
 *   node B  (pod B the backend, its DSR REV entry written by a request)
 *           delivers such an error into pod B as it is, one hop on;
 *           about no flow, it stays the kernel's.
 */
static void dsr_icmp_a_one(bool v6, __u8 proto, bool whole, bool vxlan, bool lb)
{
	const char *out = v6 ? OUTSIDE6 : OUTSIDE4,
		   *node = lb ? LB4 :
			   v6 ? NODE6 :
				NODE4,
		   *be = v6 ? REMOTE_BE6 : REMOTE_BE4,
		   *router = v6 ? ROUTER6 : ROUTER4, *pod = v6 ? B6 : B4;
	__u16 fport = lb ? 80 : NODE_PORT;
	__u8 big = v6 ? 2 : 3, big_code = v6 ? 0 : 4;
	__u64 into[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	struct frame f = outer(v6, proto, out, CLIENT_PORT, node, fport, 0);
	__u8 in[FRAME_MAX], reply[FRAME_MAX], err[FRAME_MAX], want[FRAME_MAX],
		got[FRAME_MAX];
	__u32 len, rlen, elen, wlen;
	__u16 quote;
	struct run r;

	map_clear(bpf_map__fd(skel->maps.zh_ct));
	map_clear(bpf_map__fd(skel->maps.zh_nodes));
	remote_node(v6 ? AF_INET6 : AF_INET, vxlan);
	len = (__u32)frame_build(&f, FOREIGN, in);
	cur_set(in, len, "node A: the request");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);

	/* The reply as the router got it, from node B. */
	f = outer(v6, proto, node, fport, out, CLIENT_PORT, 63);
	rlen = (__u32)frame_build(&f, FOREIGN, reply);
	quote = whole ? (__u16)(rlen - L3) : 0;
	elen = err_frame(v6, router, node, big, big_code, 1280, reply, quote, 0,
			 FOREIGN, err);
	cur_set(err, elen,
		"node A: %s too big about the reply, %s, %s quote, %s",
		v6 ? "ICMPv6" : "ICMP", proto == IPPROTO_TCP ? "TCP" : "UDP",
		whole ? "whole" : "8-byte", vxlan ? "vxlan" : "native");
	f = outer(v6, proto, be, BE_PORT, out, CLIENT_PORT, 63);
	(void)frame_build(&f, FOREIGN, reply);
	wlen = err_frame(v6, router, be, big, big_code, 1280, reply, quote, 63,
			 FOREIGN, want);
	assert_int_equal(wlen, elen);
	err_to_node_b(err, elen, want, vxlan);

	/* One that would expire here: the kernel's, untouched. */
	f = outer(v6, proto, node, fport, out, CLIENT_PORT, 63);
	(void)frame_build(&f, FOREIGN, reply);
	elen = err_frame(v6, router, node, big, big_code, 1280, reply, quote, 1,
			 FOREIGN, err);
	cur_set(err, elen, "node A: too big about the reply, TTL 1");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, elen, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);
	elen = err_frame(v6, router, node, big, big_code, 1280, reply, quote, 0,
			 FOREIGN, err);

	/* snat mode: the kernel's. */
	cfg_flags(0, ZH_CFG_F_NODEPORT_DSR, -1);
	cur_set(err, elen, "node A: too big about the reply, snat mode");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, elen, &r);
	cfg_flags(ZH_CFG_F_NODEPORT_DSR, 0, -1);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);

	/* About a client port no flow has: the kernel's. */
	f = outer(v6, proto, node, fport, out, CLIENT_PORT + 1, 63);
	(void)frame_build(&f, FOREIGN, reply);
	elen = err_frame(v6, router, node, big, big_code, 1280, reply, quote, 0,
			 FOREIGN, err);
	cur_set(err, elen, "node A: too big about no flow");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, elen, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);

	/* Node B: pod B the backend; the error node A handed on. */
	if (vxlan || lb)
		return;
	(void)node_b_request(v6, proto, got);
	f = outer(v6, proto, pod, BE_PORT, out, CLIENT_PORT, 63);
	(void)frame_build(&f, FOREIGN, reply);
	elen = err_frame(v6, router, pod, big, big_code, 1280, reply, quote, 63,
			 FOREIGN, err);
	cur_set(err, elen, "node B: too big about pod B's reply");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, elen, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, into, elen);
	assert_routed(err, elen, &r, POD_B, false);
	if (has_csum_complete()) {
		run_prog_flags(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN],
			       err, elen, BPF_F_TEST_SKB_CHECKSUM_COMPLETE, &r);
		if (r.err)
			fail_here("CHECKSUM_COMPLETE: test_run: %s",
				  strerror(-r.err));
		assert_routed(err, elen, &r, POD_B, false);
	}
	/* About no flow: the kernel's. */
	f = outer(v6, proto, pod, BE_PORT, out, CLIENT_PORT + 1, 63);
	(void)frame_build(&f, FOREIGN, reply);
	elen = err_frame(v6, router, pod, big, big_code, 1280, reply, quote, 63,
			 FOREIGN, err);
	cur_set(err, elen, "node B: too big about no flow");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, elen, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);
}

static void test_dsr_icmp_a(void **state)
{
	(void)state;
	if (!dsr_can()) {
		printf("test_bpf_dsr: SKIP ICMP: no bpf_check_mtu in tc\n");
		return;
	}
	for (int v6 = 0; v6 < 2; v6++)
		for (int whole = 0; whole < 2; whole++) {
			dsr_icmp_a_one(v6, IPPROTO_TCP, whole, false, false);
			dsr_icmp_a_one(v6, IPPROTO_UDP, whole, false, false);
			dsr_icmp_a_one(v6, IPPROTO_TCP, whole, true, false);
			dsr_icmp_a_one(v6, IPPROTO_UDP, whole, true, false);
		}
	/* A LoadBalancer IP (LB4:80/TCP): the client knows it as the
	 * front end. */
	dsr_icmp_a_one(false, IPPROTO_TCP, true, false, true);
	dsr_icmp_a_one(false, IPPROTO_TCP, false, true, true);
}

static void test_dsr_icmp_b(void **state)
{
	(void)state;
	if (!dsr_can()) {
		printf("test_bpf_dsr: SKIP ICMP: no bpf_check_mtu in tc\n");
		return;
	}
	for (int v6 = 0; v6 < 2; v6++)
		for (int whole = 0; whole < 2; whole++) {
			dsr_icmp_b_one(v6, IPPROTO_TCP, whole);
			dsr_icmp_b_one(v6, IPPROTO_UDP, whole);
		}
}

/* ------------------------------------ ICMP errors, a local backend */

#define LOCAL_PORT 30090 /* NodePorts whose backend is pod B, a pod here */

/*
 * snat mode (the default): a NodePort at NODE:30090 whose backend is pod B
 * of this node. The request from OUTSIDE is DNATed only (the client's
 * address kept) and pod B's reply leaves by the uplink from the front end
 * (lb.h), as a DSR flow's leaves node B: its REV entry has the same shape,
 * without ZH_CT_F_DSR. The same two ICMP errors, byte for byte:
 *
 *   - pod B's "port unreachable" about the request (OUTSIDE:40000 ->
 *     B:8080 as pod B got it) leaves the uplink, by the neighbour table,
 *     as the front end's: from NODE, quoting OUTSIDE:40000 -> NODE:30090;
 *   - a router toward the client answers pod B's reply (NODE:30090 ->
 *     OUTSIDE:40000) "too big", to NODE: delivered into pod B, one hop on,
 *     the quote what pod B sent (B:8080 -> OUTSIDE:40000), the router's
 *     address kept; skb->csum kept on a CHECKSUM_COMPLETE skb.
 * About a client port no flow has: the kernel's, untouched.
 */
static void np_icmp_local_one(bool v6, __u8 proto, bool whole)
{
	const char *out = v6 ? OUTSIDE6 : OUTSIDE4, *node = v6 ? NODE6 : NODE4,
		   *pod = v6 ? B6 : B4, *router = v6 ? ROUTER6 : ROUTER4;
	__u8 unreach = v6 ? 1 : 3, port = v6 ? 4 : 3;
	__u8 big = v6 ? 2 : 3, big_code = v6 ? 0 : 4;
	__u64 snat[ZH_STAT_MAX] = { [ZH_STAT_SNAT] = 1 };
	__u64 into[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	struct frame f =
		outer(v6, proto, out, CLIENT_PORT, node, LOCAL_PORT, 0);
	__u8 in[FRAME_MAX], got[FRAME_MAX], err[FRAME_MAX], want[FRAME_MAX],
		quoted[FRAME_MAX];
	__u32 len, glen, elen, wlen;
	__u16 quote;
	struct run r;

	map_clear(bpf_map__fd(skel->maps.zh_ct));
	len = (__u32)frame_build(&f, FOREIGN, in);
	cur_set(in, len, "the request to a local backend");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	glen = r.out_len;
	memcpy(got, r.out, glen);
	quote = whole ? (__u16)(glen - L3) : 0;

	/* Pod B's port unreachable: the front end's, out of the uplink. */
	elen = err_frame(v6, pod, out, unreach, port, 0, got, quote, 0, POD_B,
			 err);
	cur_set(err, elen,
		"local backend: pod B's %s port unreachable, %s, %s quote",
		v6 ? "ICMPv6" : "ICMP", proto == IPPROTO_TCP ? "TCP" : "UDP",
		whole ? "whole" : "8-byte");
	run_prog(skel->progs.zh_tc_from_pod, ifindex_of[POD_B], err, elen, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, snat, elen);
	assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH, ifindex_of[FOREIGN]);
	/* The client's own packet as pod B got it (TTL 63). */
	f = outer(v6, proto, out, CLIENT_PORT, node, LOCAL_PORT, 63);
	(void)frame_build(&f, FOREIGN, quoted);
	wlen = err_frame(v6, node, out, unreach, port, 0, quoted, quote, 63,
			 POD_B, want);
	assert_int_equal(wlen, elen);
	assert_bytes(want, wlen, &r);
	/* The XDP entry hands it to tc, untouched. */
	run_prog(skel->progs.zh_xdp_from_pod, ifindex_of[POD_B], err, elen, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	assert_unchanged(err, elen, &r);
	/* About a client port no flow has: the kernel's. */
	f = outer(v6, proto, out, CLIENT_PORT + 1, pod, BE_PORT, 63);
	(void)frame_build(&f, FOREIGN, quoted);
	elen = err_frame(v6, pod, out, unreach, port, 0, quoted, quote, 0,
			 POD_B, err);
	cur_set(err, elen, "local backend: port unreachable about no flow");
	run_prog(skel->progs.zh_tc_from_pod, ifindex_of[POD_B], err, elen, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);

	/* A router's too big about pod B's reply, to the front end. */
	f = outer(v6, proto, node, LOCAL_PORT, out, CLIENT_PORT, 63);
	(void)frame_build(&f, FOREIGN, quoted);
	elen = err_frame(v6, router, node, big, big_code, 1280, quoted, quote,
			 0, FOREIGN, err);
	cur_set(err, elen,
		"local backend: %s too big about pod B's reply, %s, %s quote",
		v6 ? "ICMPv6" : "ICMP", proto == IPPROTO_TCP ? "TCP" : "UDP",
		whole ? "whole" : "8-byte");
	f = outer(v6, proto, pod, BE_PORT, out, CLIENT_PORT, 63);
	(void)frame_build(&f, FOREIGN, quoted);
	wlen = err_frame(v6, router, pod, big, big_code, 1280, quoted, quote, 0,
			 FOREIGN, want);
	assert_int_equal(wlen, elen);
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, elen, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, into, elen);
	assert_routed(want, wlen, &r, POD_B, false);
	if (has_csum_complete()) {
		run_prog_flags(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN],
			       err, elen, BPF_F_TEST_SKB_CHECKSUM_COMPLETE, &r);
		if (r.err)
			fail_here("CHECKSUM_COMPLETE: test_run: %s",
				  strerror(-r.err));
		assert_verdict(PROG_TC, &r, REDIRECT);
		assert_routed(want, wlen, &r, POD_B, false);
	}
	/* XDP leaves it to tc, untouched. */
	run_prog(skel->progs.zh_xdp_uplink, ifindex_of[FOREIGN], err, elen, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	assert_unchanged(err, elen, &r);
	/* About a client port no flow has: the kernel's. */
	f = outer(v6, proto, node, LOCAL_PORT, out, CLIENT_PORT + 1, 63);
	(void)frame_build(&f, FOREIGN, quoted);
	elen = err_frame(v6, router, node, big, big_code, 1280, quoted, quote,
			 0, FOREIGN, err);
	cur_set(err, elen, "local backend: too big about no flow");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, elen, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);
}

static void test_np_icmp_local(void **state)
{
	(void)state;
	if (!(kfeat.present & ZH_FEAT_BIT(TC_REDIRECT_NEIGH) &
	      ~kfeat.disabled)) {
		printf("test_bpf_dsr: SKIP local ICMP: no bpf_redirect_neigh\n");
		return;
	}
	np_svc(6, AF_INET, IPPROTO_TCP, LOCAL_PORT, B4);
	np_svc(7, AF_INET, IPPROTO_UDP, LOCAL_PORT, B4);
	np_svc(8, AF_INET6, IPPROTO_TCP, LOCAL_PORT, B6);
	np_svc(9, AF_INET6, IPPROTO_UDP, LOCAL_PORT, B6);
	/* snat mode, the default. */
	cfg_flags(0, ZH_CFG_F_NODEPORT_DSR, -1);
	for (int v6 = 0; v6 < 2; v6++)
		for (int whole = 0; whole < 2; whole++) {
			np_icmp_local_one(v6, IPPROTO_TCP, whole);
			np_icmp_local_one(v6, IPPROTO_UDP, whole);
		}
}

/* ------------------------------------------------------------- MTU */

static void link_mtu(const char *dev, unsigned int mtu)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ip link set dev %s mtu %u", dev, mtu);
	if (system(cmd))
		fail_here("%s failed", cmd);
}

/* The way to node B (the VXLAN device, POD_C's host veth here) has MTU
 * MTU; a request of MTU bytes fits it, but not with the option: ICMP
 * too big from the front end, the MTU less the option, back out of the
 * uplink, quoting the request (one hop on) as the client sent it. */
static void mtu_one(bool v6, __u8 proto)
{
	const char *out = v6 ? OUTSIDE6 : OUTSIDE4, *node = v6 ? NODE6 : NODE4;
	__u64 want_d[ZH_STAT_MAX] = { [ZH_STAT_DROP_DSR_TOO_BIG] = 1 };
	size_t ih = v6 ? IP6_HLEN : sizeof(struct iphdr);
	size_t l4h = proto == IPPROTO_TCP ? sizeof(struct tcphdr) :
					    sizeof(struct udphdr);
	struct frame f = outer(v6, proto, out, CLIENT_PORT, node, NODE_PORT, 0);
	__u8 in[FRAME_MAX], quoted[FRAME_MAX], want[FRAME_MAX];
	__u32 len, wlen;
	struct icmp_err e = { .v6 = v6,
			      .type = v6 ? 2 : 3,
			      .code = v6 ? 0 : 4,
			      .mtu = (__u16)(MTU - (v6 ? HDR6 : OPT4)),
			      .quote = (__u16)(ih + 8),
			      .src_mac = mac_out,
			      .dst_mac = mac_out };
	__u32 src[4], dst[4];
	struct run r;

	map_clear(bpf_map__fd(skel->maps.zh_ct));
	f.payload = (__u16)(MTU - ih - l4h);
	len = (__u32)frame_build(&f, FOREIGN, in);
	if (!v6) { /* DF, as Linux sends TCP and UDP */
		in[L3 + 6] |= 0x40;
		put16(in + IP4_CHECK, 0);
		put16(in + IP4_CHECK, csum_fold(csum_add(0, in + L3, ih)));
	}
	cur_set(in, len, "%s %s of " STR(MTU) " bytes, MTU " STR(MTU),
		v6 ? "IPv6" : "IPv4", proto == IPPROTO_TCP ? "TCP" : "UDP");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, TX_BACK);
	assert_deltas(&r, want_d, len);
	/* Quoted as it is after the hop: TTL 63. */
	memcpy(quoted, in, len);
	if (v6) {
		quoted[IP6_HLIM]--;
	} else {
		quoted[IP4_TTL]--;
		put16(quoted + IP4_CHECK, 0);
		put16(quoted + IP4_CHECK,
		      csum_fold(csum_add(0, quoted + L3, ih)));
	}
	parse_addr(v6 ? AF_INET6 : AF_INET, node, src);
	parse_addr(v6 ? AF_INET6 : AF_INET, out, dst);
	e.src = src;
	e.dst = dst;
	e.quoted = quoted;
	wlen = icmp_err_frame(&e, want);
	assert_bytes(want, wlen, &r);
	assert_redirect(&r, ZH_TRACE_REDIRECT, ifindex_of[FOREIGN]);
	/* Without DF (IPv4): dropped, counted, no answer. */
	if (!v6) {
		in[L3 + 6] &= (__u8)~0x40;
		put16(in + IP4_CHECK, 0);
		put16(in + IP4_CHECK, csum_fold(csum_add(0, in + L3, ih)));
		run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len,
			 &r);
		assert_verdict(PROG_TC, &r, DROP);
		assert_deltas(&r, want_d, len);
	}
}

static void test_dsr_mtu(void **state)
{
	(void)state;
	if (!dsr_can()) {
		printf("test_bpf_dsr: SKIP MTU: no bpf_check_mtu in tc\n");
		return;
	}
	link_mtu(pods[POD_C].host, MTU);
	for (int v6 = 0; v6 < 2; v6++) {
		map_clear(bpf_map__fd(skel->maps.zh_nodes));
		remote_node(v6 ? AF_INET6 : AF_INET, true);
		mtu_one(v6, IPPROTO_TCP);
		mtu_one(v6, IPPROTO_UDP);
	}
	link_mtu(pods[POD_C].host, 1500);
}

static struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_dsr_node_a, dsr_setup,
					dsr_teardown),
	cmocka_unit_test_setup_teardown(test_dsr_snat, dsr_setup, dsr_teardown),
	cmocka_unit_test_setup_teardown(test_dsr_node_b, dsr_setup,
					dsr_teardown),
	cmocka_unit_test_setup_teardown(test_dsr_node_b_ignored, dsr_setup,
					dsr_teardown),
	cmocka_unit_test_setup_teardown(test_dsr_mtu, dsr_setup, dsr_teardown),
	cmocka_unit_test_setup_teardown(test_dsr_icmp_b, dsr_setup,
					dsr_teardown),
	cmocka_unit_test_setup_teardown(test_dsr_icmp_a, dsr_setup,
					dsr_teardown),
	cmocka_unit_test_setup_teardown(test_np_icmp_local, dsr_setup,
					dsr_teardown),
};

int main(int argc, char **argv)
{
	static const struct fixture_group groups[] = {
		{ .name = "dsr", .tests = tests, .n = ARRAY_SIZE(tests) },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_dsr",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
		.trace = true,
	};

	return fixture_main(&suite, argc, argv);
}
