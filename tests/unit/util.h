/* SPDX-License-Identifier: Apache-2.0 */
/* util.h - small helpers every unit test may use (after <cmocka.h>). */
#ifndef ZH_TEST_UTIL_H
#define ZH_TEST_UTIL_H

#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* @hay (a string, may be NULL) contains @needle. */
#define assert_contains(hay, needle)                               \
	do {                                                       \
		const char *h_ = (hay), *n_ = (needle);            \
		if (!h_ || !strstr(h_, n_))                        \
			fail_msg("\"%s\" does not contain \"%s\"", \
				 h_ ? h_ : "(null)", n_);          \
	} while (0)

#endif /* ZH_TEST_UTIL_H */
