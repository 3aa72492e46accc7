// SPDX-License-Identifier: Apache-2.0
/*
 * svc_ours.c - our services file (svc_ours.h, svc.h): one service per
 * entry, in the order given, its backends in the order given. Messages
 * name the entry and the field the way the document does:
 * "services[2].backends[0].port: ...".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "svc_ours.h"

#define PORT_RANGE 1, 65535, "a port (1-65535)"
#define TIMEOUT_RANGE 1, ZH_SVC_AFFINITY_MAX, "a timeout (1-86400 s)"
#define AFFINITY_WANT "\"clientIP\", \"none\" or {\"clientIP\": seconds}"

/* "clientIP" (10800 s), "none", or {"clientIP": seconds}. */
static int ours_affinity(const json_t *obj, const char *where,
			 uint32_t *timeout, struct zh_json_err *e)
{
	static const char *const words[] = { "none", "clientIP", NULL };
	static const char *const keys[] = { "clientIP", NULL };
	json_t *v = zh_json_get(obj, "affinity");
	char at[ZH_JSON_PATH_MAX];
	long long t;
	int w, rc;

	*timeout = 0;
	if (!v)
		return 0;
	if (json_is_string(v)) {
		rc = zh_json_enum(obj, where, "affinity", ZH_JSON_ICASE, words,
				  AFFINITY_WANT, &w, e);
		if (!rc && w)
			*timeout = ZH_SVC_AFFINITY_DEFAULT;
		return rc;
	}
	if (!json_is_object(v))
		return zh_json_bad(e, where, "affinity", v, AFFINITY_WANT);
	zh_json_path(at, sizeof(at), where, "affinity");
	rc = zh_json_strict(v, at, keys, e);
	if (!rc)
		rc = zh_json_int(v, at, "clientIP", ZH_JSON_REQUIRED,
				 TIMEOUT_RANGE, &t, e);
	if (rc)
		return rc;
	*timeout = (uint32_t)t;
	return 0;
}

static int ours_backend(const json_t *v, const char *where, uint16_t svc_port,
			struct zh_svc_backend *be, struct zh_json_err *e)
{
	static const char *const keys[] = { "ip",    "port",  "weight",
					    "state", "local", NULL };
	static const char *const states[] = { "ready", "terminating", NULL };
	long long port = svc_port, weight = 1;
	int state = ZH_EP_READY, rc;
	bool local = false;
	const char *s;

	rc = zh_json_check(v, where, JSON_OBJECT, e);
	if (!rc)
		rc = zh_json_strict(v, where, keys, e);
	if (!rc)
		rc = zh_json_str(v, where, "ip", ZH_JSON_REQUIRED, &s, e);
	if (rc)
		return rc;
	if (zh_svc_ip_parse(s, &be->addr))
		return zh_json_bad(e, where, "ip", zh_json_get(v, "ip"),
				   "an IP address");
	rc = zh_json_int(v, where, "port", 0, PORT_RANGE, &port, e);
	if (!rc)
		rc = zh_json_int(v, where, "weight", 0, 0, 65535,
				 "a weight (0-65535)", &weight, e);
	/* The index of the word is the state. */
	if (!rc)
		rc = zh_json_enum(v, where, "state", ZH_JSON_ICASE, states,
				  "\"ready\" or \"terminating\"", &state, e);
	if (!rc)
		rc = zh_json_bool(v, where, "local", 0, &local, e);
	if (rc)
		return rc;
	be->port = (uint16_t)port;
	be->weight = (uint16_t)weight;
	be->state = (uint8_t)state;
	/* The node port's weight: its own table only with
	 * externalTrafficPolicy "local" (ours_service()). */
	be->np_weight = local ? (uint16_t)weight : 0;
	return 0;
}

static int ours_service(const json_t *v, size_t idx, struct zh_svc_build *b,
			struct zh_json_err *e)
{
	static const char *const keys[] = { "name",	"vip",
					    "port",	"proto",
					    "nodePort", "externalTrafficPolicy",
					    "affinity", "backends",
					    NULL };
	static const char *const policies[] = { "cluster", "local", NULL };
	int etp = 0;
	static const char *const protos[] = { "tcp", "udp", NULL };
	char where[32], at[64], origin[ZH_SVC_ORIGIN_MAX], name_what[32];
	struct zh_service s = { 0 };
	long long port, nodeport = 0;
	json_t *backends, *bv;
	int proto = 0, rc;
	const char *str;
	size_t i;

	snprintf(where, sizeof(where), "services[%zu]", idx);
	rc = zh_json_check(v, where, JSON_OBJECT, e);
	if (!rc)
		rc = zh_json_strict(v, where, keys, e);
	if (!rc)
		rc = zh_json_str(v, where, "vip", ZH_JSON_REQUIRED, &str, e);
	if (rc)
		return rc;
	if (zh_svc_ip_parse(str, &s.vip))
		return zh_json_bad(e, where, "vip", zh_json_get(v, "vip"),
				   "an IP address");
	rc = zh_json_int(v, where, "port", ZH_JSON_REQUIRED, PORT_RANGE, &port,
			 e);
	if (!rc)
		rc = zh_json_enum(v, where, "proto", ZH_JSON_ICASE, protos,
				  "tcp or udp", &proto, e);
	if (!rc)
		rc = zh_json_int(v, where, "nodePort", 0, PORT_RANGE, &nodeport,
				 e);
	if (rc)
		return rc;
	rc = zh_json_enum(v, where, "externalTrafficPolicy", ZH_JSON_ICASE,
			  policies, "\"cluster\" or \"local\"", &etp, e);
	if (rc)
		return rc;
	s.port = (uint16_t)port;
	s.proto = proto ? IPPROTO_UDP : IPPROTO_TCP;
	s.nodeport = (uint16_t)nodeport;
	/* Local: the node port balances over the "local" backends only. */
	s.etp_local = s.np_own = etp == 1;
	rc = ours_affinity(v, where, &s.affinity_timeout, e);
	if (rc)
		return rc;

	snprintf(name_what, sizeof(name_what), "a name (1-%zu bytes)",
		 sizeof(s.name) - 1);
	rc = zh_json_str(v, where, "name", 0, &str, e);
	if (rc)
		return rc;
	if (str && (!str[0] || strlen(str) >= sizeof(s.name)))
		return zh_json_bad(e, where, "name", zh_json_get(v, "name"),
				   name_what);
	if (str)
		snprintf(s.name, sizeof(s.name), "%s", str);
	else
		zh_svc_addr_str(&s.vip, s.port, s.proto, s.name,
				sizeof(s.name));

	rc = zh_json_array(v, where, "backends", 0, &backends, e);
	if (rc)
		return rc;
	if (backends && json_array_size(backends)) {
		s.backends =
			calloc(json_array_size(backends), sizeof(*s.backends));
		if (!s.backends)
			return -ENOMEM;
		json_array_foreach (backends, i, bv) {
			zh_json_path(at, sizeof(at), where, "backends[%zu]", i);
			rc = ours_backend(bv, at, s.port, &s.backends[i], e);
			if (rc) {
				free(s.backends);
				return rc;
			}
		}
		s.n_backends = json_array_size(backends);
	}
	snprintf(where, sizeof(where), "services[%zu].", idx);
	snprintf(origin, sizeof(origin), "services[%zu] (\"%s\")", idx, s.name);
	return zh_svc_build_add(b, &s, where, origin, e->buf, e->len);
}

int zh_svc_ours_parse(const json_t *root, struct zh_svc_build *b, char *err,
		      size_t errlen)
{
	static const char *const keys[] = { "services", NULL };
	struct zh_json_err e = { .buf = err, .len = errlen };
	json_t *services, *v;
	size_t i;
	int rc;

	rc = zh_json_strict(root, "the document", keys, &e);
	if (rc)
		return rc;
	services = json_object_get(root, "services");
	if (!json_is_array(services))
		return zh_errf(err, errlen, -EINVAL, "services: not an array");
	json_array_foreach (services, i, v) {
		rc = ours_service(v, i, b, &e);
		if (rc)
			return rc;
	}
	return 0;
}
