// SPDX-License-Identifier: Apache-2.0
/*
 * test_params.c - the option table every binary parses with
 * (user/lib/params.c): each kind stored where it goes, ranges and sizes,
 * the exact wording of every refusal (binaries and tests match on it),
 * getopt's complaints, operands, --help stopping the parse, and tables
 * the parser refuses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "params.h"
#include "util.h"

static char err[ZH_PARAMS_ERR_MAX];

/* Parse the NULL-terminated arguments after @opts as "prog ARGS...". */
static int parse(struct zh_param *opts, ...)
{
	static char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = "prog";
	va_start(ap, opts);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	err[0] = '\0';
	return zh_params_parse(opts, argc, argv, err, sizeof(err));
}

static void test_uint_parser(void **state)
{
	static const char *const bad[] = { "",	 " 1", "+1",
					   "-1", "1x", "0x10",
					   "1 ", "9",  "99999999999999999999" };
	uint64_t v = 0;

	(void)state;
	assert_int_equal(
		zh_params_parse_uint("--n", "7", 1, 8, NULL, &v, NULL, 0), 0);
	assert_int_equal(v, 7);
	assert_int_equal(
		zh_params_parse_uint("--n", "007", 1, 8, NULL, &v, NULL, 0), 0);
	assert_int_equal(v, 7);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 42;
		if (zh_params_parse_uint("--n", bad[i], 1, 8, NULL, &v, err,
					 sizeof(err)) != -EINVAL)
			fail_msg("'%s' parsed", bad[i]);
		assert_int_equal(v, 42);
	}
	assert_int_equal(zh_params_parse_uint("--n", NULL, 1, 8, NULL, &v, err,
					      sizeof(err)),
			 -EINVAL);
	assert_int_equal(zh_params_parse_uint("--n", "18446744073709551615", 0,
					      UINT64_MAX, NULL, &v, NULL, 0),
			 0);
	assert_true(v == UINT64_MAX);
	/* xdpbench.sh matches this one word for word */
	assert_int_equal(zh_params_parse_uint("--size", "1", 16, 65507, NULL,
					      &v, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(
		err, "--size: invalid value '1' (want an integer 16..65507)");
	zh_params_parse_uint("--reconcile", "x", 0, 2147483, "seconds", &v, err,
			     sizeof(err));
	assert_string_equal(
		err,
		"--reconcile: invalid value 'x' (want an integer 0..2147483 seconds)");
}

static void test_secs_parser(void **state)
{
	static const char *const bad[] = { "0",	 "-1",	  "x",	 "",
					   "1s", "86401", "inf", "nan" };
	double d = 0;

	(void)state;
	assert_int_equal(
		zh_params_parse_secs("--d", "0.25", 86400, &d, NULL, 0), 0);
	assert_true(d == 0.25);
	assert_int_equal(
		zh_params_parse_secs("--d", "86400", 86400, &d, NULL, 0), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (zh_params_parse_secs("--d", bad[i], 86400, &d, NULL, 0) !=
		    -EINVAL)
			fail_msg("'%s' parsed", bad[i]);
	zh_params_parse_secs("--duration", "0", 86400, &d, err, sizeof(err));
	assert_string_equal(
		err,
		"--duration: invalid value '0' (want seconds > 0, up to 86400)");
}

static int parse_even(const char *arg, void *dst)
{
	int n = atoi(arg);

	if (n % 2)
		return -EINVAL;
	*(int *)dst = n;
	return 0;
}

/* Every kind, stored where it goes and as wide as it is. */
struct all {
	bool flag, help;
	int verbose, even, list[3], n_list, cpu;
	const char *str, *strs[2];
	int n_strs;
	uint16_t port;
	uint8_t small;
	uint64_t big;
	double secs;
	bool json;
	uint32_t onoff;
};

static const char *const wl_names[] = { "udp", "tcp", "crr" };
static const char *const out_names[] = { "table", "json", "text" };
static const int out_values[] = { 0, 1, 0 };
static const char *const onoff_names[] = { "on", "off" };
static const int onoff_values[] = { 4, 0 };

static struct all a;
static struct zh_param opts[] = {
	ZH_OPT_FLAG("flag", 'f', &a.flag),
	ZH_OPT_COUNT("verbose", 'v', &a.verbose),
	ZH_OPT_STR("str", 's', &a.str),
	ZH_OPT_STRS("strs", 0, a.strs, &a.n_strs, 2),
	ZH_OPT_UINT("port", 'p', &a.port, 1, 65535),
	ZH_OPT_UINT("small", 0, &a.small, 0, 255),
	ZH_OPT_UINT("big", 0, &a.big, 0, UINT64_MAX),
	ZH_OPT_UINT("cpu", 0, &a.cpu, 0, 7),
	ZH_OPT_SECS("secs", 'd', &a.secs, 86400),
	ZH_OPT_ENUM("output", 'o', &a.json, out_names, out_values, 3),
	ZH_OPT_ENUM("probes", 0, &a.onoff, onoff_names, onoff_values, 2),
	ZH_OPT_LIST("list", 'l', a.list, &a.n_list, wl_names, 3),
	ZH_OPT_FUNC("even", 0, &a.even, parse_even, "an even number"),
	ZH_OPT_HELP(&a.help),
	{},
};

static void test_kinds(void **state)
{
	a = (struct all){ .cpu = -1, .onoff = 9 };

	(void)state;
	assert_int_equal(parse(opts, "-f", "-vv", "--verbose", "-s", "x",
			       "--strs", "a", "--strs", "b", "-p", "80",
			       "--small", "255", "--big",
			       "18446744073709551615", "--cpu", "7", "-d",
			       "1.5", "-o", "json", "--probes", "on", "-l",
			       "tcp,udp,tcp", "--even", "4", "operand", NULL),
			 28);
	assert_true(a.flag && !a.help);
	assert_int_equal(a.verbose, 3);
	assert_string_equal(a.str, "x");
	assert_int_equal(a.n_strs, 2);
	assert_string_equal(a.strs[1], "b");
	assert_int_equal(a.port, 80);
	assert_int_equal(a.small, 255);
	assert_true(a.big == UINT64_MAX);
	assert_int_equal(a.cpu, 7);
	assert_true(a.secs == 1.5);
	assert_true(a.json);
	assert_int_equal(a.onoff, 4);
	assert_int_equal(a.n_list, 2);
	assert_int_equal(a.list[0], 1);
	assert_int_equal(a.list[1], 0);
	assert_int_equal(a.even, 4);
	assert_int_equal(zh_params_given(opts, "verbose"), 3);
	assert_int_equal(zh_params_given(opts, "strs"), 2);
	assert_int_equal(zh_params_given(opts, "even"), 1);
	assert_int_equal(zh_params_given(opts, "help"), 0);
	assert_int_equal(zh_params_given(opts, "no-such-option"), 0);

	/* an alias: taken; the last one given wins */
	assert_int_equal(parse(opts, "-o", "text", "--probes", "off", NULL), 5);
	assert_false(a.json);
	assert_int_equal(a.onoff, 0);
	/* counts start again with every parse */
	assert_int_equal(zh_params_given(opts, "verbose"), 0);
}

static void test_operands(void **state)
{
	a = (struct all){};
	char *argv[] = { "prog", "cmd", "-f", "sub", "-p", "1", "last", NULL };

	(void)state;
	/* options after operands are taken, the operands moved last */
	assert_int_equal(zh_params_parse(opts, 7, argv, err, sizeof(err)), 4);
	assert_true(a.flag);
	assert_string_equal(argv[4], "cmd");
	assert_string_equal(argv[5], "sub");
	assert_string_equal(argv[6], "last");
	/* "--" ends the options */
	assert_int_equal(parse(opts, "--", "-f", NULL), 2);
	assert_int_equal(parse(opts, NULL), 1);
}

static void test_help_stops(void **state)
{
	a = (struct all){};

	(void)state;
	assert_true(parse(opts, "-h", "--port", "0", "--bogus", NULL) > 0);
	assert_true(a.help);
	a.help = false;
	/* a refusal before it wins */
	assert_int_equal(parse(opts, "--port", "0", "-h", NULL), -EINVAL);
	assert_false(a.help);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *opt, *arg, *msg;
	} cases[] = {
		{ "--port", "0",
		  "--port: invalid value '0' (want an integer 1..65535)" },
		{ "-p", "65536",
		  "--port: invalid value '65536' (want an integer 1..65535)" },
		{ "--small", "256",
		  "--small: invalid value '256' (want an integer 0..255)" },
		{ "--cpu", "-1",
		  "--cpu: invalid value '-1' (want an integer 0..7)" },
		{ "--secs", "0",
		  "--secs: invalid value '0' (want seconds > 0, up to 86400)" },
		{ "-o", "yaml",
		  "--output: unknown name 'yaml' (want table, json)" },
		{ "--probes", "maybe",
		  "--probes: unknown name 'maybe' (want on, off)" },
		{ "--list", "udp,bogus",
		  "--list: unknown name 'bogus' (want udp, tcp, crr)" },
		{ "--list", "udp,",
		  "--list: unknown name '' (want udp, tcp, crr)" },
		{ "--list", "",
		  "--list: unknown name '' (want udp, tcp, crr)" },
		{ "--list", "ud",
		  "--list: unknown name 'ud' (want udp, tcp, crr)" },
		{ "--even", "3",
		  "--even: invalid value '3' (want an even number)" },
	};
	a = (struct all){};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(parse(opts, cases[i].opt, cases[i].arg, NULL),
				 -EINVAL);
		assert_string_equal(err, cases[i].msg);
	}
	assert_int_equal(parse(opts, "--strs", "a", "--strs", "b", "--strs",
			       "c", NULL),
			 -EINVAL);
	assert_string_equal(err, "--strs: at most 2");
}

/* An unknown name is answered with every valid one, however many: the
 * list of xdpbench's 23 paths was cut short at 256 bytes. */
static void test_long_name_list(void **state)
{
	static char names[26][16];
	static const char *ptrs[26];
	int list[26], n = 0;
	struct zh_param opts[] = {
		ZH_OPT_LIST("list", 0, list, &n, ptrs, 26),
		{},
	};
	char tail[32];

	(void)state;
	for (int i = 0; i < 26; i++) {
		snprintf(names[i], sizeof(names[i]), "name-number-%02d", i);
		ptrs[i] = names[i];
	}
	assert_int_equal(parse(opts, "--list", "bogus", NULL), -EINVAL);
	snprintf(tail, sizeof(tail), "%s)", names[25]);
	assert_true(strlen(err) > strlen(tail));
	assert_string_equal(err + strlen(err) - strlen(tail), tail);
}

/* getopt's own complaints, in its words, and -ENOENT for them. */
static void test_bad_lines(void **state)
{
	static const struct {
		const char *a, *b, *msg;
	} cases[] = {
		{ "--bogus", NULL, "unrecognized option '--bogus'" },
		{ "--bogus=1", NULL, "unrecognized option '--bogus=1'" },
		{ "-x", NULL, "invalid option -- 'x'" },
		{ "-fx", NULL, "invalid option -- 'x'" },
		{ "--port", NULL, "option '--port' requires an argument" },
		{ "-p", NULL, "option requires an argument -- 'p'" },
		{ "--flag=1", NULL,
		  "option '--flag' doesn't allow an argument" },
		{ "-f", "--str", "option '--str' requires an argument" },
	};
	a = (struct all){};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(parse(opts, cases[i].a, cases[i].b, NULL),
				 -ENOENT);
		assert_string_equal(err, cases[i].msg);
	}
}

/* A table the parser cannot honour is refused whatever the line says. */
static void test_bad_tables(void **state)
{
	uint8_t small;
	int n;
	const char *s[1];
	struct zh_param too_wide[] = {
		ZH_OPT_UINT("small", 0, &small, 0, 256),
		{},
	};
	struct zh_param no_names[] = {
		ZH_OPT_LIST("list", 0, &n, &n, NULL, 0),
		{},
	};
	struct zh_param no_cap[] = {
		ZH_OPT_STRS("strs", 0, s, &n, 0),
		{},
	};
	struct zh_param many[ZH_PARAMS_MAX + 2];
	bool flag;

	(void)state;
	assert_int_equal(parse(too_wide, NULL), -EINVAL);
	assert_contains(err, "--small: the option table");
	assert_int_equal(parse(no_names, NULL), -EINVAL);
	assert_int_equal(parse(no_cap, NULL), -EINVAL);
	for (int i = 0; i < ZH_PARAMS_MAX + 1; i++)
		many[i] = (struct zh_param)ZH_OPT_FLAG("f", 0, &flag);
	memset(&many[ZH_PARAMS_MAX + 1], 0, sizeof(many[0]));
	assert_int_equal(parse(many, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint_parser),
		cmocka_unit_test(test_secs_parser),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_operands),
		cmocka_unit_test(test_help_stops),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_long_name_list),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bad_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
