/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.h - strict, typed access to JSON documents parsed by jansson, for
 * every reader in zerohop: the services file (ours and kubectl's), the CNI
 * network configuration and CNI results.
 *
 * A getter reads obj[key] as one type and says, when it cannot, where and
 * why: the member's path ("services[2].backends[0].port"), built from the
 * path of its object (@at) and the key only when something is wrong.
 * Paths join with "." except after "" or a trailing space ("Service a/b: ",
 * a label) and before "[" (an index): "ipam.ranges[0][1].subnet".
 *
 * Absent and JSON null are the same (as in Kubernetes and the CNI
 * reference implementation) unless ZH_JSON_NONNULL says null is a wrong
 * value. An optional member that is absent leaves *out as the caller set
 * it (its default); strings, arrays and objects read NULL then.
 *
 * Errors follow the library's convention (log.h): 0 or -EINVAL, and the
 * reason in e->buf as zh_errf() writes it:
 *	"<path>: missing"
 *	"<path>: <the value> is not <want>"	(want: "a string", "a port
 *						(1-65535)", ...)
 *	"<path>: unknown field "<key>""
 * The parts stay in *e for a caller whose protocol words errors its own
 * way (the CNI plugin, zh_cni_json_err()). e->value points into the
 * document: use it before the document is freed.
 */
#ifndef ZH_JSON_H
#define ZH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define ZH_JSON_PATH_MAX 256

/* Getter flags. */
#define ZH_JSON_REQUIRED 0x1u /* absent is ZH_JSON_MISSING */
#define ZH_JSON_NONNULL 0x2u /* null is ZH_JSON_WRONG, not absent */
#define ZH_JSON_NONEMPTY 0x4u /* strings: "" is ZH_JSON_EMPTY */
#define ZH_JSON_ICASE 0x8u /* zh_json_enum(): the words in any case */

enum zh_json_fault {
	ZH_JSON_OK = 0,
	ZH_JSON_MISSING, /* required and absent */
	ZH_JSON_WRONG, /* of another type, out of range, not a known word */
	ZH_JSON_EMPTY, /* "" where ZH_JSON_NONEMPTY asked for more */
	ZH_JSON_UNKNOWN, /* zh_json_strict(): a key the object may not have */
};

struct zh_json_err {
	char *buf; /* the reason; NULL or len 0: none wanted */
	size_t len;
	/* Set on failure. */
	enum zh_json_fault fault;
	char path[ZH_JSON_PATH_MAX]; /* the member; UNKNOWN: its object */
	const json_t *value; /* what was there; NULL when missing */
	const char *want; /* WRONG: "an object", "a port (1-65535)" */
	const char *key; /* UNKNOWN: the key, in the document */
};

/* obj[key] with null read as absent; NULL also when obj is no object. */
json_t *zh_json_get(const json_t *obj, const char *key);

/* @at joined with the printf-formatted rest, into @buf; returns @buf. */
const char *zh_json_path(char *buf, size_t len, const char *at, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));

/*
 * A value for messages: "ICMP" (quoted), 70000, {...}; ASCII only, cut
 * with "..." past 48 bytes; NULL is "nothing". Returns @buf (>= 64 bytes).
 */
const char *zh_json_text(const json_t *v, char *buf, size_t len);

/*
 * @v itself (an array's element, a document) as @type (jansson's; JSON_TRUE
 * and JSON_FALSE both mean a boolean), named @path in full. NULL is
 * ZH_JSON_MISSING; here null is a value like any other.
 */
int zh_json_check(const json_t *v, const char *path, json_type type,
		  struct zh_json_err *e);

/* obj[key] as a string; *out NULL when absent. */
int zh_json_str(const json_t *obj, const char *at, const char *key,
		unsigned int flags, const char **out, struct zh_json_err *e);
/*
 * obj[key] as an integer in [lo, hi]; @want names what was asked for,
 * also when it is no integer at all (NULL: "an integer").
 */
int zh_json_int(const json_t *obj, const char *at, const char *key,
		unsigned int flags, long long lo, long long hi,
		const char *want, long long *out, struct zh_json_err *e);
/* obj[key] as true or false. */
int zh_json_bool(const json_t *obj, const char *at, const char *key,
		 unsigned int flags, bool *out, struct zh_json_err *e);
/* obj[key] as an array (an object); *out NULL when absent. */
int zh_json_array(const json_t *obj, const char *at, const char *key,
		  unsigned int flags, json_t **out, struct zh_json_err *e);
int zh_json_object(const json_t *obj, const char *at, const char *key,
		   unsigned int flags, json_t **out, struct zh_json_err *e);
/*
 * obj[key] as one of @words (NULL-terminated): its index in *out. No string
 * is ZH_JSON_WRONG wanting "a string"; another word wanting @want
 * ("tcp or udp").
 */
int zh_json_enum(const json_t *obj, const char *at, const char *key,
		 unsigned int flags, const char *const *words, const char *want,
		 int *out, struct zh_json_err *e);

/*
 * Strict objects: every key of @obj (named @path) is one of @known
 * (NULL-terminated, each key once), else ZH_JSON_UNKNOWN naming the first
 * other one in the document's order. A misspelt "nodeport" would otherwise
 * be dropped without a word.
 */
int zh_json_strict(const json_t *obj, const char *path,
		   const char *const *known, struct zh_json_err *e);

/*
 * Report obj[key] (or @at itself, @key NULL), whose value @v the caller
 * found wrong, as ZH_JSON_WRONG wanting @want: "vip: "10.96.0.300" is not
 * an IP address". Returns -EINVAL.
 */
int zh_json_bad(struct zh_json_err *e, const char *at, const char *key,
		const json_t *v, const char *want);

#endif /* ZH_JSON_H */
