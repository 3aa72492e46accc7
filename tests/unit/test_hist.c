// SPDX-License-Identifier: Apache-2.0
/*
 * test_hist.c - the latency histogram: bucket maths (bpf/include/zh_hist.h)
 * and percentiles, merging and cumulative counts (user/lib/hist.c), checked
 * against known distributions and exact sorted-sample percentiles.
 */
#include <errno.h>
#include <math.h> /* NAN only: no libm in the link */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hist.h"
#include "rng.h"
#include "util.h"

#define LAST (ZH_HIST_BUCKETS - 1)
#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

/* |got - want| <= want / 64: the bucket-midpoint bound (1.6 %). */
#define assert_close(got, want)                                            \
	do {                                                               \
		__u64 g_ = (got), w_ = (want);                             \
		__u64 d_ = g_ > w_ ? g_ - w_ : w_ - g_;                    \
		if (d_ * 64 > w_)                                          \
			fail_msg("%llu not within 1/64 of %llu (line %d)", \
				 (unsigned long long)g_,                   \
				 (unsigned long long)w_, __LINE__);        \
	} while (0)

/* Uniform in (0, 1). */
static double rng_unit(void)
{
	return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

/* Natural log for x > 0 without libm: x = m * 2^e, then atanh series. */
static double test_ln(double x)
{
	double z, z2, term, sum = 0;
	int e = 0, k;

	while (x >= 2) {
		x /= 2;
		e++;
	}
	while (x < 1) {
		x *= 2;
		e--;
	}
	z = (x - 1) / (x + 1); /* <= 1/3 */
	z2 = z * z;
	term = z;
	for (k = 1; k < 80; k += 2) {
		sum += term / k;
		term *= z2;
	}
	return 2 * sum + e * 0.69314718055994530942;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank on sorted @v, @pm in per mille: integer maths only. */
static __u64 exact_percentile(const __u64 *v, size_t n, unsigned int pm)
{
	size_t rank = (pm * n + 999) / 1000;

	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static struct zh_hist *hist_new(void)
{
	struct zh_hist *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	return h;
}

/* Check the bucket of @v holds it. */
static void check_value(__u64 v)
{
	__u32 idx = zh_hist_index(v);

	assert_true(idx < ZH_HIST_BUCKETS);
	if (v >= ZH_HIST_MAX_NS) {
		assert_int_equal(idx, LAST);
		return;
	}
	if (zh_hist_lower(idx) > v || v >= zh_hist_upper(idx))
		fail_msg("%llu in bucket %u [%llu, %llu)",
			 (unsigned long long)v, idx,
			 (unsigned long long)zh_hist_lower(idx),
			 (unsigned long long)zh_hist_upper(idx));
}

/* ------------------------------------------------------------ buckets */

static void test_bucket_count(void **state)
{
	(void)state;
	assert_int_equal(ZH_HIST_BUCKETS, 992);
	assert_int_equal(sizeof(struct zh_hist), 7960);
	assert_int_equal(zh_hist_index(ZH_HIST_MAX_NS - 1),
			 ZH_HIST_BUCKETS - 1);
	assert_true(zh_hist_upper(LAST) == ZH_HIST_MAX_NS);
}

static void test_index_exact_below_64(void **state)
{
	__u64 v;

	(void)state;
	/* 0..31 by definition; 32..63 because the first octave steps by 1. */
	for (v = 0; v < 64; v++) {
		assert_int_equal(zh_hist_index(v), v);
		assert_true(zh_hist_lower(v) == v);
		assert_true(zh_hist_upper(v) == v + 1);
	}
}

static void test_msb(void **state)
{
	__u32 k;

	(void)state;
	for (k = 0; k < 64; k++) {
		assert_int_equal(zh_hist_msb(1ULL << k), k);
		assert_int_equal(zh_hist_msb((1ULL << k) | 1), k);
		if (k)
			assert_int_equal(zh_hist_msb((1ULL << k) - 1), k - 1);
	}
	assert_int_equal(zh_hist_msb(~0ULL), 63);
}

static void test_bounds_contain_values(void **state)
{
	__u64 p;
	int k, i;

	(void)state;
	/* Powers of two and their neighbours, 1 ns to beyond the clamp. */
	for (k = 0; k < 64; k++) {
		p = 1ULL << k;
		check_value(p - 1);
		check_value(p);
		check_value(p + 1);
	}
	/* Random values from 1 ns to 10 s, log-uniform, fixed seed. */
	rng_seed(42);
	for (i = 0; i < 200000; i++) {
		int bits = 1 + (int)(rng_next() % 34); /* 2^34 ns > 10 s */

		p = rng_next() & ((1ULL << bits) - 1);
		if (p > 10 * NS_PER_S)
			p = 10 * NS_PER_S;
		check_value(p ? p : 1);
	}
	/* Both ends of every bucket. */
	for (i = 0; i < ZH_HIST_BUCKETS; i++) {
		assert_int_equal(zh_hist_index(zh_hist_lower(i)), i);
		assert_int_equal(zh_hist_index(zh_hist_upper(i) - 1), i);
	}
}

static void test_index_monotonic(void **state)
{
	__u32 prev = 0, idx;
	__u64 v, last = 0;
	int i;

	(void)state;
	/* Exhaustively over the first 2^20 ns... */
	for (v = 0; v < (1ULL << 20); v++) {
		idx = zh_hist_index(v);
		assert_true(idx >= prev);
		prev = idx;
	}
	/* ...buckets tile the range without gaps or overlaps... */
	assert_true(zh_hist_lower(0) == 0);
	for (i = 1; i < ZH_HIST_BUCKETS; i++)
		assert_true(zh_hist_lower(i) == zh_hist_upper(i - 1));
	/* ...and random increasing steps across the whole range. */
	rng_seed(7);
	prev = 0;
	for (v = 1; v < 2 * ZH_HIST_MAX_NS;
	     v += 1 + (rng_next() % (v / 8 + 1))) {
		idx = zh_hist_index(v);
		assert_true(idx >= prev);
		assert_true(v > last);
		prev = idx;
		last = v;
	}
	assert_int_equal(prev, LAST);
}

static void test_relative_width(void **state)
{
	__u64 lo, hi;
	int i;

	(void)state;
	for (i = ZH_HIST_SUB; i < ZH_HIST_BUCKETS; i++) {
		lo = zh_hist_lower(i);
		hi = zh_hist_upper(i);
		assert_true(hi > lo);
		/* (upper - lower) / lower <= 1/32 */
		assert_true((hi - lo) * ZH_HIST_SUB <= lo);
	}
}

static void test_range_and_clamp(void **state)
{
	__u32 i100 = zh_hist_index(100), i10s = zh_hist_index(10 * NS_PER_S);

	(void)state;
	/* 100 ns: octave [64, 128) in steps of 2 -> [100, 102). */
	assert_int_equal(i100, 82);
	assert_true(zh_hist_lower(i100) == 100 && zh_hist_upper(i100) == 102);
	/* 10 s is inside the range, well below the clamp bucket. */
	assert_true(i10s < LAST);
	check_value(10 * NS_PER_S);
	/* >= 2^35 ns clamps to the last bucket. */
	assert_int_equal(zh_hist_index(ZH_HIST_MAX_NS), LAST);
	assert_int_equal(zh_hist_index(ZH_HIST_MAX_NS + 1), LAST);
	assert_int_equal(zh_hist_index(100 * NS_PER_S), LAST);
	assert_int_equal(zh_hist_index(~0ULL), LAST);
	/* An index past the end reads as the last bucket. */
	assert_true(zh_hist_lower(ZH_HIST_BUCKETS) == zh_hist_lower(LAST));
	assert_true(zh_hist_upper(~0U) == zh_hist_upper(LAST));
}

/* -------------------------------------------------------- percentiles */

static void test_add(void **state)
{
	struct zh_hist *h = hist_new();

	(void)state;
	zh_hist_add(h, 5);
	zh_hist_add(h, 1000);
	zh_hist_add(h, 1000);
	zh_hist_add(h, ~0ULL - 1);
	assert_true(h->count == 4);
	assert_true(h->sum_ns == 5 + 2000 + (~0ULL - 1)); /* wraps, by design */
	assert_true(h->max_ns == ~0ULL - 1);
	assert_true(h->buckets[5] == 1);
	assert_true(h->buckets[zh_hist_index(1000)] == 2);
	assert_true(h->buckets[LAST] == 1);
	free(h);
}

static void test_empty(void **state)
{
	struct zh_hist *h = hist_new();
	struct zh_hist_summary s;
	__u64 bounds[] = { 0, 1000, ~0ULL }, out[3];

	(void)state;
	assert_true(zh_hist_percentile(h, 0) == 0);
	assert_true(zh_hist_percentile(h, 50) == 0);
	assert_true(zh_hist_percentile(h, 100) == 0);
	memset(&s, 0xff, sizeof(s));
	assert_int_equal(zh_hist_summary(h, &s), 0);
	assert_true(s.count == 0 && s.mean_ns == 0 && s.p50_ns == 0 &&
		    s.p90_ns == 0 && s.p99_ns == 0 && s.p999_ns == 0 &&
		    s.max_ns == 0);
	assert_int_equal(zh_hist_cumulative(h, bounds, 3, out), 3);
	assert_true(out[0] == 0 && out[1] == 0 && out[2] == 0);
	assert_int_equal(zh_hist_summary(NULL, &s), -EINVAL);
	assert_int_equal(zh_hist_summary(h, NULL), -EINVAL);
	free(h);
}

static void test_uniform(void **state)
{
	struct zh_hist *h = hist_new();
	__u64 v;

	(void)state;
	for (v = 1; v <= 100000; v++)
		zh_hist_add(h, v);
	assert_close(zh_hist_percentile(h, 50), 50000);
	assert_close(zh_hist_percentile(h, 90), 90000);
	assert_close(zh_hist_percentile(h, 99), 99000);
	assert_close(zh_hist_percentile(h, 99.9), 99900);
	assert_true(zh_hist_percentile(h, 0) == 1); /* rank 1: exact bucket */
	assert_true(zh_hist_percentile(h, 100) == 100000);
	free(h);
}

static void test_constant(void **state)
{
	static const __u64 values[] = { 0,     7,      63,	     100,
					12345, 999999, 10 * NS_PER_S };
	static const double ps[] = { 0, 1, 50, 90, 99, 99.9, 99.99 };
	struct zh_hist_summary s;
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(values); i++) {
		struct zh_hist *h = hist_new();

		for (j = 0; j < 1000; j++)
			zh_hist_add(h, values[i]);
		for (j = 0; j < ARRAY_SIZE(ps); j++) {
			__u64 got = zh_hist_percentile(h, ps[j]);

			assert_close(got, values[i]);
			/* a single value: the midpoint is clamped to max */
			assert_true(got <= values[i]);
		}
		assert_true(zh_hist_percentile(h, 100) == values[i]);
		assert_int_equal(zh_hist_summary(h, &s), 0);
		assert_true(s.count == 1000);
		assert_true(s.mean_ns == values[i]);
		assert_true(s.max_ns == values[i]);
		free(h);
	}
}

static void test_bimodal(void **state)
{
	struct zh_hist *h = hist_new();
	struct zh_hist_summary s;
	int i;

	(void)state;
	/* 99 % at 10 us, 1 % at 1 ms */
	for (i = 0; i < 99000; i++)
		zh_hist_add(h, 10 * NS_PER_US);
	for (i = 0; i < 1000; i++)
		zh_hist_add(h, NS_PER_MS);
	assert_int_equal(zh_hist_summary(h, &s), 0);
	assert_true(s.count == 100000);
	assert_true(s.mean_ns ==
		    (99000 * 10 * NS_PER_US + 1000 * NS_PER_MS) / 100000);
	assert_close(s.p50_ns, 10 * NS_PER_US);
	assert_close(s.p90_ns, 10 * NS_PER_US);
	assert_close(s.p99_ns, 10 * NS_PER_US); /* rank 99000: still 10 us */
	assert_close(s.p999_ns, NS_PER_MS);
	assert_close(zh_hist_percentile(h, 99.01), NS_PER_MS);
	assert_true(s.max_ns == NS_PER_MS);
	assert_true(zh_hist_percentile(h, 100) == NS_PER_MS);
	free(h);
}

static void test_exponential_vs_exact(void **state)
{
	static const unsigned int pms[] = { 500, 900, 990, 999 };
	const size_t n = 100000;
	struct zh_hist *h = hist_new();
	__u64 *v = malloc(n * sizeof(*v));
	size_t i;

	(void)state;
	assert_non_null(v);
	rng_seed(0x7a65726f686f70ULL);
	for (i = 0; i < n; i++) {
		/* mean 50 us: -mean * ln(U) */
		v[i] = 1 + (__u64)(-50000.0 * test_ln(rng_unit()));
		zh_hist_add(h, v[i]);
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	for (i = 0; i < ARRAY_SIZE(pms); i++)
		assert_close(zh_hist_percentile(h, pms[i] / 10.0),
			     exact_percentile(v, n, pms[i]));
	assert_true(zh_hist_percentile(h, 100) == v[n - 1]);
	assert_true(h->max_ns == v[n - 1]);
	free(v);
	free(h);
}

/*
 * Below 64 ns every bucket is one value wide, so the histogram's nearest
 * rank must equal the exact one, duplicates and all: checks the rank
 * rounding (99.9 % of 1000 is rank 999, not 1000) for many sizes.
 */
static void test_rank_exact_small_values(void **state)
{
	static const unsigned int pms[] = { 0,	 1,   10,  100, 250, 500,
					    750, 900, 990, 999, 1000 };
	__u64 v[2000] = { 0 };
	size_t n, i;

	(void)state;
	rng_seed(99);
	for (n = 1; n <= ARRAY_SIZE(v); n += (n < 50 ? 1 : 50)) {
		struct zh_hist *h = hist_new();

		for (i = 0; i < n; i++) {
			v[i] = rng_next() % 64;
			zh_hist_add(h, v[i]);
		}
		qsort(v, n, sizeof(*v), cmp_u64);
		for (i = 0; i < ARRAY_SIZE(pms); i++) {
			__u64 got = zh_hist_percentile(h, pms[i] / 10.0);
			__u64 want = exact_percentile(v, n, pms[i]);

			if (got != want)
				fail_msg("n=%zu p=%u/1000: %llu, want %llu", n,
					 pms[i], (unsigned long long)got,
					 (unsigned long long)want);
		}
		free(h);
	}
}

/*
 * One value per bucket, so every rank is a different bucket: the bucket
 * reported for p must be the bucket of rank ceil(p * n / 100) computed in
 * integers, for every p in steps of 0.1. Catches the double rounding of
 * e.g. 3.5 % of 200 (7.000000000000001 in double: rank 7, not 8).
 */
static void test_rank_every_permille(void **state)
{
	static const size_t sizes[] = {
		1,   2,	  3,   7,   10,	 49,  100, 200,
		250, 400, 500, 600, 750, 800, 990, LAST
	};
	size_t k, i;
	unsigned int pm;

	(void)state;
	for (k = 0; k < ARRAY_SIZE(sizes); k++) {
		struct zh_hist *h = hist_new();
		size_t n = sizes[k];

		for (i = 0; i < n; i++)
			zh_hist_add(h, zh_hist_lower(i));
		for (pm = 0; pm <= 1000; pm++) {
			size_t rank = (pm * n + 999) / 1000;
			__u32 got =
				zh_hist_index(zh_hist_percentile(h, pm / 10.0));

			if (rank < 1)
				rank = 1;
			if (got != rank - 1)
				fail_msg("n=%zu p=%u/1000: bucket %u, want %zu",
					 n, pm, got, rank - 1);
		}
		free(h);
	}
}

static void test_percentile_p_out_of_range(void **state)
{
	struct zh_hist *h = hist_new();
	__u64 v;

	(void)state;
	for (v = 10; v < 20; v++)
		zh_hist_add(h, v);
	assert_true(zh_hist_percentile(h, -5) == 10);
	assert_true(zh_hist_percentile(h, NAN) == 10);
	assert_true(zh_hist_percentile(h, 250) == 19);
	free(h);
}

static void test_merge(void **state)
{
	struct zh_hist *whole = hist_new(), *a = hist_new(), *b = hist_new();
	struct zh_hist *sum = hist_new();
	int i;

	(void)state;
	rng_seed(3);
	for (i = 0; i < 50000; i++) {
		__u64 ns = rng_next() % (1ULL << (1 + rng_next() % 36));

		zh_hist_add(whole, ns);
		zh_hist_add(i % 3 ? a : b, ns); /* two CPUs, unequal shares */
	}
	zh_hist_merge(sum, a); /* into an empty one */
	zh_hist_merge(sum, b);
	assert_memory_equal(sum, whole, sizeof(*whole));
	/* merge order does not matter */
	memset(sum, 0, sizeof(*sum));
	zh_hist_merge(sum, b);
	zh_hist_merge(sum, a);
	assert_memory_equal(sum, whole, sizeof(*whole));
	/* max of maxes, whichever side holds it */
	assert_true(whole->max_ns ==
		    (a->max_ns > b->max_ns ? a->max_ns : b->max_ns));
	free(whole);
	free(a);
	free(b);
	free(sum);
}

/* --------------------------------------------------------- cumulative */

static void test_cumulative(void **state)
{
	(void)state;
	/* Prometheus-style le bounds, ns: 1 us .. 10 s, then past the max. */
	static const __u64 bounds[] = {
		0,	 31,	   63,	      100,	1000,
		2500,	 5000,	   10000,     25000,	50000,
		100000,	 250000,   500000,    1000000,	2500000,
		5000000, 10000000, 100000000, NS_PER_S, 10 * NS_PER_S,
		~0ULL,
	};
	const size_t n = 100000;
	struct zh_hist *h = hist_new();
	__u64 *v = malloc(n * sizeof(*v)), out[ARRAY_SIZE(bounds)];
	size_t i, j;

	assert_non_null(v);
	rng_seed(11);
	for (i = 0; i < n; i++) {
		v[i] = (__u64)(-200000.0 * test_ln(rng_unit()));
		zh_hist_add(h, v[i]);
	}
	assert_int_equal(zh_hist_cumulative(h, bounds, ARRAY_SIZE(bounds), out),
			 ARRAY_SIZE(bounds));
	for (i = 0; i < ARRAY_SIZE(bounds); i++) {
		__u64 le = 0, lt_bucket = 0;
		__u64 edge = zh_hist_lower(zh_hist_index(bounds[i]));

		for (j = 0; j < n; j++) {
			le += v[j] <= bounds[i];
			lt_bucket += v[j] < edge;
		}
		/* never over-counts; under-counts by at most one bucket */
		assert_true(out[i] <= le);
		assert_true(out[i] >= lt_bucket);
		if (bounds[i] < 64 || bounds[i] >= h->max_ns)
			assert_true(out[i] == le);
		if (i)
			assert_true(out[i] >= out[i - 1]);
	}
	assert_true(out[ARRAY_SIZE(bounds) - 1] == h->count);

	/* bound == max, even mid-bucket: everything */
	assert_int_equal(zh_hist_cumulative(h, &h->max_ns, 1, out), 1);
	assert_true(out[0] == n);
	free(v);
	free(h);
}

static void test_cumulative_edges_exact(void **state)
{
	struct zh_hist *h = hist_new();
	__u64 bounds[ZH_HIST_BUCKETS - 1], out[ZH_HIST_BUCKETS - 1], cum = 0;
	__u32 i;

	(void)state;
	/* one value per bucket at its top; bounds on every bucket edge */
	for (i = 0; i < ZH_HIST_BUCKETS; i++)
		zh_hist_add(h, zh_hist_upper(i) - 1);
	for (i = 0; i < ZH_HIST_BUCKETS - 1; i++)
		bounds[i] = zh_hist_upper(i) - 1;
	assert_int_equal(zh_hist_cumulative(h, bounds, ARRAY_SIZE(bounds), out),
			 ARRAY_SIZE(bounds));
	for (i = 0; i < ZH_HIST_BUCKETS - 1; i++) {
		cum++;
		assert_true(out[i] == cum);
	}
	free(h);
}

static void test_cumulative_clamped_values(void **state)
{
	struct zh_hist *h = hist_new();
	__u64 bounds[] = { ZH_HIST_MAX_NS - 1, ZH_HIST_MAX_NS, 60 * NS_PER_S,
			   100 * NS_PER_S };
	__u64 out[ARRAY_SIZE(bounds)];

	(void)state;
	zh_hist_add(h, 1000);
	zh_hist_add(h, 100 * NS_PER_S); /* clamped into the last bucket */
	assert_int_equal(zh_hist_cumulative(h, bounds, ARRAY_SIZE(bounds), out),
			 ARRAY_SIZE(bounds));
	/* the clamped value is only known to be <= max_ns */
	assert_true(out[0] == 1 && out[1] == 1 && out[2] == 1);
	assert_true(out[3] == 2);
	assert_true(zh_hist_percentile(h, 100) == 100 * NS_PER_S);
	free(h);
}

static void test_cumulative_unsorted_bounds(void **state)
{
	struct zh_hist *h = hist_new();
	__u64 bounds[] = { 10, 100, 100, 50, 1000 }, out[5] = { 0 };

	(void)state;
	zh_hist_add(h, 5);
	zh_hist_add(h, 70);
	zh_hist_add(h, 500);
	/* equal bounds are fine; a smaller one stops the walk */
	assert_int_equal(zh_hist_cumulative(h, bounds, 5, out), 3);
	assert_true(out[0] == 1 && out[1] == 2 && out[2] == 2);
	assert_int_equal(zh_hist_cumulative(h, bounds, 0, out), 0);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_count),
		cmocka_unit_test(test_index_exact_below_64),
		cmocka_unit_test(test_msb),
		cmocka_unit_test(test_bounds_contain_values),
		cmocka_unit_test(test_index_monotonic),
		cmocka_unit_test(test_relative_width),
		cmocka_unit_test(test_range_and_clamp),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_constant),
		cmocka_unit_test(test_bimodal),
		cmocka_unit_test(test_exponential_vs_exact),
		cmocka_unit_test(test_rank_exact_small_values),
		cmocka_unit_test(test_rank_every_permille),
		cmocka_unit_test(test_percentile_p_out_of_range),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_cumulative),
		cmocka_unit_test(test_cumulative_edges_exact),
		cmocka_unit_test(test_cumulative_clamped_values),
		cmocka_unit_test(test_cumulative_unsorted_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
