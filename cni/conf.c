// SPDX-License-Identifier: Apache-2.0
/*
 * conf.c - the network configuration a runtime writes to our stdin. We keep
 * the parsed document (every string in struct zh_netconf points into it) and
 * a verbatim copy of the bytes for the IPAM plugin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cni.h"
#include "json.h"
#include "kfeatures.h"
#include "xsk_srv.h"

/*
 * A member of the configuration the JSON accessors refused, as the spec's
 * code 7; a missing one says where it is missing from.
 */
static int conf_json_err(struct zh_cni_err *err, const struct zh_json_err *je)
{
	if (je->fault == ZH_JSON_MISSING)
		return zh_cni_errf(
			err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
			"%s is missing from the network configuration",
			je->path);
	return zh_cni_json_err(err, ZH_CNI_ERR_INVALID_CONFIG, je);
}

static int parse_mtu(struct zh_netconf *conf, struct zh_cni_err *err)
{
	long long mtu = ZH_NETCONF_MTU_DEFAULT;
	struct zh_json_err je = { 0 };
	char text[64];

	if (zh_json_int(conf->root, "", "mtu", 0, ZH_NETCONF_MTU_MIN,
			ZH_NETCONF_MTU_MAX, "an integer from 68 to 65535", &mtu,
			&je))
		return zh_cni_err_set(
			err, ZH_CNI_ERR_INVALID_CONFIG,
			"mtu must be an integer from 68 to 65535", "mtu is %s",
			zh_json_text(je.value, text, sizeof(text)));
	conf->mtu = (unsigned int)mtu;
	return 0;
}

/* "routing": "native" (default) or "vxlan"; "vxlanDevice". Only the MTU
 * depends on it here: the agent does the routing. */
static int parse_routing(struct zh_netconf *conf, struct zh_cni_err *err)
{
	static const char *const words[] = { "native", "vxlan", NULL };
	struct zh_json_err je = { 0 };
	const char *dev = NULL;
	int routing = 0;
	char text[64];

	if (zh_json_enum(conf->root, "", "routing", 0, words,
			 "\"native\" or \"vxlan\"", &routing, &je))
		return zh_cni_errf(
			err, ZH_CNI_ERR_UNSUPPORTED_FIELD, NULL,
			"unsupported value %s for \"routing\" (want \"native\" or \"vxlan\")",
			zh_json_text(je.value, text, sizeof(text)));
	if (zh_json_str(conf->root, "", "vxlanDevice", 0, &dev, &je) ||
	    (dev && (!dev[0] || strlen(dev) >= sizeof(conf->vxlan_dev))))
		return zh_cni_err_set(err, ZH_CNI_ERR_INVALID_CONFIG,
				      "vxlanDevice must be an interface name",
				      NULL);
	snprintf(conf->vxlan_dev, sizeof(conf->vxlan_dev), "%s",
		 dev ? dev : "zh-vxlan");
	conf->mtu_from_vxlan = routing == 1 &&
			       !json_object_get(conf->root, "mtu");
	return 0;
}

static int parse_datapath(struct zh_netconf *conf, struct zh_cni_err *err)
{
	/* In the order of enum zh_datapath. */
	static const char *const words[] = { "tc", "xdp", NULL };
	struct zh_json_err je = { 0 };
	int dp = ZH_DATAPATH_TC;
	char text[64];

	_Static_assert(ZH_DATAPATH_TC == 0 && ZH_DATAPATH_XDP == 1,
		       "words[] follows enum zh_datapath");
	if (zh_json_enum(conf->root, "", "datapath", 0, words,
			 "\"tc\" or \"xdp\"", &dp, &je))
		return zh_cni_errf(
			err, ZH_CNI_ERR_UNSUPPORTED_FIELD, NULL,
			"unsupported value %s for \"datapath\" (want \"tc\" or \"xdp\")",
			zh_json_text(je.value, text, sizeof(text)));
	conf->datapath = (enum zh_datapath)dp;
	return 0;
}

/* "device": "veth" (default), "netkit" or "auto". netkit has no XDP: an
 * XDP-mode or AF_XDP pod (after args, parse_afxdp()) needs a veth, which
 * "auto" takes for it and "netkit" refuses. */
static int parse_device(struct zh_netconf *conf, struct zh_cni_err *err)
{
	/* In the order of enum zh_device. */
	static const char *const words[] = { "veth", "netkit", "auto", NULL };
	struct zh_json_err je = { 0 };
	int dev = ZH_DEVICE_VETH;
	char text[64];

	if (zh_json_enum(conf->root, "", "device", 0, words,
			 "\"veth\", \"netkit\" or \"auto\"", &dev, &je))
		return zh_cni_errf(
			err, ZH_CNI_ERR_UNSUPPORTED_FIELD, NULL,
			"unsupported value %s for \"device\" (want \"veth\", \"netkit\" or \"auto\")",
			zh_json_text(je.value, text, sizeof(text)));
	conf->device = (enum zh_device)dev;
	if (conf->device != ZH_DEVICE_NETKIT)
		return 0;
	if (conf->datapath == ZH_DATAPATH_XDP)
		return zh_cni_err_set(
			err, ZH_CNI_ERR_INVALID_CONFIG,
			"\"device\": \"netkit\" cannot run \"datapath\": \"xdp\"",
			"netkit devices have no XDP: use \"device\": \"veth\" or \"auto\" (which gives XDP pods a veth)");
	if (conf->afxdp.queues)
		return zh_cni_err_set(
			err, ZH_CNI_ERR_INVALID_CONFIG,
			"\"device\": \"netkit\" cannot carry AF_XDP sockets",
			"netkit devices have no XDP, which AF_XDP pods need: use \"device\": \"veth\" or \"auto\" (which gives AF_XDP pods a veth)");
	return 0;
}

static int afxdp_err(struct zh_cni_err *err, const char *where, const json_t *v,
		     const char *want)
{
	char text[64];

	return zh_cni_errf(err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
			   "%s is %s: want %s", where,
			   v ? zh_json_text(v, text, sizeof(text)) : "missing",
			   want);
}

#define RULE_WANT "{\"proto\": \"udp\"|\"tcp\", \"port\": 1..65535}"
#define PORT_WANT "1..65535 (leave it out for every port)"

static int parse_steer(struct zh_afxdp_conf *a, const json_t *obj,
		       const char *in, struct zh_cni_err *err)
{
	static const char *const keys[] = { "proto", "port", NULL };
	static const char *const protos[] = { "udp", "tcp", NULL };
	static const __u8 ipprotos[] = { IPPROTO_UDP, IPPROTO_TCP };
	struct zh_json_err je = { 0 };
	char where[96];
	json_t *steer, *r;
	size_t i;

	snprintf(where, sizeof(where), "%s.steer", in);
	if (zh_json_array(obj, in, "steer", ZH_JSON_REQUIRED | ZH_JSON_NONNULL,
			  &steer, &je) ||
	    !json_array_size(steer) ||
	    json_array_size(steer) > ZH_XSK_MAX_STEER)
		return afxdp_err(
			err, where, steer ? steer : je.value,
			"an array of 1 to 8 {\"proto\", \"port\"} rules");
	json_array_foreach (steer, i, r) {
		struct zh_steer_rule *rule = &a->steer[a->nsteer];
		long long port = 0; /* none: every port of the protocol */
		int proto = 0;

		snprintf(where, sizeof(where), "%s.steer[%zu]", in, i);
		if (zh_json_check(r, where, JSON_OBJECT, &je) ||
		    zh_json_strict(r, where, keys, &je))
			return afxdp_err(err, where, r, RULE_WANT);
		if (zh_json_enum(r, where, "proto",
				 ZH_JSON_REQUIRED | ZH_JSON_NONNULL, protos,
				 "\"udp\" or \"tcp\"", &proto, &je))
			return afxdp_err(err, je.path, je.value,
					 "\"udp\" or \"tcp\"");
		if (zh_json_int(r, where, "port", 0, 1, 65535, PORT_WANT, &port,
				&je))
			return afxdp_err(err, je.path, je.value, PORT_WANT);
		memset(rule, 0, sizeof(*rule));
		rule->proto = ipprotos[proto];
		rule->port = htons((__u16)port);
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
static int parse_afxdp_obj(struct zh_afxdp_conf *a, const json_t *v,
			   const char *in, struct zh_cni_err *err)
{
	static const char *const keys[] = { "queues", "steer", "xdpMode",
					    "socketPath", NULL };
	static const char *const modes[] = { "native", "generic", NULL };
	struct zh_json_err je = { 0 };
	long long queues = 1;
	char where[96];
	const char *s;
	int mode = 0;

	memset(a, 0, sizeof(*a));
	if (json_is_false(v))
		return 0;
	if (!json_is_object(v))
		return afxdp_err(err, in, v, "false or an object");
	if (zh_json_strict(v, in, keys, &je))
		return zh_cni_errf(
			err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
			"unknown key \"%.32s\" in %s (known: queues, steer, xdpMode, socketPath)",
			je.key, in);
	if (zh_json_int(v, in, "queues", 0, 1, ZH_XSK_MAX_QUEUES,
			"an integer from 1 to 16", &queues, &je))
		return afxdp_err(err, je.path, je.value, je.want);
	a->queues = (unsigned int)queues;
	if (parse_steer(a, v, in, err))
		return -1;
	/* Native only: generic XDP never sees a frame our tc entry
	 * redirected (the kernel passes tc-redirected skbs by it), so it
	 * would steer only what the kernel routed, without a word. */
	if (zh_json_enum(v, in, "xdpMode", 0, modes, "\"native\"", &mode, &je))
		return afxdp_err(err, je.path, je.value, "\"native\"");
	if (mode == 1)
		return zh_cni_errf(
			err, ZH_CNI_ERR_INVALID_CONFIG,
			"generic XDP skips every frame a tc program redirected, which is how zerohop delivers; veth runs XDP natively",
			"%s is \"generic\": unsupported, use \"native\"",
			zh_json_path(where, sizeof(where), in, "xdpMode"));
	if (zh_json_str(v, in, "socketPath", 0, &s, &je))
		return afxdp_err(err, je.path, je.value,
				 "an absolute path shorter than 108 bytes");
	if (s && !(s[0] == '/' && strlen(s) < ZH_AFXDP_SOCKET_LEN))
		return afxdp_err(err,
				 zh_json_path(where, sizeof(where), in,
					      "socketPath"),
				 zh_json_get(v, "socketPath"),
				 "an absolute path shorter than 108 bytes");
	snprintf(a->socket_path, sizeof(a->socket_path), "%s",
		 s ? s : zh_xsk_socket_default());
	return 0;
}

/*
 * What the network lets one pod ask for in args.cni.afxdp: "afxdpPods":
 * {"allow": true|false (default true), "maxQueues": 1..16 (default
 * ZH_AFXDP_POD_QUEUES)}. The slots are the node's (ZH_XSK_SLOTS): pods
 * asking for 16 queues each would take them all.
 */
static int parse_pod_policy(const json_t *root, bool *allow, long long *maxq,
			    struct zh_cni_err *err)
{
	static const char *const keys[] = { "allow", "maxQueues", NULL };
	struct zh_json_err je = { 0 };
	json_t *pol = zh_json_get(root, "afxdpPods");

	*allow = true;
	*maxq = ZH_AFXDP_POD_QUEUES;
	if (!pol)
		return 0;
	if (!json_is_object(pol))
		return afxdp_err(err, "afxdpPods", pol,
				 "{\"allow\": bool, \"maxQueues\": 1..16}");
	if (zh_json_strict(pol, "afxdpPods", keys, &je))
		return zh_cni_errf(
			err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
			"unknown key \"%.32s\" in afxdpPods (known: allow, maxQueues)",
			je.key);
	if (zh_json_bool(pol, "afxdpPods", "allow", 0, allow, &je))
		return afxdp_err(err, je.path, je.value, "true or false");
	if (zh_json_int(pol, "afxdpPods", "maxQueues", 0, 1, ZH_XSK_MAX_QUEUES,
			"an integer from 1 to 16", maxq, &je))
		return afxdp_err(err, je.path, je.value, je.want);
	return 0;
}

/* The network's "afxdp", unless the runtime's args.cni.afxdp (one pod)
 * says otherwise, as far as "afxdpPods" lets it. */
static int parse_afxdp(struct zh_netconf *conf, struct zh_cni_err *err)
{
	/* zh_json_get() of what is no object is NULL: other args are ok. */
	json_t *cni = zh_json_get(zh_json_get(conf->root, "args"), "cni");
	json_t *pod = zh_json_get(cni, "afxdp");
	json_t *net = zh_json_get(conf->root, "afxdp");
	long long maxq;
	bool allow;

	if (parse_pod_policy(conf->root, &allow, &maxq, err))
		return -1;
	/* Opting out (false) is always a pod's to say. */
	if (pod && !json_is_false(pod) && !allow)
		return zh_cni_errf(
			err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
			"args.cni.afxdp: this network does not let a pod ask for AF_XDP (afxdpPods.allow is false)");
	if (pod) {
		if (parse_afxdp_obj(&conf->afxdp, pod, "args.cni.afxdp", err))
			return -1;
		if (conf->afxdp.queues > maxq)
			return zh_cni_errf(
				err, ZH_CNI_ERR_INVALID_CONFIG, NULL,
				"args.cni.afxdp.queues is %u: this network lets a pod ask for at most %lld (afxdpPods.maxQueues)",
				conf->afxdp.queues, maxq);
		return 0;
	}
	if (net)
		return parse_afxdp_obj(&conf->afxdp, net, "afxdp", err);
	return 0;
}

static int parse_doc(struct zh_netconf *conf, struct zh_cni_err *err)
{
	const unsigned int str = ZH_JSON_REQUIRED | ZH_JSON_NONEMPTY;
	struct zh_json_err je = { 0 };
	json_t *root = conf->root, *ipam;

	if (zh_json_str(root, "", "cniVersion", str, &conf->cni_version, &je))
		return conf_json_err(err, &je);
	if (!zh_cni_version_supported(conf->cni_version)) {
		char details[128];

		snprintf(details, sizeof(details),
			 "config is \"%.64s\", plugin supports [%s]",
			 conf->cni_version, zh_cni_versions_list());
		return zh_cni_errf(
			err, ZH_CNI_ERR_INCOMPATIBLE, details,
			"unsupported CNI version \"%s\" (supported: %s)",
			conf->cni_version, zh_cni_versions_list());
	}
	if (zh_json_str(root, "", "name", str, &conf->name, &je) ||
	    zh_json_str(root, "", "type", str, &conf->type, &je))
		return conf_json_err(err, &je);
	if (!zh_cni_name_valid(conf->name))
		return zh_cni_err_set(
			err, ZH_CNI_ERR_INVALID_CONFIG,
			"invalid characters in network name",
			"name \"%s\" must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$",
			conf->name);
	if (parse_mtu(conf, err) || parse_routing(conf, err) ||
	    parse_datapath(conf, err) || parse_afxdp(conf, err) ||
	    parse_device(conf, err))
		return -1;
	if (zh_json_object(root, "", "ipam", ZH_JSON_REQUIRED, &ipam, &je) ||
	    zh_json_str(ipam, "ipam", "type", str, &conf->ipam_type, &je) ||
	    zh_json_object(root, "", "prevResult", 0, &conf->prev_result, &je))
		return conf_json_err(err, &je);
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
		return zh_cni_errf(
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

/*
 * An entry of the list refused: the value in details, and a string that
 * is there but wrong said as "must be a non-empty string" whatever it is.
 */
static int attachment_err(struct zh_cni_err *err, const struct zh_json_err *je,
			  const char *want)
{
	char text[64];

	if (je->fault == ZH_JSON_MISSING)
		return zh_cni_json_err(err, ZH_CNI_ERR_INVALID_CONFIG, je);
	return zh_cni_errf(err, ZH_CNI_ERR_INVALID_CONFIG,
			   zh_json_text(je->value, text, sizeof(text)),
			   "%s must be %s", je->path, want);
}

int zh_netconf_attachments(const struct zh_netconf *conf,
			   struct zh_attachments *out, struct zh_cni_err *err)
{
	/* A null ifname is as wrong as an empty one, not a missing one. */
	const unsigned int str = ZH_JSON_REQUIRED | ZH_JSON_NONNULL |
				 ZH_JSON_NONEMPTY;
	const char *list = VALID_KEY;
	struct zh_json_err je = { 0 };
	char at[64];
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
	if (zh_json_array(conf->root, "", list, 0, &v, &je))
		return attachment_err(err, &je,
				      "an array of {containerID, ifname}");
	if (!json_array_size(v))
		return 0;
	out->v = calloc(json_array_size(v), sizeof(*out->v));
	if (!out->v)
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL, "out of memory",
				      "%zu attachments", json_array_size(v));
	json_array_foreach (v, i, e) {
		zh_json_path(at, sizeof(at), list, "[%zu]", i);
		if (zh_json_check(e, at, JSON_OBJECT, &je)) {
			attachment_err(err, &je, "an object");
			goto err_free;
		}
		if (zh_json_str(e, at, "containerID", str,
				&out->v[i].container_id, &je) ||
		    zh_json_str(e, at, "ifname", str, &out->v[i].ifname, &je)) {
			attachment_err(err, &je, "a non-empty string");
			goto err_free;
		}
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
	return zh_cni_errf(err, ZH_CNI_ERR_INCOMPATIBLE, details,
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
