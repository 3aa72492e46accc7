/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture.h - what every test of the fast path (bpf/zh_fast.bpf.c) shares:
 * the pods and their addresses, the frame builder and checksums, one frame
 * through a program with BPF_PROG_TEST_RUN and the counters it moved, the
 * assertions on verdicts, bytes and counters, and fixture_main(), which
 * loads the skeleton as the loader does in a network namespace of the
 * process's own and runs a file's groups once per kernel-feature pass.
 *
 * Include after <cmocka.h>.
 */
#ifndef ZH_TEST_BPF_FIXTURE_H
#define ZH_TEST_BPF_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/libbpf.h>

#include "zerohop.h"
#include "zh_fast.skel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define STR_(x) #x
#define STR(x) STR_(x) /* a macro's value as a string literal */

#define SKIP_EXIT 77
#define FRAME_MAX 512
#define DEFAULT_TTL 64
#define DEFAULT_PAYLOAD 32
#define ZERO (-1) /* struct frame.ttl, .ihl: a real 0, not the default */

/* Offsets in a frame, from the uapi structs (never cast a frame to them:
 * the L3 header sits at offset 14 and UBSan rightly flags such loads). */
#define ETH_DST offsetof(struct ethhdr, h_dest)
#define ETH_SRC offsetof(struct ethhdr, h_source)
#define ETH_PROTO offsetof(struct ethhdr, h_proto)
#define L3 ETH_HLEN
#define IP4_TTL (L3 + offsetof(struct iphdr, ttl))
#define IP4_PROTO (L3 + offsetof(struct iphdr, protocol))
#define IP4_CHECK (L3 + offsetof(struct iphdr, check))
#define IP4_SADDR (L3 + offsetof(struct iphdr, saddr))
#define IP4_DADDR (L3 + offsetof(struct iphdr, daddr))
#define IP6_HLIM (L3 + offsetof(struct ipv6hdr, hop_limit))
#define IP6_NEXTHDR (L3 + offsetof(struct ipv6hdr, nexthdr))
#define IP6_SADDR (L3 + offsetof(struct ipv6hdr, saddr))
#define IP6_DADDR (L3 + offsetof(struct ipv6hdr, daddr))
#define IP6_HLEN ((size_t)sizeof(struct ipv6hdr))
#define ARP_HLEN 28 /* Ethernet/IPv4 ARP body */
#define ICMP_HLEN 8
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_NS 135

/* ---------------------------------------------------------------- pods */

enum pod_id {
	POD_A,
	POD_B,
	POD_C, /* IPv6 only: zh_iface.flags without ZH_IFACE_F_V4 */
	NR_PODS,
};

/* An ingress that is a real device but not in zh_ifaces: A's pod end. */
#define FOREIGN NR_PODS

#define A4 "10.0.0.10"
#define B4 "10.0.0.11"
#define C4_MADE_UP "10.0.0.12" /* C owns no IPv4 address */
#define UNKNOWN4 "10.0.0.99" /* pod range, no endpoint */
#define OFFNODE4 "10.1.0.5"
#define NODE4 "192.0.2.1" /* the node's own address (on lo) */
#define A6 "fd00::a"
#define B6 "fd00::b"
#define C6 "fd00::c"
#define OFFNODE6 "fd00:1::5"
#define LL_A6 "fe80::a"
#define SNMC_B6 "ff02::1:ff00:b" /* solicited-node multicast of fd00::b */

struct pod {
	const char *host; /* host-side veth: the ingress of its frames */
	const char *peer; /* pod-side end (left in this netns) */
	__u8 mac[ETH_ALEN]; /* the pod's own MAC */
	__u8 gw_mac[ETH_ALEN]; /* set on the host veth: the pod's gateway */
	const char *ipv4, *ipv6; /* NULL: no identity of that family */
};

extern const struct pod pods[NR_PODS];

#define MAC_A (pods[POD_A].mac)
#define MAC_B (pods[POD_B].mac)
extern const __u8 mac_bcast[ETH_ALEN];
extern const __u8 mac_snmc_b[ETH_ALEN];

/* Filled by links_make(). [FOREIGN] is A's pod-side end. */
extern int ifindex_of[NR_PODS + 1];
extern __u8 gw_mac_of[NR_PODS][ETH_ALEN]; /* read back from the kernel */
/* The programs as this pass loaded them (fixture_main()). */
extern struct zh_fast *skel;
/* What the kernel has (the probe, ZEROHOP_DISABLE_FEATURES applied), and
 * what this pass of the tests loaded the programs with. */
extern struct zh_kfeat kfeat_probed, kfeat;

bool has_meta(void);

/* -------------------------------------------------------------- frames */

enum l3 {
	L3_IPV4 = 1,
	L3_IPV6,
	L3_ARP,
	L3_ETHERTYPE, /* just a header and payload */
};

/*
 * An input frame, built by frame_build() with valid IPv4 and L4 checksums.
 * Zero fields mean "the usual": sent by the ingress pod to its gateway.
 */
struct frame {
	enum l3 l3;
	const __u8 *src_mac; /* NULL: the ingress pod's MAC */
	const __u8 *dst_mac; /* NULL: the ingress pod's gateway MAC */
	const char *src, *dst; /* IP addresses; ARP: sender and target */
	__u8 proto; /* IPPROTO_UDP, _TCP, _ICMP or _ICMPV6 */
	__u8 icmp_type; /* 0: echo request */
	short ttl; /* TTL or hop limit; 0: 64, ZERO: 0 */
	short ihl; /* IPv4 header words; 0: 5, ZERO: 0, >5: NOP options */
	__u8 version; /* IP version nibble; 0: the one of @l3 */
	__u16 ethertype; /* 0: the one of @l3 */
	__u16 arp_op; /* 0: request */
	__u16 arp_ptype; /* 0: ETH_P_IP */
	const __u8 *arp_sha; /* NULL: the Ethernet source */
	__u16 payload; /* bytes after the L4 header; 0: 32 */
	__u16 ip_check; /* IPv4: this header checksum (the IP ID is chosen so
			 * that the header verifies); 0: the usual one */
	const struct zh_probe *probe; /* UDP: the payload starts with it */
	__u16 sport, dport; /* TCP/UDP; 0: 40000 and 53 (UDP) or 80 (TCP) */
	bool no_udp_csum; /* UDP over IPv4 without a checksum (0) */
	/* A VLAN tag with this TPID (ETH_P_8021Q, ETH_P_8021AD) and TCI 0 (a
	 * priority tag) in front of the ethertype; 0: none. */
	__u16 vlan_tpid;
	__u8 tcp_flags; /* TCP; 0: PSH|ACK */
};

static inline void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

__u32 csum_add(__u32 sum, const void *buf, size_t len);
__u16 csum_fold(__u32 sum);
__u32 pseudo_sum(const __u8 *frame, bool v6, __u8 proto, __u32 l4_len);
/* @s into @out (4 or 16 bytes); aborts on a bad address in a fixture. */
void parse_addr(int af, const char *s, void *out);
/* Lay @f out in @b (FRAME_MAX bytes) as sent by the pod behind @ingress
 * (enum pod_id, or FOREIGN); returns the frame length. */
size_t frame_build(const struct frame *f, int ingress, __u8 *b);

/*
 * An ICMP error (RFC 792 / RFC 4443), built independently of the
 * datapath: from @src to @dst (4 or 16 bytes, network order), @type and
 * @code, the next hop's @mtu in bytes 6-7 (0 for other errors), quoting
 * @quote bytes of the frame @quoted from its IP header on (0: the IP
 * header and 8 bytes); TTL @ttl (0: 64). Returns the frame's length.
 */
struct icmp_err {
	bool v6;
	const void *src, *dst;
	__u8 type, code;
	__u16 mtu;
	const __u8 *quoted;
	__u16 quote;
	const __u8 *src_mac, *dst_mac;
	__u8 ttl; /* TTL or hop limit; 0: 64 */
};

__u32 icmp_err_frame(const struct icmp_err *e, __u8 *out);

/* ------------------------------------------------------------- running */

enum prog {
	PROG_TC,
	PROG_XDP,
	NR_PROGS,
};

extern const char *const prog_names[NR_PROGS];

enum verdict {
	PASS,
	DROP,
	REDIRECT,
	TX_BACK, /* out where it came in: tc redirect, XDP_TX */
	NEXT, /* on to what else is attached: TC_ACT_UNSPEC, XDP_PASS */
	NR_VERDICTS,
};

extern const int verdict_codes[NR_PROGS][NR_VERDICTS];

struct run {
	int err; /* of bpf_prog_test_run_opts() */
	__u32 retval;
	__u8 out[FRAME_MAX];
	__u32 out_len;
	struct zh_counter delta[ZH_STAT_MAX];
	/* The suite loads with its redirects recorded (fixture_suite.trace):
	 * what the run's redirect helpers did. */
	bool traced;
	struct zh_trace trace;
};

/* The frame a test is looking at, printed with any failure: in the loops
 * over lengths and garbage it says which one failed. */
struct cur_frame {
	char what[96];
	const __u8 *frame;
	__u32 len;
};

extern struct cur_frame cur;

void cur_set(const __u8 *frame, __u32 len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fail_here(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* One frame through program @p (XDP or tc) arriving on device @ifindex. */
void run_prog(struct bpf_program *p, int ifindex, const __u8 *frame, __u32 len,
	      struct run *r);
/* The same with test_run @flags (BPF_F_TEST_*). */
void run_prog_flags(struct bpf_program *p, int ifindex, const __u8 *frame,
		    __u32 len, __u32 flags, struct run *r);

#ifndef BPF_F_TEST_SKB_CHECKSUM_COMPLETE
#define BPF_F_TEST_SKB_CHECKSUM_COMPLETE (1U << 2)
#endif
/* Can test_run run a tc program on a CHECKSUM_COMPLETE skb and check
 * skb->csum after it (Linux 6.11 and later; -EBADMSG when it is wrong)? */
bool has_csum_complete(void);
/* The same through zh_tc_from_pod or zh_xdp_from_pod. */
void run_frame(enum prog prog, int ifindex, const __u8 *frame, __u32 len,
	       struct run *r);

/* Every counter moved by exactly @want packets, each of @len bytes. */
void assert_deltas(const struct run *r, const __u64 want[ZH_STAT_MAX],
		   __u32 len);
void assert_verdict(enum prog prog, const struct run *r, enum verdict want);
void assert_bytes(const __u8 *want, __u32 len, const struct run *r);
void assert_unchanged(const __u8 *in, __u32 len, const struct run *r);
/* The L4 checksum of the complete packet in @b verifies (RFC 1071). */
void assert_l4_csum(const __u8 *b, __u32 len, bool v6);
/* @in routed to pod @to (MACs, TTL, header checksum, and where the suite
 * records redirects, to @to's host veth); @whole: the packet is complete,
 * so its L4 checksum is checked as well. */
void assert_routed(const __u8 *in, __u32 len, const struct run *r, int to,
		   bool whole);
/* Where the suite records redirects: the last redirect helper the run
 * called was @kind (enum zh_trace_kind) to @ifindex, and it succeeded. */
void assert_redirect(const struct run *r, __u32 kind, int ifindex);

/* ------------------------------------------------- maps and latency */

/* Every entry of the map out. */
void map_clear(int fd);
/* @k -> @v in map @fd, or the test fails. */
void map_put(int fd, const void *k, const void *v);
/* zh_config's flags: @set on, @clear off; @services >= 0: its count too. */
void cfg_flags(__u32 set, __u32 clear, int services);
/* @a (of family @af) one of the node's own addresses (zh_node_addrs). */
void node_addr(int af, const char *a);
/* Pod B's endpoints say it runs @datapath (ZH_DATAPATH_*). */
void b_datapath(__u8 datapath);

/* zh_objs with the skeleton's config and latency maps. */
struct zh_objs lat_objs(void);
__u64 mono_ns(void);
/* Latency configured as given, every histogram and stamp cleared. */
void lat_setup(__u32 flags, __u32 sample_every);
/* A teardown: the rest of the tests' world, latency off. */
int lat_teardown(void **state);
struct zh_hist lat_hist(int hop, int src);
/* Exactly @want values in slot (@hop, @src), all in [@lo, @hi] ns; every
 * other slot empty. */
void assert_lat_only(int hop, int src, __u64 want, __u64 lo, __u64 hi);

/* ---------------------------------------------------------------- tables */

/* One row of a case table through one program: a test's state. */
struct fixture_run {
	const void *row;
	enum prog prog;
	char name[128];
};

/*
 * A test for every row of a table (@n rows of @size bytes, the row's
 * `const char *` description @desc_off bytes in) and every program, row by
 * row, into @tests and @runs (@n * NR_PROGS of each): a copy of @tmpl named
 * "<program>: <description><suffix>", its state its run. Returns how many.
 */
size_t fixture_rows(struct CMUnitTest *tests, struct fixture_run *runs,
		    const void *rows, size_t n, size_t size, size_t desc_off,
		    const char *suffix, struct CMUnitTest tmpl);

/* FIXTURE_ROWS(tests, runs, table, suffix, .test_func = f, ...): the
 * table's rows are structs with a `desc`. */
#define FIXTURE_ROWS(tests, runs, table, suffix, ...)                \
	fixture_rows(tests, runs, table, ARRAY_SIZE(table),          \
		     sizeof((table)[0]),                             \
		     offsetof(__typeof__((table)[0]), desc), suffix, \
		     (struct CMUnitTest){ __VA_ARGS__ })

/* ---------------------------------------------------------------- main */

/* One cmocka group of a test file. */
struct fixture_group {
	const char *name;
	const struct CMUnitTest *tests;
	size_t n;
	CMFixtureFunction setup, teardown;
	/* Only with the kernel's own features: what it checks is the
	 * kernel, not the programs as a pass loads them. */
	bool kernel_pass_only;
};

struct fixture_suite {
	const char *name; /* the binary, in front of its messages */
	const struct fixture_group *groups;
	size_t n_groups;
	/* `name --bench-latency`: instead of the tests, with the programs
	 * loaded for the kernel's features; NULL: no such option. */
	int (*bench)(void);
	/* Load the programs with zh_trace_on (bpf/lib/trace.h): the tests see
	 * in the zh_trace map where each redirect went. */
	bool trace;
};

/*
 * main() of every test file: exit 77 unless root; into a network
 * namespace of our own with the pods' veth pairs; the kernel probed as the
 * loader probes it; then every group with the programs loaded for the
 * kernel's features and, where the kernel has XDP metadata, again without
 * it (otherwise that pass is skipped, saying why). Returns the exit code.
 */
int fixture_main(const struct fixture_suite *s, int argc, char **argv);

#endif /* ZH_TEST_BPF_FIXTURE_H */
