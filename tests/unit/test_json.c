// SPDX-License-Identifier: Apache-2.0
/*
 * test_json.c - the strict JSON accessors (user/lib/json.c): what each
 * getter reads, what it refuses, and the path and reason it gives, both
 * as text (the library's convention) and as parts (for the CNI plugin).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "util.h"

static json_t *doc(const char *s)
{
	json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);

	assert_non_null(j);
	return j;
}

static void test_paths(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(zh_json_path(buf, sizeof(buf), "", "kind"), "kind");
	assert_string_equal(zh_json_path(buf, sizeof(buf), "ipam", "type"),
			    "ipam.type");
	assert_string_equal(zh_json_path(buf, sizeof(buf), "ipam.ranges",
					 "[%d][%d]", 0, 1),
			    "ipam.ranges[0][1]");
	/* A label ends in a space: "Service a/b: spec", "result ips". */
	assert_string_equal(zh_json_path(buf, sizeof(buf),
					 "Service a/b: ", "spec"),
			    "Service a/b: spec");
	assert_string_equal(zh_json_path(buf, sizeof(buf), "result ", "ips"),
			    "result ips");
	/* Cut, never overrun. */
	assert_string_equal(zh_json_path(buf, 8, "services", "[%d]", 12),
			    "service");
}

static void test_text(void **state)
{
	json_t *j =
		doc("[\"ICMP\", 70000, {\"a\": [1]}, null, \"\\u00e9\", "
		    "\"0123456789012345678901234567890123456789012345678\"]");
	char buf[64];

	(void)state;
	assert_string_equal(zh_json_text(json_array_get(j, 0), buf, 64),
			    "\"ICMP\"");
	assert_string_equal(zh_json_text(json_array_get(j, 1), buf, 64),
			    "70000");
	assert_string_equal(zh_json_text(json_array_get(j, 2), buf, 64),
			    "{\"a\":[1]}");
	assert_string_equal(zh_json_text(json_array_get(j, 3), buf, 64),
			    "null");
	assert_string_equal(zh_json_text(json_array_get(j, 4), buf, 64),
			    "\"\\u00E9\"");
	assert_string_equal(
		zh_json_text(json_array_get(j, 5), buf, 64),
		"\"0123456789012345678901234567890123456789012...\"");
	assert_string_equal(zh_json_text(NULL, buf, 64), "nothing");
	json_decref(j);
}

static void test_get(void **state)
{
	json_t *j = doc("{\"a\": 1, \"n\": null}");

	(void)state;
	assert_ptr_equal(zh_json_get(j, "a"), json_object_get(j, "a"));
	assert_null(zh_json_get(j, "n"));
	assert_null(zh_json_get(j, "b"));
	assert_null(zh_json_get(json_object_get(j, "a"), "x"));
	assert_null(zh_json_get(NULL, "x"));
	json_decref(j);
}

static void test_str(void **state)
{
	json_t *j = doc("{\"s\": \"x\", \"e\": \"\", \"n\": null, \"i\": 7}");
	char msg[128];
	struct zh_json_err e = { .buf = msg, .len = sizeof(msg) };
	const char *s;

	(void)state;
	assert_int_equal(zh_json_str(j, "o", "s", ZH_JSON_REQUIRED, &s, &e), 0);
	assert_string_equal(s, "x");
	/* Absent and null: NULL, unless required. */
	assert_int_equal(zh_json_str(j, "o", "b", 0, &s, &e), 0);
	assert_null(s);
	assert_int_equal(zh_json_str(j, "o", "n", 0, &s, &e), 0);
	assert_null(s);
	assert_int_equal(zh_json_str(j, "o", "n", ZH_JSON_REQUIRED, &s, &e),
			 -EINVAL);
	assert_string_equal(msg, "o.n: missing");
	assert_int_equal(e.fault, ZH_JSON_MISSING);
	assert_string_equal(e.path, "o.n");
	assert_null(e.value);
	/* Null as a wrong value. */
	assert_int_equal(zh_json_str(j, "o", "n", ZH_JSON_NONNULL, &s, &e),
			 -EINVAL);
	assert_string_equal(msg, "o.n: null is not a string");
	assert_int_equal(e.fault, ZH_JSON_WRONG);
	assert_true(json_is_null(e.value));
	assert_string_equal(e.want, "a string");
	/* NONNULL and absent is still just absent. */
	assert_int_equal(zh_json_str(j, "o", "b", ZH_JSON_NONNULL, &s, &e), 0);
	assert_int_equal(zh_json_str(j, "o", "i", 0, &s, &e), -EINVAL);
	assert_string_equal(msg, "o.i: 7 is not a string");
	assert_int_equal(zh_json_str(j, "o", "e", 0, &s, &e), 0);
	assert_string_equal(s, "");
	assert_int_equal(zh_json_str(j, "o", "e", ZH_JSON_NONEMPTY, &s, &e),
			 -EINVAL);
	assert_int_equal(e.fault, ZH_JSON_EMPTY);
	assert_string_equal(msg, "o.e: \"\" is not a non-empty string");
	/* No buffer, no parts: only the code. */
	assert_int_equal(zh_json_str(j, "o", "i", 0, &s, NULL), -EINVAL);
	json_decref(j);
}

static void test_int(void **state)
{
	json_t *j = doc("{\"p\": 80, \"big\": 70000, \"s\": \"80\", "
			"\"r\": 80.0, \"neg\": -5}");
	char msg[128];
	struct zh_json_err e = { .buf = msg, .len = sizeof(msg) };
	long long n = 42;

	(void)state;
	assert_int_equal(zh_json_int(j, "", "p", 0, 1, 65535, "a port", &n, &e),
			 0);
	assert_int_equal(n, 80);
	/* Absent: the caller's default stays. */
	n = 42;
	assert_int_equal(zh_json_int(j, "", "x", 0, 1, 65535, "a port", &n, &e),
			 0);
	assert_int_equal(n, 42);
	assert_int_equal(zh_json_int(j, "", "x", ZH_JSON_REQUIRED, 1, 65535,
				     "a port", &n, &e),
			 -EINVAL);
	assert_string_equal(msg, "x: missing");
	/* Out of range and not an integer say the same want. */
	assert_int_equal(zh_json_int(j, "", "big", 0, 1, 65535, "a port", &n,
				     &e),
			 -EINVAL);
	assert_string_equal(msg, "big: 70000 is not a port");
	assert_int_equal(n, 42);
	assert_int_equal(zh_json_int(j, "", "s", 0, 1, 65535, "a port", &n, &e),
			 -EINVAL);
	assert_string_equal(msg, "s: \"80\" is not a port");
	assert_int_equal(zh_json_int(j, "", "r", 0, 1, 65535, "a port", &n, &e),
			 -EINVAL);
	assert_string_equal(msg, "r: 80.0 is not a port");
	assert_int_equal(zh_json_int(j, "", "neg", 0, LLONG_MIN, LLONG_MAX,
				     NULL, &n, &e),
			 0);
	assert_int_equal(n, -5);
	assert_int_equal(zh_json_int(j, "", "s", 0, LLONG_MIN, LLONG_MAX, NULL,
				     &n, &e),
			 -EINVAL);
	assert_string_equal(e.want, "an integer");
	json_decref(j);
}

static void test_bool_array_object(void **state)
{
	json_t *j = doc("{\"t\": true, \"f\": false, \"s\": \"yes\", "
			"\"a\": [1], \"o\": {}}");
	char msg[128];
	struct zh_json_err e = { .buf = msg, .len = sizeof(msg) };
	json_t *v;
	bool b = false;

	(void)state;
	assert_int_equal(zh_json_bool(j, "c", "t", 0, &b, &e), 0);
	assert_true(b);
	assert_int_equal(zh_json_bool(j, "c", "f", 0, &b, &e), 0);
	assert_false(b);
	b = true;
	assert_int_equal(zh_json_bool(j, "c", "x", 0, &b, &e), 0);
	assert_true(b);
	assert_int_equal(zh_json_bool(j, "c", "s", 0, &b, &e), -EINVAL);
	assert_string_equal(msg, "c.s: \"yes\" is not true or false");

	assert_int_equal(zh_json_array(j, "", "a", 0, &v, &e), 0);
	assert_ptr_equal(v, json_object_get(j, "a"));
	assert_int_equal(zh_json_array(j, "", "x", 0, &v, &e), 0);
	assert_null(v);
	assert_int_equal(zh_json_array(j, "", "o", 0, &v, &e), -EINVAL);
	assert_null(v);
	assert_string_equal(msg, "o: {} is not an array");
	assert_int_equal(zh_json_object(j, "", "o", ZH_JSON_REQUIRED, &v, &e),
			 0);
	assert_ptr_equal(v, json_object_get(j, "o"));
	assert_int_equal(zh_json_object(j, "", "a", 0, &v, &e), -EINVAL);
	assert_string_equal(msg, "a: [1] is not an object");
	json_decref(j);
}

static void test_check(void **state)
{
	json_t *j = doc("[{}, null, \"s\", true]");
	char msg[128];
	struct zh_json_err e = { .buf = msg, .len = sizeof(msg) };

	(void)state;
	assert_int_equal(zh_json_check(json_array_get(j, 0), "x[0]",
				       JSON_OBJECT, &e),
			 0);
	/* An element that is null is a value, not a missing one. */
	assert_int_equal(zh_json_check(json_array_get(j, 1), "x[1]",
				       JSON_OBJECT, &e),
			 -EINVAL);
	assert_string_equal(msg, "x[1]: null is not an object");
	assert_int_equal(zh_json_check(NULL, "x[9]", JSON_OBJECT, &e), -EINVAL);
	assert_string_equal(msg, "x[9]: missing");
	assert_int_equal(zh_json_check(json_array_get(j, 2), "x[2]",
				       JSON_STRING, &e),
			 0);
	assert_int_equal(
		zh_json_check(json_array_get(j, 3), "x[3]", JSON_FALSE, &e), 0);
	json_decref(j);
}

static void test_enum(void **state)
{
	static const char *const protos[] = { "tcp", "udp", NULL };
	json_t *j = doc("{\"p\": \"UDP\", \"q\": \"sctp\", \"i\": 6}");
	char msg[128];
	struct zh_json_err e = { .buf = msg, .len = sizeof(msg) };
	int i = 7;

	(void)state;
	assert_int_equal(zh_json_enum(j, "s", "p", ZH_JSON_ICASE, protos,
				      "tcp or udp", &i, &e),
			 0);
	assert_int_equal(i, 1);
	i = 7;
	assert_int_equal(zh_json_enum(j, "s", "p", 0, protos, "tcp or udp", &i,
				      &e),
			 -EINVAL);
	assert_string_equal(msg, "s.p: \"UDP\" is not tcp or udp");
	assert_int_equal(i, 7);
	assert_int_equal(zh_json_enum(j, "s", "q", ZH_JSON_ICASE, protos,
				      "tcp or udp", &i, &e),
			 -EINVAL);
	assert_string_equal(msg, "s.q: \"sctp\" is not tcp or udp");
	/* Not a string at all: that, rather than the words. */
	assert_int_equal(zh_json_enum(j, "s", "i", 0, protos, "tcp or udp", &i,
				      &e),
			 -EINVAL);
	assert_string_equal(msg, "s.i: 6 is not a string");
	assert_int_equal(
		zh_json_enum(j, "s", "x", 0, protos, "tcp or udp", &i, &e), 0);
	assert_int_equal(i, 7);
	json_decref(j);
}

static void test_strict(void **state)
{
	static const char *const known[] = { "vip", "port", NULL };
	static const char *const none[] = { NULL };
	json_t *ok = doc("{\"port\": 1, \"vip\": null}");
	json_t *bad = doc("{\"vip\": 1, \"zz\": 2, \"port\": 3, \"aa\": 4}");
	char msg[128];
	struct zh_json_err e = { .buf = msg, .len = sizeof(msg) };

	(void)state;
	assert_int_equal(zh_json_strict(ok, "s", known, &e), 0);
	/* The first stray key in the document's order, not the table's. */
	assert_int_equal(zh_json_strict(bad, "services[0]", known, &e),
			 -EINVAL);
	assert_string_equal(msg, "services[0]: unknown field \"zz\"");
	assert_int_equal(e.fault, ZH_JSON_UNKNOWN);
	assert_string_equal(e.key, "zz");
	assert_string_equal(e.path, "services[0]");
	assert_int_equal(zh_json_strict(bad, "s", none, NULL), -EINVAL);
	assert_int_equal(
		zh_json_strict(json_object_get(bad, "vip"), "s", none, &e), 0);
	json_decref(ok);
	json_decref(bad);
}

static void test_bad(void **state)
{
	json_t *j = doc("{\"vip\": \"10.96.0.300\"}");
	char msg[16];
	struct zh_json_err e = { .buf = msg, .len = sizeof(msg) };

	(void)state;
	assert_int_equal(zh_json_bad(&e, "services[0]", "vip",
				     zh_json_get(j, "vip"), "an IP address"),
			 -EINVAL);
	/* A short buffer takes what fits. */
	assert_string_equal(msg, "services[0].vip");
	assert_string_equal(e.path, "services[0].vip");
	assert_string_equal(e.want, "an IP address");
	assert_int_equal(zh_json_bad(&e, "x[3]", NULL, NULL, "y"), -EINVAL);
	assert_string_equal(e.path, "x[3]");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_str),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_bool_array_object),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_enum),
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
