// SPDX-License-Identifier: Apache-2.0
/*
 * test_ids.c - container IDs of any length in an endpoint entry
 * (zh_container_id_key/_is, maps.h) and the SHA-256 under them
 * (sha256.h), against FIPS 180-4's examples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "maps.h"
#include "sha256.h"
#include "util.h"

static void hex(const unsigned char *d, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_sha256_vectors(void **state)
{
	static const struct {
		const char *in;
		const char *want;
	} v[] = {
		{ "",
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc",
		  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		/* 56 bytes: the padding needs a second block. */
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		/* 112 bytes: two blocks of data, then one of padding. */
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};
	unsigned char d[32];
	char h[65], *big;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		zh_sha256(v[i].in, strlen(v[i].in), d);
		hex(d, h);
		assert_string_equal(h, v[i].want);
	}
	/* A million 'a's. */
	big = malloc(1000000);
	assert_non_null(big);
	memset(big, 'a', 1000000);
	zh_sha256(big, 1000000, d);
	free(big);
	hex(d, h);
	assert_string_equal(
		h,
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_container_ids(void **state)
{
	char a[151], b[151], key[ZH_CONTAINER_ID_LEN],
		key_b[ZH_CONTAINER_ID_LEN];
	const char *short_id = "k8s.io-0123456789abcdef";

	(void)state;
	/* A short one is kept whole and matches itself only. */
	zh_container_id_key(short_id, key);
	assert_string_equal(key, short_id);
	assert_true(zh_container_id_is(key, short_id));
	assert_false(zh_container_id_is(key, "k8s.io-0123456789abcdeX"));
	assert_false(zh_container_id_is(key, "k8s.io-0123456789abcde"));

	/* 150 characters (containerd's <namespace>-<id>): a prefix and a
	 * digest, 95 bytes, the same every time. */
	memset(a, 'x', 150);
	a[150] = '\0';
	memcpy(b, a, sizeof(a));
	b[149] = 'y'; /* differs past the field */
	zh_container_id_key(a, key);
	assert_int_equal(strlen(key), ZH_CONTAINER_ID_LEN - 1);
	assert_int_equal(key[62], '#');
	assert_memory_equal(key, a, 62);
	assert_true(zh_container_id_is(key, a));
	/* The old way failed here: the stored, cut ID against the whole. */
	assert_false(zh_container_id_is(key, b));
	zh_container_id_key(b, key_b);
	assert_string_not_equal(key, key_b);
	/* Cut at the field, an ID is another one. */
	a[ZH_CONTAINER_ID_LEN - 1] = '\0';
	assert_false(zh_container_id_is(key, a));
	/* 95 characters still fit whole. */
	zh_container_id_key(a, key);
	assert_string_equal(key, a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_container_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
