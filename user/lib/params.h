/* SPDX-License-Identifier: Apache-2.0 */
/*
 * params.h - the command line of every zerohop binary (after xdp-tools'
 * lib/util/params.c): one option table, one parse loop over getopt_long(),
 * one number parser. Ranges and units are checked here, once, and every
 * refusal reads the same way, naming the option and what it takes:
 *
 *   --size: invalid value '1' (want an integer 16..65507)
 *   --reconcile: invalid value 'x' (want an integer 0..2147483 seconds)
 *   --duration: invalid value '0' (want seconds > 0, up to 86400)
 *   --paths: unknown name 'nope' (want host, veth, bridge, ...)
 *
 * Nothing here prints: a refusal is said in the caller's buffer (the
 * library's convention, zh_errf()), and each binary says it its own way
 * (its prefix, its hint or usage, its exit status). The --help texts stay
 * with the binaries, written by hand.
 *
 * libzerohop-xsk (zh-xsk-echo, pod processes) builds without libzerohop
 * and so without this.
 */
#ifndef ZH_PARAMS_H
#define ZH_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum zh_param_kind {
	ZH_PARAM_FLAG, /* no argument: *(bool *)dst = true */
	ZH_PARAM_COUNT, /* no argument: ++*(int *)dst, e.g. -v -v */
	/* no argument: *(bool *)dst = true, and parsing stops there, so
	 * that --help wins over whatever follows it */
	ZH_PARAM_HELP,
	ZH_PARAM_STR, /* *(const char **)dst = the argument, argv's own */
	/* every one appended: dst is a const char *[max], *n the count */
	ZH_PARAM_STRS,
	/* a decimal integer min..max (zh_params_parse_uint()) into an
	 * unsigned integer of `size` bytes; an int takes max <= INT_MAX */
	ZH_PARAM_UINT,
	/* seconds, fractions too, > 0 and <= max: *(double *)dst */
	ZH_PARAM_SECS,
	/* one of names[]: values[i] (NULL: i) into an integer of `size`
	 * bytes. A name with the value of an earlier one is an alias:
	 * taken, and left out of the message. */
	ZH_PARAM_ENUM,
	/* comma-separated names[], each once (repeats are dropped): their
	 * indexes into dst (an int[n_names]), in order, and their count
	 * into *n */
	ZH_PARAM_LIST,
	/* parse(arg, dst) returns 0 or -EINVAL, refused as "want <want>" */
	ZH_PARAM_FUNC,
};

struct zh_param {
	const char *name; /* the long name, without "--"; NULL ends a table */
	char letter; /* the short option; 0: none */
	enum zh_param_kind kind;
	void *dst; /* where the value goes */
	size_t size; /* UINT, ENUM: sizeof(*dst) */
	uint64_t min, max; /* UINT: the range; SECS: max; STRS: capacity */
	const char *unit; /* UINT: after the range, e.g. "seconds" */
	const char *const *names; /* ENUM, LIST */
	const int *values; /* ENUM */
	int n_names;
	int *n; /* STRS, LIST */
	int (*parse)(const char *arg, void *dst); /* FUNC */
	const char *want; /* FUNC: what it takes, for the message */
	unsigned int given; /* out: how many times it was on the line */
};

/*
 * Table entries. @d is checked against the kind's type where it has one
 * (a mismatch is a -Werror warning); trailing arguments are more
 * designated initialisers, e.g. `.unit = "seconds"`.
 */
#define ZH_PARAM_DST(d, type) ((void *)(1 ? (d) : (type)0))
#define ZH_OPT_FLAG(l, s, d, ...)                                  \
	{                                                          \
		.name = (l), .letter = (s), .kind = ZH_PARAM_FLAG, \
		.dst = ZH_PARAM_DST(d, bool *), __VA_ARGS__        \
	}
#define ZH_OPT_COUNT(l, s, d, ...)                                  \
	{                                                           \
		.name = (l), .letter = (s), .kind = ZH_PARAM_COUNT, \
		.dst = ZH_PARAM_DST(d, int *), __VA_ARGS__          \
	}
#define ZH_OPT_HELP(d)                                                \
	{                                                             \
		.name = "help", .letter = 'h', .kind = ZH_PARAM_HELP, \
		.dst = ZH_PARAM_DST(d, bool *)                        \
	}
#define ZH_OPT_STR(l, s, d, ...)                                   \
	{                                                          \
		.name = (l), .letter = (s), .kind = ZH_PARAM_STR,  \
		.dst = ZH_PARAM_DST(d, const char **), __VA_ARGS__ \
	}
#define ZH_OPT_STRS(l, s, d, count, cap, ...)                        \
	{                                                            \
		.name = (l), .letter = (s), .kind = ZH_PARAM_STRS,   \
		.dst = ZH_PARAM_DST(d, const char **), .n = (count), \
		.max = (cap), __VA_ARGS__                            \
	}
#define ZH_OPT_UINT(l, s, d, lo, hi, ...)                                      \
	{                                                                      \
		.name = (l), .letter = (s), .kind = ZH_PARAM_UINT, .dst = (d), \
		.size = sizeof(*(d)), .min = (lo), .max = (hi), __VA_ARGS__    \
	}
#define ZH_OPT_SECS(l, s, d, hi, ...)                                      \
	{                                                                  \
		.name = (l), .letter = (s), .kind = ZH_PARAM_SECS,         \
		.dst = ZH_PARAM_DST(d, double *), .max = (hi), __VA_ARGS__ \
	}
#define ZH_OPT_ENUM(l, s, d, nm, vals, count, ...)                             \
	{                                                                      \
		.name = (l), .letter = (s), .kind = ZH_PARAM_ENUM, .dst = (d), \
		.size = sizeof(*(d)), .names = (nm), .values = (vals),         \
		.n_names = (count), __VA_ARGS__                                \
	}
#define ZH_OPT_LIST(l, s, d, count, nm, n_nm, ...)                          \
	{                                                                   \
		.name = (l), .letter = (s), .kind = ZH_PARAM_LIST,          \
		.dst = ZH_PARAM_DST(d, int *), .n = (count), .names = (nm), \
		.n_names = (n_nm), __VA_ARGS__                              \
	}
#define ZH_OPT_FUNC(l, s, d, fn, what, ...)                                    \
	{                                                                      \
		.name = (l), .letter = (s), .kind = ZH_PARAM_FUNC, .dst = (d), \
		.parse = (fn), .want = (what), __VA_ARGS__                     \
	}

/* Longest message the functions below write, with the terminating NUL. */
#define ZH_PARAMS_ERR_MAX 512
/* Most options a table may have. */
#define ZH_PARAMS_MAX 64

/*
 * Parse @argv[1..] against @opts (ended by an entry with a NULL name):
 * every value checked and stored, `given` counted. getopt_long() moves
 * the operands after the options (options may come before or after a
 * subcommand); @argv[0] is never looked at.
 *
 * Returns the index in @argv of the first operand (@argc when there is
 * none), or, with the reason in @err:
 *   -EINVAL  a value was refused: the message names the option and what
 *            it takes;
 *   -ENOENT  the line itself is wrong: an option not in @opts, one
 *            without its argument, or with one it does not take (the
 *            words are getopt's); the caller may show its usage.
 * A table the parser cannot honour (a range its destination cannot hold,
 * a kind without what it needs, too many options) is a bug: -EINVAL.
 */
int zh_params_parse(struct zh_param *opts, int argc, char **argv, char *err,
		    size_t errlen);
/* How many times the option @name was given: 0 for a name not in @opts. */
unsigned int zh_params_given(const struct zh_param *opts, const char *name);

/*
 * The one number parser: a decimal integer in @min..@max, digits only
 * (strtoull() alone would take spaces, a sign and an empty string).
 * -EINVAL, with "@opt: invalid value '@s' (want an integer MIN..MAX
 * [@unit])" in @err, otherwise. @err may be NULL: what a caller that
 * says it its own way passes.
 */
int zh_params_parse_uint(const char *opt, const char *s, uint64_t min,
			 uint64_t max, const char *unit, uint64_t *out,
			 char *err, size_t errlen);
/* Seconds, fractions too: > 0 and <= @max. Otherwise as above. */
int zh_params_parse_secs(const char *opt, const char *s, uint64_t max,
			 double *out, char *err, size_t errlen);

#endif /* ZH_PARAMS_H */
