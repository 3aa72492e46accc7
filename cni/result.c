// SPDX-License-Identifier: Apache-2.0
/*
 * result.c - what goes on stdout: results in the shape of each supported
 * version, the error object and the VERSION answer. All JSON is built with
 * jansson; nothing is pasted together by hand.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"
#include "log.h"

/* Oldest first; the last one is ZH_CNI_SPEC_VERSION. */
static const char *const cni_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0",
					    "1.1.0" };
#define N_VERSIONS (sizeof(cni_versions) / sizeof(cni_versions[0]))

_Static_assert(sizeof(ZH_CNI_SPEC_VERSION) == sizeof("1.1.0"),
	       "ZH_CNI_SPEC_VERSION must be the newest entry of cni_versions");

bool zh_cni_version_supported(const char *v)
{
	size_t i;

	if (!v)
		return false;
	for (i = 0; i < N_VERSIONS; i++) {
		if (!strcmp(v, cni_versions[i]))
			return true;
	}
	return false;
}

const char *zh_cni_versions_list(void)
{
	return "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0";
}

int zh_cni_err_set(struct zh_cni_err *err, int code, const char *msg,
		   const char *details_fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->code = code;
	snprintf(err->msg, sizeof(err->msg), "%s", msg ? msg : "");
	err->details[0] = '\0';
	if (details_fmt) {
		va_start(ap, details_fmt);
		vsnprintf(err->details, sizeof(err->details), details_fmt, ap);
		va_end(ap);
	}
	return -1;
}

int zh_cni_errf(struct zh_cni_err *err, int code, const char *details,
		const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	zh_verrf(msg, sizeof(msg), 0, fmt, ap);
	va_end(ap);
	if (details)
		return zh_cni_err_set(err, code, msg, "%s", details);
	return zh_cni_err_set(err, code, msg, NULL);
}

int zh_cni_json_err(struct zh_cni_err *err, int code,
		    const struct zh_json_err *je)
{
	switch (je->fault) {
	case ZH_JSON_MISSING:
		return zh_cni_errf(err, code, NULL, "%s is missing", je->path);
	case ZH_JSON_WRONG:
		return zh_cni_errf(err, code, NULL, "%s must be %s", je->path,
				   je->want);
	case ZH_JSON_EMPTY:
		return zh_cni_errf(err, code, NULL, "%s must not be empty",
				   je->path);
	case ZH_JSON_UNKNOWN:
		return zh_cni_errf(err, code, NULL, "unknown key \"%s\" in %s",
				   je->key, je->path);
	default:
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
				      "a JSON error without a fault", NULL);
	}
}

/* json_dumps() allocates with malloc unless someone installed other
 * allocators, which zerohop never does: the caller may free() the result.
 */
static char *dump_and_release(json_t *j)
{
	char *s;

	if (!j) {
		errno = ENOMEM;
		return NULL;
	}
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		errno = ENOMEM;
	return s;
}

/*
 * A JSON string even from bytes that are not UTF-8: messages echo what the
 * runtime gave us, and snprintf() truncation can split a sequence. Such
 * bytes become '?' rather than costing us the whole error object.
 */
static json_t *string_lossy(const char *s)
{
	json_t *j = json_string(s);
	char *copy, *p;

	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (p = copy; *p; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	j = json_string(copy);
	free(copy);
	return j;
}

char *zh_cni_err_to_json(const struct zh_cni_err *err, const char *cni_version)
{
	json_t *j;

	if (!err) {
		errno = EINVAL;
		return NULL;
	}
	j = json_pack("{s:s, s:i}", "cniVersion",
		      cni_version ? cni_version : ZH_CNI_SPEC_VERSION, "code",
		      err->code);
	if (j &&
	    (json_object_set_new(j, "msg", string_lossy(err->msg)) ||
	     (err->details[0] &&
	      json_object_set_new(j, "details", string_lossy(err->details))))) {
		json_decref(j);
		j = NULL;
	}
	return dump_and_release(j);
}

char *zh_cni_version_json(const char *cni_version)
{
	json_t *j, *list;
	size_t i;

	j = json_pack("{s:s}", "cniVersion",
		      cni_version ? cni_version : ZH_CNI_SPEC_VERSION);
	list = json_array();
	for (i = 0; list && i < N_VERSIONS; i++) {
		if (json_array_append_new(list, json_string(cni_versions[i]))) {
			json_decref(list);
			list = NULL;
		}
	}
	/* set_new releases list when it fails, and fails on a NULL one. */
	if (j && json_object_set_new(j, "supportedVersions", list)) {
		json_decref(j);
		j = NULL;
	} else if (!j) {
		json_decref(list);
	}
	return dump_and_release(j);
}

/* ---- parsing ---- */

/* The details of a decode error: the value that is wrong. */
static const char *value_of(char *buf, size_t len, const char *s)
{
	snprintf(buf, len, "value: \"%s\"", s);
	return buf;
}

/* 4 or 6 for a valid textual address, 0 otherwise. */
static int ip_family(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, s, buf) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, buf) == 1)
		return 6;
	return 0;
}

/* 4 or 6 for a valid "address/prefix", 0 otherwise. */
static int cidr_family(const char *s)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/'), *p;
	unsigned int prefix = 0;
	size_t alen;
	int family;

	if (!slash)
		return 0;
	alen = slash - s;
	if (!alen || alen >= sizeof(addr))
		return 0;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	family = ip_family(addr);
	if (!family)
		return 0;

	p = slash + 1;
	/* 1 to 3 decimal digits, no sign, no leading zero. */
	if (!*p || strlen(p) > 3 || (p[0] == '0' && p[1]))
		return 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		prefix = prefix * 10 + (*p - '0');
	}
	if (prefix > (family == 4 ? 32U : 128U))
		return 0;
	return family;
}

/* Copy into a fixed field, refusing what does not fit. */
static int copy_str(char *dst, size_t size, const char *src, const char *where,
		    const char *key, struct zh_cni_err *err)
{
	char value[sizeof(err->details)];
	size_t len = strlen(src);

	if (len >= size)
		return zh_cni_errf(err, ZH_CNI_ERR_DECODE,
				   value_of(value, sizeof(value), src),
				   "%s.%s is too long (%zu bytes)", where, key,
				   len);
	memcpy(dst, src, len + 1);
	return 0;
}

/* An optional array member with at most max entries; *out NULL if absent. */
static int sized_array(json_t *j, const char *key, size_t max, json_t **out,
		       struct zh_cni_err *err)
{
	struct zh_json_err je = { 0 };

	if (zh_json_array(j, "result ", key, 0, out, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	if (json_array_size(*out) > max)
		return zh_cni_errf(err, ZH_CNI_ERR_DECODE, NULL,
				   "result has too many %s (%zu, at most %zu)",
				   key, json_array_size(*out), max);
	return 0;
}

static int parse_iface(json_t *o, const char *where, struct zh_cni_iface *ifc,
		       struct zh_cni_err *err)
{
	struct zh_json_err je = { 0 };
	const char *s;

	if (zh_json_check(o, where, JSON_OBJECT, &je) ||
	    zh_json_str(o, where, "name", ZH_JSON_REQUIRED, &s, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	if (!*s)
		return zh_cni_errf(err, ZH_CNI_ERR_DECODE, NULL,
				   "%s.name is missing", where);
	if (copy_str(ifc->name, sizeof(ifc->name), s, where, "name", err))
		return -1;
	if (zh_json_str(o, where, "mac", 0, &s, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	if (s && copy_str(ifc->mac, sizeof(ifc->mac), s, where, "mac", err))
		return -1;
	if (zh_json_str(o, where, "sandbox", 0, &s, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	if (s && copy_str(ifc->sandbox, sizeof(ifc->sandbox), s, where,
			  "sandbox", err))
		return -1;
	/* 1.1.0; taken from any version, emitted only in 1.1.0. */
	if (zh_json_str(o, where, "socketPath", 0, &s, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	if (s && copy_str(ifc->socket_path, sizeof(ifc->socket_path), s, where,
			  "socketPath", err))
		return -1;
	return 0;
}

static int parse_ip(json_t *o, const char *where, int n_ifaces,
		    struct zh_cni_ip *ip, struct zh_cni_err *err)
{
	char value[sizeof(err->details)];
	struct zh_json_err je = { 0 };
	long long idx = -1;
	const char *s;
	int fam;

	ip->iface = -1;
	if (zh_json_check(o, where, JSON_OBJECT, &je) ||
	    zh_json_str(o, where, "address", ZH_JSON_REQUIRED, &s, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	ip->family = cidr_family(s);
	if (!ip->family)
		return zh_cni_errf(err, ZH_CNI_ERR_DECODE,
				   value_of(value, sizeof(value), s),
				   "%s.address is not a valid CIDR", where);
	if (copy_str(ip->address, sizeof(ip->address), s, where, "address",
		     err))
		return -1;

	/* 0.3.x/0.4.0 carry "version"; it must agree with the address. */
	if (zh_json_str(o, where, "version", 0, &s, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	if (s &&
	    ((strcmp(s, "4") && strcmp(s, "6")) || (s[0] - '0') != ip->family))
		return zh_cni_errf(
			err, ZH_CNI_ERR_DECODE,
			value_of(value, sizeof(value), s),
			"%s.version does not match the address family (IPv%d)",
			where, ip->family);

	if (zh_json_str(o, where, "gateway", 0, &s, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	if (s) {
		fam = ip_family(s);
		if (!fam)
			return zh_cni_errf(
				err, ZH_CNI_ERR_DECODE,
				value_of(value, sizeof(value), s),
				"%s.gateway is not a valid IP address", where);
		if (fam != ip->family)
			return zh_cni_errf(
				err, ZH_CNI_ERR_DECODE,
				value_of(value, sizeof(value), s),
				"%s.gateway is not IPv%d like the address",
				where, ip->family);
		if (copy_str(ip->gateway, sizeof(ip->gateway), s, where,
			     "gateway", err))
			return -1;
	}

	/* An index into interfaces: an integer outside them says which. */
	if (zh_json_int(o, where, "interface", 0, 0, n_ifaces - 1, "an integer",
			&idx, &je)) {
		if (!json_is_integer(je.value))
			return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
		return zh_cni_errf(
			err, ZH_CNI_ERR_DECODE, NULL,
			"%s.interface %lld is out of range (%d interfaces)",
			where, (long long)json_integer_value(je.value),
			n_ifaces);
	}
	ip->iface = (int)idx;
	return 0;
}

static int parse_route(json_t *o, const char *where, struct zh_cni_route *rt,
		       struct zh_cni_err *err)
{
	char value[sizeof(err->details)];
	struct zh_json_err je = { 0 };
	const char *s;

	if (zh_json_check(o, where, JSON_OBJECT, &je) ||
	    zh_json_str(o, where, "dst", ZH_JSON_REQUIRED, &s, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	if (!cidr_family(s))
		return zh_cni_errf(err, ZH_CNI_ERR_DECODE,
				   value_of(value, sizeof(value), s),
				   "%s.dst is not a valid CIDR", where);
	if (copy_str(rt->dst, sizeof(rt->dst), s, where, "dst", err))
		return -1;
	if (zh_json_str(o, where, "gw", 0, &s, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	if (s) {
		if (!ip_family(s))
			return zh_cni_errf(err, ZH_CNI_ERR_DECODE,
					   value_of(value, sizeof(value), s),
					   "%s.gw is not a valid IP address",
					   where);
		if (copy_str(rt->gw, sizeof(rt->gw), s, where, "gw", err))
			return -1;
	}
	return 0;
}

/* dns: {nameservers: [str], domain: str, search: [str], options: [str]} */
static int check_dns(json_t *dns, struct zh_cni_err *err)
{
	static const char *const lists[] = { "nameservers", "search",
					     "options" };
	struct zh_json_err je = { 0 };
	char at[ZH_JSON_PATH_MAX];
	const char *s;
	json_t *v, *e;
	size_t i, k;

	if (zh_json_str(dns, "dns", "domain", 0, &s, &je))
		return zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (zh_json_array(dns, "dns", lists[i], 0, &v, &je))
			return zh_cni_errf(err, ZH_CNI_ERR_DECODE, NULL,
					   "%s must be an array of strings",
					   je.path);
		json_array_foreach (v, k, e) {
			zh_json_path(at, sizeof(at), "dns", "%s[%zu]", lists[i],
				     k);
			if (zh_json_check(e, at, JSON_STRING, &je))
				return zh_cni_json_err(err, ZH_CNI_ERR_DECODE,
						       &je);
		}
	}
	return 0;
}

int zh_result_parse(json_t *j, struct zh_result *res, struct zh_cni_err *err)
{
	struct zh_json_err je = { 0 };
	json_t *arr, *e, *dns;
	char where[48];
	size_t i;

	memset(res, 0, sizeof(*res));
	if (!json_is_object(j))
		return zh_cni_err_set(err, ZH_CNI_ERR_DECODE,
				      "result must be a JSON object", NULL);

	if (sized_array(j, "interfaces", ZH_CNI_MAX_IFACES, &arr, err))
		goto err;
	json_array_foreach (arr, i, e) {
		snprintf(where, sizeof(where), "interfaces[%zu]", i);
		if (parse_iface(e, where, &res->ifaces[i], err))
			goto err;
		res->n_ifaces++;
	}

	if (sized_array(j, "ips", ZH_CNI_MAX_IPS, &arr, err))
		goto err;
	json_array_foreach (arr, i, e) {
		snprintf(where, sizeof(where), "ips[%zu]", i);
		if (parse_ip(e, where, res->n_ifaces, &res->ips[i], err))
			goto err;
		res->n_ips++;
	}

	if (sized_array(j, "routes", ZH_CNI_MAX_ROUTES, &arr, err))
		goto err;
	json_array_foreach (arr, i, e) {
		snprintf(where, sizeof(where), "routes[%zu]", i);
		if (parse_route(e, where, &res->routes[i], err))
			goto err;
		res->n_routes++;
	}

	if (zh_json_object(j, "result ", "dns", 0, &dns, &je)) {
		zh_cni_json_err(err, ZH_CNI_ERR_DECODE, &je);
		goto err;
	}
	if (dns) {
		if (check_dns(dns, err))
			goto err;
		res->dns = json_incref(dns);
	}
	return 0;
err:
	memset(res, 0, sizeof(*res));
	return -1;
}

void zh_result_free(struct zh_result *res)
{
	if (!res)
		return;
	json_decref(res->dns);
	memset(res, 0, sizeof(*res));
}

/* ---- emitting ---- */

/* Set key; jansson drops val (which may be NULL) when that fails. */
static int put(json_t *obj, const char *key, json_t *val)
{
	return json_object_set_new(obj, key, val) ? -1 : 0;
}

static json_t *iface_to_json(const struct zh_cni_iface *ifc, bool socket)
{
	json_t *o = json_pack("{s:s}", "name", ifc->name);

	if (!o)
		return NULL;
	if ((ifc->mac[0] && put(o, "mac", json_string(ifc->mac))) ||
	    (ifc->sandbox[0] && put(o, "sandbox", json_string(ifc->sandbox))) ||
	    (socket && ifc->socket_path[0] &&
	     put(o, "socketPath", json_string(ifc->socket_path)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *ip_to_json(const struct zh_cni_ip *ip, bool legacy)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if ((legacy &&
	     put(o, "version", json_string(ip->family == 6 ? "6" : "4"))) ||
	    put(o, "address", json_string(ip->address)) ||
	    (ip->gateway[0] && put(o, "gateway", json_string(ip->gateway))) ||
	    (ip->iface >= 0 && put(o, "interface", json_integer(ip->iface)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *route_to_json(const struct zh_cni_route *rt)
{
	json_t *o = json_pack("{s:s}", "dst", rt->dst);

	if (o && rt->gw[0] && put(o, "gw", json_string(rt->gw))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Set a non-empty array; empty ones are left out, as the spec's examples do.
 * A NULL arr (allocation failed while building it) is an error.
 */
static int put_array(json_t *obj, const char *key, json_t *arr)
{
	if (!arr)
		return -1;
	if (!json_array_size(arr)) {
		json_decref(arr);
		return 0;
	}
	return put(obj, key, arr);
}

/* Append val (NULL after a failed allocation) or drop the whole array. */
static json_t *append(json_t *arr, json_t *val)
{
	if (arr && !json_array_append_new(arr, val))
		return arr;
	json_decref(arr);
	return NULL;
}

static json_t *ifaces_to_json(const struct zh_result *res, bool socket)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr && i < res->n_ifaces; i++)
		arr = append(arr, iface_to_json(&res->ifaces[i], socket));
	return arr;
}

static json_t *ips_to_json(const struct zh_result *res, bool legacy)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr && i < res->n_ips; i++)
		arr = append(arr, ip_to_json(&res->ips[i], legacy));
	return arr;
}

static json_t *routes_to_json(const struct zh_result *res)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr && i < res->n_routes; i++)
		arr = append(arr, route_to_json(&res->routes[i]));
	return arr;
}

json_t *zh_result_to_json(const struct zh_result *res, const char *cni_version)
{
	bool legacy, socket;
	json_t *j;

	if (!cni_version)
		cni_version = ZH_CNI_SPEC_VERSION;
	if (!res || !zh_cni_version_supported(cni_version) ||
	    res->n_ifaces < 0 || res->n_ifaces > ZH_CNI_MAX_IFACES ||
	    res->n_ips < 0 || res->n_ips > ZH_CNI_MAX_IPS ||
	    res->n_routes < 0 || res->n_routes > ZH_CNI_MAX_ROUTES) {
		errno = EINVAL;
		return NULL;
	}
	/* 1.0.0 dropped ips[].version; every 0.x we speak has it. */
	legacy = cni_version[0] == '0';
	/* socketPath is new in 1.1.0: a result of an older version has none. */
	socket = !strcmp(cni_version, "1.1.0");

	j = json_pack("{s:s}", "cniVersion", cni_version);
	if (!j)
		goto err_nomem;
	if (put_array(j, "interfaces", ifaces_to_json(res, socket)) ||
	    put_array(j, "ips", ips_to_json(res, legacy)) ||
	    put_array(j, "routes", routes_to_json(res)))
		goto err_json;
	if (json_is_object(res->dns) && json_object_size(res->dns) &&
	    put(j, "dns", json_deep_copy(res->dns)))
		goto err_json;
	return j;

err_json:
	json_decref(j);
err_nomem:
	errno = ENOMEM;
	return NULL;
}
