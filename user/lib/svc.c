// SPDX-License-Identifier: Apache-2.0
/*
 * svc.c - the services file (see svc.h): our own JSON or what kubectl
 * prints, into one struct zh_service per VIP, port and protocol.
 *
 * Everything is parsed into a private set first and handed over only when
 * the whole document is valid. Messages name the entry and the field the
 * way the document does: "services[2].backends[0].port: ..." for ours,
 * "Service default/web: spec.ports[1].protocol: ..." for Kubernetes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "svc.h"

/* Where an entry came from, for the message about a duplicate. */
#define ORIGIN_MAX 192

struct parse {
	struct zh_service *svcs;
	char (*origin)[ORIGIN_MAX]; /* parallel to svcs */
	size_t n, cap;
	char *err;
	size_t errlen;
};

static int set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

#define perr(p, ...) set_err((p)->err, (p)->errlen, __VA_ARGS__)

#define PATH_MAX_LEN 256

static const char *pathf(char *buf, size_t len, const char *where,
			 const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * A field's name in messages: @where, then the field. "services[2]" and
 * "port" make "services[2].port"; "Service a/b: " and "spec" make
 * "Service a/b: spec".
 */
static const char *pathf(char *buf, size_t len, const char *where,
			 const char *fmt, ...)
{
	size_t n = strlen(where);
	bool top = !n || (n >= 2 && !strcmp(where + n - 2, ": "));
	int w = snprintf(buf, len, "%s%s", where, top ? "" : ".");
	va_list ap;

	if (w >= 0 && (size_t)w < len) {
		va_start(ap, fmt);
		vsnprintf(buf + w, len - (size_t)w, fmt, ap);
		va_end(ap);
	}
	return buf;
}

/* A short rendering of a JSON value for messages: "ICMP", 70000, {...}. */
static const char *value_text(const json_t *v, char *buf, size_t size)
{
	char *s;

	if (!v)
		return "nothing";
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s && strlen(s) > 48)
		snprintf(buf, size, "%.44s...%s", s,
			 json_is_string(v) ? "\"" : "");
	else
		snprintf(buf, size, "%s", s ? s : "?");
	free(s);
	return buf;
}

/* obj[key], with null read as absent. */
static json_t *get(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

const char *zh_svc_proto_str(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	default:
		return "?";
	}
}

const char *zh_svc_addr_str(const struct zh_addr *a, uint16_t port,
			    uint8_t proto, char *buf, size_t len)
{
	char ip[64];
	int n;

	zh_addr_str(a, false, ip, sizeof(ip));
	n = snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
		     port);
	if (proto && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "/%s",
			 zh_svc_proto_str(proto));
	return buf;
}

size_t zh_svc_backend_key(const struct zh_svc_backend *b,
			  uint8_t key[ZH_SVC_KEY_MAX])
{
	size_t alen = b->addr.family == AF_INET6 ? 16 : 4;

	key[0] = b->addr.family == AF_INET6 ? 6 : 4;
	memcpy(key + 1, b->addr.raw, alen);
	key[1 + alen] = (uint8_t)(b->port >> 8);
	key[2 + alen] = (uint8_t)b->port;
	return alen + 3;
}

void zh_svc_set_free(struct zh_svc_set *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		free(s->svcs[i].backends);
	free(s->svcs);
	s->svcs = NULL;
	s->n = 0;
}

/* --- addresses ------------------------------------------------------------ */

static int addr_cmp(const struct zh_addr *a, const struct zh_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->raw, b->raw, (size_t)zh_addr_len(a->family));
}

static const char *family_str(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* A plain address, no "/prefix" (zh_addr_parse() would take one). */
static int parse_ip(const char *s, struct zh_addr *a)
{
	if (!s || strchr(s, '/') || zh_addr_parse(s, false, a))
		return -EINVAL;
	return 0;
}

/* Unspecified (0.0.0.0, ::) or multicast: never a service or a backend. */
static bool addr_unusable(const struct zh_addr *a)
{
	static const unsigned char zero[16];

	if (!memcmp(a->raw, zero, (size_t)zh_addr_len(a->family)))
		return true;
	if (a->family == AF_INET)
		return (a->raw[0] & 0xf0) == 0xe0;
	return a->raw[0] == 0xff;
}

/* --- validation ----------------------------------------------------------- */

/*
 * Duplicates: sort references (the element and its index) so that equal
 * elements are adjacent in index order, then take the run whose second
 * element comes first: the earliest entry that repeats an earlier one.
 */
struct ref {
	const void *p;
	size_t i;
};

static int ref_idx(const struct ref *a, const struct ref *b)
{
	return (a->i > b->i) - (a->i < b->i);
}

/* 1 and *first, *dup (first < dup) when a duplicate exists, 0 when not. */
static int first_dup(struct ref *r, size_t n,
		     int (*sort_cmp)(const void *, const void *),
		     bool (*same)(const void *, const void *), size_t *first,
		     size_t *dup)
{
	size_t i, start = 0;
	int found = 0;

	qsort(r, n, sizeof(*r), sort_cmp);
	for (i = 1; i < n; i++) {
		if (!same(r[start].p, r[i].p)) {
			start = i;
			continue;
		}
		if (i == start + 1 && (!found || r[i].i < *dup)) {
			*first = r[start].i;
			*dup = r[i].i;
			found = 1;
		}
	}
	return found;
}

static int be_cmp(const struct zh_svc_backend *a,
		  const struct zh_svc_backend *b)
{
	int c = addr_cmp(&a->addr, &b->addr);

	if (c)
		return c;
	return (a->port > b->port) - (a->port < b->port);
}

static int be_ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	return be_cmp(x->p, y->p) ?: ref_idx(x, y);
}

static bool be_same(const void *a, const void *b)
{
	return !be_cmp(a, b);
}

int zh_svc_validate(const struct zh_service *s, char *err, size_t errlen)
{
	size_t i, first = 0, dup = 0;
	char a[64], b[64];
	struct ref *refs;
	int rc;

	if (!memchr(s->name, '\0', sizeof(s->name)))
		return set_err(err, errlen, "name: not NUL-terminated");
	if (!s->name[0])
		return set_err(err, errlen, "name: empty");
	if (s->vip.family != AF_INET && s->vip.family != AF_INET6)
		return set_err(err, errlen, "vip: not an IPv4 or IPv6 address");
	if (addr_unusable(&s->vip))
		return set_err(err, errlen, "vip: %s is not a unicast address",
			       zh_addr_str(&s->vip, false, a, sizeof(a)));
	if (!s->port)
		return set_err(err, errlen, "port: 0 is not a port (1-65535)");
	if (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP)
		return set_err(err, errlen, "proto: %u is not tcp or udp",
			       s->proto);
	if (s->affinity_timeout > ZH_SVC_AFFINITY_MAX)
		return set_err(err, errlen,
			       "affinity: %u is not a timeout (1-%u s)",
			       s->affinity_timeout, ZH_SVC_AFFINITY_MAX);
	if (s->n_backends && !s->backends)
		return set_err(err, errlen, "backends: missing");

	for (i = 0; i < s->n_backends; i++) {
		const struct zh_svc_backend *be = &s->backends[i];

		if (be->addr.family != AF_INET && be->addr.family != AF_INET6)
			return set_err(
				err, errlen,
				"backends[%zu].ip: not an IPv4 or IPv6 address",
				i);
		zh_addr_str(&be->addr, false, a, sizeof(a));
		if (be->addr.family != s->vip.family)
			return set_err(
				err, errlen,
				"backends[%zu].ip: %s is %s, the VIP %s is %s",
				i, a, family_str(be->addr.family),
				zh_addr_str(&s->vip, false, b, sizeof(b)),
				family_str(s->vip.family));
		if (addr_unusable(&be->addr))
			return set_err(
				err, errlen,
				"backends[%zu].ip: %s is not a unicast address",
				i, a);
		if (!be->port)
			return set_err(
				err, errlen,
				"backends[%zu].port: 0 is not a port (1-65535)",
				i);
		if (be->state != ZH_EP_READY && be->state != ZH_EP_TERMINATING)
			return set_err(
				err, errlen,
				"backends[%zu].state: %u is not ready or terminating",
				i, be->state);
	}
	if (s->n_backends < 2)
		return 0;
	refs = malloc(s->n_backends * sizeof(*refs));
	if (!refs) {
		set_err(err, errlen, "backends: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < s->n_backends; i++)
		refs[i] = (struct ref){ .p = &s->backends[i], .i = i };
	rc = first_dup(refs, s->n_backends, be_ref_cmp, be_same, &first, &dup);
	free(refs);
	if (rc)
		return set_err(err, errlen,
			       "backends[%zu]: %s is also backends[%zu]", dup,
			       zh_svc_addr_str(&s->backends[dup].addr,
					       s->backends[dup].port, 0, a,
					       sizeof(a)),
			       first);
	return 0;
}

/* --- building the set ----------------------------------------------------- */

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 8;
	void *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

/*
 * Validate @s (prefixing messages with @where) and append it; the set owns
 * its backends from here on, also on failure.
 */
static int add_svc(struct parse *p, struct zh_service *s, const char *where,
		   const char *origin)
{
	size_t cap = p->cap; /* both arrays hold at least p->cap entries */
	char msg[256];
	int rc;

	rc = zh_svc_validate(s, msg, sizeof(msg));
	if (rc) {
		free(s->backends);
		return rc == -EINVAL ? perr(p, "%s%s", where, msg) : rc;
	}
	if (grow((void **)&p->svcs, &cap, p->n + 1, sizeof(*p->svcs)) ||
	    grow((void **)&p->origin, &p->cap, p->n + 1, sizeof(*p->origin))) {
		free(s->backends);
		return -ENOMEM;
	}
	p->svcs[p->n] = *s;
	snprintf(p->origin[p->n], sizeof(p->origin[p->n]), "%s", origin);
	p->n++;
	return 0;
}

static void parse_free(struct parse *p)
{
	struct zh_svc_set s = { .svcs = p->svcs, .n = p->n };

	zh_svc_set_free(&s);
	free(p->origin);
	p->svcs = NULL;
	p->origin = NULL;
	p->n = p->cap = 0;
}

/* The datapath's service key: VIP, port, protocol. */
static int svc_vip_cmp(const struct zh_service *a, const struct zh_service *b)
{
	int c = addr_cmp(&a->vip, &b->vip);

	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return (a->proto > b->proto) - (a->proto < b->proto);
}

/* Node ports are per family: a dual-stack service has two services. */
static int svc_np_cmp(const struct zh_service *a, const struct zh_service *b)
{
	if (a->vip.family != b->vip.family)
		return a->vip.family < b->vip.family ? -1 : 1;
	if (a->nodeport != b->nodeport)
		return a->nodeport < b->nodeport ? -1 : 1;
	return (a->proto > b->proto) - (a->proto < b->proto);
}

static int svc_vip_ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	return svc_vip_cmp(x->p, y->p) ?: ref_idx(x, y);
}

static int svc_np_ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	return svc_np_cmp(x->p, y->p) ?: ref_idx(x, y);
}

static bool svc_vip_same(const void *a, const void *b)
{
	return !svc_vip_cmp(a, b);
}

static bool svc_np_same(const void *a, const void *b)
{
	const struct zh_service *x = a;

	return x->nodeport && !svc_np_cmp(a, b);
}

/*
 * No two services with one {VIP, port, proto}, nor of one family with one
 * {node port, proto}: an error naming both.
 */
static int check_clashes(struct parse *p)
{
	size_t i, a = 0, b = 0;
	struct ref *refs;
	char what[96];
	int rc;

	if (p->n < 2)
		return 0;
	refs = malloc(p->n * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (i = 0; i < p->n; i++)
		refs[i] = (struct ref){ .p = &p->svcs[i], .i = i };
	rc = first_dup(refs, p->n, svc_vip_ref_cmp, svc_vip_same, &a, &b);
	if (rc) {
		zh_svc_addr_str(&p->svcs[b].vip, p->svcs[b].port,
				p->svcs[b].proto, what, sizeof(what));
	} else {
		for (i = 0; i < p->n; i++)
			refs[i] = (struct ref){ .p = &p->svcs[i], .i = i };
		rc = first_dup(refs, p->n, svc_np_ref_cmp, svc_np_same, &a, &b);
		if (rc)
			snprintf(what, sizeof(what), "%s nodePort %u/%s",
				 family_str(p->svcs[b].vip.family),
				 p->svcs[b].nodeport,
				 zh_svc_proto_str(p->svcs[b].proto));
	}
	free(refs);
	if (!rc)
		return 0;
	return perr(p, "%s: %s is also %s", p->origin[b], what, p->origin[a]);
}

/* --- JSON fields ---------------------------------------------------------- */

/* "<where>.<key>: missing" */
static int missing(struct parse *p, const char *where, const char *key)
{
	char at[PATH_MAX_LEN];

	return perr(p, "%s: missing", pathf(at, sizeof(at), where, "%s", key));
}

/* "<where>.<key>: <the value> is not <what>" */
static int not_a(struct parse *p, const char *where, const char *key,
		 const json_t *v, const char *what)
{
	char at[PATH_MAX_LEN], buf[64];

	return perr(p, "%s: %s is not %s",
		    pathf(at, sizeof(at), where, "%s", key),
		    value_text(v, buf, sizeof(buf)), what);
}

/*
 * obj[key] as an integer in [lo, hi], @what naming the range for messages
 * ("a port (1-65535)"). Returns 0, 1 when absent and not @required, or
 * -EINVAL.
 */
static int get_int(struct parse *p, const json_t *obj, const char *where,
		   const char *key, long long lo, long long hi,
		   const char *what, bool required, long long *out)
{
	json_t *v = get(obj, key);

	if (!v)
		return required ? missing(p, where, key) : 1;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return not_a(p, where, key, v, what);
	*out = json_integer_value(v);
	return 0;
}

#define PORT_RANGE 1, 65535, "a port (1-65535)"
#define TIMEOUT_RANGE 1, ZH_SVC_AFFINITY_MAX, "a timeout (1-86400 s)"

/* obj[key] as a string: 0, 1 when absent and not @required, or -EINVAL. */
static int get_str(struct parse *p, const json_t *obj, const char *where,
		   const char *key, bool required, const char **out)
{
	json_t *v = get(obj, key);

	*out = NULL;
	if (!v)
		return required ? missing(p, where, key) : 1;
	if (!json_is_string(v))
		return not_a(p, where, key, v, "a string");
	*out = json_string_value(v);
	return 0;
}

/* obj[key] as an array; absent: NULL. */
static int get_array(struct parse *p, const json_t *obj, const char *where,
		     const char *key, json_t **out)
{
	json_t *v = get(obj, key);

	*out = v;
	if (v && !json_is_array(v))
		return not_a(p, where, key, v, "an array");
	return 0;
}

/* The field @v, named @where in full, must be an object. */
static int need_object(struct parse *p, const json_t *v, const char *where)
{
	char buf[64];

	if (!v)
		return perr(p, "%s: missing", where);
	if (!json_is_object(v))
		return perr(p, "%s: %s is not an object", where,
			    value_text(v, buf, sizeof(buf)));
	return 0;
}

/* Our format is strict: a misspelt field is an error, not ignored. */
static int check_keys(struct parse *p, json_t *obj, const char *where,
		      const char *const *allowed)
{
	const char *const *k;
	const char *key;
	json_t *v;

	json_object_foreach (obj, key, v) {
		for (k = allowed; *k; k++)
			if (!strcmp(*k, key))
				break;
		if (!*k)
			return perr(p, "%s: unknown field \"%s\"", where, key);
	}
	return 0;
}

/* --- our format ----------------------------------------------------------- */

static int ours_proto(struct parse *p, const json_t *obj, const char *where,
		      uint8_t *proto)
{
	const char *s;
	int rc = get_str(p, obj, where, "proto", false, &s);

	*proto = IPPROTO_TCP;
	if (rc)
		return rc < 0 ? rc : 0;
	if (!strcasecmp(s, "tcp"))
		return 0;
	*proto = IPPROTO_UDP;
	if (!strcasecmp(s, "udp"))
		return 0;
	return not_a(p, where, "proto", get(obj, "proto"), "tcp or udp");
}

/* "clientIP" (10800 s), "none", or {"clientIP": seconds}. */
static int ours_affinity(struct parse *p, const json_t *obj, const char *where,
			 uint32_t *timeout)
{
	static const char *const keys[] = { "clientIP", NULL };
	json_t *v = get(obj, "affinity");
	char at[PATH_MAX_LEN];
	long long t;
	int rc;

	*timeout = 0;
	if (!v)
		return 0;
	pathf(at, sizeof(at), where, "affinity");
	if (json_is_string(v) && !strcasecmp(json_string_value(v), "none"))
		return 0;
	if (json_is_string(v) &&
	    !strcasecmp(json_string_value(v), "clientIP")) {
		*timeout = ZH_SVC_AFFINITY_DEFAULT;
		return 0;
	}
	if (!json_is_object(v))
		return not_a(
			p, where, "affinity", v,
			"\"clientIP\", \"none\" or {\"clientIP\": seconds}");
	rc = check_keys(p, v, at, keys);
	if (!rc)
		rc = get_int(p, v, at, "clientIP", TIMEOUT_RANGE, true, &t);
	if (rc)
		return rc;
	*timeout = (uint32_t)t;
	return 0;
}

static int ours_backend(struct parse *p, json_t *v, const char *where,
			uint16_t svc_port, struct zh_svc_backend *be)
{
	static const char *const keys[] = { "ip", "port", "weight", "state",
					    NULL };
	const char *s;
	long long n;
	int rc;

	rc = need_object(p, v, where);
	if (!rc)
		rc = check_keys(p, v, where, keys);
	if (!rc)
		rc = get_str(p, v, where, "ip", true, &s);
	if (rc)
		return rc;
	if (parse_ip(s, &be->addr))
		return not_a(p, where, "ip", get(v, "ip"), "an IP address");

	be->port = svc_port;
	rc = get_int(p, v, where, "port", PORT_RANGE, false, &n);
	if (rc < 0)
		return rc;
	if (!rc)
		be->port = (uint16_t)n;

	be->weight = 1;
	rc = get_int(p, v, where, "weight", 0, 65535, "a weight (0-65535)",
		     false, &n);
	if (rc < 0)
		return rc;
	if (!rc)
		be->weight = (uint16_t)n;

	be->state = ZH_EP_READY;
	rc = get_str(p, v, where, "state", false, &s);
	if (rc < 0)
		return rc;
	if (!rc && !strcasecmp(s, "terminating"))
		be->state = ZH_EP_TERMINATING;
	else if (!rc && strcasecmp(s, "ready"))
		return not_a(p, where, "state", get(v, "state"),
			     "\"ready\" or \"terminating\"");
	return 0;
}

static int ours_service(struct parse *p, json_t *v, size_t idx)
{
	static const char *const keys[] = { "name",	"vip",	    "port",
					    "proto",	"nodePort", "affinity",
					    "backends", NULL };
	char where[32], at[64], origin[ORIGIN_MAX], name_what[32];
	struct zh_service s = { 0 };
	json_t *backends, *bv;
	const char *str;
	long long n;
	size_t i;
	int rc;

	snprintf(where, sizeof(where), "services[%zu]", idx);
	rc = need_object(p, v, where);
	if (!rc)
		rc = check_keys(p, v, where, keys);
	if (!rc)
		rc = get_str(p, v, where, "vip", true, &str);
	if (rc)
		return rc;
	if (parse_ip(str, &s.vip))
		return not_a(p, where, "vip", get(v, "vip"), "an IP address");
	rc = get_int(p, v, where, "port", PORT_RANGE, true, &n);
	if (rc)
		return rc;
	s.port = (uint16_t)n;
	rc = ours_proto(p, v, where, &s.proto);
	if (rc)
		return rc;
	rc = get_int(p, v, where, "nodePort", PORT_RANGE, false, &n);
	if (rc < 0)
		return rc;
	if (!rc)
		s.nodeport = (uint16_t)n;
	rc = ours_affinity(p, v, where, &s.affinity_timeout);
	if (rc)
		return rc;

	snprintf(name_what, sizeof(name_what), "a name (1-%zu bytes)",
		 sizeof(s.name) - 1);
	rc = get_str(p, v, where, "name", false, &str);
	if (rc < 0)
		return rc;
	if (!rc && (!str[0] || strlen(str) >= sizeof(s.name)))
		return not_a(p, where, "name", get(v, "name"), name_what);
	if (!rc)
		snprintf(s.name, sizeof(s.name), "%s", str);
	else
		zh_svc_addr_str(&s.vip, s.port, s.proto, s.name,
				sizeof(s.name));

	rc = get_array(p, v, where, "backends", &backends);
	if (rc)
		return rc;
	if (backends && json_array_size(backends)) {
		s.backends =
			calloc(json_array_size(backends), sizeof(*s.backends));
		if (!s.backends)
			return -ENOMEM;
		json_array_foreach (backends, i, bv) {
			pathf(at, sizeof(at), where, "backends[%zu]", i);
			rc = ours_backend(p, bv, at, s.port, &s.backends[i]);
			if (rc) {
				free(s.backends);
				return rc;
			}
		}
		s.n_backends = json_array_size(backends);
	}
	snprintf(where, sizeof(where), "services[%zu].", idx);
	snprintf(origin, sizeof(origin), "services[%zu] (\"%s\")", idx, s.name);
	return add_svc(p, &s, where, origin);
}

static int parse_ours(struct parse *p, json_t *root)
{
	static const char *const keys[] = { "services", NULL };
	json_t *services, *v;
	size_t i;
	int rc;

	rc = check_keys(p, root, "the document", keys);
	if (rc)
		return rc;
	services = json_object_get(root, "services");
	if (!json_is_array(services))
		return perr(p, "services: not an array");
	json_array_foreach (services, i, v) {
		rc = ours_service(p, v, i);
		if (rc)
			return rc;
	}
	return 0;
}

/* --- Kubernetes ----------------------------------------------------------- */

#define ZH_IPPROTO_SCTP 132

struct k8s_port {
	const char *name; /* "" when absent */
	uint8_t proto;
	uint16_t port; /* 0: absent */
};

struct k8s_ep {
	struct zh_addr addr;
	uint8_t state;
};

/* An EndpointSlice of a service; strings point into the JSON document. */
struct k8s_slice {
	const char *ns, *svc;
	int family;
	struct k8s_port *ports;
	size_t n_ports;
	struct k8s_ep *eps;
	size_t n_eps;
};

struct k8s {
	struct k8s_slice *slices;
	size_t n, cap;
};

static void k8s_free(struct k8s *k)
{
	size_t i;

	for (i = 0; i < k->n; i++) {
		free(k->slices[i].ports);
		free(k->slices[i].eps);
	}
	free(k->slices);
}

/* "TCP" (also when absent), "UDP", "SCTP"; Kubernetes spells them so. */
static int k8s_proto(struct parse *p, const json_t *obj, const char *where,
		     uint8_t *proto)
{
	const char *s;
	int rc = get_str(p, obj, where, "protocol", false, &s);

	*proto = IPPROTO_TCP;
	if (rc)
		return rc < 0 ? rc : 0;
	if (!strcmp(s, "TCP"))
		return 0;
	*proto = IPPROTO_UDP;
	if (!strcmp(s, "UDP"))
		return 0;
	*proto = ZH_IPPROTO_SCTP;
	if (!strcmp(s, "SCTP"))
		return 0;
	return not_a(p, where, "protocol", get(obj, "protocol"),
		     "TCP, UDP or SCTP");
}

/* metadata.name and metadata.namespace ("default" when absent). */
static int k8s_meta(struct parse *p, const json_t *item, const char *where,
		    const char **ns, const char **name)
{
	json_t *meta = get(item, "metadata");
	char at[PATH_MAX_LEN];
	int rc;

	pathf(at, sizeof(at), where, "metadata");
	rc = need_object(p, meta, at);
	if (!rc)
		rc = get_str(p, meta, at, "name", true, name);
	if (!rc && !(*name)[0])
		rc = not_a(p, at, "name", get(meta, "name"), "a name");
	if (!rc)
		rc = get_str(p, meta, at, "namespace", false, ns);
	if (rc < 0)
		return rc;
	if (!*ns || !(*ns)[0])
		*ns = "default";
	return 0;
}

/* A condition: true, false or absent (@dflt). */
static int k8s_cond(struct parse *p, const json_t *conds, const char *where,
		    const char *key, bool dflt, bool *out)
{
	json_t *v = get(conds, key);

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return not_a(p, where, key, v, "true or false");
	*out = json_is_true(v);
	return 0;
}

static int k8s_slice_ports(struct parse *p, const json_t *item,
			   const char *where, struct k8s_slice *sl)
{
	char at[PATH_MAX_LEN];
	json_t *ports, *v;
	long long n;
	size_t i;
	int rc;

	rc = get_array(p, item, where, "ports", &ports);
	if (rc || !ports || !json_array_size(ports))
		return rc;
	sl->ports = calloc(json_array_size(ports), sizeof(*sl->ports));
	if (!sl->ports)
		return -ENOMEM;
	json_array_foreach (ports, i, v) {
		struct k8s_port *pt = &sl->ports[i];

		pathf(at, sizeof(at), where, "ports[%zu]", i);
		rc = need_object(p, v, at);
		if (!rc)
			rc = get_str(p, v, at, "name", false, &pt->name);
		if (rc >= 0)
			rc = k8s_proto(p, v, at, &pt->proto);
		if (!rc)
			rc = get_int(p, v, at, "port", PORT_RANGE, false, &n);
		if (rc < 0)
			return rc;
		if (!pt->name)
			pt->name = "";
		/* No port means all ports, of no use to kube-proxy either. */
		pt->port = rc ? 0 : (uint16_t)n;
		sl->n_ports++;
	}
	return 0;
}

#define EP_LEFT_OUT (-1)

/*
 * ready (absent: true) -> ready; else serving (absent: true) and
 * terminating (absent: false) -> terminating; else EP_LEFT_OUT.
 */
static int k8s_ep_state(struct parse *p, const json_t *ep, const char *where,
			int *state)
{
	json_t *conds = get(ep, "conditions");
	bool ready, serving, terminating;
	char at[PATH_MAX_LEN];
	int rc;

	*state = ZH_EP_READY;
	if (!conds)
		return 0;
	pathf(at, sizeof(at), where, "conditions");
	rc = need_object(p, conds, at);
	if (!rc)
		rc = k8s_cond(p, conds, at, "ready", true, &ready);
	if (!rc)
		rc = k8s_cond(p, conds, at, "serving", true, &serving);
	if (!rc)
		rc = k8s_cond(p, conds, at, "terminating", false, &terminating);
	if (rc)
		return rc;
	if (!ready)
		*state = serving && terminating ? ZH_EP_TERMINATING :
						  EP_LEFT_OUT;
	return 0;
}

static int k8s_slice_endpoints(struct parse *p, const json_t *item,
			       const char *where, struct k8s_slice *sl)
{
	char at[PATH_MAX_LEN], key[48], what[32];
	json_t *eps, *ep, *addrs, *a;
	size_t i, j, cap = 0;
	struct zh_addr addr;
	int rc, state;

	/* kubectl prints "endpoints": null for an empty slice. */
	rc = get_array(p, item, where, "endpoints", &eps);
	if (rc || !eps)
		return rc;
	snprintf(what, sizeof(what), "an %s address", family_str(sl->family));
	json_array_foreach (eps, i, ep) {
		pathf(at, sizeof(at), where, "endpoints[%zu]", i);
		rc = need_object(p, ep, at);
		if (!rc)
			rc = get_array(p, ep, at, "addresses", &addrs);
		if (!rc && !addrs)
			rc = missing(p, at, "addresses");
		if (!rc)
			rc = k8s_ep_state(p, ep, at, &state);
		if (rc)
			return rc;
		/* Every address is checked, also those left out. */
		json_array_foreach (addrs, j, a) {
			if (!json_is_string(a) ||
			    parse_ip(json_string_value(a), &addr) ||
			    addr.family != sl->family) {
				snprintf(key, sizeof(key), "addresses[%zu]", j);
				return not_a(p, at, key, a, what);
			}
			if (state == EP_LEFT_OUT)
				continue;
			if (grow((void **)&sl->eps, &cap, sl->n_eps + 1,
				 sizeof(*sl->eps)))
				return -ENOMEM;
			sl->eps[sl->n_eps++] = (struct k8s_ep){
				.addr = addr,
				.state = (uint8_t)state,
			};
		}
	}
	return 0;
}

/*
 * Checked whole, kept when it belongs to a service (the label) and is of
 * addresses (not FQDN).
 */
static int k8s_slice(struct parse *p, struct k8s *k, const json_t *item,
		     size_t idx)
{
	struct k8s_slice sl = { 0 };
	const char *ns, *name, *type;
	char where[160], at[PATH_MAX_LEN];
	json_t *labels;
	int rc;

	snprintf(where, sizeof(where), "items[%zu]", idx);
	rc = k8s_meta(p, item, where, &ns, &name);
	if (rc)
		return rc;
	snprintf(where, sizeof(where), "EndpointSlice %s/%s: ", ns, name);
	sl.ns = ns;
	labels = get(get(item, "metadata"), "labels");
	pathf(at, sizeof(at), where, "metadata.labels");
	if (labels && !json_is_object(labels))
		return not_a(p, where, "metadata.labels", labels, "an object");
	rc = get_str(p, labels, at, "kubernetes.io/service-name", false,
		     &sl.svc);
	if (rc < 0)
		return rc;

	rc = get_str(p, item, where, "addressType", true, &type);
	if (rc)
		return rc;
	if (!strcmp(type, "IPv4"))
		sl.family = AF_INET;
	else if (!strcmp(type, "IPv6"))
		sl.family = AF_INET6;
	else if (!strcmp(type, "FQDN"))
		return 0; /* kube-proxy ignores them too */
	else
		return not_a(p, where, "addressType", get(item, "addressType"),
			     "IPv4, IPv6 or FQDN");

	rc = k8s_slice_ports(p, item, where, &sl);
	if (!rc)
		rc = k8s_slice_endpoints(p, item, where, &sl);
	if (!rc && sl.svc &&
	    grow((void **)&k->slices, &k->cap, k->n + 1, sizeof(*k->slices)))
		rc = -ENOMEM;
	if (rc || !sl.svc) {
		free(sl.ports);
		free(sl.eps);
		return rc;
	}
	k->slices[k->n++] = sl;
	return 0;
}

static int slice_cmp(const char *ns_a, const char *svc_a, const char *ns_b,
		     const char *svc_b)
{
	int c = strcmp(ns_a, ns_b);

	return c ? c : strcmp(svc_a, svc_b);
}

static int slice_sort_cmp(const void *a, const void *b)
{
	const struct k8s_slice *x = a, *y = b;

	return slice_cmp(x->ns, x->svc, y->ns, y->svc);
}

/* Merge the backends of one address and port from several slices. */
static size_t dedup_backends(struct zh_svc_backend *b, size_t n)
{
	size_t i, out = 0;

	for (i = 0; i < n; i++) {
		if (out && !be_cmp(&b[out - 1], &b[i])) {
			if (b[i].state == ZH_EP_READY)
				b[out - 1].state = ZH_EP_READY;
			continue;
		}
		b[out++] = b[i];
	}
	return out;
}

static int be_sort_cmp(const void *a, const void *b)
{
	return be_cmp(a, b);
}

/*
 * The backends of service port @pname/@proto of @ns/@svc in @family: the
 * slices are sorted by namespace and service, so find the first of them
 * by bisection.
 */
static int k8s_backends(const struct k8s *k, const char *ns, const char *svc,
			int family, const char *pname, uint8_t proto,
			struct zh_service *s)
{
	size_t lo = 0, hi = k->n, i, j, e, cap = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (slice_cmp(k->slices[mid].ns, k->slices[mid].svc, ns, svc) <
		    0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo;
	     i < k->n && !slice_cmp(k->slices[i].ns, k->slices[i].svc, ns, svc);
	     i++) {
		const struct k8s_slice *sl = &k->slices[i];
		const struct k8s_port *pt = NULL;

		if (sl->family != family)
			continue;
		for (j = 0; j < sl->n_ports && !pt; j++)
			if (sl->ports[j].port && sl->ports[j].proto == proto &&
			    !strcmp(sl->ports[j].name, pname))
				pt = &sl->ports[j];
		if (!pt)
			continue;
		for (e = 0; e < sl->n_eps; e++) {
			if (grow((void **)&s->backends, &cap, s->n_backends + 1,
				 sizeof(*s->backends)))
				return -ENOMEM;
			s->backends[s->n_backends++] = (struct zh_svc_backend){
				.addr = sl->eps[e].addr,
				.port = pt->port,
				.weight = 1,
				.state = sl->eps[e].state,
			};
		}
	}
	if (s->n_backends) {
		qsort(s->backends, s->n_backends, sizeof(*s->backends),
		      be_sort_cmp);
		s->n_backends = dedup_backends(s->backends, s->n_backends);
	}
	return 0;
}

/* The cluster IPs: spec.clusterIPs, else spec.clusterIP; none: skip. */
static int k8s_vips(struct parse *p, const json_t *spec, const char *where,
		    struct zh_addr vips[2], size_t *n)
{
	char at[PATH_MAX_LEN], key[48];
	json_t *ips, *v;
	const char *s;
	size_t i;
	int rc;

	*n = 0;
	rc = get_array(p, spec, where, "clusterIPs", &ips);
	if (rc)
		return rc;
	if (!ips || !json_array_size(ips)) {
		rc = get_str(p, spec, where, "clusterIP", false, &s);
		if (rc)
			return rc < 0 ? rc : 0;
		if (!s[0] || !strcmp(s, "None"))
			return 0;
		if (parse_ip(s, &vips[0]))
			return not_a(p, where, "clusterIP",
				     get(spec, "clusterIP"), "an IP address");
		*n = 1;
		return 0;
	}
	/* Headless: ["None"]. */
	v = json_array_get(ips, 0);
	if (json_is_string(v) && !strcmp(json_string_value(v), "None"))
		return 0;
	if (json_array_size(ips) > 2)
		return perr(p, "%s: %zu addresses, not one or one per family",
			    pathf(at, sizeof(at), where, "clusterIPs"),
			    json_array_size(ips));
	json_array_foreach (ips, i, v) {
		if (!json_is_string(v) ||
		    parse_ip(json_string_value(v), &vips[i])) {
			snprintf(key, sizeof(key), "clusterIPs[%zu]", i);
			return not_a(p, where, key, v, "an IP address");
		}
	}
	*n = json_array_size(ips);
	return 0;
}

/* sessionAffinity: None (or absent), or ClientIP with its timeout. */
static int k8s_affinity(struct parse *p, const json_t *spec, const char *where,
			uint32_t *timeout)
{
	char at[PATH_MAX_LEN];
	const json_t *cfg;
	const char *s;
	long long t;
	int rc;

	*timeout = 0;
	rc = get_str(p, spec, where, "sessionAffinity", false, &s);
	if (rc)
		return rc < 0 ? rc : 0;
	if (!strcmp(s, "None"))
		return 0;
	if (strcmp(s, "ClientIP"))
		return not_a(p, where, "sessionAffinity",
			     get(spec, "sessionAffinity"), "None or ClientIP");
	*timeout = ZH_SVC_AFFINITY_DEFAULT;
	cfg = get(get(spec, "sessionAffinityConfig"), "clientIP");
	pathf(at, sizeof(at), where, "sessionAffinityConfig.clientIP");
	rc = get_int(p, cfg, at, "timeoutSeconds", TIMEOUT_RANGE, false, &t);
	if (rc < 0)
		return rc;
	if (!rc)
		*timeout = (uint32_t)t;
	return 0;
}

/* What a Service has for all its ports. */
struct k8s_svc_info {
	const char *ns, *name;
	struct zh_addr vips[2];
	size_t n_vips;
	uint32_t affinity;
	bool has_nodeport;
};

/* One spec.ports entry: one service per cluster IP. */
static int k8s_service_port(struct parse *p, const struct k8s *k,
			    const struct k8s_svc_info *si, const json_t *pv,
			    const char *where, size_t idx)
{
	char at[PATH_MAX_LEN], origin[ORIGIN_MAX];
	uint16_t port, nodeport = 0;
	const char *pname;
	uint8_t proto;
	long long n;
	size_t j;
	int rc;

	pathf(at, sizeof(at), where, "ports[%zu]", idx);
	rc = need_object(p, pv, at);
	if (!rc)
		rc = get_str(p, pv, at, "name", false, &pname);
	if (rc >= 0)
		rc = k8s_proto(p, pv, at, &proto);
	if (!rc)
		rc = get_int(p, pv, at, "port", PORT_RANGE, true, &n);
	if (rc)
		return rc;
	port = (uint16_t)n;
	rc = get_int(p, pv, at, "nodePort", PORT_RANGE, false, &n);
	if (rc < 0)
		return rc;
	if (!rc && si->has_nodeport)
		nodeport = (uint16_t)n;
	if (!pname)
		pname = "";
	if (proto == ZH_IPPROTO_SCTP)
		return 0; /* not balanced by kube-proxy either */

	snprintf(origin, sizeof(origin), "Service %s/%s spec.ports[%zu]",
		 si->ns, si->name, idx);
	for (j = 0; j < si->n_vips; j++) {
		struct zh_service s = {
			.vip = si->vips[j],
			.port = port,
			.proto = proto,
			.nodeport = nodeport,
			.affinity_timeout = si->affinity,
		};
		int len = snprintf(s.name, sizeof(s.name), "%s/%s%s%s", si->ns,
				   si->name, pname[0] ? ":" : "", pname);

		if (len < 0 || (size_t)len >= sizeof(s.name))
			return perr(p,
				    "Service %s/%s: name longer than %zu bytes",
				    si->ns, si->name, sizeof(s.name) - 1);
		rc = k8s_backends(k, si->ns, si->name, s.vip.family, pname,
				  proto, &s);
		if (rc) {
			free(s.backends);
			return rc;
		}
		snprintf(at, sizeof(at), "Service %s/%s: ", si->ns, si->name);
		rc = add_svc(p, &s, at, origin);
		if (rc)
			return rc;
	}
	return 0;
}

static int k8s_service(struct parse *p, const struct k8s *k, const json_t *item,
		       size_t idx)
{
	char where[160], at[PATH_MAX_LEN];
	struct k8s_svc_info si = { 0 };
	json_t *spec, *ports = NULL, *pv;
	const char *type;
	size_t i;
	int rc;

	snprintf(where, sizeof(where), "items[%zu]", idx);
	rc = k8s_meta(p, item, where, &si.ns, &si.name);
	if (rc)
		return rc;
	snprintf(where, sizeof(where), "Service %s/%s: ", si.ns, si.name);
	spec = get(item, "spec");
	rc = need_object(p, spec, pathf(at, sizeof(at), where, "spec"));
	if (rc)
		return rc;
	snprintf(where, sizeof(where), "Service %s/%s: spec", si.ns, si.name);

	rc = get_str(p, spec, where, "type", false, &type);
	if (rc < 0)
		return rc;
	rc = 0;
	if (!type)
		type = "ClusterIP";
	si.has_nodeport = !strcmp(type, "NodePort") ||
			  !strcmp(type, "LoadBalancer");
	if (!si.has_nodeport && strcmp(type, "ClusterIP") &&
	    strcmp(type, "ExternalName"))
		return not_a(
			p, where, "type", get(spec, "type"),
			"ClusterIP, NodePort, LoadBalancer or ExternalName");
	/*
	 * ExternalName (a DNS alias), headless and IP-less services get no
	 * VIP: their ports are checked, nothing more.
	 */
	if (strcmp(type, "ExternalName"))
		rc = k8s_vips(p, spec, where, si.vips, &si.n_vips);
	if (!rc)
		rc = k8s_affinity(p, spec, where, &si.affinity);
	if (!rc)
		rc = get_array(p, spec, where, "ports", &ports);
	if (rc || !ports)
		return rc;
	json_array_foreach (ports, i, pv) {
		rc = k8s_service_port(p, k, &si, pv, where, i);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * A List (kubectl's, whose items say their kind), a ServiceList or an
 * EndpointSliceList (the API's, whose items may not), or one object.
 */
static int parse_k8s(struct parse *p, json_t *root)
{
	struct k8s k = { 0 };
	const char *kind, *item_kind = NULL;
	json_t *items, *item;
	size_t i, n;
	int rc;

	rc = get_str(p, root, "", "kind", true, &kind);
	if (rc)
		return rc;
	if (!strcmp(kind, "List") || !strcmp(kind, "ServiceList") ||
	    !strcmp(kind, "EndpointSliceList")) {
		if (strcmp(kind, "List"))
			item_kind = !strcmp(kind, "ServiceList") ?
					    "Service" :
					    "EndpointSlice";
		rc = get_array(p, root, "", "items", &items);
		if (rc)
			return rc;
		n = json_array_size(items);
	} else if (!strcmp(kind, "Service") || !strcmp(kind, "EndpointSlice")) {
		items = NULL;
		n = 1;
	} else {
		return perr(
			p,
			"kind \"%s\": not a List, Service or EndpointSlice (kubectl get services,endpointslices -A -o json)",
			kind);
	}

	/* The slices first: a Service needs all of them. */
	for (i = 0; i < n && !rc; i++) {
		char where[32];

		item = items ? json_array_get(items, i) : root;
		snprintf(where, sizeof(where), "items[%zu]", i);
		rc = need_object(p, item, where);
		if (!rc)
			rc = get_str(p, item, where, "kind", !item_kind, &kind);
		if (rc < 0)
			break;
		rc = 0;
		if (!kind)
			kind = item_kind;
		if (!strcmp(kind, "EndpointSlice"))
			rc = k8s_slice(p, &k, item, i);
	}
	if (!rc && k.n)
		qsort(k.slices, k.n, sizeof(*k.slices), slice_sort_cmp);
	for (i = 0; i < n && !rc; i++) {
		item = items ? json_array_get(items, i) : root;
		kind = json_string_value(get(item, "kind"));
		if (!kind)
			kind = item_kind;
		if (!strcmp(kind, "Service"))
			rc = k8s_service(p, &k, item, i);
	}
	k8s_free(&k);
	return rc;
}

/* --- the document --------------------------------------------------------- */

int zh_svc_parse(const char *text, size_t len, struct zh_svc_set *out,
		 char *err, size_t errlen)
{
	struct parse p = { .err = err, .errlen = errlen };
	json_error_t jerr;
	json_t *root;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return set_err(err, errlen, "no output");
	memset(out, 0, sizeof(*out));
	if (!text && len)
		return set_err(err, errlen, "no text");
	if (len > ZH_SVC_FILE_MAX) {
		set_err(err, errlen, "%zu bytes, more than the %u MiB allowed",
			len, ZH_SVC_FILE_MAX >> 20);
		return -EFBIG;
	}
	if (!len)
		return set_err(err, errlen, "empty document");

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return set_err(err, errlen, "line %d, column %d: %s", jerr.line,
			       jerr.column, jerr.text);
	if (!json_is_object(root))
		rc = perr(&p, "the document is not a JSON object");
	else if (json_object_get(root, "services"))
		rc = parse_ours(&p, root);
	else if (json_object_get(root, "kind"))
		rc = parse_k8s(&p, root);
	else
		rc = perr(
			&p,
			"not a services file: neither {\"services\": [...]} nor Kubernetes objects (kubectl get services,endpointslices -A -o json)");
	if (!rc)
		rc = check_clashes(&p);
	json_decref(root);
	if (rc) {
		if (rc == -ENOMEM)
			set_err(err, errlen, "out of memory");
		parse_free(&p);
		return rc;
	}
	out->svcs = p.svcs;
	out->n = p.n;
	free(p.origin);
	return 0;
}

int zh_svc_load(const char *path, struct zh_svc_set *out, char *err,
		size_t errlen)
{
	bool is_stdin = !strcmp(path, "-");
	size_t len = 0, cap = 0;
	char *buf = NULL, msg[512];
	struct stat st;
	ssize_t r;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) &&
	    st.st_size > (off_t)ZH_SVC_FILE_MAX) {
		rc = -EFBIG;
		set_err(err, errlen,
			"%s: %lld bytes, more than the %u MiB allowed", path,
			(long long)st.st_size, ZH_SVC_FILE_MAX >> 20);
		goto err_close;
	}
	/* Read to the end: stdin and /proc files have no size. */
	for (;;) {
		if (len == cap) {
			char *nb;

			if (cap > ZH_SVC_FILE_MAX) {
				rc = -EFBIG;
				set_err(err, errlen,
					"%s: more than the %u MiB allowed",
					path, ZH_SVC_FILE_MAX >> 20);
				goto err_free;
			}
			cap = cap ? cap * 2 : 64 * 1024;
			if (cap > ZH_SVC_FILE_MAX + 1)
				cap = ZH_SVC_FILE_MAX + 1;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				set_err(err, errlen, "%s: out of memory", path);
				goto err_free;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			set_err(err, errlen, "%s: %s", path, strerror(-rc));
			goto err_free;
		}
		if (!r)
			break;
		len += (size_t)r;
	}
	if (!is_stdin)
		close(fd);
	rc = zh_svc_parse(buf, len, out, msg, sizeof(msg));
	if (rc)
		set_err(err, errlen, "%s: %s", path, msg);
	free(buf);
	return rc;

err_free:
	free(buf);
err_close:
	if (!is_stdin)
		close(fd);
	return rc;
}
