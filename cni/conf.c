// SPDX-License-Identifier: Apache-2.0
/*
 * conf.c - the network configuration a runtime writes to our stdin. We keep
 * the parsed document (every string in struct zh_netconf points into it) and
 * a verbatim copy of the bytes for the IPAM plugin.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cni.h"
#include "kfeatures.h"
#include "xsk_srv.h"

/* A short rendering of any JSON value for messages: "xdp", 12, {...}. */
static const char *value_text(json_t *v, char *buf, size_t size)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	snprintf(buf, size, "%s", s ? s : "?");
	free(s);
	return buf;
}

static int conf_err(struct zh_cni_err *err, int code, const char *details,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Like zh_cni_err_set() with a formatted msg and plain details (or NULL). */
static int conf_err(struct zh_cni_err *err, int code, const char *details,
		    const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (details)
		return zh_cni_err_set(err, code, msg, "%s", details);
	return zh_cni_err_set(err, code, msg, NULL);
}

/* A required non-empty string member of obj; where names obj in messages. */
static int req_str(json_t *obj, const char *where, const char *key,
		   const char **out, struct zh_cni_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return conf_err(
			err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
			"%s%s is missing from the network configuration", where,
			key);
	if (!json_is_string(v))
		return conf_err(err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
				"%s%s must be a string", where, key);
	if (!json_string_length(v))
		return conf_err(err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
				"%s%s must not be empty", where, key);
	*out = json_string_value(v);
	return 0;
}

/* Present and not JSON null: null counts as absent, as in the reference. */
static json_t *opt_get(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

static int parse_mtu(struct zh_netconf *conf, struct zh_cni_err *err)
{
	json_t *v = opt_get(conf->root, "mtu");
	char text[64];

	conf->mtu = ZH_NETCONF_MTU_DEFAULT;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < ZH_NETCONF_MTU_MIN ||
	    json_integer_value(v) > ZH_NETCONF_MTU_MAX)
		return zh_cni_err_set(err, ZH_CNI_ERR_INVALID_CONFIG,
				      "mtu must be an integer from 68 to 65535",
				      "mtu is %s",
				      value_text(v, text, sizeof(text)));
	conf->mtu = (unsigned int)json_integer_value(v);
	return 0;
}

static int parse_datapath(struct zh_netconf *conf, struct zh_cni_err *err)
{
	json_t *v = opt_get(conf->root, "datapath");
	const char *s = json_string_value(v);
	char text[64];

	conf->datapath = ZH_DATAPATH_TC;
	if (!v)
		return 0;
	if (s && !strcmp(s, "tc"))
		return 0;
	if (s && !strcmp(s, "xdp")) {
		conf->datapath = ZH_DATAPATH_XDP;
		return 0;
	}
	return conf_err(
		err, ZH_CNI_ERR_UNSUPPORTED_FIELD, NULL,
		"unsupported value %s for \"datapath\" (want \"tc\" or \"xdp\")",
		value_text(v, text, sizeof(text)));
}

static int afxdp_err(struct zh_cni_err *err, const char *where, json_t *v,
		     const char *want)
{
	char text[64];

	return conf_err(err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
			"%s is %s: want %s", where,
			v ? value_text(v, text, sizeof(text)) : "missing",
			want);
}

static int parse_steer(struct zh_afxdp_conf *a, json_t *steer, const char *in,
		       struct zh_cni_err *err)
{
	char where[96];
	size_t i;
	json_t *r;

	snprintf(where, sizeof(where), "%s.steer", in);
	if (!json_is_array(steer) || !json_array_size(steer) ||
	    json_array_size(steer) > ZH_XSK_MAX_STEER)
		return afxdp_err(
			err, where, steer,
			"an array of 1 to 8 {\"proto\", \"port\"} rules");
	json_array_foreach (steer, i, r) {
		json_t *proto = json_object_get(r, "proto");
		json_t *port = opt_get(r, "port");
		const char *ps = json_string_value(proto);
		struct zh_steer_rule *rule = &a->steer[a->nsteer];

		snprintf(where, sizeof(where), "%s.steer[%zu]", in, i);
		if (!json_is_object(r) || json_object_size(r) > 2 ||
		    (json_object_size(r) == 2 && !json_object_get(r, "port")))
			return afxdp_err(
				err, where, r,
				"{\"proto\": \"udp\"|\"tcp\", \"port\": 1..65535}");
		memset(rule, 0, sizeof(*rule));
		if (ps && !strcmp(ps, "udp"))
			rule->proto = IPPROTO_UDP;
		else if (ps && !strcmp(ps, "tcp"))
			rule->proto = IPPROTO_TCP;
		else
			return afxdp_err(err, strcat(where, ".proto"), proto,
					 "\"udp\" or \"tcp\"");
		/* No port: every port of the protocol. */
		if (port &&
		    (!json_is_integer(port) || json_integer_value(port) < 1 ||
		     json_integer_value(port) > 65535))
			return afxdp_err(
				err, strcat(where, ".port"), port,
				"1..65535 (leave it out for every port)");
		rule->port = port ? htons((__u16)json_integer_value(port)) : 0;
		for (unsigned int k = 0; k < a->nsteer; k++)
			if (a->steer[k].proto == rule->proto &&
			    a->steer[k].port == rule->port)
				return afxdp_err(err, where, r,
						 "each rule once");
		a->nsteer++;
	}
	return 0;
}

/* One "afxdp" value: false (off), or the object. */
static int parse_afxdp_obj(struct zh_afxdp_conf *a, json_t *v, const char *in,
			   struct zh_cni_err *err)
{
	static const char *const keys[] = { "queues", "steer", "xdpMode",
					    "socketPath" };
	char where[96];
	const char *key, *s;
	json_t *m;

	memset(a, 0, sizeof(*a));
	if (json_is_false(v))
		return 0;
	if (!json_is_object(v))
		return afxdp_err(err, in, v, "false or an object");
	json_object_foreach (v, key, m) {
		size_t k = 0;

		while (k < sizeof(keys) / sizeof(keys[0]) &&
		       strcmp(key, keys[k]))
			k++;
		if (k == sizeof(keys) / sizeof(keys[0]))
			return conf_err(
				err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
				"unknown key \"%.32s\" in %s (known: queues, steer, xdpMode, socketPath)",
				key, in);
	}
	a->queues = 1;
	m = opt_get(v, "queues");
	snprintf(where, sizeof(where), "%s.queues", in);
	if (m && (!json_is_integer(m) || json_integer_value(m) < 1 ||
		  json_integer_value(m) > ZH_XSK_MAX_QUEUES))
		return afxdp_err(err, where, m, "an integer from 1 to 16");
	if (m)
		a->queues = (unsigned int)json_integer_value(m);
	if (parse_steer(a, json_object_get(v, "steer"), in, err))
		return -1;
	/* Native only: generic XDP never sees a frame our tc entry
	 * redirected (the kernel passes tc-redirected skbs by it), so it
	 * would steer only what the kernel routed, without a word. */
	m = opt_get(v, "xdpMode");
	s = json_string_value(m);
	snprintf(where, sizeof(where), "%s.xdpMode", in);
	if (m && s && !strcmp(s, "generic"))
		return conf_err(
			err, ZH_CNI_ERR_INVALID_CONFIG,
			"generic XDP skips every frame a tc program redirected, which is how zerohop delivers; veth runs XDP natively",
			"%s is \"generic\": unsupported, use \"native\"",
			where);
	if (m && !(s && !strcmp(s, "native")))
		return afxdp_err(err, where, m, "\"native\"");
	m = opt_get(v, "socketPath");
	s = json_string_value(m);
	snprintf(where, sizeof(where), "%s.socketPath", in);
	if (m && !(s && s[0] == '/' && strlen(s) < ZH_AFXDP_SOCKET_LEN))
		return afxdp_err(err, where, m,
				 "an absolute path shorter than 108 bytes");
	snprintf(a->socket_path, sizeof(a->socket_path), "%s",
		 s ? s : zh_xsk_socket_default());
	return 0;
}

/* The network's "afxdp", unless the runtime's args.cni.afxdp (one pod)
 * says otherwise. */
static int parse_afxdp(struct zh_netconf *conf, struct zh_cni_err *err)
{
	json_t *args = opt_get(conf->root, "args");
	json_t *cni = json_is_object(args) ? opt_get(args, "cni") : NULL;
	json_t *pod = json_is_object(cni) ? opt_get(cni, "afxdp") : NULL;
	json_t *net = opt_get(conf->root, "afxdp");

	if (pod)
		return parse_afxdp_obj(&conf->afxdp, pod, "args.cni.afxdp",
				       err);
	if (net)
		return parse_afxdp_obj(&conf->afxdp, net, "afxdp", err);
	return 0;
}

static int parse_ipam(struct zh_netconf *conf, struct zh_cni_err *err)
{
	json_t *ipam = opt_get(conf->root, "ipam");

	if (!ipam)
		return conf_err(
			err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
			"ipam is missing from the network configuration");
	if (!json_is_object(ipam))
		return conf_err(err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
				"ipam must be an object");
	return req_str(ipam, "ipam.", "type", &conf->ipam_type, err);
}

static int parse_doc(struct zh_netconf *conf, struct zh_cni_err *err)
{
	json_t *root = conf->root;

	if (req_str(root, "", "cniVersion", &conf->cni_version, err))
		return -1;
	if (!zh_cni_version_supported(conf->cni_version)) {
		char details[128];

		snprintf(details, sizeof(details),
			 "config is \"%.64s\", plugin supports [%s]",
			 conf->cni_version, zh_cni_versions_list());
		return conf_err(
			err, ZH_CNI_ERR_INCOMPATIBLE, details,
			"unsupported CNI version \"%s\" (supported: %s)",
			conf->cni_version, zh_cni_versions_list());
	}
	if (req_str(root, "", "name", &conf->name, err) ||
	    req_str(root, "", "type", &conf->type, err))
		return -1;
	if (!zh_cni_name_valid(conf->name))
		return zh_cni_err_set(
			err, ZH_CNI_ERR_INVALID_CONFIG,
			"invalid characters in network name",
			"name \"%s\" must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$",
			conf->name);
	if (parse_mtu(conf, err) || parse_datapath(conf, err) ||
	    parse_afxdp(conf, err) || parse_ipam(conf, err))
		return -1;

	conf->prev_result = opt_get(root, "prevResult");
	if (conf->prev_result && !json_is_object(conf->prev_result))
		return conf_err(err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
				"prevResult must be an object");
	return 0;
}

int zh_netconf_parse(const char *buf, size_t len, struct zh_netconf *conf,
		     struct zh_cni_err *err)
{
	json_error_t jerr;

	memset(conf, 0, sizeof(*conf));
	if (!buf || !len)
		return zh_cni_err_set(err, ZH_CNI_ERR_DECODE,
				      "empty network configuration on stdin",
				      NULL);

	conf->root = json_loadb(buf, len, 0, &jerr);
	if (!conf->root)
		return conf_err(
			err, ZH_CNI_ERR_DECODE, NULL,
			"invalid network configuration JSON: line %d, column %d: %s",
			jerr.line, jerr.column, jerr.text);
	if (!json_is_object(conf->root)) {
		zh_cni_err_set(err, ZH_CNI_ERR_DECODE,
			       "network configuration must be a JSON object",
			       NULL);
		goto err_root;
	}
	if (parse_doc(conf, err))
		goto err_root;

	conf->raw = malloc(len + 1);
	if (!conf->raw) {
		zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL, "out of memory",
			       "copying %zu bytes of configuration", len);
		goto err_root;
	}
	memcpy(conf->raw, buf, len);
	conf->raw[len] = '\0';
	conf->raw_len = len;
	return 0;

err_root:
	zh_netconf_free(conf);
	return -1;
}

void zh_netconf_free(struct zh_netconf *conf)
{
	if (!conf)
		return;
	json_decref(conf->root);
	free(conf->raw);
	memset(conf, 0, sizeof(*conf));
}

/* GC's list of attachments to keep, and the name spec-v1.1.0 gave it. */
#define VALID_KEY "cni.dev/valid-attachments"
#define LEGACY_KEY "cni.dev/attachments"

/* A non-empty string member of an attachment entry. */
static int attachment_str(json_t *e, const char *list, size_t i,
			  const char *key, const char **out,
			  struct zh_cni_err *err)
{
	json_t *v = json_object_get(e, key);
	char text[64];

	if (json_is_string(v) && json_string_length(v)) {
		*out = json_string_value(v);
		return 0;
	}
	if (!v)
		return conf_err(err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
				"%s[%zu].%s is missing", list, i, key);
	return conf_err(err, ZH_CNI_ERR_INVALID_CONFIG,
			value_text(v, text, sizeof(text)),
			"%s[%zu].%s must be a non-empty string", list, i, key);
}

int zh_netconf_attachments(const struct zh_netconf *conf,
			   struct zh_attachments *out, struct zh_cni_err *err)
{
	const char *list = VALID_KEY;
	char text[64];
	json_t *v, *e;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!conf || !conf->root)
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
				      "no network configuration", NULL);
	/*
	 * Reading only the corrected name would turn a runtime that follows
	 * the tagged spec text into one asking us to remove every attachment.
	 */
	if (!json_object_get(conf->root, VALID_KEY) &&
	    json_object_get(conf->root, LEGACY_KEY))
		list = LEGACY_KEY;
	/* libcni sends null for an empty list (a nil Go slice). */
	v = opt_get(conf->root, list);
	if (!v)
		return 0;
	if (!json_is_array(v))
		return conf_err(err, ZH_CNI_ERR_INVALID_CONFIG,
				value_text(v, text, sizeof(text)),
				"%s must be an array of {containerID, ifname}",
				list);
	if (!json_array_size(v))
		return 0;
	out->v = calloc(json_array_size(v), sizeof(*out->v));
	if (!out->v)
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL, "out of memory",
				      "%zu attachments", json_array_size(v));
	json_array_foreach (v, i, e) {
		if (!json_is_object(e)) {
			conf_err(err, ZH_CNI_ERR_INVALID_CONFIG,
				 value_text(e, text, sizeof(text)),
				 "%s[%zu] must be an object", list, i);
			goto err_free;
		}
		if (attachment_str(e, list, i, "containerID",
				   &out->v[i].container_id, err) ||
		    attachment_str(e, list, i, "ifname", &out->v[i].ifname,
				   err))
			goto err_free;
		out->n++;
	}
	return 0;

err_free:
	zh_attachments_free(out);
	return -1;
}

void zh_attachments_free(struct zh_attachments *a)
{
	if (!a)
		return;
	free(a->v);
	memset(a, 0, sizeof(*a));
}

int zh_netconf_allows(const struct zh_netconf *conf, enum zh_cni_cmd cmd,
		      struct zh_cni_err *err)
{
	char details[128];

	if (cmd != ZH_CNI_STATUS && cmd != ZH_CNI_GC)
		return 0;
	/* 1.1.0 is the newest we speak, so "1.1.0 or later" is "1.1.0". */
	if (conf->cni_version && !strcmp(conf->cni_version, "1.1.0"))
		return 0;
	snprintf(details, sizeof(details),
		 "cniVersion is \"%.32s\"; %s came with CNI 1.1.0",
		 conf->cni_version ? conf->cni_version : "",
		 zh_cni_cmd_name(cmd));
	return conf_err(err, ZH_CNI_ERR_INCOMPATIBLE, details,
			"config version does not allow %s",
			zh_cni_cmd_name(cmd));
}

int zh_netconf_kernel_check(const struct zh_netconf *conf,
			    const struct zh_kfeat *f, int code,
			    struct zh_cni_err *err)
{
	enum zh_use use = conf->datapath == ZH_DATAPATH_XDP ? ZH_USE_XDP :
							      ZH_USE_TC;
	int missing = zh_use_missing(f, use);

	if (missing < 0 && conf->afxdp.queues) {
		use = ZH_USE_AFXDP;
		missing = zh_use_missing(f, use);
	}
	if (missing < 0)
		return 0;
	return zh_cni_err_set(
		err, code,
		use == ZH_USE_AFXDP ?
			"\"afxdp\" (AF_XDP pods) cannot work on this node's kernel" :
		use == ZH_USE_XDP ?
			"\"datapath\": \"xdp\" cannot work on this node's kernel" :
			"\"datapath\": \"tc\" cannot work on this node's kernel",
		"missing kernel feature %s (%s); `zerohopctl features` lists what this kernel has",
		zh_feat_name(missing), zh_feat_doc(missing)->what);
}
