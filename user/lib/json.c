// SPDX-License-Identifier: Apache-2.0
/*
 * json.c - strict, typed access to JSON documents (see json.h). Every
 * getter is one member() lookup and a check; the reason is formatted only
 * when something is wrong, so reading a large document builds no paths.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "log.h"

json_t *zh_json_get(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

static void join(char *buf, size_t len, const char *at, const char *rest)
{
	size_t n = strlen(at);
	bool bare = !n || at[n - 1] == ' ' || rest[0] == '[';

	snprintf(buf, len, "%s%s%s", at, bare ? "" : ".", rest);
}

const char *zh_json_path(char *buf, size_t len, const char *at, const char *fmt,
			 ...)
{
	char rest[ZH_JSON_PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	join(buf, len, at, rest);
	return buf;
}

const char *zh_json_text(const json_t *v, char *buf, size_t len)
{
	char *s;

	if (!v)
		return "nothing";
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s && strlen(s) > 48)
		snprintf(buf, len, "%.44s...%s", s,
			 json_is_string(v) ? "\"" : "");
	else
		snprintf(buf, len, "%s", s ? s : "?");
	free(s);
	return buf;
}

/* Record where @at's @key (@at itself when @key is NULL) went wrong. */
static void record(struct zh_json_err *e, enum zh_json_fault fault,
		   const char *at, const char *key, const json_t *v,
		   const char *want)
{
	if (key)
		join(e->path, sizeof(e->path), at, key);
	else
		snprintf(e->path, sizeof(e->path), "%s", at);
	e->fault = fault;
	e->value = v;
	e->want = want;
	e->key = NULL;
}

/* record() and say it in e->buf. Returns -EINVAL. */
static int fail(struct zh_json_err *e, enum zh_json_fault fault, const char *at,
		const char *key, const json_t *v, const char *want)
{
	char text[64];

	if (!e)
		return -EINVAL;
	record(e, fault, at, key, v, want);
	if (fault == ZH_JSON_MISSING)
		return zh_errf(e->buf, e->len, -EINVAL, "%s: missing", e->path);
	return zh_errf(e->buf, e->len, -EINVAL, "%s: %s is not %s", e->path,
		       zh_json_text(v, text, sizeof(text)), want);
}

static const char *type_want(json_type type)
{
	switch (type) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "true or false";
	default:
		return "null";
	}
}

static bool is_type(const json_t *v, json_type type)
{
	if (type == JSON_TRUE || type == JSON_FALSE)
		return json_is_boolean(v);
	return json_typeof(v) == type;
}

int zh_json_check(const json_t *v, const char *path, json_type type,
		  struct zh_json_err *e)
{
	if (!v)
		return fail(e, ZH_JSON_MISSING, path, NULL, NULL, NULL);
	if (!is_type(v, type))
		return fail(e, ZH_JSON_WRONG, path, NULL, v, type_want(type));
	return 0;
}

/* obj[key] of @type into *out; absent (and optional): 0 with *out NULL. */
static int member(const json_t *obj, const char *at, const char *key,
		  unsigned int flags, json_type type, const char *want,
		  json_t **out, struct zh_json_err *e)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || (json_is_null(v) && !(flags & ZH_JSON_NONNULL))) {
		if (flags & ZH_JSON_REQUIRED)
			return fail(e, ZH_JSON_MISSING, at, key, NULL, NULL);
		return 0;
	}
	if (!is_type(v, type))
		return fail(e, ZH_JSON_WRONG, at, key, v,
			    want ? want : type_want(type));
	*out = v;
	return 0;
}

int zh_json_str(const json_t *obj, const char *at, const char *key,
		unsigned int flags, const char **out, struct zh_json_err *e)
{
	json_t *v;
	int rc = member(obj, at, key, flags, JSON_STRING, NULL, &v, e);

	*out = NULL;
	if (rc || !v)
		return rc;
	if ((flags & ZH_JSON_NONEMPTY) && !json_string_length(v))
		return fail(e, ZH_JSON_EMPTY, at, key, v, "a non-empty string");
	*out = json_string_value(v);
	return 0;
}

int zh_json_int(const json_t *obj, const char *at, const char *key,
		unsigned int flags, long long lo, long long hi,
		const char *want, long long *out, struct zh_json_err *e)
{
	json_t *v;
	int rc = member(obj, at, key, flags, JSON_INTEGER, want, &v, e);

	if (rc || !v)
		return rc;
	if (json_integer_value(v) < lo || json_integer_value(v) > hi)
		return fail(e, ZH_JSON_WRONG, at, key, v,
			    want ? want : type_want(JSON_INTEGER));
	*out = json_integer_value(v);
	return 0;
}

int zh_json_bool(const json_t *obj, const char *at, const char *key,
		 unsigned int flags, bool *out, struct zh_json_err *e)
{
	json_t *v;
	int rc = member(obj, at, key, flags, JSON_TRUE, NULL, &v, e);

	if (!rc && v)
		*out = json_is_true(v);
	return rc;
}

int zh_json_array(const json_t *obj, const char *at, const char *key,
		  unsigned int flags, json_t **out, struct zh_json_err *e)
{
	return member(obj, at, key, flags, JSON_ARRAY, NULL, out, e);
}

int zh_json_object(const json_t *obj, const char *at, const char *key,
		   unsigned int flags, json_t **out, struct zh_json_err *e)
{
	return member(obj, at, key, flags, JSON_OBJECT, NULL, out, e);
}

int zh_json_enum(const json_t *obj, const char *at, const char *key,
		 unsigned int flags, const char *const *words, const char *want,
		 int *out, struct zh_json_err *e)
{
	const char *s;
	int i, rc;

	rc = zh_json_str(obj, at, key, flags & ~ZH_JSON_NONEMPTY, &s, e);
	if (rc || !s)
		return rc;
	for (i = 0; words[i]; i++) {
		if (flags & ZH_JSON_ICASE ? !strcasecmp(s, words[i]) :
					    !strcmp(s, words[i])) {
			*out = i;
			return 0;
		}
	}
	return fail(e, ZH_JSON_WRONG, at, key, json_object_get(obj, key), want);
}

/*
 * Not json_unpack_ex(JSON_STRICT): its format wants the keys as literal
 * arguments at every call site, and it names the stray key only in its
 * message text ("1 object item(s) left unpacked: nodeport"), which we
 * would have to parse. A key table lets jansson's hash decide the common
 * case, a document without stray keys, in one lookup per known key; the
 * walk over the object runs only to name the first stray one.
 */
int zh_json_strict(const json_t *obj, const char *path,
		   const char *const *known, struct zh_json_err *e)
{
	const char *const *k;
	const char *key;
	size_t n = 0;
	json_t *v;

	for (k = known; *k; k++)
		n += json_object_get(obj, *k) != NULL;
	if (n == json_object_size(obj))
		return 0;
	json_object_foreach ((json_t *)obj, key, v) {
		for (k = known; *k && strcmp(*k, key); k++)
			;
		if (*k)
			continue;
		if (!e)
			return -EINVAL;
		record(e, ZH_JSON_UNKNOWN, path, NULL, v, NULL);
		e->key = key;
		return zh_errf(e->buf, e->len, -EINVAL,
			       "%s: unknown field \"%s\"", path, key);
	}
	return 0;
}

int zh_json_bad(struct zh_json_err *e, const char *at, const char *key,
		const json_t *v, const char *want)
{
	return fail(e, ZH_JSON_WRONG, at, key, v, want);
}
