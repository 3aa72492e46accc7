// SPDX-License-Identifier: Apache-2.0
/*
 * test_ctgc.c - the conntrack GC's pure parts (user/lib/ctgc.c): the rule
 * of life at its bounds (each timeout by protocol and state, the signed
 * age of a stamp ahead of the clock), the other entry's key of each kind
 * as lb.h and snat.h write it, the adaptive interval, and the agent's
 * record read back. The sweep itself on real maps is the kernel tier's
 * (tests/bpf/test_bpf_ctgc.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "ctgc.h"
#include "util.h"

#define S 1000000000ULL

static void test_live_bounds(void **state)
{
	static const struct {
		__u8 proto, st;
		__u64 timeout_s;
	} t[] = {
		{ IPPROTO_TCP, ZH_CT_NEW, ZH_CT_TIMEOUT_TCP_NEW_S },
		{ IPPROTO_TCP, ZH_CT_ESTABLISHED, ZH_CT_TIMEOUT_TCP_EST_S },
		{ IPPROTO_TCP, ZH_CT_CLOSING, ZH_CT_TIMEOUT_TCP_CLOSING_S },
		/* UDP has no states: whatever the byte says, 120 s. */
		{ IPPROTO_UDP, ZH_CT_NEW, ZH_CT_TIMEOUT_UDP_S },
		{ IPPROTO_UDP, ZH_CT_CLOSING, ZH_CT_TIMEOUT_UDP_S },
	};
	const __u64 now = 1000000 * S; /* a clock well past zero */

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct zh_ct_key k = { .proto = t[i].proto };
		struct zh_ct v = { .state = t[i].st };
		__u64 to = t[i].timeout_s * S;

		assert_int_equal(zh_ctgc_timeout_ns(t[i].proto, t[i].st), to);
		/* ct.h: alive while now - stamp <= timeout. */
		v.last_seen_ns = now - to;
		assert_true(zh_ctgc_live(&k, &v, now));
		v.last_seen_ns = now - to - 1;
		assert_false(zh_ctgc_live(&k, &v, now));
		v.last_seen_ns = now;
		assert_true(zh_ctgc_live(&k, &v, now));
		/* Ahead of the clock read: young, however far. */
		v.last_seen_ns = now + 1;
		assert_true(zh_ctgc_live(&k, &v, now));
		v.last_seen_ns = now + 3600 * S;
		assert_true(zh_ctgc_live(&k, &v, now));
	}
}

static void a4(const char *s, __u32 *out)
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

/* A Service flow client:40000 -> VIP:80 balanced to backend:8080 (lb.h
 * zh_lb_track()), and hairpin: the client is the backend. */
static void test_peer_service(void **state)
{
	struct zh_backend be = { .family = ZH_AF_INET, .port = htons(8080) };
	struct zh_ct_key fk = { .family = ZH_AF_INET,
				.proto = IPPROTO_TCP,
				.dir = ZH_CT_FWD,
				.sport = htons(40000),
				.dport = htons(80) },
			 rk = { .family = ZH_AF_INET,
				.proto = IPPROTO_TCP,
				.dir = ZH_CT_REV,
				.sport = htons(8080),
				.dport = htons(40000) },
			 got;
	struct zh_ct fv = { .svc_id = 3, .backend_id = 7 },
		     rv = { .svc_id = 3, .backend_id = 7, .vport = htons(80) };

	(void)state;
	a4("10.0.0.1", fk.saddr);
	a4("10.96.0.10", fk.daddr);
	a4("10.0.1.5", be.addr);
	a4("10.0.1.5", rk.saddr);
	a4("10.0.0.1", rk.daddr);
	a4("10.96.0.10", rv.vip);
	assert_int_equal(zh_ctgc_peer_key(&fk, &fv, &be, &got), 0);
	assert_memory_equal(&got, &rk, sizeof(rk));
	assert_int_equal(zh_ctgc_peer_key(&rk, &rv, NULL, &got), 0);
	assert_memory_equal(&got, &fk, sizeof(fk));
	assert_true(zh_ctgc_peer_is(&fk, &fv, &rv));
	assert_true(zh_ctgc_peer_is(&rk, &rv, &fv));
	/* Another flow's (another backend, another service). */
	rv.backend_id = 8;
	assert_false(zh_ctgc_peer_is(&fk, &fv, &rv));
	assert_false(zh_ctgc_peer_is(&rk, &rv, &fv));
	rv.backend_id = 7;
	/* No backend (gone), or one of the other family: no peer. */
	assert_int_equal(zh_ctgc_peer_key(&fk, &fv, NULL, &got), -ENOENT);
	be.family = ZH_AF_INET6;
	assert_int_equal(zh_ctgc_peer_key(&fk, &fv, &be, &got), -ENOENT);
	be.family = ZH_AF_INET;

	/* Hairpin: the reply is keyed backend -> VIP. */
	fv.flags = rv.flags = ZH_CT_F_HAIRPIN;
	a4("10.0.1.5", fk.saddr);
	a4("10.96.0.10", rk.daddr);
	assert_int_equal(zh_ctgc_peer_key(&fk, &fv, &be, &got), 0);
	assert_memory_equal(&got, &rk, sizeof(rk));
	assert_int_equal(zh_ctgc_peer_key(&rk, &rv, NULL, &got), 0);
	assert_memory_equal(&got, &fk, sizeof(fk));
}

/* A masqueraded flow pod:41000 -> 1.1.1.1:443 leaving as node:61000
 * (snat.h zh_snat_out(), zh_snat_rev_key()). */
static void test_peer_snat(void **state)
{
	struct zh_ct_key fk = { .family = ZH_AF_INET,
				.proto = IPPROTO_UDP,
				.dir = ZH_CT_SNAT_FWD,
				.sport = htons(41000),
				.dport = htons(443) },
			 rk = { .family = ZH_AF_INET,
				.proto = IPPROTO_UDP,
				.dir = ZH_CT_SNAT_REV,
				.sport = htons(443),
				.dport = htons(61000) },
			 got;
	struct zh_ct fv = { .vport = htons(61000), .out_ifindex = 2 },
		     rv = { .vport = htons(41000) };

	(void)state;
	a4("10.0.0.2", fk.saddr);
	a4("1.1.1.1", fk.daddr);
	a4("192.168.1.1", fv.vip);
	a4("1.1.1.1", rk.saddr);
	a4("192.168.1.1", rk.daddr);
	a4("10.0.0.2", rv.vip);
	assert_int_equal(zh_ctgc_peer_key(&fk, &fv, NULL, &got), 0);
	assert_memory_equal(&got, &rk, sizeof(rk));
	assert_int_equal(zh_ctgc_peer_key(&rk, &rv, NULL, &got), 0);
	assert_memory_equal(&got, &fk, sizeof(fk));
	assert_true(zh_ctgc_peer_is(&fk, &fv, &rv));
	assert_true(zh_ctgc_peer_is(&rk, &rv, &fv));
	/* The port taken over by another flow of the pod. */
	rv.vport = htons(41001);
	assert_false(zh_ctgc_peer_is(&fk, &fv, &rv));
	/* The flow left with another port since: the reply entry is an
	 * orphan of its old one. */
	rv.vport = htons(41000);
	fv.vport = htons(61001);
	assert_false(zh_ctgc_peer_is(&rk, &rv, &fv));
}

static void test_interval(void **state)
{
	struct zh_ctgc_result r = { 0 };
	const __u32 max = 100000;

	(void)state;
	/* Mostly live, little freed, half full at most: longer, x1.5. */
	r.live = 10000;
	r.deleted = 1000;
	assert_int_equal(zh_ctgc_next_interval(60, &r, max), 90);
	assert_int_equal(zh_ctgc_next_interval(800, &r, max), ZH_CTGC_MAX_S);
	/* 0: the start. */
	assert_int_equal(zh_ctgc_next_interval(0, &r, max), 90);
	/* Freed 40 % of the map: 40 % shorter. */
	r.deleted = 40000;
	assert_int_equal(zh_ctgc_next_interval(60, &r, max), 36);
	/* Freed it all: a tenth, not less. */
	r.live = 0;
	r.deleted = max;
	assert_int_equal(zh_ctgc_next_interval(60, &r, max), 6);
	assert_int_equal(zh_ctgc_next_interval(10, &r, max), ZH_CTGC_MIN_S);
	/* Nearly full of live flows (and kept ones): halved. */
	r.deleted = 2000;
	r.live = 70000;
	r.kept = 6000;
	assert_int_equal(zh_ctgc_next_interval(60, &r, max), 30);
	/* In between (freed 10 %, 60 % live): the same. */
	r.deleted = 10000;
	r.live = 60000;
	r.kept = 0;
	assert_int_equal(zh_ctgc_next_interval(60, &r, max), 60);
	/* Little freed, but more than half full: not longer. */
	r.deleted = 1000;
	assert_int_equal(zh_ctgc_next_interval(60, &r, max), 60);
}

static void test_stats_file(void **state)
{
	char dir[] = "/tmp/test_ctgc.XXXXXX";
	struct zh_ctgc_stats st = {
		.on = true,
		.auto_interval = true,
		.interval_s = 45,
		.max_entries = 262144,
		.sweeps = 12,
		.deleted_total = 123456789012ULL,
		.kept_total = 7,
		.errors = 1,
		.last = { .seen = 1000,
			  .live = 900,
			  .kept = 3,
			  .deleted = 90,
			  .gone = 7,
			  .slices = 4,
			  .per_key = true },
		.last_duration_ns = 1500000,
		.last_cpu_ns = 1200000,
		.last_time = 1796000000.25,
	},
			     got;
	char path[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(zh_ctgc_stats_load(dir, &got), -ENOENT);
	assert_int_equal(zh_ctgc_stats_save(dir, &st), 0);
	assert_int_equal(zh_ctgc_stats_load(dir, &got), 0);
	assert_true(got.on && got.auto_interval && got.last.per_key);
	assert_false(got.last.cut);
	assert_int_equal(got.interval_s, 45);
	assert_int_equal(got.max_entries, 262144);
	assert_int_equal(got.sweeps, 12);
	assert_int_equal(got.deleted_total, 123456789012ULL);
	assert_int_equal(got.kept_total, 7);
	assert_int_equal(got.errors, 1);
	assert_memory_equal(&got.last, &st.last, sizeof(st.last));
	assert_int_equal(got.last_duration_ns / 1000, 1500);
	assert_int_equal(got.last_cpu_ns / 1000, 1200);
	assert_true(got.last_time > 1796000000.2 &&
		    got.last_time < 1796000000.3);
	/* One schema: a sweep's object is the record's lastSweep, less when. */
	{
		json_t *rec = zh_ctgc_stats_json(&st),
		       *one = zh_ctgc_result_json(&st.last), *last, *v;
		const char *key;

		assert_non_null(rec);
		assert_non_null(one);
		last = json_object_get(rec, "lastSweep");
		assert_int_equal(
			json_integer_value(json_object_get(last, "read")),
			1000);
		assert_int_equal(
			json_integer_value(json_object_get(rec, "deleted")),
			123456789012LL);
		json_object_foreach (one, key, v)
			assert_true(json_equal(v, json_object_get(last, key)));
		assert_int_equal(json_object_size(last),
				 json_object_size(one) + 3);
		json_decref(one);
		json_decref(rec);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, ZH_CTGC_STATE_FILE);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_bounds),
		cmocka_unit_test(test_peer_service),
		cmocka_unit_test(test_peer_snat),
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_stats_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
