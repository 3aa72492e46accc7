// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_fwd.c - the same-node fast path (bpf/zh_fast.bpf.c) through
 * BPF_PROG_TEST_RUN, table-driven like the kernel's prog_tests/xdp*.c and
 * Katran's fixtures: one struct literal per case, every case run through
 * both zh_tc_from_pod and zh_xdp_from_pod, asserting the verdict, the output
 * bytes and that exactly the expected zh_stats counters moved; then every
 * length of a few frames, and garbage.
 *
 * The pods, the frame builder and the passes over the kernel's features
 * are the fixture's (fixture.h). Exit 77 (skipped) when not run as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "fixture.h"

/* ------------------------------------------------------------ fixtures */

#define UNCHANGED 0
#define ROUTED_TO(pod) (1 + (pod))

struct fast_case {
	const char *desc;
	struct frame in;
	int ingress; /* enum pod_id, or FOREIGN */
	enum verdict verdict;
	int out; /* UNCHANGED or ROUTED_TO(pod) */
	__u64 delta[ZH_STAT_MAX]; /* counter -> packets it gains */
};

static const struct fast_case cases[] = {
	/* Routed between pods of this node. */
	{
		.desc = "IPv4 UDP A->B is routed to B",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 TCP B->A is routed to A",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_TCP,
			.src = B4,
			.dst = A4 },
		.ingress = POD_B,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_A),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 ICMP A->B with TTL 2 leaves with TTL 1",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_ICMP,
			.src = A4,
			.dst = B4,
			.ttl = 2 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 UDP A->B with TTL 255",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ttl = 255 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		/* Stored little-endian that is 0xffff: the incremental update
		 * overflows and needs its end-around carry. */
		.desc = "IPv4 A->B with header checksum 0xffff (-0) is routed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ip_check = 0xffff },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 A->B with header checksum 0xfeff is routed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ip_check = 0xfeff },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 A->B with header checksum 0x0001 is routed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ip_check = 0x0001 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 with options (ihl 6) A->B goes to the kernel",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ihl = 6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_IP_OPTIONS] = 1 },
	},
	{
		.desc = "IPv4 A->B not addressed to the gateway MAC is not routed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_TO_GW] = 1 },
	},
	{
		.desc = "IPv6 A->B sent to B's pod MAC is not routed",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.dst_mac = pods[POD_B].mac,
			.src = A6,
			.dst = B6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_TO_GW] = 1 },
	},
	{
		.desc = "IPv6 TCP A->B is routed to B",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = B6 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv6 UDP A->C (IPv6-only pod) is routed to C",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.src = A6,
			.dst = C6 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_C),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv6 ICMPv6 echo C->B with hop limit 2",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_ICMPV6,
			.src = C6,
			.dst = B6,
			.ttl = 2 },
		.ingress = POD_C,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},

	/* Handed to the kernel unchanged. */
	{
		.desc = "IPv4 A->unknown pod address passes (no endpoint)",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = UNKNOWN4 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
	},
	{
		.desc = "IPv4 A->off-node address passes (no endpoint)",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_TCP,
			.src = A4,
			.dst = OFFNODE4 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
	},
	{
		.desc = "IPv6 A->off-node address passes (no endpoint)",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = OFFNODE6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
	},
	{
		.desc = "IPv4 A->off-node with TTL 1 passes as no endpoint",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = OFFNODE4,
			.ttl = 1 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
	},
	{
		.desc = "IPv4 A->B with TTL 1 passes (the kernel answers)",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ttl = 1 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_TTL] = 1 },
	},
	{
		.desc = "IPv4 A->B with TTL 0 passes",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ttl = ZERO },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_TTL] = 1 },
	},
	{
		.desc = "IPv6 A->B with hop limit 1 passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = B6,
			.ttl = 1 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_TTL] = 1 },
	},
	{
		.desc = "ARP request from A with its own IP and MAC passes",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_IP] = 1 },
	},
	{
		.desc = "ARP reply from A passes",
		.in = { .l3 = L3_ARP,
			.arp_op = 2,
			.src = A4,
			.dst = "10.0.0.1" },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_IP] = 1 },
	},
	{
		.desc = "ARP probe from A (sender 0.0.0.0) passes",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = "0.0.0.0",
			.dst = A4 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_IP] = 1 },
	},
	{
		.desc = "ARP probe from C (no IPv4 identity) passes",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = "0.0.0.0",
			.dst = C4_MADE_UP },
		.ingress = POD_C,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_IP] = 1 },
	},
	{
		.desc = "LLDP from A passes as not IP",
		.in = { .l3 = L3_ETHERTYPE,
			.ethertype = 0x88cc,
			.dst_mac = (const __u8[]){ 0x01, 0x80, 0xc2, 0, 0,
						   0x0e } },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_IP] = 1 },
	},
	{
		.desc = "IPv6 neighbour solicitation from fe80::a passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_ICMPV6,
			.icmp_type = ICMPV6_NS,
			.ttl = 255,
			.dst_mac = mac_snmc_b,
			.src = LL_A6,
			.dst = SNMC_B6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_LINK_LOCAL] = 1 },
	},
	{
		.desc = "IPv6 DAD from :: passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_ICMPV6,
			.icmp_type = ICMPV6_NS,
			.ttl = 255,
			.dst_mac = mac_snmc_b,
			.src = "::",
			.dst = SNMC_B6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_LINK_LOCAL] = 1 },
	},
	{
		.desc = "IPv6 link-local source to B's address passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.src = LL_A6,
			.dst = B6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_LINK_LOCAL] = 1 },
	},
	{
		.desc = "IPv6 from febf::a (still fe80::/10) passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.src = "febf::a",
			.dst = B6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_LINK_LOCAL] = 1 },
	},
	{
		.desc = "IPv4 on a device not in zh_ifaces passes",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4 },
		.ingress = FOREIGN,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_IFACE] = 1 },
	},
	{
		.desc = "IPv6 on a device not in zh_ifaces passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = B6 },
		.ingress = FOREIGN,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_IFACE] = 1 },
	},
	{
		.desc = "any MAC on a device not in zh_ifaces passes",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src_mac = MAC_B,
			.src = B4,
			.dst = A4 },
		.ingress = FOREIGN,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_IFACE] = 1 },
	},

	/* Dropped, with a reason. */
	{
		.desc = "IPv4 A->B with B's source IP drops as spoofed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = B4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 from A with source 0.0.0.0 drops as spoofed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = "0.0.0.0",
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 spoofed source to off-node drops (checked first)",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = "192.0.2.1",
			.dst = OFFNODE4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 spoofed source with TTL 1 drops (checked first)",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = B4,
			.dst = B4,
			.ttl = 1 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 from A with B's source MAC drops",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src_mac = MAC_B,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_MAC] = 1 },
	},
	{
		.desc = "IPv6 A->B with B's source IP drops as spoofed",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = B6,
			.dst = B6 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv6 from fec0::a (outside fe80::/10) drops as spoofed",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.src = "fec0::a",
			.dst = B6 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv6 from ::1 (not unspecified) drops as spoofed",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.src = "::1",
			.dst = B6 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv6 from A with B's source MAC drops",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src_mac = MAC_B,
			.src = A6,
			.dst = B6 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_MAC] = 1 },
	},
	{
		.desc = "ARP from A with B's sender IP drops as spoofed",
		.in = { .l3 = L3_ARP,
			.arp_op = 2,
			.src = B4,
			.dst = "10.0.0.1" },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "ARP from A with B's sender MAC drops",
		.in = { .l3 = L3_ARP,
			.arp_sha = MAC_B,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_MAC] = 1 },
	},
	{
		.desc = "ARP from A's port with B's Ethernet source drops",
		.in = { .l3 = L3_ARP,
			.src_mac = MAC_B,
			.arp_sha = MAC_A,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_MAC] = 1 },
	},
	{
		.desc = "LLDP from A's port with B's MAC drops",
		.in = { .l3 = L3_ETHERTYPE,
			.ethertype = 0x88cc,
			.src_mac = MAC_B },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_MAC] = 1 },
	},
	{
		.desc = "IPv4 from C (no IPv4 identity) with 0.0.0.0 drops",
		/* 0.0.0.0 equals C's unset zh_iface.ipv4: only the flag
		 * tells that C has no IPv4 address. */
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = "0.0.0.0",
			.dst = B4 },
		.ingress = POD_C,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 from C (no IPv4 identity) to B drops as spoofed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = C4_MADE_UP,
			.dst = B4 },
		.ingress = POD_C,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "ARP from C (no IPv4 identity) with a sender IP drops",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = C4_MADE_UP,
			.dst = B4 },
		.ingress = POD_C,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	/* A pod's link has no VLANs, yet the kernel strips a priority tag
	 * (VID 0) and routes the packet behind it: tagged, any source would
	 * get past anti-spoofing. (Under tc the kernel has stripped an outer
	 * tag already: what the program sees tagged carries two.) */
	{
		.desc = "IPv4 from B's address behind a priority tag drops",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = B4,
			.dst = OFFNODE4,
			.vlan_tpid = ETH_P_8021Q },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "IPv6 from B's address behind an 802.1ad priority tag drops",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = B6,
			.dst = OFFNODE6,
			.vlan_tpid = ETH_P_8021AD },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "ARP with B's sender behind a priority tag drops",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = B4,
			.dst = "10.0.0.1",
			.vlan_tpid = ETH_P_8021Q },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "A's own IPv4 behind a priority tag drops as well",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.vlan_tpid = ETH_P_8021Q },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "IPv4 with ihl 4 drops as malformed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ihl = 4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "IPv4 with ihl 0 drops as malformed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ihl = ZERO },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "IPv4 ethertype with version 6 drops as malformed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.version = 6 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "IPv6 ethertype with version 4 drops as malformed",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = B6,
			.version = 4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "ARP for a non-IPv4 protocol drops as malformed",
		.in = { .l3 = L3_ARP,
			.arp_ptype = ETH_P_IPV6,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
};

static void test_case(void **state)
{
	const struct fixture_run *cr = *state;
	const struct fast_case *c = cr->row;
	__u8 in[FRAME_MAX];
	__u32 len = (__u32)frame_build(&c->in, c->ingress, in);
	struct run r;

	cur_set(in, len, "%s", c->desc);
	run_frame(cr->prog, ifindex_of[c->ingress], in, len, &r);
	assert_verdict(cr->prog, &r, c->verdict);
	if (c->out == UNCHANGED)
		assert_unchanged(in, len, &r);
	else
		assert_routed(in, len, &r, c->out - 1, true);
	assert_deltas(&r, c->delta, len);
}

/* ------------------------------------------------- a pod gone, no DEL */

/*
 * A pod whose netns went without DEL keeps its endpoint until the agent
 * removes it; frames to it must not count as delivered. Its veth's ifindex
 * is one no device has. With bpf_check_mtu (5.12) the programs see that:
 * a drop, counted drop_redirect_failed; without it, the old count.
 */
#define GONE4 "10.0.0.98"
#define GONE6 "fd00::98"
#define GONE_IFINDEX 0x7ffffff0U

struct gone_case {
	const char *desc;
	struct frame in;
};

static const struct gone_case gone_cases[] = {
	{ .desc = "IPv4 UDP A->a pod gone without DEL",
	  .in = { .l3 = L3_IPV4,
		  .proto = IPPROTO_UDP,
		  .src = A4,
		  .dst = GONE4 } },
	{ .desc = "IPv6 TCP A->a pod gone without DEL",
	  .in = { .l3 = L3_IPV6,
		  .proto = IPPROTO_TCP,
		  .src = A6,
		  .dst = GONE6 } },
};

static void test_gone(void **state)
{
	const struct fixture_run *gr = *state;
	const struct gone_case *g = gr->row;
	int fd = bpf_map__fd(skel->maps.zh_endpoints);
	bool v6 = g->in.l3 == L3_IPV6;
	struct zh_endpoint ep = { .ifindex = GONE_IFINDEX,
				  .datapath = ZH_DATAPATH_XDP };
	struct zh_ep_key key = { .family = v6 ? ZH_AF_INET6 : ZH_AF_INET };
	bool has = zh_kfeat_has(&kfeat, gr->prog == PROG_TC ?
						ZH_FEAT_TC_CHECK_MTU :
						ZH_FEAT_XDP_CHECK_MTU);
	__u64 want[ZH_STAT_MAX] = { 0 };
	__u8 in[FRAME_MAX];
	__u32 len = (__u32)frame_build(&g->in, POD_A, in);
	struct run r;

	parse_addr(v6 ? AF_INET6 : AF_INET, g->in.dst, key.addr);
	memcpy(ep.mac, MAC_B, ETH_ALEN);
	assert_int_equal(bpf_map_update_elem(fd, &key, &ep, BPF_NOEXIST), 0);
	cur_set(in, len, "%s", g->desc);
	run_frame(gr->prog, ifindex_of[POD_A], in, len, &r);
	bpf_map_delete_elem(fd, &key);
	if (has) {
		assert_verdict(gr->prog, &r, DROP);
		want[ZH_STAT_DROP_REDIRECT] = 1;
	} else {
		print_message("  (no %s_check_mtu here: counted as before)\n",
			      prog_names[gr->prog]);
		assert_verdict(gr->prog, &r, REDIRECT);
		want[ZH_STAT_REDIRECT] = 1;
	}
	assert_deltas(&r, want, len);
}

/* --------------------------------------------------- truncated frames */

struct trunc_case {
	const char *desc;
	struct frame in;
	__u32 need; /* bytes the program reads before it decides */
	enum verdict verdict; /* with @need bytes or more */
	int out;
	enum zh_stat stat;
};

static const struct trunc_case trunc_cases[] = {
	{
		.desc = "IPv4 UDP A->B",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.payload = 4 },
		.need = L3 + sizeof(struct iphdr),
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.stat = ZH_STAT_REDIRECT,
	},
	{
		.desc = "IPv6 TCP A->B",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = B6,
			.payload = 4 },
		.need = L3 + sizeof(struct ipv6hdr),
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.stat = ZH_STAT_REDIRECT,
	},
	{
		.desc = "ARP request from A",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.need = L3 + ARP_HLEN,
		.verdict = PASS,
		.stat = ZH_STAT_PASS_NOT_IP,
	},
};

/*
 * Frames test_run refuses (-EINVAL) before the program runs: any shorter
 * than an Ethernet header (bpf_test_init()), and for skb programs on this
 * kernel (6.18) an IPv4 or IPv6 frame shorter than its fixed network
 * header, as seen when these tests were written. Such a frame cannot reach
 * the tc program's own bounds checks here.
 */
static bool refusable(enum prog prog, const __u8 *in, __u32 len)
{
	if (len < ETH_HLEN)
		return true;
	if (prog != PROG_TC)
		return false;
	switch (get16(in + ETH_PROTO)) {
	case ETH_P_IP:
		return len < L3 + sizeof(struct iphdr);
	case ETH_P_IPV6:
		return len < L3 + sizeof(struct ipv6hdr);
	default:
		return false;
	}
}

/* A refusable frame: refused with nothing counted, or run, counted as
 * malformed and dropped. */
static void assert_runt(enum prog prog, const struct run *r, __u32 len)
{
	__u64 none[ZH_STAT_MAX] = { 0 };
	__u64 malformed[ZH_STAT_MAX] = { [ZH_STAT_DROP_MALFORMED] = 1 };

	if (r->err) {
		if (r->err != -EINVAL)
			fail_here("test_run: %s, want EINVAL",
				  strerror(-r->err));
		assert_deltas(r, none, len);
	} else {
		assert_verdict(prog, r, DROP);
		assert_unchanged(cur.frame, len, r);
		assert_deltas(r, malformed, len);
	}
}

/* Every length from 0 to the whole frame, through the program. */
static void test_truncated(void **state)
{
	const struct fixture_run *tr = *state;
	const struct trunc_case *c = tr->row;
	__u8 in[FRAME_MAX];
	__u32 full = (__u32)frame_build(&c->in, POD_A, in);

	memset(&cur, 0, sizeof(cur));

	for (__u32 len = 0; len <= full; len++) {
		__u64 want[ZH_STAT_MAX] = { 0 };
		struct run r;

		cur_set(in, len, "%s cut to %u of %u bytes", c->desc, len,
			full);
		run_frame(tr->prog, ifindex_of[POD_A], in, len, &r);
		if (refusable(tr->prog, in, len)) {
			assert_runt(tr->prog, &r, len);
			continue;
		}
		if (len < c->need) {
			assert_verdict(tr->prog, &r, DROP);
			assert_unchanged(in, len, &r);
			want[ZH_STAT_DROP_MALFORMED] = 1;
		} else {
			assert_verdict(tr->prog, &r, c->verdict);
			if (c->out == UNCHANGED)
				assert_unchanged(in, len, &r);
			else
				assert_routed(in, len, &r, c->out - 1,
					      len == full);
			want[c->stat] = 1;
		}
		assert_deltas(&r, want, len);
	}
}

/* ------------------------------------------------------ garbage frames */

#define GARBAGE_SEED 0x7a65726f686f70ULL /* "zerohop" */
#define GARBAGE_FRAMES 300

enum garbage {
	GARBAGE_RANDOM, /* random bytes, random length */
	GARBAGE_FROM_A, /* A's Ethernet header and IP source, random rest */
	GARBAGE_MUTATED, /* a valid frame from A with bytes flipped, cut */
	NR_GARBAGE,
};

static const struct garbage_case {
	enum garbage kind;
	const char *desc;
} garbage_cases[NR_GARBAGE] = {
	{ GARBAGE_RANDOM, "random bytes" },
	{ GARBAGE_FROM_A, "random L3 behind A's Ethernet header" },
	{ GARBAGE_MUTATED, "mutated and cut valid frames" },
};

/* splitmix64: the same sequence on every machine. */
static __u64 rnd(__u64 *s)
{
	__u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u32 rnd_below(__u64 *s, __u32 n)
{
	return (__u32)(rnd(s) % n);
}

static void rnd_fill(__u64 *s, __u8 *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (__u8)rnd(s);
}

static const char *const local_addrs[] = { A4, B4, UNKNOWN4, OFFNODE4 };
static const char *const local_addrs6[] = { A6, B6, C6, OFFNODE6, LL_A6 };

static __u32 garbage_from_a(__u64 *s, __u8 *b)
{
	static const __u16 types[] = { ETH_P_IP, ETH_P_IPV6, ETH_P_ARP };
	__u32 len = ETH_HLEN + rnd_below(s, 100);
	__u16 type = types[rnd_below(s, ARRAY_SIZE(types))];

	rnd_fill(s, b, len);
	memcpy(b + ETH_DST, gw_mac_of[POD_A], ETH_ALEN);
	memcpy(b + ETH_SRC, pods[POD_A].mac, ETH_ALEN);
	put16(b + ETH_PROTO, type);
	/* Mostly a plausible version and A's own source, so the frame gets
	 * past anti-spoofing to the lookup and TTL paths. */
	if (type == ETH_P_IP && len > IP4_DADDR + 4 && rnd_below(s, 4)) {
		b[L3] = 0x45;
		parse_addr(AF_INET, A4, b + IP4_SADDR);
		parse_addr(AF_INET,
			   local_addrs[rnd_below(s, ARRAY_SIZE(local_addrs))],
			   b + IP4_DADDR);
	} else if (type == ETH_P_IPV6 && len > IP6_DADDR + 16 &&
		   rnd_below(s, 4)) {
		b[L3] = 0x60;
		parse_addr(AF_INET6, A6, b + IP6_SADDR);
		parse_addr(AF_INET6,
			   local_addrs6[rnd_below(s, ARRAY_SIZE(local_addrs6))],
			   b + IP6_DADDR);
	}
	return len;
}

static __u32 garbage_mutated(__u64 *s, __u8 *b)
{
	static const struct frame bases[] = {
		{ .l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4 },
		{ .l3 = L3_IPV6, .proto = IPPROTO_TCP, .src = A6, .dst = B6 },
		{ .l3 = L3_ARP, .src = A4, .dst = B4 },
	};
	__u32 len = (__u32)frame_build(&bases[rnd_below(s, ARRAY_SIZE(bases))],
				       POD_A, b);
	__u32 flips = 1 + rnd_below(s, 4);

	while (flips--)
		b[rnd_below(s, len)] ^= (__u8)(1 + rnd_below(s, 255));
	if (!rnd_below(s, 3))
		len = rnd_below(s, len + 1);
	return len;
}

/* Which pod owns the destination of the IP packet in @b, or -1. */
static int pod_of_dst(const __u8 *b)
{
	for (int p = 0; p < NR_PODS; p++) {
		__u8 a[16];

		if (get16(b + ETH_PROTO) == ETH_P_IP && pods[p].ipv4) {
			parse_addr(AF_INET, pods[p].ipv4, a);
			if (!memcmp(a, b + IP4_DADDR, 4))
				return p;
		} else if (get16(b + ETH_PROTO) == ETH_P_IPV6) {
			parse_addr(AF_INET6, pods[p].ipv6, a);
			if (!memcmp(a, b + IP6_DADDR, 16))
				return p;
		}
	}
	return -1;
}

/*
 * Whatever comes in: no crash, one counter moves by exactly one packet,
 * the verdict is the one that counter stands for, and a frame that is not
 * redirected leaves exactly as it came.
 */
static void assert_sane(enum prog prog, const __u8 *in, __u32 len,
			const struct run *r)
{
	__u64 want[ZH_STAT_MAX] = { 0 };
	enum verdict v;
	int stat = -1;

	if (refusable(prog, in, len)) {
		assert_runt(prog, r, len);
		return;
	}
	if (r->err)
		fail_here("test_run failed: %s", strerror(-r->err));
	for (int s = 0; s < ZH_STAT_MAX; s++)
		if (r->delta[s].packets)
			stat = s;
	if (stat < 0)
		fail_here("no counter moved");
	want[stat] = 1;
	assert_deltas(r, want, len);
	v = stat == ZH_STAT_REDIRECT ? REDIRECT :
	    zh_stat_is_drop(stat)    ? DROP :
				       PASS;
	assert_verdict(prog, r, v);
	if (v != REDIRECT) {
		assert_unchanged(in, len, r);
		return;
	}
	if (pod_of_dst(in) < 0)
		fail_here("redirected a frame for no local pod");
	assert_routed(in, len, r, pod_of_dst(in), false);
}

static void test_garbage(void **state)
{
	const struct fixture_run *gr = *state;
	const struct garbage_case *g = gr->row;
	__u64 seed = GARBAGE_SEED + g->kind;
	__u64 seen[ZH_STAT_MAX] = { 0 };

	memset(&cur, 0, sizeof(cur));

	for (int i = 0; i < GARBAGE_FRAMES; i++) {
		__u8 in[FRAME_MAX];
		int ingress = POD_A;
		__u32 len;
		struct run r;

		switch (g->kind) {
		case GARBAGE_RANDOM:
			len = rnd_below(&seed, 128);
			rnd_fill(&seed, in, len);
			/* Now and then from a port that is not a pod's. */
			ingress = rnd_below(&seed, 4) ? POD_A : FOREIGN;
			break;
		case GARBAGE_FROM_A:
			len = garbage_from_a(&seed, in);
			break;
		default:
			len = garbage_mutated(&seed, in);
			break;
		}
		cur_set(in, len, "%s frame %d (seed %#llx), ingress %d",
			g->desc, i,
			(unsigned long long)(GARBAGE_SEED + g->kind),
			ifindex_of[ingress]);
		run_frame(gr->prog, ifindex_of[ingress], in, len, &r);
		assert_sane(gr->prog, in, len, &r);
		for (int s = 0; s < ZH_STAT_MAX; s++)
			seen[s] += r.delta[s].packets;
	}
	for (int s = 0; s < ZH_STAT_MAX; s++)
		if (seen[s])
			print_message("  %s: %llu\n", zh_stat_name(s),
				      (unsigned long long)seen[s]);
}

/* ---------------------------------------------------------------- main */

#define NR_CASE_TESTS (ARRAY_SIZE(cases) * NR_PROGS)
#define NR_GONE_TESTS (ARRAY_SIZE(gone_cases) * NR_PROGS)
#define NR_TRUNC_TESTS (ARRAY_SIZE(trunc_cases) * NR_PROGS)
#define NR_GARBAGE_TESTS (NR_GARBAGE * NR_PROGS)

static struct fixture_run case_runs[NR_CASE_TESTS];
static struct fixture_run gone_runs[NR_GONE_TESTS];
static struct fixture_run trunc_runs[NR_TRUNC_TESTS];
static struct fixture_run garbage_runs[NR_GARBAGE_TESTS];
static struct CMUnitTest case_tests[NR_CASE_TESTS];
static struct CMUnitTest gone_tests[NR_GONE_TESTS];
static struct CMUnitTest trunc_tests[NR_TRUNC_TESTS];
static struct CMUnitTest garbage_tests[NR_GARBAGE_TESTS];

int main(int argc, char **argv)
{
	static const struct fixture_group groups[] = {
		{ .name = "zh_fast cases",
		  .tests = case_tests,
		  .n = ARRAY_SIZE(case_tests) },
		{ .name = "zh_fast to a pod gone without DEL",
		  .tests = gone_tests,
		  .n = ARRAY_SIZE(gone_tests) },
		{ .name = "zh_fast truncated",
		  .tests = trunc_tests,
		  .n = ARRAY_SIZE(trunc_tests) },
		{ .name = "zh_fast garbage",
		  .tests = garbage_tests,
		  .n = ARRAY_SIZE(garbage_tests) },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_fwd",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
		.trace = true,
	};
	FIXTURE_ROWS(case_tests, case_runs, cases, "", .test_func = test_case);
	FIXTURE_ROWS(gone_tests, gone_runs, gone_cases, "",
		     .test_func = test_gone);
	FIXTURE_ROWS(trunc_tests, trunc_runs, trunc_cases,
		     " cut at every length", .test_func = test_truncated);
	FIXTURE_ROWS(garbage_tests, garbage_runs, garbage_cases,
		     ", " STR(GARBAGE_FRAMES) " frames",
		     .test_func = test_garbage);
	return fixture_main(&suite, argc, argv);
}
