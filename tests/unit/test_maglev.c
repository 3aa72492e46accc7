// SPDX-License-Identifier: Apache-2.0
/*
 * test_maglev.c - Maglev tables (user/lib/maglev.c): primes, SipHash-2-4
 * against its published vectors, a pinned table (the same on every machine),
 * a plain reference implementation of the documented algorithm, balance,
 * disruption when a backend leaves or joins, weights, order independence
 * and the errors.
 *
 * Backends are IPv4 10.1.x.y port 8080, named by an id; tables are compared
 * through the ids, since indices into the input array depend on its order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "maglev.h"
#include "rng.h"
#include "util.h"

#define M_BIG 65537U /* the table size the datapath will use */
#define KEY_LEN 7

static void shuffle(unsigned int *v, size_t n)
{
	size_t i, j;
	unsigned int t;

	for (i = n; i > 1; i--) {
		j = rng_next() % i;
		t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* family 4, 10.1.hi.lo, port 8080 big-endian: what a service key will be. */
static void key_of(unsigned int id, uint8_t key[KEY_LEN])
{
	key[0] = 4;
	key[1] = 10;
	key[2] = 1;
	key[3] = (uint8_t)(id >> 8);
	key[4] = (uint8_t)id;
	key[5] = 8080 >> 8;
	key[6] = 8080 & 0xff;
}

/*
 * Build from @ids (weights @w, NULL: all 1) and return the table as ids.
 * Returns NULL with *rc set when the build fails.
 */
static unsigned int *build_ids_rc(const unsigned int *ids, const uint32_t *w,
				  size_t n, uint32_t m, int *rc)
{
	uint8_t(*keys)[KEY_LEN] = calloc(n ? n : 1, KEY_LEN);
	struct zh_maglev_backend *b = calloc(n ? n : 1, sizeof(*b));
	uint32_t *t = malloc(m * sizeof(*t));
	unsigned int *out = malloc(m * sizeof(*out));
	uint32_t s;
	size_t i;

	assert_non_null(keys);
	assert_non_null(b);
	assert_non_null(t);
	assert_non_null(out);
	for (i = 0; i < n; i++) {
		key_of(ids[i], keys[i]);
		b[i] = (struct zh_maglev_backend){ .key = keys[i],
						   .key_len = KEY_LEN,
						   .weight = w ? w[i] : 1 };
	}
	*rc = zh_maglev_build(b, n, m, t);
	if (!*rc) {
		for (s = 0; s < m; s++) {
			assert_true(t[s] < n);
			out[s] = ids[t[s]];
		}
	}
	free(t);
	free(b);
	free(keys);
	if (*rc) {
		free(out);
		return NULL;
	}
	return out;
}

static unsigned int *build_ids(const unsigned int *ids, const uint32_t *w,
			       size_t n, uint32_t m)
{
	int rc;
	unsigned int *t = build_ids_rc(ids, w, n, m, &rc);

	assert_int_equal(rc, 0);
	return t;
}

static unsigned int *seq_ids(size_t n)
{
	unsigned int *ids = malloc((n ? n : 1) * sizeof(*ids));
	size_t i;

	assert_non_null(ids);
	for (i = 0; i < n; i++)
		ids[i] = (unsigned int)i;
	return ids;
}

static size_t count_id(const unsigned int *t, uint32_t m, unsigned int id)
{
	size_t c = 0;
	uint32_t s;

	for (s = 0; s < m; s++)
		c += t[s] == id;
	return c;
}

/* --- primes ------------------------------------------------------------ */

static void test_is_prime_vs_sieve(void **state)
{
	const uint32_t lim = 200000;
	char *composite = calloc(lim, 1);
	uint32_t i, j;

	(void)state;
	assert_non_null(composite);
	composite[0] = composite[1] = 1;
	for (i = 2; i * i < lim; i++)
		if (!composite[i])
			for (j = i * i; j < lim; j += i)
				composite[j] = 1;
	for (i = 0; i < lim; i++)
		if (zh_is_prime(i) != !composite[i])
			fail_msg("zh_is_prime(%u) = %d", i, zh_is_prime(i));
	free(composite);
}

static void test_is_prime_large(void **state)
{
	static const uint32_t primes[] = { 65537,      1000003,	   2147483629,
					   2147483647, 4294967231, 4294967279,
					   4294967291 };
	/*
	 * Carmichael numbers, strong pseudoprimes to several bases
	 * (25326001: 2, 3, 5; 3215031751: 2, 3, 5, 7), the square of the
	 * largest 16-bit prime, and the top of the range.
	 */
	static const uint32_t composites[] = {
		561,	    41041,	825265,	    321197185, 25326001,
		3215031751, 4293001441, 4294967293, 4294967295
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(primes); i++)
		if (!zh_is_prime(primes[i]))
			fail_msg("%u is prime", primes[i]);
	for (i = 0; i < ARRAY_SIZE(composites); i++)
		if (zh_is_prime(composites[i]))
			fail_msg("%u is composite", composites[i]);
}

static void test_prime_at_least(void **state)
{
	static const struct {
		uint32_t n, want;
	} cases[] = {
		{ 0, 2 },
		{ 1, 2 },
		{ 2, 2 },
		{ 3, 3 },
		{ 4, 5 },
		{ 14, 17 },
		{ 100, 101 },
		{ 1000, 1009 },
		{ 65536, 65537 },
		{ 65537, 65537 },
		{ 2147483630, 2147483647 },
		{ 4294967280, 4294967291 },
		{ 4294967291, 4294967291 },
		{ 4294967292, 0 },
		{ UINT32_MAX, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (zh_prime_at_least(cases[i].n) != cases[i].want)
			fail_msg("zh_prime_at_least(%u) = %u, want %u",
				 cases[i].n, zh_prime_at_least(cases[i].n),
				 cases[i].want);
}

/* --- SipHash-2-4 ------------------------------------------------------- */

/*
 * The reference implementation's vectors (siphash24.c, Aumasson and
 * Bernstein): key 00 01 .. 0f, message 00 01 .. (i - 1) for i = 0..63.
 * Every tail length and up to seven full words.
 */
static const uint64_t sip_vectors[64] = {
	0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
	0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
	0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL,
	0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
	0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL,
	0xa129ca6149be45e5ULL, 0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL,
	0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL, 0xbed65cf21aa2ee98ULL,
	0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
	0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL,
	0x2f2e6163076bcfadULL, 0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL,
	0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL, 0x7127512f72f27cceULL,
	0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
	0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL,
	0x9abfd8766a33735cULL, 0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL,
	0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL, 0xf935451de4f21df2ULL,
	0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
	0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL,
	0xa192d576b245165aULL, 0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL,
	0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL, 0xb78dbfaf3a8d83bdULL,
	0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
	0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL,
	0x958a324ceb064572ULL,
};

static void test_siphash_vectors(void **state)
{
	uint8_t key[16], msg[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < ARRAY_SIZE(sip_vectors); i++)
		if (zh_siphash24(key, msg, i) != sip_vectors[i])
			fail_msg("length %zu: %016llx, want %016llx", i,
				 (unsigned long long)zh_siphash24(key, msg, i),
				 (unsigned long long)sip_vectors[i]);
	/* Unaligned input reads the same bytes. */
	memmove(msg + 1, msg, 63);
	assert_true(zh_siphash24(key, msg + 1, 63) == sip_vectors[63]);
}

/* --- the reference -------------------------------------------------------- */

/*
 * maglev.h's algorithm written out plainly, the paper's way: permutation
 * entry j of backend i is (offset_i + j * skip_i) mod m, next[i] counts the
 * entries it has tried, and each turn goes to the backend whose next turn
 * has the smallest (round, rank), found by a linear scan. O(n * m): small
 * cases only.
 */
static void ref_build(const unsigned int *ids, const uint32_t *w, size_t n,
		      uint32_t m, unsigned int *out)
{
	static const uint8_t ko[16] = { 'z', 'e', 'r', 'o', 'h', 'o', 'p', ' ',
					'm', 'a', 'g', 'l', 'e', 'v', ' ', 'o' };
	static const uint8_t ks[16] = { 'z', 'e', 'r', 'o', 'h', 'o', 'p', ' ',
					'm', 'a', 'g', 'l', 'e', 'v', ' ', 's' };
	unsigned int *ord = malloc(n * sizeof(*ord));
	uint64_t *offset = calloc(n, sizeof(uint64_t));
	uint64_t *skip = calloc(n, sizeof(uint64_t));
	uint64_t *next = calloc(n, sizeof(uint64_t));
	uint64_t *turns = calloc(n, sizeof(uint64_t));
	uint32_t *wt = calloc(n, sizeof(uint32_t));
	uint8_t key[KEY_LEN], key2[KEY_LEN];
	uint32_t wmax = 0, s, filled;
	size_t i, j;

	assert_true(ord && offset && skip && next && turns && wt);
	/* Rank: ord[r] is the input index of the r-th key; insertion sort. */
	for (i = 0; i < n; i++) {
		ord[i] = (unsigned int)i;
		for (j = i; j > 0; j--) {
			unsigned int tmp = ord[j];

			key_of(ids[ord[j - 1]], key);
			key_of(ids[tmp], key2);
			if (memcmp(key, key2, KEY_LEN) <= 0)
				break;
			ord[j] = ord[j - 1];
			ord[j - 1] = tmp;
		}
	}
	for (i = 0; i < n; i++) {
		wt[i] = w ? w[ord[i]] : 1;
		key_of(ids[ord[i]], key);
		offset[i] = zh_siphash24(ko, key, KEY_LEN) % m;
		skip[i] = zh_siphash24(ks, key, KEY_LEN) % (m - 1) + 1;
		if (wt[i] > wmax)
			wmax = wt[i];
	}
	for (s = 0; s < m; s++)
		out[s] = UINT32_MAX;
	for (filled = 0; filled < m; filled++) {
		uint64_t best_round = UINT64_MAX, c;
		size_t best = n;

		for (i = 0; i < n; i++) {
			uint64_t round;

			if (!wt[i])
				continue;
			/* floor((turns + 1/2) * W / weight) */
			round = (2 * turns[i] + 1) * wmax /
				(2 * (uint64_t)wt[i]);
			if (round < best_round) {
				best_round = round;
				best = i;
			}
		}
		assert_true(best < n);
		do
			c = (offset[best] + next[best]++ * skip[best]) % m;
		while (out[c] != UINT32_MAX);
		out[c] = ids[ord[best]];
		turns[best]++;
	}
	free(wt);
	free(turns);
	free(next);
	free(skip);
	free(offset);
	free(ord);
}

static void check_against_ref(size_t n, uint32_t m, const uint32_t *w)
{
	unsigned int *ids = seq_ids(n), *ref = malloc(m * sizeof(*ref));
	unsigned int *got;
	uint32_t s;

	assert_non_null(ref);
	/* Ids not in key order, so that rank and input order differ. */
	rng_seed(n * 31 + m);
	shuffle(ids, n);
	got = build_ids(ids, w, n, m);
	ref_build(ids, w, n, m, ref);
	for (s = 0; s < m; s++)
		if (got[s] != ref[s])
			fail_msg("n=%zu m=%u: slot %u is %u, the reference %u",
				 n, m, s, got[s], ref[s]);
	free(got);
	free(ref);
	free(ids);
}

static void test_matches_reference(void **state)
{
	uint32_t w[200];
	size_t i;

	(void)state;
	check_against_ref(1, 2, NULL);
	check_against_ref(2, 2, NULL);
	check_against_ref(7, 251, NULL);
	check_against_ref(100, 10007, NULL);
	/* 1:2:3 and random weights with some zeros: the round by round fill. */
	w[0] = 1;
	w[1] = 2;
	w[2] = 3;
	check_against_ref(3, 1009, w);
	rng_seed(7);
	for (i = 0; i < 200; i++)
		w[i] = rng_next() % 8;
	check_against_ref(200, 20011, w);
	/* One heavy among many light: the heap fill. */
	for (i = 0; i < 200; i++)
		w[i] = 1;
	w[17] = 5000;
	check_against_ref(200, 4001, w);
	w[99] = 3000;
	w[3] = 0;
	check_against_ref(200, 8009, w);
}

/*
 * The same keys give the same table on every machine and every release: a
 * change here moves live flows on upgrade. Update only on purpose.
 */
static void test_pinned_table(void **state)
{
	static const unsigned int want[31] = {
		2, 2, 0, 0, 0, 2, 1, 1, 1, 0, 1, 1, 2, 2, 2, 1,
		0, 2, 2, 0, 2, 1, 1, 1, 0, 0, 2, 1, 0, 0, 0,
	};
	unsigned int ids[] = { 0, 1, 2 }, *t;
	uint32_t s;

	(void)state;
	t = build_ids(ids, NULL, 3, 31);
	for (s = 0; s < 31; s++)
		if (t[s] != want[s]) {
			for (s = 0; s < 31; s++)
				print_message("%u, ", t[s]);
			print_message("\n");
			fail_msg("the table changed");
		}
	free(t);
}

/* --- properties ---------------------------------------------------------- */

/* Equal weights: each turn fills one slot, so the counts differ by <= 1. */
static void check_balance(size_t n, uint32_t m)
{
	unsigned int *ids = seq_ids(n), *t = build_ids(ids, NULL, n, m);
	size_t lo = m / n, hi = (m + n - 1) / n, i, c;

	for (i = 0; i < n; i++) {
		c = count_id(t, m, (unsigned int)i);
		if (c < lo || c > hi)
			fail_msg(
				"n=%zu m=%u: backend %zu has %zu slots, not %zu..%zu",
				n, m, i, c, lo, hi);
	}
	free(t);
	free(ids);
}

static void test_balance(void **state)
{
	static const size_t ns[] = { 1, 2, 3, 10, 100, 1000 };
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(ns); i++) {
		check_balance(ns[i], zh_prime_at_least(100 * ns[i]));
		check_balance(ns[i], M_BIG);
	}
	check_balance(13, 13); /* m == n: one slot each */
}

struct disruption {
	double changed; /* fraction of slots whose backend changed */
	double others; /* ... among those not of the leaving/joining backend */
};

/*
 * Remove backend @gone from 0..n-1, or (@gone == n) add backend n: how
 * many slots change backend, and how many of those neither belonged to
 * nor went to that backend (the cascade the ideal hashing would not have).
 */
static struct disruption disruption(size_t n, uint32_t m, unsigned int gone)
{
	unsigned int *all = seq_ids(n + 1),
		     *small = malloc((n + 1) * sizeof(*small));
	unsigned int *before, *after, moved = 0, others = 0;
	size_t i, k = 0;
	uint32_t s;

	assert_non_null(small);
	if (gone < n) {
		for (i = 0; i < n; i++)
			if (i != gone)
				small[k++] = (unsigned int)i;
		before = build_ids(all, NULL, n, m);
		after = build_ids(small, NULL, n - 1, m);
	} else {
		before = build_ids(all, NULL, n, m);
		after = build_ids(all, NULL, n + 1, m);
	}
	for (s = 0; s < m; s++) {
		if (before[s] == after[s])
			continue;
		moved++;
		if (before[s] != gone && after[s] != gone)
			others++;
	}
	free(after);
	free(before);
	free(small);
	free(all);
	return (struct disruption){ .changed = (double)moved / m,
				    .others = (double)others / m };
}

/*
 * The ideal is 1/N of the slots, all of them the leaving backend's. Maglev
 * trades some of that for balance: a backend leaving frees slots early in
 * the others' permutations, which cascades. Measured (these keys, removing
 * each backend in turn, M = 65537): worst extra change over the ideal
 * N=3 0.01 %, 10 0.23 %, 100 0.66 %, 1000 0.61 %; at M = 100N (the paper's
 * smallest advised) it is N=10 3.4 %, 100 1.7 %. Asserted with headroom.
 */
static void check_removal(size_t n, uint32_t m, double max_others)
{
	double worst = 0, worst_others = 0;
	size_t step = n > 100 ? n / 20 : 1, gone;

	for (gone = 0; gone < n; gone += step) {
		struct disruption d = disruption(n, m, (unsigned int)gone);

		if (d.changed > worst)
			worst = d.changed;
		if (d.others > worst_others)
			worst_others = d.others;
		if (d.changed > 1.0 / n + max_others || d.others > max_others)
			fail_msg(
				"n=%zu m=%u, removing %zu: %.4f changed, %.4f not its own",
				n, m, gone, d.changed, d.others);
	}
	print_message(
		"    remove 1 of %4zu, M=%6u: ideal %.4f, worst %.4f (+%.4f)\n",
		n, m, 1.0 / n, worst, worst_others);
}

static void test_removal_disruption(void **state)
{
	static const size_t ns[] = { 3, 5, 10, 20, 50, 100, 1000 };
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(ns); i++)
		check_removal(ns[i], M_BIG, 0.01);
	for (i = 0; i < 6; i++)
		check_removal(ns[i], zh_prime_at_least(100 * ns[i]), 0.045);
}

static void check_addition(size_t n, uint32_t m, double max_others)
{
	struct disruption d = disruption(n, m, (unsigned int)n);

	print_message(
		"    add 1 to %4zu,     M=%6u: ideal %.4f, got %.4f (+%.4f)\n",
		n, m, 1.0 / (n + 1), d.changed, d.others);
	if (d.changed > 1.0 / (n + 1) + max_others || d.others > max_others)
		fail_msg("n=%zu m=%u, adding one: %.4f changed, %.4f not to it",
			 n, m, d.changed, d.others);
}

static void test_addition_disruption(void **state)
{
	static const size_t ns[] = { 2, 3, 5, 10, 20, 50, 100, 1000 };
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(ns); i++)
		check_addition(ns[i], M_BIG, 0.01);
	for (i = 0; i < 7; i++)
		check_addition(ns[i], zh_prime_at_least(100 * ns[i]), 0.045);
}

/* Shares within one slot of m * w / sum(w), whatever the scale. */
static void test_weights_proportional(void **state)
{
	static const uint32_t scales[] = { 1, 2, 1000, 20000 };
	unsigned int ids[] = { 0, 1, 2 }, *t, *t1 = NULL;
	uint32_t w[3];
	size_t i, k;

	(void)state;
	for (k = 0; k < ARRAY_SIZE(scales); k++) {
		for (i = 0; i < 3; i++)
			w[i] = (uint32_t)(i + 1) * scales[k];
		t = build_ids(ids, w, 3, M_BIG);
		for (i = 0; i < 3; i++) {
			double want = (double)M_BIG * (i + 1) / 6;
			double got = (double)count_id(t, M_BIG, ids[i]);

			if (got < want - 1 || got > want + 1)
				fail_msg("weight %u: %.0f slots, want %.1f",
					 w[i], got, want);
		}
		/* Only the ratios count: 2:4:6 is 1:2:3. */
		if (t1)
			assert_memory_equal(t, t1, M_BIG * sizeof(*t));
		else
			t1 = t;
		if (t != t1)
			free(t);
	}
	free(t1);
}

/*
 * One backend of weight 65535 among 999 of weight 1: its share is 64553
 * of 65537 slots, and each light one should get at most one. Turns at
 * k * W / w (no half) would give it 65535.
 */
static void test_weights_skewed(void **state)
{
	unsigned int *ids = seq_ids(1000), *t;
	uint32_t w[1000];
	size_t i, c;

	(void)state;
	for (i = 0; i < 1000; i++)
		w[i] = 1;
	w[500] = 65535;
	t = build_ids(ids, w, 1000, M_BIG);
	c = count_id(t, M_BIG, 500);
	print_message("    heavy: %zu slots, share %.1f\n", c,
		      (double)M_BIG * 65535 / (65535 + 999));
	assert_true(c > 64553 - 66 && c < 64553 + 66); /* 0.1 % */
	for (i = 0; i < 1000; i++)
		if (i != 500)
			assert_true(count_id(t, M_BIG, (unsigned int)i) <= 1);
	free(t);
	free(ids);
}

/* Weight 0 drains: no slots, and the others' table is as without it. */
static void test_weight_zero_is_removal(void **state)
{
	unsigned int *ids = seq_ids(50), *with, *without;
	uint32_t w[50];
	size_t i;

	(void)state;
	for (i = 0; i < 50; i++)
		w[i] = 1 + i % 3;
	w[20] = 0;
	with = build_ids(ids, w, 50, 5003);
	assert_int_equal(count_id(with, 5003, 20), 0);
	/* Remove id 20: move the last one into its place. */
	ids[20] = ids[49];
	w[20] = w[49];
	without = build_ids(ids, w, 49, 5003);
	assert_memory_equal(with, without, 5003 * sizeof(*with));
	free(without);
	free(with);
	free(ids);
}

static void test_order_independent(void **state)
{
	unsigned int *ids = seq_ids(300), *ref, *t;
	uint32_t w[300], wref[300];
	size_t i, pass, r;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		/* Equal weights, then 1..5 (weights travel with their ids). */
		for (i = 0; i < 300; i++)
			wref[i] = pass ? 1 + (uint32_t)(i * 7 % 5) : 1;
		for (i = 0; i < 300; i++)
			ids[i] = (unsigned int)i;
		ref = build_ids(ids, wref, 300, 30011);
		rng_seed(pass + 1);
		for (r = 0; r < 5; r++) {
			shuffle(ids, 300);
			for (i = 0; i < 300; i++)
				w[i] = wref[ids[i]];
			t = build_ids(ids, w, 300, 30011);
			assert_memory_equal(t, ref, 30011 * sizeof(*t));
			free(t);
		}
		free(ref);
	}
	free(ids);
}

static void test_deterministic(void **state)
{
	unsigned int *ids = seq_ids(64), *a, *b;

	(void)state;
	a = build_ids(ids, NULL, 64, 6421);
	b = build_ids(ids, NULL, 64, 6421);
	assert_memory_equal(a, b, 6421 * sizeof(*a));
	free(b);
	free(a);
	free(ids);
}

/* Keys of any length, including none, are fine; ties are bytewise. */
static void test_key_lengths(void **state)
{
	static const char *keys[] = { "", "a", "ab", "b", "abc", "\x00", "ba" };
	struct zh_maglev_backend b[ARRAY_SIZE(keys)];
	uint32_t t[101];
	size_t i, c[ARRAY_SIZE(keys)] = { 0 };

	(void)state;
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		b[i] = (struct zh_maglev_backend){
			.key = i ? keys[i] : NULL,
			/* "\x00" is one NUL byte, unlike "" */
			.key_len = i == 5 ? 1 : strlen(keys[i]),
			.weight = 1,
		};
	assert_int_equal(zh_maglev_build(b, ARRAY_SIZE(keys), 101, t), 0);
	for (i = 0; i < 101; i++)
		c[t[i]]++;
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		assert_true(c[i] == 14 || c[i] == 15);
}

static void test_errors(void **state)
{
	uint8_t k[3][KEY_LEN];
	struct zh_maglev_backend b[3];
	uint32_t t[17];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		key_of((unsigned int)i, k[i]);
		b[i] = (struct zh_maglev_backend){ .key = k[i],
						   .key_len = KEY_LEN,
						   .weight = 1 };
	}
	assert_int_equal(zh_maglev_build(b, 3, 17, t), 0);
	/* m: not prime, smaller than n, beyond the maximum. */
	assert_int_equal(zh_maglev_build(b, 3, 0, t), -EINVAL);
	assert_int_equal(zh_maglev_build(b, 3, 1, t), -EINVAL);
	assert_int_equal(zh_maglev_build(b, 3, 15, t), -EINVAL);
	assert_int_equal(zh_maglev_build(b, 3, 2, t), -EINVAL);
	assert_int_equal(zh_maglev_build(b, 3, 3, t), 0);
	assert_int_equal(zh_maglev_build(b, 3, 4294967291U, t), -EINVAL);
	/* NULL arguments. */
	assert_int_equal(zh_maglev_build(b, 3, 17, NULL), -EINVAL);
	assert_int_equal(zh_maglev_build(NULL, 3, 17, t), -EINVAL);
	b[1].key = NULL;
	assert_int_equal(zh_maglev_build(b, 3, 17, t), -EINVAL);
	/* The same backend twice, wherever it is. */
	b[1].key = k[0];
	assert_int_equal(zh_maglev_build(b, 3, 17, t), -EINVAL);
	b[1].key = k[1];
	b[2].key = k[0];
	b[2].weight = 0;
	assert_int_equal(zh_maglev_build(b, 3, 17, t), -EINVAL);
	b[2].key = k[2];
	/* Nothing to build from. */
	assert_int_equal(zh_maglev_build(NULL, 0, 17, t), -ENOENT);
	assert_int_equal(zh_maglev_build(b, 0, 17, t), -ENOENT);
	for (i = 0; i < 3; i++)
		b[i].weight = 0;
	assert_int_equal(zh_maglev_build(b, 3, 17, t), -ENOENT);
	b[1].weight = 1;
	assert_int_equal(zh_maglev_build(b, 3, 17, t), 0);
	for (i = 0; i < 17; i++)
		assert_int_equal(t[i], 1);
}

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/*
 * Build time of the size the datapath will use, printed, not asserted:
 * benchmarks do not gate tests (and this also runs under ASan).
 */
static void test_build_time(void **state)
{
	uint8_t(*keys)[KEY_LEN] = calloc(1000, KEY_LEN);
	struct zh_maglev_backend b[1000];
	uint32_t *t = malloc(M_BIG * sizeof(*t));
	double best[2] = { 1e9, 1e9 };
	struct timespec t0, t1;
	size_t i, pass, rep;

	(void)state;
	assert_non_null(keys);
	assert_non_null(t);
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < 1000; i++) {
			key_of((unsigned int)i, keys[i]);
			/* Equal weights, then one heavy (the heap fill). */
			b[i] = (struct zh_maglev_backend){
				.key = keys[i],
				.key_len = KEY_LEN,
				.weight = pass && i == 0 ? 65535 : 1,
			};
		}
		for (rep = 0; rep < 5; rep++) {
			clock_gettime(CLOCK_MONOTONIC, &t0);
			assert_int_equal(zh_maglev_build(b, 1000, M_BIG, t), 0);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (elapsed_ms(&t0, &t1) < best[pass])
				best[pass] = elapsed_ms(&t0, &t1);
		}
	}
	print_message(
		"    m=65537 n=1000: %.2f ms equal weights, %.2f ms one heavy (best of 5)\n",
		best[0], best[1]);
	free(t);
	free(keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_prime_vs_sieve),
		cmocka_unit_test(test_is_prime_large),
		cmocka_unit_test(test_prime_at_least),
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_pinned_table),
		cmocka_unit_test(test_balance),
		cmocka_unit_test(test_removal_disruption),
		cmocka_unit_test(test_addition_disruption),
		cmocka_unit_test(test_weights_proportional),
		cmocka_unit_test(test_weights_skewed),
		cmocka_unit_test(test_weight_zero_is_removal),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_key_lengths),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_build_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
