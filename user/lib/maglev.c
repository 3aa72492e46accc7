// SPDX-License-Identifier: Apache-2.0
/*
 * maglev.c - Maglev lookup tables (see maglev.h), the primes their sizes
 * must be and the SipHash-2-4 that places the backends.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"

/* Miller-Rabin: a*b and the squares fit in 64 bits for 32-bit operands. */
static uint32_t mulmod(uint32_t a, uint32_t b, uint32_t n)
{
	return (uint32_t)((uint64_t)a * b % n);
}

static uint32_t powmod(uint32_t a, uint32_t e, uint32_t n)
{
	uint32_t r = 1;

	a %= n;
	while (e) {
		if (e & 1)
			r = mulmod(r, a, n);
		a = mulmod(a, a, n);
		e >>= 1;
	}
	return r;
}

/* Is odd n > 61 a strong probable prime to base a? */
static bool strong_probable_prime(uint32_t n, uint32_t a)
{
	uint32_t d = n - 1, x;
	int s = 0;

	while (!(d & 1)) {
		d >>= 1;
		s++;
	}
	x = powmod(a, d, n);
	if (x == 1 || x == n - 1)
		return true;
	while (--s > 0) {
		x = mulmod(x, x, n);
		if (x == n - 1)
			return true;
	}
	return false;
}

bool zh_is_prime(uint32_t n)
{
	/* The small primes first: also the bases, which must not divide n. */
	static const uint8_t small[] = { 2,  3,	 5,  7,	 11, 13, 17, 19, 23,
					 29, 31, 37, 41, 43, 47, 53, 59, 61 };
	size_t i;

	if (n < 2)
		return false;
	for (i = 0; i < sizeof(small); i++) {
		if (n == small[i])
			return true;
		if (n % small[i] == 0)
			return false;
	}
	/*
	 * Bases 2, 7 and 61 decide every n < 4759123141 (Jaeschke, 1993),
	 * which covers all of uint32_t.
	 */
	return strong_probable_prime(n, 2) && strong_probable_prime(n, 7) &&
	       strong_probable_prime(n, 61);
}

#define ZH_PRIME_MAX_U32 4294967291U /* the largest prime below 2^32 */

uint32_t zh_prime_at_least(uint32_t n)
{
	uint32_t c;

	if (n <= 2)
		return 2;
	if (n > ZH_PRIME_MAX_U32)
		return 0;
	/* Stops at ZH_PRIME_MAX_U32 at the latest, so c never wraps. */
	for (c = n | 1; !zh_is_prime(c); c += 2)
		;
	return c;
}

/* --- SipHash-2-4 ------------------------------------------------------- */

static uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

/* Little-endian on every host: the tables must agree across machines. */
static uint64_t load_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	       (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

static void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl64(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl64(v[0], 32);
	v[2] += v[3];
	v[3] = rotl64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl64(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl64(v[2], 32);
}

static void sip_absorb(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sipround(v);
	sipround(v);
	v[0] ^= m;
}

uint64_t zh_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ULL, /* "somepseudorandomlygeneratedbytes" */
		k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL,
		k1 ^ 0x7465646279746573ULL,
	};
	uint64_t last = (uint64_t)len << 56;
	size_t i, j;

	for (i = 0; i + 8 <= len; i += 8)
		sip_absorb(v, load_le64(p + i));
	for (j = 0; i + j < len; j++)
		last |= (uint64_t)p[i + j] << (8 * j);
	sip_absorb(v, last);
	v[2] ^= 0xff;
	for (j = 0; j < 4; j++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* --- the table --------------------------------------------------------- */

/*
 * The two SipHash keys, fixed forever: changing them moves every backend
 * of every service on an upgrade. ASCII "zerohop maglev o" and "...s".
 */
static const uint8_t maglev_key_offset[16] = "zerohop maglev o";
static const uint8_t maglev_key_skip[16] = "zerohop maglev s";

#define SLOT_FREE UINT32_MAX /* never an index: n <= m < UINT32_MAX */

/*
 * The turn order. Time goes in rounds; the heaviest backend (weight W)
 * takes a turn every round, and backend i its k-th (k = 0, 1, ...) in round
 *
 *	floor((k + 1/2) * W / weight_i)
 *
 * so at most one a round, weight_i / W of them on average. In a round, the
 * backends go in rank order (by key). With equal weights that is the
 * paper's round-robin; otherwise Katran's weighted rounds, with the half
 * (Webster's, or Sainte-Laguë's, rounding) so that light backends are not
 * pushed to the end: with turns at k * W / weight_i (D'Hondt), one backend
 * of weight 65535 among 999 of weight 1 would take all of a 65537-slot
 * table but two slots, instead of its share of 64553.
 */
struct mg_backend {
	uint64_t round; /* of its next turn */
	uint32_t turns; /* taken so far, < m */
	uint32_t weight;
	uint32_t idx; /* into the caller's array */
	uint32_t skip;
	uint32_t pos; /* the next slot of its walk to try */
};

/* Bytewise, then the shorter key first; the order that makes ties fair. */
static int key_cmp(const struct zh_maglev_backend *a,
		   const struct zh_maglev_backend *b)
{
	size_t len = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = len ? memcmp(a->key, b->key, len) : 0;

	if (c)
		return c;
	return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static int key_ptr_cmp(const void *a, const void *b)
{
	return key_cmp(*(const struct zh_maglev_backend *const *)a,
		       *(const struct zh_maglev_backend *const *)b);
}

/*
 * @t's turn: the first free slot of its walk, then the round of its next.
 * skip is in [1, m - 1] and m is prime, so the walk visits every slot and
 * finds a free one while the table is not full; pos + skip < 2m < 2^32.
 * 2 * turns + 1 <= 2m - 1 < 2^32 and W < 2^32: the product fits in 64 bits.
 */
static void take_turn(struct mg_backend *t, uint32_t *table, uint32_t m,
		      uint32_t wmax)
{
	while (table[t->pos] != SLOT_FREE) {
		t->pos += t->skip;
		if (t->pos >= m)
			t->pos -= m;
	}
	table[t->pos] = t->idx;
	t->turns++;
	t->round = ((2 * (uint64_t)t->turns + 1) * wmax) /
		   (2 * (uint64_t)t->weight);
}

/* Round by round, every backend asked: nw tests a round. */
static void fill_rounds(struct mg_backend *st, size_t nw, uint32_t *table,
			uint32_t m, uint32_t wmax)
{
	uint32_t filled = 0;
	uint64_t round;
	size_t i;

	for (round = 0;; round++)
		for (i = 0; i < nw; i++) {
			if (st[i].round != round)
				continue;
			take_turn(&st[i], table, m, wmax);
			if (++filled == m)
				return;
		}
}

/*
 * The same order from a min-heap of (round, rank): log nw a turn, for when
 * most backends sit out most rounds (a few heavy among many light).
 */
struct mg_next {
	uint64_t round;
	uint64_t rank; /* index in st */
};

static bool next_before(const struct mg_next *a, const struct mg_next *b)
{
	return a->round != b->round ? a->round < b->round : a->rank < b->rank;
}

static void heap_sift_up(struct mg_next *heap, size_t i, struct mg_next e)
{
	while (i) {
		size_t parent = (i - 1) / 2;

		if (!next_before(&e, &heap[parent]))
			break;
		heap[i] = heap[parent];
		i = parent;
	}
	heap[i] = e;
}

/*
 * Put @e, which only moved later, in place of the root. Floyd's bottom-up
 * way: move the earlier child up all the way to a leaf (one comparison a
 * level), then sift @e up from there; after a turn it belongs near the
 * bottom, so that is about half the comparisons of the textbook sift-down.
 */
static void heap_replace_root(struct mg_next *heap, size_t n, struct mg_next e)
{
	size_t i = 0, c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && next_before(&heap[c + 1], &heap[c]))
			c++;
		heap[i] = heap[c];
		i = c;
	}
	heap_sift_up(heap, i, e);
}

static void fill_heap(struct mg_backend *st, struct mg_next *heap, size_t nw,
		      uint32_t *table, uint32_t m, uint32_t wmax)
{
	uint32_t filled;
	size_t i;

	for (i = 0; i < nw; i++)
		heap_sift_up(heap, i,
			     (struct mg_next){ .round = st[i].round,
					       .rank = i });
	for (filled = 0; filled < m; filled++) {
		struct mg_next e = heap[0];

		take_turn(&st[e.rank], table, m, wmax);
		e.round = st[e.rank].round;
		heap_replace_root(heap, nw, e);
	}
}

int zh_maglev_build(const struct zh_maglev_backend *b, size_t n, uint32_t m,
		    uint32_t *table)
{
	const struct zh_maglev_backend **sorted = NULL;
	struct mg_backend *st = NULL;
	struct mg_next *heap = NULL;
	uint64_t wsum = 0, rounds, h1, h2;
	uint32_t wmax = 0;
	size_t i, nw = 0;
	int err;

	if (!table || (n && !b) || m > ZH_MAGLEV_M_MAX || !zh_is_prime(m) ||
	    n > m)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!b[i].key && b[i].key_len)
			return -EINVAL;
	if (!n)
		return -ENOENT;

	sorted = malloc(n * sizeof(*sorted));
	st = malloc(n * sizeof(*st));
	if (!sorted || !st) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		sorted[i] = &b[i];
	qsort(sorted, n, sizeof(*sorted), key_ptr_cmp);

	for (i = 0; i < n; i++) {
		const struct zh_maglev_backend *k = sorted[i];

		if (i && !key_cmp(sorted[i - 1], k)) {
			err = -EINVAL;
			goto out;
		}
		if (!k->weight)
			continue;
		/* In key order, so a backend's index in st is its rank. */
		h1 = zh_siphash24(maglev_key_offset, k->key, k->key_len);
		h2 = zh_siphash24(maglev_key_skip, k->key, k->key_len);
		st[nw] = (struct mg_backend){
			.weight = k->weight,
			.idx = (uint32_t)(k - b),
			.pos = (uint32_t)(h1 % m),
			.skip = (uint32_t)(h2 % (m - 1)) + 1,
		};
		if (k->weight > wmax)
			wmax = k->weight;
		wsum += k->weight;
		nw++;
	}
	if (!nw) {
		err = -ENOENT;
		goto out;
	}
	for (i = 0; i < nw; i++)
		st[i].round = wmax / (2 * (uint64_t)st[i].weight);

	for (i = 0; i < m; i++)
		table[i] = SLOT_FREE;
	/*
	 * Some m * W / sum(weights) rounds fill the table. Asking every
	 * backend every round costs nw tests a round, the heap log nw a turn:
	 * take the heap when the rounds cost more than a few tests a turn.
	 */
	rounds = (uint64_t)m * wmax / wsum + 1;
	if (rounds * nw <= 4 * (uint64_t)m) {
		fill_rounds(st, nw, table, m, wmax);
	} else {
		heap = malloc(nw * sizeof(*heap));
		if (!heap) {
			err = -ENOMEM;
			goto out;
		}
		fill_heap(st, heap, nw, table, m, wmax);
	}
	err = 0;
out:
	free(heap);
	free(st);
	free(sorted);
	return err;
}
