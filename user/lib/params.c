// SPDX-License-Identifier: Apache-2.0
/*
 * params.c - the option table, its parse loop and the number parser
 * (params.h). One place checks ranges and units and words refusals.
 */
#define _GNU_SOURCE /* strchrnul() */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "params.h"

/* Long options come back from getopt_long() as this plus their index, so
 * that they never collide with a short option's letter. */
#define LONG_BASE 256

static bool is_digits(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int zh_params_parse_uint(const char *opt, const char *s, uint64_t min,
			 uint64_t max, const char *unit, uint64_t *out,
			 char *err, size_t errlen)
{
	unsigned long long v;

	if (is_digits(s)) {
		errno = 0;
		v = strtoull(s, NULL, 10);
		if (!errno && v >= min && v <= max) {
			*out = v;
			return 0;
		}
	}
	return zh_errf(err, errlen, -EINVAL,
		       "%s: invalid value '%s' (want an integer %" PRIu64
		       "..%" PRIu64 "%s%s)",
		       opt, s ? s : "", min, max, unit ? " " : "",
		       unit ? unit : "");
}

int zh_params_parse_secs(const char *opt, const char *s, uint64_t max,
			 double *out, char *err, size_t errlen)
{
	char *end;
	double v;

	errno = 0;
	v = s ? strtod(s, &end) : 0;
	if (!s || errno || end == s || *end || !isfinite(v) || v <= 0 ||
	    v > (double)max)
		return zh_errf(
			err, errlen, -EINVAL,
			"%s: invalid value '%s' (want seconds > 0, up to %" PRIu64
			")",
			opt, s ? s : "", max);
	*out = v;
	return 0;
}

/* The largest value an unsigned integer of @size bytes holds; 0: no
 * such integer. */
static uint64_t size_max(size_t size)
{
	switch (size) {
	case 1:
		return UINT8_MAX;
	case 2:
		return UINT16_MAX;
	case 4:
		return UINT32_MAX;
	case 8:
		return UINT64_MAX;
	}
	return 0;
}

/* @v fits: the table was checked (table_check()). */
static void store(void *dst, size_t size, uint64_t v)
{
	switch (size) {
	case 1:
		*(uint8_t *)dst = (uint8_t)v;
		break;
	case 2:
		*(uint16_t *)dst = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)dst = (uint32_t)v;
		break;
	default:
		*(uint64_t *)dst = v;
		break;
	}
}

static int enum_value(const struct zh_param *p, int i)
{
	return p->values ? p->values[i] : i;
}

/* "a, b, c": the names of @p, without an ENUM's aliases. */
static void names_str(const struct zh_param *p, char *buf, size_t len)
{
	size_t off = 0;
	int i, j;

	buf[0] = '\0';
	for (i = 0; i < p->n_names && off < len; i++) {
		for (j = 0; p->kind == ZH_PARAM_ENUM && j < i; j++)
			if (enum_value(p, j) == enum_value(p, i))
				break;
		if (p->kind == ZH_PARAM_ENUM && j < i)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					off ? ", " : "", p->names[i]);
	}
}

static int find_name(const struct zh_param *p, const char *s, size_t len)
{
	for (int i = 0; i < p->n_names; i++)
		if (strlen(p->names[i]) == len && !strncmp(p->names[i], s, len))
			return i;
	return -1;
}

static int unknown_name(const struct zh_param *p, const char *opt,
			const char *s, size_t len, char *err, size_t errlen)
{
	char want[1024];

	names_str(p, want, sizeof(want));
	return zh_errf(err, errlen, -EINVAL,
		       "%s: unknown name '%.*s' (want %s)", opt, (int)len, s,
		       want);
}

static int parse_list(struct zh_param *p, const char *opt, const char *s,
		      char *err, size_t errlen)
{
	int *out = p->dst, n = 0, i, j;
	const char *end;

	for (;;) {
		end = strchrnul(s, ',');
		i = find_name(p, s, (size_t)(end - s));
		if (i < 0)
			return unknown_name(p, opt, s, (size_t)(end - s), err,
					    errlen);
		for (j = 0; j < n && out[j] != i; j++)
			;
		if (j == n)
			out[n++] = i;
		if (!*end)
			break;
		s = end + 1;
	}
	*p->n = n;
	return 0;
}

/* @p's argument @arg, checked and stored. */
static int apply(struct zh_param *p, const char *arg, char *err, size_t errlen)
{
	char opt[64];
	uint64_t v;
	int i, ret;

	snprintf(opt, sizeof(opt), "--%s", p->name);
	switch (p->kind) {
	case ZH_PARAM_FLAG:
	case ZH_PARAM_HELP:
		*(bool *)p->dst = true;
		return 0;
	case ZH_PARAM_COUNT:
		++*(int *)p->dst;
		return 0;
	case ZH_PARAM_STR:
		*(const char **)p->dst = arg;
		return 0;
	case ZH_PARAM_STRS:
		if ((uint64_t)*p->n >= p->max)
			return zh_errf(err, errlen, -EINVAL,
				       "%s: at most %" PRIu64, opt, p->max);
		((const char **)p->dst)[(*p->n)++] = arg;
		return 0;
	case ZH_PARAM_UINT:
		ret = zh_params_parse_uint(opt, arg, p->min, p->max, p->unit,
					   &v, err, errlen);
		if (!ret)
			store(p->dst, p->size, v);
		return ret;
	case ZH_PARAM_SECS:
		return zh_params_parse_secs(opt, arg, p->max, p->dst, err,
					    errlen);
	case ZH_PARAM_ENUM:
		i = find_name(p, arg, strlen(arg));
		if (i < 0)
			return unknown_name(p, opt, arg, strlen(arg), err,
					    errlen);
		store(p->dst, p->size, (uint64_t)enum_value(p, i));
		return 0;
	case ZH_PARAM_LIST:
		return parse_list(p, opt, arg, err, errlen);
	case ZH_PARAM_FUNC:
		if (!p->parse(arg, p->dst))
			return 0;
		return zh_errf(err, errlen, -EINVAL,
			       "%s: invalid value '%s' (want %s)", opt, arg,
			       p->want);
	}
	return zh_errf(err, errlen, -EINVAL, "%s: unknown kind %d", opt,
		       (int)p->kind);
}

static bool takes_arg(const struct zh_param *p)
{
	return p->kind != ZH_PARAM_FLAG && p->kind != ZH_PARAM_COUNT &&
	       p->kind != ZH_PARAM_HELP;
}

/* What the parser needs of each entry: a bug in a table shows on its
 * first use, whatever the command line. */
static int table_check(const struct zh_param *p, char *err, size_t errlen)
{
	bool ok = p->dst;

	switch (p->kind) {
	case ZH_PARAM_UINT:
		ok = ok && size_max(p->size) && p->min <= p->max &&
		     p->max <= size_max(p->size);
		break;
	case ZH_PARAM_ENUM:
		ok = ok && p->names && p->n_names > 0 && size_max(p->size);
		for (int i = 0; ok && i < p->n_names; i++)
			ok = enum_value(p, i) >= 0 &&
			     (uint64_t)enum_value(p, i) <= size_max(p->size);
		break;
	case ZH_PARAM_LIST:
		ok = ok && p->names && p->n_names > 0 && p->n;
		break;
	case ZH_PARAM_STRS:
		ok = ok && p->n && p->max;
		break;
	case ZH_PARAM_FUNC:
		ok = ok && p->parse && p->want;
		break;
	default:
		break;
	}
	if (!ok)
		return zh_errf(err, errlen, -EINVAL,
			       "--%s: the option table cannot take it (a bug)",
			       p->name);
	return 0;
}

/* getopt_long()'s complaint (opterr is off: the library never prints),
 * in getopt's words. */
static int bad_line(const struct zh_param *opts, int c, char **argv, char *err,
		    size_t errlen)
{
	int i = optopt - LONG_BASE;

	if (c == ':' && optopt >= LONG_BASE)
		return zh_errf(err, errlen, -ENOENT,
			       "option '--%s' requires an argument",
			       opts[i].name);
	if (c == ':')
		return zh_errf(err, errlen, -ENOENT,
			       "option requires an argument -- '%c'", optopt);
	if (optopt >= LONG_BASE)
		return zh_errf(err, errlen, -ENOENT,
			       "option '--%s' doesn't allow an argument",
			       opts[i].name);
	if (optopt)
		return zh_errf(err, errlen, -ENOENT, "invalid option -- '%c'",
			       optopt);
	return zh_errf(err, errlen, -ENOENT, "unrecognized option '%s'",
		       argv[optind - 1]);
}

int zh_params_parse(struct zh_param *opts, int argc, char **argv, char *err,
		    size_t errlen)
{
	struct option lo[ZH_PARAMS_MAX + 1];
	/* ':' first: a missing argument comes back as ':', not '?' */
	char shorts[2 * ZH_PARAMS_MAX + 2] = ":";
	size_t ns = 1;
	int n, c, i, ret;

	for (n = 0; opts[n].name; n++) {
		if (n == ZH_PARAMS_MAX)
			return zh_errf(err, errlen, -EINVAL,
				       "more than %d options (a bug)",
				       ZH_PARAMS_MAX);
		ret = table_check(&opts[n], err, errlen);
		if (ret)
			return ret;
		opts[n].given = 0;
		lo[n] = (struct option){ opts[n].name,
					 takes_arg(&opts[n]) ?
						 required_argument :
						 no_argument,
					 NULL, LONG_BASE + n };
		if (opts[n].letter) {
			shorts[ns++] = opts[n].letter;
			if (takes_arg(&opts[n]))
				shorts[ns++] = ':';
		}
	}
	memset(&lo[n], 0, sizeof(lo[n]));
	shorts[ns] = '\0';

	opterr = 0;
	optind = 0; /* GNU: start over (subcommands, unit tests parse again) */
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		if (c == '?' || c == ':')
			return bad_line(opts, c, argv, err, errlen);
		if (c >= LONG_BASE) {
			i = c - LONG_BASE;
		} else {
			for (i = 0; i < n && opts[i].letter != c; i++)
				;
		}
		opts[i].given++;
		ret = apply(&opts[i], optarg, err, errlen);
		if (ret)
			return ret;
		if (opts[i].kind == ZH_PARAM_HELP)
			break;
	}
	return optind;
}

unsigned int zh_params_given(const struct zh_param *opts, const char *name)
{
	for (; opts->name; opts++)
		if (!strcmp(opts->name, name))
			return opts->given;
	return 0;
}
