// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_lat.c - the latency hops (bpf/lib/lat.h) through
 * BPF_PROG_TEST_RUN: a probe or a sampled packet through the egress
 * program, its output through the pod-side program, and the histograms and
 * flow stamps read back; probes the egress hop never saw, timestamps from
 * another clock, dropped packets, and the 1-in-N sampling rate.
 *
 * `test_bpf_lat --bench-latency` (make bench-latency) measures instead what
 * the hops cost per packet.
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
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "fixture.h"

/* ------------------------------------------------------------- latency */

static void assert_no_lat(void)
{
	assert_lat_only(0, 0, 0, 0, 0);
}

static int lat_flows_count(void)
{
	int fd = bpf_map__fd(skel->maps.zh_lat_flows), n = 0;
	struct zh_flow_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* The one stamp there is; fails unless there is exactly one. */
static void lat_stamp(struct zh_flow_key *key, struct zh_lat_stamp *st)
{
	int fd = bpf_map__fd(skel->maps.zh_lat_flows);

	if (lat_flows_count() != 1)
		fail_here("%d flow stamps, want 1", lat_flows_count());
	if (bpf_map_get_next_key(fd, NULL, key) ||
	    bpf_map_lookup_elem(fd, key, st))
		fail_here("reading the stamp: %s", strerror(errno));
}

static void run_pod_side(enum prog prog, const __u8 *frame, __u32 len)
{
	struct bpf_program *p = prog == PROG_TC ? skel->progs.zh_tc_pod :
						  skel->progs.zh_xdp_pod;
	struct run r;

	run_prog(p, ifindex_of[FOREIGN], frame, len, &r);
	if (r.err)
		fail_here("test_run of the pod-side program: %s",
			  strerror(-r.err));
	if (prog == PROG_TC ? (int)r.retval != TC_ACT_UNSPEC :
			      r.retval != XDP_PASS)
		fail_here("pod-side verdict %u, want next/pass", r.retval);
	if (r.out_len != len || memcmp(r.out, frame, len))
		fail_here("the pod-side program changed the frame");
}

#define LAT_AGE 5000ULL /* the probes' age when they reach the egress hop */
#define LAT_BOUND 1000000000ULL /* a test_run takes far less than 1 s */

struct lat_case {
	const char *desc;
	enum l3 l3;
	const char *dst;
	__u8 proto;
	bool probe; /* carries struct zh_probe, sent LAT_AGE ns ago */
	__u32 flags, sample_every; /* zh_config */
	enum verdict verdict; /* of the egress program */
	int stamp_hop; /* -1: no stamp; else hop recorded at the pod */
	int stamp_src;
	const char *src; /* NULL: pod A's own address */
};

#define PROBES ZH_CFG_F_PROBES
#define NO_STAMP .stamp_hop = -1

static const struct lat_case lat_cases[] = {
	{ "latency off: a probe leaves no trace", L3_IPV4, B4, IPPROTO_UDP,
	  .probe = true, .verdict = REDIRECT, NO_STAMP },
	{ "probe redirected: egress, then deliver", L3_IPV4, B4, IPPROTO_UDP,
	  .probe = true, .flags = PROBES, .verdict = REDIRECT,
	  .stamp_hop = ZH_HOP_DELIVER, .stamp_src = ZH_LAT_PROBE },
	{ "IPv6 probe redirected: egress, then deliver", L3_IPV6, B6,
	  IPPROTO_UDP, .probe = true, .flags = PROBES, .verdict = REDIRECT,
	  .stamp_hop = ZH_HOP_DELIVER, .stamp_src = ZH_LAT_PROBE },
	{ "probe passed to the kernel: egress, then kernel", L3_IPV4, UNKNOWN4,
	  IPPROTO_UDP, .probe = true, .flags = PROBES, .verdict = PASS,
	  .stamp_hop = ZH_HOP_KERNEL, .stamp_src = ZH_LAT_PROBE },
	{ "probes on: plain UDP is not stamped", L3_IPV4, B4, IPPROTO_UDP,
	  .flags = PROBES, .verdict = REDIRECT, NO_STAMP },
	{ "sampling 1 in 1: TCP stamped, then deliver", L3_IPV4, B4,
	  IPPROTO_TCP, .sample_every = 1, .verdict = REDIRECT,
	  .stamp_hop = ZH_HOP_DELIVER, .stamp_src = ZH_LAT_SAMPLE },
	{ "sampling 1 in 1: IPv6 UDP to the kernel, then kernel", L3_IPV6,
	  OFFNODE6, IPPROTO_UDP, .sample_every = 1, .verdict = PASS,
	  .stamp_hop = ZH_HOP_KERNEL, .stamp_src = ZH_LAT_SAMPLE },
	{ "probes off, sampling on: a probe counts as a sample", L3_IPV4, B4,
	  IPPROTO_UDP, .probe = true, .sample_every = 1, .verdict = REDIRECT,
	  .stamp_hop = ZH_HOP_DELIVER, .stamp_src = ZH_LAT_SAMPLE },
	{ "sampling: ICMP stamped without ports", L3_IPV4, B4, IPPROTO_ICMP,
	  .sample_every = 1, .verdict = REDIRECT, .stamp_hop = ZH_HOP_DELIVER,
	  .stamp_src = ZH_LAT_SAMPLE },
	{ "sampling: link-local IPv6 (ND, MLD) is not stamped", L3_IPV6,
	  SNMC_B6, IPPROTO_ICMPV6, .sample_every = 1, .verdict = PASS, NO_STAMP,
	  .src = LL_A6 },
};

/* One packet: egress program, then its output through the pod side. */
static void test_lat_case(void **state)
{
	const struct fixture_run *lr = *state;
	const struct lat_case *c = lr->row;
	struct zh_probe probe = { .magic = ZH_PROBE_MAGIC, .seq = 7 };
	struct frame f = { .l3 = c->l3, .proto = c->proto, .dst = c->dst };
	bool v6 = c->l3 == L3_IPV6;
	bool probe_timed = c->probe && (c->flags & ZH_CFG_F_PROBES);
	__u8 in[FRAME_MAX];
	struct zh_flow_key key;
	struct zh_lat_stamp st;
	__u64 t0, t1;
	struct run r;
	__u32 len;

	f.src = c->src ? c->src : v6 ? A6 : A4;
	if (c->probe)
		f.probe = &probe;
	lat_setup(c->flags, c->sample_every);
	t0 = mono_ns();
	probe.tx_ns = t0 - LAT_AGE;
	len = (__u32)frame_build(&f, POD_A, in);
	cur_set(in, len, "%s", lr->name);

	run_frame(lr->prog, ifindex_of[POD_A], in, len, &r);
	t1 = mono_ns();
	assert_verdict(lr->prog, &r, c->verdict);
	if (probe_timed)
		assert_lat_only(ZH_HOP_EGRESS, ZH_LAT_PROBE, 1, LAT_AGE,
				t1 - probe.tx_ns);
	else
		assert_no_lat();

	if (c->stamp_hop < 0) {
		if (lat_flows_count())
			fail_here("%d flow stamps, want none",
				  lat_flows_count());
	} else {
		lat_stamp(&key, &st);
		if (st.hop != c->stamp_hop || st.src != c->stamp_src)
			fail_here("stamp hop %u src %u, want %d %d", st.hop,
				  st.src, c->stamp_hop, c->stamp_src);
		if (st.origin_ns !=
			    (probe_timed ? probe.tx_ns : st.origin_ns) ||
		    (!probe_timed && (st.origin_ns < t0 || st.origin_ns > t1)))
			fail_here("stamp origin %llu outside [%llu, %llu]",
				  (unsigned long long)st.origin_ns,
				  (unsigned long long)t0,
				  (unsigned long long)t1);
		/* The key is the packet's own flow. */
		if (key.family != (v6 ? ZH_AF_INET6 : ZH_AF_INET) ||
		    key.proto != c->proto ||
		    memcmp(key.saddr, in + (v6 ? IP6_SADDR : IP4_SADDR),
			   v6 ? 16 : 4) ||
		    memcmp(key.daddr, in + (v6 ? IP6_DADDR : IP4_DADDR),
			   v6 ? 16 : 4))
			fail_here("stamp key is not the packet's flow");
		if (c->proto == IPPROTO_ICMP ?
			    key.sport || key.dport :
			    ntohs(key.sport) != 40000 ||
				    ntohs(key.dport) !=
					    (c->proto == IPPROTO_TCP ? 80 : 53))
			fail_here("stamp ports %u -> %u", ntohs(key.sport),
				  ntohs(key.dport));
	}

	/* Delivered: the pod side records the hop and drops the stamp. */
	lat_setup(c->flags, c->sample_every);
	if (c->stamp_hop >= 0) {
		struct zh_objs o = lat_objs();

		if (bpf_map_update_elem(o.lat_flows_fd, &key, &st, BPF_NOEXIST))
			fail_here("restoring the stamp: %s", strerror(errno));
	}
	run_pod_side(lr->prog, r.out, r.out_len);
	t1 = mono_ns();
	if (c->stamp_hop < 0)
		assert_no_lat();
	else
		assert_lat_only(c->stamp_hop, c->stamp_src, 1,
				probe_timed ? LAT_AGE : 0,
				t1 - (probe_timed ? probe.tx_ns : t0));
	if (lat_flows_count())
		fail_here("%d flow stamps left after delivery",
			  lat_flows_count());
}

/* A probe that never crossed the egress hop (host -> pod): kernel. */
static void test_lat_unstamped_probe(void **state)
{
	struct zh_probe probe = { .magic = ZH_PROBE_MAGIC };
	struct frame f = { .l3 = L3_IPV4,
			   .proto = IPPROTO_UDP,
			   .src = OFFNODE4,
			   .dst = B4,
			   .probe = &probe };
	__u8 in[FRAME_MAX];
	__u32 len;
	__u64 t1;

	for (int p = 0; p < NR_PROGS; p++) {
		lat_setup(ZH_CFG_F_PROBES, 0);
		probe.tx_ns = mono_ns() - LAT_AGE;
		len = (__u32)frame_build(&f, POD_B, in);
		cur_set(in, len, "%s: unstamped probe", prog_names[p]);
		run_pod_side(p, in, len);
		t1 = mono_ns();
		assert_lat_only(ZH_HOP_KERNEL, ZH_LAT_PROBE, 1, LAT_AGE,
				t1 - probe.tx_ns);
	}
}

/* Timestamps from another clock (in the future here) are not recorded,
 * and neither are dropped packets stamped. */
static void test_lat_rejects(void **state)
{
	struct zh_probe probe = { .magic = ZH_PROBE_MAGIC };
	struct frame fut = { .l3 = L3_IPV4,
			     .proto = IPPROTO_UDP,
			     .src = A4,
			     .dst = B4,
			     .probe = &probe };
	struct frame spoof = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = OFFNODE4, .dst = B4
	};
	__u8 in[FRAME_MAX];
	struct run r;
	__u32 len;

	for (int p = 0; p < NR_PROGS; p++) {
		lat_setup(ZH_CFG_F_PROBES, 1);
		probe.tx_ns = mono_ns() + 60 * 1000000000ULL;
		len = (__u32)frame_build(&fut, POD_A, in);
		cur_set(in, len, "%s: probe from the future", prog_names[p]);
		run_frame(p, ifindex_of[POD_A], in, len, &r);
		assert_verdict(p, &r, REDIRECT);
		assert_no_lat();
		if (lat_flows_count())
			fail_here("a probe from the future was stamped");
		run_pod_side(p, r.out, r.out_len);
		assert_no_lat();

		len = (__u32)frame_build(&spoof, POD_A, in);
		cur_set(in, len, "%s: spoofed, sampling 1 in 1", prog_names[p]);
		run_frame(p, ifindex_of[POD_A], in, len, &r);
		assert_verdict(p, &r, DROP);
		assert_no_lat();
		if (lat_flows_count())
			fail_here("a dropped packet was stamped");
	}
}

/* 1 in N: over 800 packets of one flow, about 800/N are timed. */
static void test_lat_sample_rate(void **state)
{
	const struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4
	};
	const int n = 800, every = 8;
	__u8 in[FRAME_MAX];
	__u32 len = (__u32)frame_build(&f, POD_A, in);
	struct zh_hist h;
	struct run r;

	lat_setup(0, every);
	cur_set(in, len, "tc: sampling 1 in %d", every);
	for (int i = 0; i < n; i++) {
		run_frame(PROG_TC, ifindex_of[POD_A], in, len, &r);
		assert_verdict(PROG_TC, &r, REDIRECT);
		run_pod_side(PROG_TC, r.out, r.out_len);
	}
	h = lat_hist(ZH_HOP_DELIVER, ZH_LAT_SAMPLE);
	/* Binomial(800, 1/8): mean 100, sd 9.4; [50, 150] is 5 sd. */
	if (h.count < 50 || h.count > 150)
		fail_here("%llu of %d packets timed at 1 in %d",
			  (unsigned long long)h.count, n, every);
}

/* ----------------------------------------------------------- benchmark */

/*
 * `test_bpf_lat --bench-latency` (make bench-latency): what per-hop latency
 * costs. A benchmark, not a test: it prints and asserts nothing. Settings
 * are interleaved in rounds; times are the kernel's own around the program
 * runs of BPF_PROG_TEST_RUN.
 *
 * Every packet: the egress and the pod-side program each run BENCH_REPEAT
 * times in one test_run on a UDP frame (TTL 255, so the repeats all take
 * the redirect path); the mean per run, minus the same with latency off,
 * is what every packet pays. With sampling, 1 in N of the egress runs
 * stamps; the pod side pays the lookup that finds nothing.
 *
 * A timed packet: one egress run and one pod-side run on its output, each
 * its own test_run (so the stamp is made and consumed), against the same
 * pair with latency off. Single runs include the test_run timer: only the
 * difference means anything.
 */
#define BENCH_ROUNDS 10
#define BENCH_REPEAT 200
#define BENCH_CALLS 100
#define BENCH_PAIRS 2000

static double bench_run(struct bpf_program *p, int ifindex, const __u8 *in,
			__u32 len, __u32 repeat, __u8 *out, __u32 *out_len)
{
	struct __sk_buff skb = { .ifindex = ifindex,
				 .ingress_ifindex = ifindex };
	struct xdp_md xdp = { .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = FRAME_MAX,
		    .repeat = repeat);
	bool is_xdp = bpf_program__type(p) == BPF_PROG_TYPE_XDP;

	opts.ctx_in = is_xdp ? (void *)&xdp : (void *)&skb;
	opts.ctx_size_in = is_xdp ? sizeof(xdp) : sizeof(skb);
	if (bpf_prog_test_run_opts(bpf_program__fd(p), &opts)) {
		fprintf(stderr, "test_run: %s\n", strerror(errno));
		exit(1);
	}
	if (out_len)
		*out_len = opts.data_size_out;
	return opts.duration;
}

static struct bpf_program *bench_prog(enum prog p, bool pod_side)
{
	if (p == PROG_TC)
		return pod_side ? skel->progs.zh_tc_pod :
				  skel->progs.zh_tc_from_pod;
	return pod_side ? skel->progs.zh_xdp_pod : skel->progs.zh_xdp_from_pod;
}

struct bench_cfg {
	const char *name;
	struct zh_config cfg;
	bool probe; /* the frame is a probe */
};

static void bench_set(const struct zh_config *cfg)
{
	struct zh_objs o = lat_objs();

	if (zh_config_set(&o, cfg) || zh_lat_reset(&o))
		exit(1);
}

/*
 * test_run runs the program @repeat times on one buffer: what a run
 * rewrites, the next one reads. A frame A forwards to B comes out with
 * B's gateway MAC as its source and B's MAC as its destination, so that a
 * second run would take it for spoofed and drop it. For the bench, A's MAC
 * is B's gateway MAC and B's is A's gateway MAC: the frame the program
 * writes is the frame it reads, and every run forwards it (one hop less
 * each time, which bench_forwarded() checks). @loop false: the pods as
 * they were.
 */
static void bench_loop_pods(struct frame *f, bool loop)
{
	static struct zh_endpoint ep, ep_was;
	static struct zh_iface ifc, ifc_was;
	int ifaces_fd = bpf_map__fd(skel->maps.zh_ifaces);
	int eps_fd = bpf_map__fd(skel->maps.zh_endpoints);
	__u32 host_a = (__u32)ifindex_of[POD_A];
	struct zh_ep_key key = { .family = ZH_AF_INET };

	parse_addr(AF_INET, B4, key.addr);
	if (loop) {
		if (bpf_map_lookup_elem(ifaces_fd, &host_a, &ifc_was) ||
		    bpf_map_lookup_elem(eps_fd, &key, &ep_was)) {
			fprintf(stderr, "bench: pod A or B not in the maps\n");
			exit(1);
		}
		ifc = ifc_was;
		ep = ep_was;
		memcpy(ifc.mac, gw_mac_of[POD_B], ETH_ALEN);
		memcpy(ep.mac, gw_mac_of[POD_A], ETH_ALEN);
		f->src_mac = gw_mac_of[POD_B];
		f->dst_mac = gw_mac_of[POD_A];
	}
	if (bpf_map_update_elem(ifaces_fd, &host_a, loop ? &ifc : &ifc_was,
				BPF_EXIST) ||
	    bpf_map_update_elem(eps_fd, &key, loop ? &ep : &ep_was,
				BPF_EXIST)) {
		fprintf(stderr, "bench: %s\n", strerror(errno));
		exit(1);
	}
}

/* The egress program forwarded the frame on every one of @repeat runs. */
static void bench_forwarded(const char *prog, const __u8 *out, __u32 repeat)
{
	const struct iphdr *ip = (const void *)(out + ETH_HLEN);

	if (ip->ttl != 255 - repeat) {
		fprintf(stderr,
			"bench: %s forwarded %u of %u runs (TTL %u): not the path measured\n",
			prog, 255 - ip->ttl, repeat, ip->ttl);
		exit(1);
	}
}

static void bench_every_packet(void)
{
	static const struct bench_cfg cfgs[] = {
		{ "off", { .flags = 0, .sample_every = 0 }, false },
		{ "probes on",
		  { .flags = ZH_CFG_F_PROBES, .sample_every = 0 },
		  false },
		{ "sampling 1 in 100",
		  { .flags = 0, .sample_every = 100 },
		  false },
		{ "sampling 1 in 1000",
		  { .flags = 0, .sample_every = 1000 },
		  false },
	};
	static double ns[NR_PROGS][ARRAY_SIZE(cfgs)][2];
	struct frame f = { .l3 = L3_IPV4,
			   .proto = IPPROTO_UDP,
			   .src = A4,
			   .dst = B4,
			   .ttl = 255 };
	__u8 in[FRAME_MAX], out[FRAME_MAX];
	__u32 len, out_len;
	double n = (double)BENCH_ROUNDS * BENCH_CALLS;

	bench_loop_pods(&f, true);
	len = (__u32)frame_build(&f, POD_A, in);

	for (int r = 0; r < BENCH_ROUNDS; r++) {
		for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++) {
			bench_set(&cfgs[c].cfg);
			for (int p = 0; p < NR_PROGS; p++) {
				for (int i = 0; i < BENCH_CALLS; i++) {
					ns[p][c][0] += bench_run(
						bench_prog(p, false),
						ifindex_of[POD_A], in, len,
						BENCH_REPEAT, out, &out_len);
					bench_forwarded(prog_names[p], out,
							BENCH_REPEAT);
					ns[p][c][1] += bench_run(
						bench_prog(p, true),
						ifindex_of[FOREIGN], out,
						out_len, BENCH_REPEAT, out,
						NULL);
				}
			}
		}
	}
	bench_loop_pods(&f, false);
	printf("Every packet (plain UDP A to B, forwarded, not timed): mean ns per program run, %d x %d runs\n",
	       BENCH_ROUNDS * BENCH_CALLS, BENCH_REPEAT);
	printf("%-4s %-20s %9s %9s %9s %10s\n", "MODE", "SETTING", "EGRESS",
	       "POD-SIDE", "TOTAL", "EXTRA");
	for (int p = 0; p < NR_PROGS; p++) {
		double base = (ns[p][0][0] + ns[p][0][1]) / n;

		for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++)
			printf("%-4s %-20s %9.1f %9.1f %9.1f %+10.1f\n",
			       prog_names[p], cfgs[c].name, ns[p][c][0] / n,
			       ns[p][c][1] / n, (ns[p][c][0] + ns[p][c][1]) / n,
			       (ns[p][c][0] + ns[p][c][1]) / n - base);
	}
}

static void bench_timed_packet(void)
{
	static const struct bench_cfg cfgs[] = {
		{ "off (probe frame)", { .flags = 0, .sample_every = 0 }, true },
		{ "probe timed",
		  { .flags = ZH_CFG_F_PROBES, .sample_every = 0 },
		  true },
		{ "sample timed (1 in 1)",
		  { .flags = 0, .sample_every = 1 },
		  false },
	};
	static double ns[NR_PROGS][ARRAY_SIZE(cfgs)];
	struct zh_probe probe = { .magic = ZH_PROBE_MAGIC };
	struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4
	};
	__u8 in[FRAME_MAX], out[FRAME_MAX];
	double n = (double)BENCH_ROUNDS * BENCH_PAIRS;
	__u32 len, out_len;

	for (int r = 0; r < BENCH_ROUNDS; r++) {
		for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++) {
			f.probe = cfgs[c].probe ? &probe : NULL;
			bench_set(&cfgs[c].cfg);
			for (int p = 0; p < NR_PROGS; p++) {
				for (int i = 0; i < BENCH_PAIRS; i++) {
					probe.tx_ns = mono_ns();
					len = (__u32)frame_build(&f, POD_A, in);
					ns[p][c] += bench_run(
						bench_prog(p, false),
						ifindex_of[POD_A], in, len, 1,
						out, &out_len);
					ns[p][c] += bench_run(
						bench_prog(p, true),
						ifindex_of[FOREIGN], out,
						out_len, 1, out, NULL);
				}
			}
		}
	}
	printf("\nA timed packet: egress + pod-side, one run each, %d pairs\n",
	       BENCH_ROUNDS * BENCH_PAIRS);
	printf("%-4s %-22s %9s %10s\n", "MODE", "SETTING", "TOTAL", "EXTRA");
	for (int p = 0; p < NR_PROGS; p++)
		for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++)
			printf("%-4s %-22s %9.1f %+10.1f\n", prog_names[p],
			       cfgs[c].name, ns[p][c] / n,
			       (ns[p][c] - ns[p][0]) / n);
}

static int bench_latency(void)
{
	bench_every_packet();
	bench_timed_packet();
	return 0;
}

/* ---------------------------------------------------------------- main */

#define NR_LAT_TESTS (ARRAY_SIZE(lat_cases) * NR_PROGS)
static struct fixture_run lat_runs[NR_LAT_TESTS];
static struct CMUnitTest lat_tests[NR_LAT_TESTS + 3];

int main(int argc, char **argv)
{
	static const struct fixture_group groups[] = {
		{ .name = "latency hops",
		  .tests = lat_tests,
		  .n = ARRAY_SIZE(lat_tests) },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_lat",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
		.bench = bench_latency,
	};
	size_t i = FIXTURE_ROWS(lat_tests, lat_runs, lat_cases, "",
				.test_func = test_lat_case,
				.teardown_func = lat_teardown);

	lat_tests[i++] = (struct CMUnitTest)cmocka_unit_test_teardown(
		test_lat_unstamped_probe, lat_teardown);
	lat_tests[i++] = (struct CMUnitTest)cmocka_unit_test_teardown(
		test_lat_rejects, lat_teardown);
	lat_tests[i++] = (struct CMUnitTest)cmocka_unit_test_teardown(
		test_lat_sample_rate, lat_teardown);
	return fixture_main(&suite, argc, argv);
}
