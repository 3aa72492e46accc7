/* SPDX-License-Identifier: Apache-2.0 */
/*
 * maglev.h - Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and
 * Reliable Software Network Load Balancer", NSDI 2016, section 3.4): a
 * lookup table of M slots, M prime, each holding a backend. A flow hashes to
 * a slot; when the backend set changes, most slots keep their backend, so
 * most flows keep going to the same backend on every node without shared
 * state.
 *
 * Every node must build the same table from the same set, so the table
 * depends only on the set of backend keys and weights: not on the order the
 * caller lists them, not on the machine (the hash reads bytes, never host
 * words), not on the run.
 */
#ifndef ZH_MAGLEV_H
#define ZH_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deterministic for all 32-bit n (Miller-Rabin with bases 2, 7 and 61). */
bool zh_is_prime(uint32_t n);
/* The smallest prime >= n; 0 when there is none below 2^32 (n > 4294967291). */
uint32_t zh_prime_at_least(uint32_t n);

/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012) of @data under the 16-byte
 * @key, the key and the message read as little-endian words whatever the
 * host, so it is the reference function and its published test vectors.
 * Maglev derives each backend's offset and skip from it under two fixed keys.
 */
uint64_t zh_siphash24(const uint8_t key[16], const void *data, size_t len);

struct zh_maglev_backend {
	/*
	 * The backend's identity: the bytes that name it the same way on
	 * every node (e.g. family, address and port). Two backends with the
	 * same key are one backend listed twice, an error.
	 */
	const void *key;
	size_t key_len;
	/* Relative share of the slots; 0 = no slots (draining). */
	uint32_t weight;
};

/* The largest table: 2^31 - 1 is prime, and 8 GiB of slots is plenty. */
#define ZH_MAGLEV_M_MAX 2147483647U

/*
 * Fill table[0..m-1] with indices into @b. Every turn a backend takes
 * fills exactly one slot, so backend i gets close to its share
 * m * weight_i / sum(weights), and with equal weights the counts differ by
 * at most one.
 *
 * Each backend walks its own permutation of the slots, offset + j * skip
 * (mod m), with offset = h1 % m and skip = h2 % (m - 1) + 1, h1 and h2 the
 * SipHash-2-4 of its key under two fixed keys; it takes the first slot of
 * its walk still free. Backends take turns in rounds: with W the largest
 * weight, backend i takes its k-th turn (k = 0, 1, ...) in round
 * floor((k + 1/2) * W / weight_i), and in a round the backends go by key
 * (bytewise, then shorter first). With equal weights this is the paper's
 * round-robin over the backends sorted by key. A weight-0 backend never
 * takes a turn, so draining one builds the same table as removing it.
 *
 * O(m log n) at worst for the turns, plus the probes of filled slots (about
 * m ln m), whatever the weights: m = 65537 with 1000 backends takes ~2 ms.
 *
 * Returns 0; -EINVAL when @m is not a prime <= ZH_MAGLEV_M_MAX, m < n, an
 * argument is NULL or two keys are equal; -ENOENT when n == 0 or every
 * weight is 0; -ENOMEM.
 */
int zh_maglev_build(const struct zh_maglev_backend *b, size_t n, uint32_t m,
		    uint32_t *table);

#endif /* ZH_MAGLEV_H */
