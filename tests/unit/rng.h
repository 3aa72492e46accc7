/* SPDX-License-Identifier: Apache-2.0 */
/* rng.h - splitmix64 for the unit tests: a fixed seed, the same values on
 * every run and every machine. */
#ifndef ZH_TEST_RNG_H
#define ZH_TEST_RNG_H

#include <stdint.h>

static uint64_t rng_state;

static inline void rng_seed(uint64_t seed)
{
	rng_state = seed;
}

static inline uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif /* ZH_TEST_RNG_H */
