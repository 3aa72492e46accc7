/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc.h - services: a virtual IP, port and protocol (and optionally a node
 * port) balanced over backends, and the services file that lists them.
 *
 * A services file is JSON in one of two shapes, told apart by its top level.
 *
 * 1. Ours, {"services": [...]}:
 *
 *	{"services": [{
 *		"name": "web",			optional; default "VIP:port/proto"
 *		"vip": "10.96.0.10",		IPv4 or IPv6, required
 *		"port": 80,			1-65535, required
 *		"proto": "tcp",			"tcp" (default) or "udp"
 *		"nodePort": 30080,		optional, 1-65535
 *		"externalTrafficPolicy": "local",	optional: "cluster"
 *						(default: the node port SNATs to
 *						another node's backend) or
 *						"local" (the client's address
 *						kept, only "local" backends)
 *		"affinity": {"clientIP": 10800},	optional: the same client
 *						goes to the same backend for
 *						1-86400 s; "clientIP" alone is
 *						10800 s, "none" is no affinity
 *		"backends": [{			optional (none: nothing to serve)
 *			"ip": "10.1.0.5",	the VIP's family, required
 *			"port": 8080,		default: the service port
 *			"weight": 1,		0-65535, relative; default 1,
 *						0 drains (no new flows)
 *			"state": "ready",	"ready" (default) or
 *						"terminating": keeps its flows,
 *						gets no new ones
 *			"local": true		on this node (default false):
 *						with externalTrafficPolicy
 *						"local", the node port's only
 *		}]
 *	}]}
 *
 *    Unknown fields are errors: a misspelt "nodeport" would otherwise be
 *    dropped without a word. So is a backend listed twice. The words
 *    ("tcp", "clientIP", "ready", ...) may be in any case. Backends stay
 *    in the order given.
 *
 * 2. Kubernetes: what `kubectl get services,endpointslices -A -o json`
 *    prints, a List of Service (v1) and EndpointSlice (discovery.k8s.io/v1)
 *    objects; a ServiceList, an EndpointSliceList or one object alone too.
 *    Other kinds in a List are ignored. As kube-proxy reads them:
 *    - one service per cluster IP (spec.clusterIPs, else spec.clusterIP:
 *      two when dual-stack) and spec.ports entry, named "ns/name:port-name"
 *      ("ns/name" when the port has no name), and one per address of
 *      spec.externalIPs and, for type LoadBalancer, of
 *      status.loadBalancer.ingress[].ip (no node port on those). Headless
 *      (clusterIP "None"), ExternalName and services without a cluster IP
 *      are skipped. SCTP ports are not served: zh_svc_k8s_render() says
 *      so, naming the Service (kube-proxy does serve them). The node port
 *      counts for type NodePort and LoadBalancer. sessionAffinity
 *      ClientIP: the affinity is
 *      sessionAffinityConfig.clientIP.timeoutSeconds, default 10800.
 *    - backends: the first address of each endpoint of the EndpointSlices
 *      in the service's namespace labelled kubernetes.io/service-name=<name>,
 *      of the cluster IP's family (addressType IPv4 or IPv6; FQDN slices
 *      are ignored), at the port of the slice whose name and protocol are
 *      the service port's (no name is ""). An endpoint whose ready
 *      condition is true or absent is ready; else one serving (true or
 *      absent) and terminating is terminating; else it is left out. As
 *      kube-proxy's CategorizeEndpoints: when none is ready, the
 *      terminating ones are served as ready. The same address and port in
 *      two slices is one backend (ready wins). Rendered for a node
 *      (zerohopd --kubernetes), internalTrafficPolicy Local keeps the
 *      cluster IPs' backends to the endpoints whose nodeName is the node,
 *      and externalTrafficPolicy Local those of the external and
 *      load-balancer IPs (the node port stays with the cluster IPs').
 *      Weights are all 1. Backends are sorted by address and port.
 *
 * Parsing is all or nothing: an invalid entry anywhere is an error naming
 * it and its field, e.g. "services[2].backends[0].port: 70000 is not a port
 * (1-65535)" or "Service default/web: spec.ports[1].protocol: "ICMP" is not
 * TCP, UDP or SCTP", and no service is returned. Two services with the same
 * VIP, port and protocol, or of one family with the same node port and
 * protocol, are an error naming both. JSON syntax errors give the line and
 * column; a file may have at most ZH_SVC_FILE_MAX bytes.
 *
 * The code: the model (this header, svc.c), our format (svc_ours.h), the
 * Kubernetes translation (svc_k8s.h), the file and its format told apart
 * (svc_file.c); JSON through json.h.
 */
#ifndef ZH_SVC_H
#define ZH_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define ZH_SVC_FILE_MAX (64u << 20)
/* "namespace/name:port-name": 63 + 1 + 63 + 1 + 15 and the NUL. */
#define ZH_SVC_NAME_MAX 144
#define ZH_SVC_AFFINITY_DEFAULT 10800 /* s, Kubernetes' default */
#define ZH_SVC_AFFINITY_MAX 86400 /* s, as Kubernetes validates */

enum zh_ep_state {
	ZH_EP_READY,
	ZH_EP_TERMINATING, /* keeps its flows, gets no new ones */
};

struct zh_svc_backend {
	struct zh_addr addr; /* the VIP's family */
	uint16_t port;
	uint16_t weight; /* relative; 0 drains */
	uint16_t np_weight; /* in the node port's table, with np_own */
	uint8_t state; /* enum zh_ep_state */
};

struct zh_service {
	char name[ZH_SVC_NAME_MAX]; /* for messages: "web", "default/web:http" */
	struct zh_addr vip;
	uint16_t port;
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t nodeport; /* 0: none */
	/* The node port balances by the backends' np_weight, in a table of
	 * its own (externalTrafficPolicy Local: this node's endpoints only),
	 * not by weight in the service's. */
	bool np_own;
	/* externalTrafficPolicy Local: the node port keeps the client's
	 * address (no SNAT to another node's backend; ZH_SVC_F_ETP_LOCAL). */
	bool etp_local;
	uint32_t affinity_timeout; /* client IP affinity, s; 0: none */
	struct zh_svc_backend *backends;
	size_t n_backends;
};

struct zh_svc_set {
	struct zh_service *svcs;
	size_t n;
};

/*
 * Parse a services file of @len bytes (no NUL needed) into @out (whatever
 * it held is overwritten, not freed), which the caller frees with
 * zh_svc_set_free(). Returns 0, or -EINVAL, -EFBIG or -ENOMEM with a
 * message in @err (may be NULL), and then @out is empty.
 */
int zh_svc_parse(const char *text, size_t len, struct zh_svc_set *out,
		 char *err, size_t errlen);
/*
 * The same from a file ("-": stdin), read to its end; messages start with
 * the path. Also -errno when the file cannot be read.
 */
int zh_svc_load(const char *path, struct zh_svc_set *out, char *err,
		size_t errlen);
/* Free every service and its backends; @s is then empty. NULL is fine. */
void zh_svc_set_free(struct zh_svc_set *s);

/*
 * Check one service as the parser does (zh_svc_parse() runs it on each):
 * a terminated, non-empty name; unicast VIP and backends of one family;
 * ports 1-65535; TCP or UDP; affinity <= ZH_SVC_AFFINITY_MAX; known
 * backend states; no backend twice. Returns 0, or -EINVAL (or -ENOMEM)
 * with @err naming the field, e.g. "backends[1].ip: fd00::5 is IPv6, the
 * VIP 10.96.0.10 is IPv4".
 */
int zh_svc_validate(const struct zh_service *s, char *err, size_t errlen);

/* "tcp", "udp" or "?". */
const char *zh_svc_proto_str(uint8_t proto);
/*
 * "10.96.0.10:80/tcp", "[fd00::a]:53/udp" into @buf (>= 64 bytes); proto 0
 * leaves out the "/proto" ("10.1.0.5:8080").
 */
const char *zh_svc_addr_str(const struct zh_addr *a, uint16_t port,
			    uint8_t proto, char *buf, size_t len);

/*
 * A backend's identity for zh_maglev_build(), the same bytes on every
 * node: family (4 or 6), the address (4 or 16 bytes), the port in network
 * byte order. Returns the length, 7 or 19.
 */
#define ZH_SVC_KEY_MAX 19
size_t zh_svc_backend_key(const struct zh_svc_backend *b,
			  uint8_t key[ZH_SVC_KEY_MAX]);

/* --- for the formats (svc_ours.h, svc_k8s.h) ------------------------------ */

/* Where an entry came from, for the message about a clash. */
#define ZH_SVC_ORIGIN_MAX 192

/*
 * A set being built (zero-initialised): each service is validated as it is
 * added, and the set as a whole when it is handed over, so that a parser
 * never returns half a document.
 */
struct zh_svc_build {
	struct zh_svc_set set;
	char (*origin)[ZH_SVC_ORIGIN_MAX]; /* parallel to set.svcs */
	size_t cap;
};

/*
 * zh_svc_validate() @s, its messages prefixed with @where ("services[2].",
 * "Service default/web: "), and append it, remembering @origin for
 * zh_svc_build_finish() ("services[2] ("web")", "Service default/web
 * spec.ports[0]"). The build owns s->backends from here on, also on
 * failure. Returns 0, -EINVAL with a message, or -ENOMEM.
 */
int zh_svc_build_add(struct zh_svc_build *b, struct zh_service *s,
		     const char *where, const char *origin, char *err,
		     size_t errlen);
/*
 * Refuse two services with one VIP, port and protocol, or of one family
 * with one node port and protocol, naming both by origin (-EINVAL; -ENOMEM
 * without a message); else move the set to @out (empty before), and @b is
 * empty.
 */
int zh_svc_build_finish(struct zh_svc_build *b, struct zh_svc_set *out,
			char *err, size_t errlen);
/* Free what @b holds; @b is then empty. */
void zh_svc_build_free(struct zh_svc_build *b);

/* A plain IPv4 or IPv6 address, no "/prefix": 0 or -EINVAL. */
int zh_svc_ip_parse(const char *s, struct zh_addr *a);
/* "IPv4" or "IPv6". */
const char *zh_svc_family_str(int family);
/* By address (family first), then port: the order backends are kept in. */
int zh_svc_backend_cmp(const struct zh_svc_backend *a,
		       const struct zh_svc_backend *b);
/*
 * Make room in *@arr (of @elem-byte elements, *@cap of them) for @need,
 * doubling from 8: 0 or -ENOMEM (and *@arr as it was).
 */
int zh_svc_grow(void **arr, size_t *cap, size_t need, size_t elem);

#endif /* ZH_SVC_H */
