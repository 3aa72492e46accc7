/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz.h - what every libFuzzer harness in tests/fuzz shares: the entry
 * point's prototype, quiet logs, and a check that stops the run (a crash
 * libFuzzer saves, like a sanitizer's) when the code under test breaks a
 * rule of its own.
 *
 * Harnesses only call the libraries on bytes: no network, no bpffs, no
 * kernel state (netlink goes through zh_nl_set_ops()'s fake socket).
 */
#ifndef ZH_FUZZ_H
#define ZH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A rule of the code under test that an input broke: the input is saved. */
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

/* Warnings only: the libraries' info lines would drown the fuzzer's. */
static inline void fuzz_quiet(void)
{
	zh_log_set_level(ZH_LOG_WARN);
}

#endif /* ZH_FUZZ_H */
