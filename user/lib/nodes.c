// SPDX-License-Identifier: Apache-2.0
/*
 * nodes.c - the node table and its application to this node (nodes.h).
 */
#include <errno.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "nodes.h"
#include "vec.h"
#include "attach.h"
#include "log.h"
#include "nl.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static __attribute__((format(printf, 3, 4))) int errf(char *err, size_t len,
						      const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int zh_routing_parse(const char *s)
{
	if (!strcmp(s, "native"))
		return ZH_ROUTING_NATIVE;
	if (!strcmp(s, "vxlan"))
		return ZH_ROUTING_VXLAN;
	return -EINVAL;
}

const char *zh_routing_name(enum zh_routing r)
{
	return r == ZH_ROUTING_VXLAN ? "vxlan" : "native";
}

void zh_cluster_conf_init(struct zh_cluster_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->vxlan_dev, sizeof(c->vxlan_dev), "%s", ZH_VXLAN_DEV);
	c->vxlan_port = ZH_VXLAN_PORT;
	c->vni = ZH_VXLAN_VNI;
}

/* --- the table ------------------------------------------------------------ */

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= ZH_NODE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '-' || s[i] == '.' || s[i] == '_' ||
		      (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* A prefix whose host bits are zero: its own network address. */
static bool cidr_canonical(const struct zh_addr *a)
{
	int bits = zh_addr_len(a->family) * 8;

	for (int b = a->prefix; b < bits; b++)
		if (a->raw[b / 8] & (0x80 >> (b % 8)))
			return false;
	return true;
}

static int add_addr(struct zh_node_info *n, const char *s, char *err,
		    size_t len)
{
	struct zh_addr a;

	if (n->n_addrs == ZH_NODE_ADDRS_MAX)
		return errf(err, len, "node %s: more than %d addresses",
			    n->name, ZH_NODE_ADDRS_MAX);
	if (zh_addr_parse(s, false, &a))
		return errf(err, len, "node %s: \"%.64s\" is no IP address",
			    n->name, s);
	a.prefix = zh_addr_len(a.family) * 8;
	n->addrs[n->n_addrs++] = a;
	return 0;
}

static int add_cidr(struct zh_node_info *n, const char *s, char *err,
		    size_t len)
{
	struct zh_addr a;

	if (n->n_cidrs == ZH_NODE_CIDRS_MAX)
		return errf(err, len, "node %s: more than %d pod CIDRs",
			    n->name, ZH_NODE_CIDRS_MAX);
	if (zh_addr_parse(s, true, &a) || !a.prefix || !cidr_canonical(&a))
		return errf(
			err, len,
			"node %s: \"%.64s\" is no CIDR (network/prefix, host bits zero)",
			n->name, s);
	n->cidrs[n->n_cidrs++] = a;
	return 0;
}

static int set_name(struct zh_node_info *n, const char *name, char *err,
		    size_t len)
{
	if (!name || !name_ok(name))
		return errf(
			err, len,
			"a node's name must be 1-%d characters of letters, digits, '-', '.', '_' (is \"%.64s\")",
			ZH_NODE_NAME_MAX - 1, name ? name : "");
	snprintf(n->name, sizeof(n->name), "%s", name);
	return 0;
}

int zh_node_from_json(const json_t *o, struct zh_node_info *n, char *err,
		      size_t errlen)
{
	const json_t *addrs, *cidrs, *v;
	size_t i;
	int rc;

	memset(n, 0, sizeof(*n));
	if (!json_is_object(o))
		return errf(err, errlen, "a node is a JSON object");
	rc = set_name(n, json_string_value(json_object_get(o, "name")), err,
		      errlen);
	if (rc)
		return rc;
	addrs = json_object_get(o, "addresses");
	cidrs = json_object_get(o, "podCIDRs");
	if (!json_is_array(addrs) || !json_array_size(addrs))
		return errf(
			err, errlen,
			"node %s: \"addresses\" must be a non-empty array of IP addresses",
			n->name);
	if (cidrs && !json_is_array(cidrs))
		return errf(err, errlen,
			    "node %s: \"podCIDRs\" must be an array of CIDRs",
			    n->name);
	json_array_foreach (addrs, i, v) {
		if (!json_is_string(v))
			return errf(err, errlen,
				    "node %s: addresses are strings", n->name);
		rc = add_addr(n, json_string_value(v), err, errlen);
		if (rc)
			return rc;
	}
	json_array_foreach (cidrs, i, v) {
		if (!json_is_string(v))
			return errf(err, errlen,
				    "node %s: pod CIDRs are strings", n->name);
		rc = add_cidr(n, json_string_value(v), err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int zh_node_from_k8s(const json_t *node, struct zh_node_info *n, char *err,
		     size_t errlen)
{
	const json_t *meta = json_object_get(node, "metadata");
	const json_t *spec = json_object_get(node, "spec");
	const json_t *status = json_object_get(node, "status");
	const json_t *cidrs, *v;
	size_t i;
	int rc;

	memset(n, 0, sizeof(*n));
	rc = set_name(n, json_string_value(json_object_get(meta, "name")), err,
		      errlen);
	if (rc)
		return rc;
	json_array_foreach (json_object_get(status, "addresses"), i, v) {
		const char *type =
			json_string_value(json_object_get(v, "type"));
		const char *a =
			json_string_value(json_object_get(v, "address"));

		if (!type || !a || strcmp(type, "InternalIP"))
			continue;
		rc = add_addr(n, a, err, errlen);
		if (rc)
			return rc;
	}
	if (!n->n_addrs)
		return errf(err, errlen, "node %s: no InternalIP", n->name);
	cidrs = json_object_get(spec, "podCIDRs");
	if (!json_array_size(cidrs) &&
	    json_is_string(json_object_get(spec, "podCIDR")))
		return add_cidr(
			n, json_string_value(json_object_get(spec, "podCIDR")),
			err, errlen);
	json_array_foreach (cidrs, i, v) {
		if (!json_is_string(v))
			return errf(err, errlen,
				    "node %s: pod CIDRs are strings", n->name);
		rc = add_cidr(n, json_string_value(v), err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

json_t *zh_node_to_json(const struct zh_node_info *n)
{
	json_t *o = json_pack("{s:s, s:[], s:[]}", "name", n->name, "addresses",
			      "podCIDRs");
	char buf[64];

	if (!o)
		return NULL;
	for (int i = 0; i < n->n_addrs; i++)
		json_array_append_new(json_object_get(o, "addresses"),
				      json_string(zh_addr_str(&n->addrs[i],
							      false, buf,
							      sizeof(buf))));
	for (int i = 0; i < n->n_cidrs; i++)
		json_array_append_new(json_object_get(o, "podCIDRs"),
				      json_string(zh_addr_str(&n->cidrs[i],
							      true, buf,
							      sizeof(buf))));
	return o;
}

const struct zh_node_info *zh_node_set_find(const struct zh_node_set *set,
					    const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].name, name))
			return &set->v[i];
	return NULL;
}

int zh_node_set_put(struct zh_node_set *set, const struct zh_node_info *n)
{
	for (size_t i = 0; i < set->n; i++) {
		if (!strcmp(set->v[i].name, n->name)) {
			set->v[i] = *n;
			return 0;
		}
	}
	if (set->n == ZH_NODES_MAX)
		return -ENOSPC;
	if (zh_vec_room(set->v, set->n, set->cap, 8))
		return -ENOMEM;
	set->v[set->n++] = *n;
	return 0;
}

int zh_node_set_del(struct zh_node_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++) {
		if (!strcmp(set->v[i].name, name)) {
			memmove(&set->v[i], &set->v[i + 1],
				(set->n - i - 1) * sizeof(set->v[0]));
			set->n--;
			return 0;
		}
	}
	return -ENOENT;
}

void zh_node_set_free(struct zh_node_set *set)
{
	free(set->v);
	memset(set, 0, sizeof(*set));
}

/* One pod CIDR as the range [lo, hi] of its addresses, for the overlap
 * check: sorted, each range need only be compared with the furthest end
 * seen before it. */
struct cidr_range {
	int family;
	unsigned char lo[16], hi[16];
	size_t node;
};

static int range_cmp(const void *a, const void *b)
{
	const struct cidr_range *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->lo, y->lo, sizeof(x->lo));
}

/* Two nodes may not claim one pod CIDR (a packet has one way out), nor one
 * node two overlapping ones. Sorted: 4096 nodes of 4 CIDRs at once. */
static int overlap_check(const struct zh_node_set *set, char *err,
			 size_t errlen)
{
	struct cidr_range *r, *prev = NULL;
	size_t n = 0;
	int rc = 0;

	r = calloc(set->n * ZH_NODE_CIDRS_MAX + 1, sizeof(*r));
	if (!r)
		return errf(err, errlen, "out of memory");
	for (size_t i = 0; i < set->n; i++) {
		for (int c = 0; c < set->v[i].n_cidrs; c++, n++) {
			const struct zh_addr *a = &set->v[i].cidrs[c];
			int bytes = zh_addr_len(a->family);

			r[n].family = a->family;
			r[n].node = i;
			memcpy(r[n].lo, a->raw, bytes);
			memcpy(r[n].hi, a->raw, bytes);
			for (int b = a->prefix; b < bytes * 8; b++)
				r[n].hi[b / 8] |= 0x80 >> (b % 8);
		}
	}
	qsort(r, n, sizeof(*r), range_cmp);
	for (size_t i = 0; i < n; i++) {
		if (prev && prev->family == r[i].family &&
		    memcmp(r[i].lo, prev->hi, sizeof(r[i].lo)) <= 0) {
			rc = errf(err, errlen,
				  "nodes %s and %s: their pod CIDRs overlap",
				  set->v[prev->node].name,
				  set->v[r[i].node].name);
			break;
		}
		if (!prev || prev->family != r[i].family ||
		    memcmp(r[i].hi, prev->hi, sizeof(r[i].hi)) > 0)
			prev = &r[i];
	}
	free(r);
	return rc;
}

int zh_nodes_parse(const char *text, size_t len, struct zh_node_set *set,
		   char *err, size_t errlen)
{
	const json_t *list, *v;
	struct zh_node_info n;
	json_error_t je;
	bool k8s;
	json_t *root;
	size_t i;
	int rc = 0;

	memset(set, 0, sizeof(*set));
	root = json_loadb(text, len, 0, &je);
	if (!root)
		return errf(err, errlen, "line %d: %s", je.line, je.text);
	list = json_object_get(root, "nodes");
	k8s = !list && json_is_array(json_object_get(root, "items"));
	if (k8s)
		list = json_object_get(root, "items");
	if (!json_is_array(list)) {
		rc = errf(
			err, errlen,
			"want {\"nodes\": [...]} or kubectl's NodeList ({\"items\": [...]})");
		goto out;
	}
	json_array_foreach (list, i, v) {
		rc = k8s ? zh_node_from_k8s(v, &n, err, errlen) :
			   zh_node_from_json(v, &n, err, errlen);
		if (rc)
			goto out;
		if (zh_node_set_find(set, n.name)) {
			rc = errf(err, errlen, "node %s is there twice",
				  n.name);
			goto out;
		}
		rc = zh_node_set_put(set, &n);
		if (rc) {
			errf(err, errlen, "too many nodes (at most %d)",
			     ZH_NODES_MAX);
			goto out;
		}
	}
	rc = overlap_check(set, err, errlen);
out:
	json_decref(root);
	if (rc)
		zh_node_set_free(set);
	return rc;
}

/* Files bigger than this are no node table (4096 nodes take ~600 KiB). */
#define NODES_FILE_MAX (16U << 20)

int zh_nodes_load(const char *path, struct zh_node_set *set, char *err,
		  size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int rc;

	memset(set, 0, sizeof(*set));
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc(NODES_FILE_MAX);
	n = buf ? fread(buf, 1, NODES_FILE_MAX, f) : 0;
	if (!buf || ferror(f) || n == NODES_FILE_MAX) {
		rc = errf(err, errlen, "%s: %s", path,
			  !buf	    ? "out of memory" :
			  ferror(f) ? "read error" :
				      "bigger than 16 MiB");
	} else {
		rc = zh_nodes_parse(buf, n, set, err, errlen);
		if (rc) {
			char msg[256];

			snprintf(msg, sizeof(msg), "%s", err);
			snprintf(err, errlen, "%s: %s", path, msg);
		}
	}
	free(buf);
	fclose(f);
	return rc;
}

void zh_vxlan_mac(const struct zh_addr *a, unsigned char mac[6])
{
	/* Locally administered, unicast; "z" then the address (IPv4) or an
	 * FNV-1a hash of it (IPv6). */
	mac[0] = 0x02;
	mac[1] = 0x7a;
	if (a->family == AF_INET) {
		memcpy(mac + 2, a->raw, 4);
	} else {
		__u32 h = 2166136261U;

		for (int i = 0; i < 16; i++)
			h = (h ^ a->raw[i]) * 16777619U;
		memcpy(mac + 2, &h, 4);
	}
}

/* --- applying it ------------------------------------------------------------ */

static void lpm_key(struct zh_lpm_key *k, const struct zh_addr *a)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = ZH_LPM_FAMILY_BITS + (__u32)a->prefix;
	k->family = a->family == AF_INET ? ZH_AF_INET : ZH_AF_INET6;
	memcpy(k->addr, a->raw, zh_addr_len(a->family));
}

/* A node's address of @family, else its first one. */
static const struct zh_addr *node_addr(const struct zh_node_info *n, int family)
{
	for (int i = 0; i < n->n_addrs; i++)
		if (n->addrs[i].family == family)
			return &n->addrs[i];
	return n->n_addrs ? &n->addrs[0] : NULL;
}

static const struct zh_addr *node_addr_exact(const struct zh_node_info *n,
					     int family)
{
	const struct zh_addr *a = node_addr(n, family);

	return a && a->family == family ? a : NULL;
}

/* The device holding one of @self's addresses. */
static int uplink_of(const struct zh_node_info *self)
{
	struct ifaddrs *ifa, *i;
	int ifindex = 0;

	if (!self || getifaddrs(&ifa))
		return 0;
	for (i = ifa; i && !ifindex; i = i->ifa_next) {
		const void *raw;

		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
				     i->ifa_addr->sa_family != AF_INET6))
			continue;
		raw = i->ifa_addr->sa_family == AF_INET ?
			      (const void *)&((struct sockaddr_in *)i->ifa_addr)
				      ->sin_addr :
			      (const void *)&(
				      (struct sockaddr_in6 *)i->ifa_addr)
				      ->sin6_addr;
		for (int a = 0; a < self->n_addrs; a++)
			if (self->addrs[a].family == i->ifa_addr->sa_family &&
			    !memcmp(self->addrs[a].raw, raw,
				    zh_addr_len(self->addrs[a].family)))
				ifindex = (int)if_nametoindex(i->ifa_name);
	}
	freeifaddrs(ifa);
	return ifindex;
}

static int link_mtu(int ifindex, unsigned int *mtu)
{
	struct ifreq ifr = { 0 };
	int fd, rc = 0;

	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFMTU, &ifr))
		rc = -errno;
	else
		*mtu = (unsigned int)ifr.ifr_mtu;
	close(fd);
	return rc;
}

/* The VXLAN device, made where missing, up; its ifindex or -errno. */
static int vxlan_ensure(const struct zh_cluster_conf *conf, int uplink,
			const struct zh_addr *underlay,
			struct zh_cluster_result *r)
{
	unsigned char mac[6];
	unsigned int mtu = 1500;
	int ifindex, err;

	ifindex = (int)if_nametoindex(conf->vxlan_dev);
	if (!ifindex) {
		link_mtu(uplink, &mtu);
		mtu -= underlay->family == AF_INET6 ? ZH_VXLAN_OVERHEAD6 :
						      ZH_VXLAN_OVERHEAD4;
		zh_vxlan_mac(underlay, mac);
		err = zh_nl_vxlan_add(conf->vxlan_dev, conf->vxlan_port, mtu,
				      mac);
		if (err && err != -EEXIST) {
			snprintf(r->err, sizeof(r->err),
				 "cannot make the VXLAN device %s: %s",
				 conf->vxlan_dev, strerror(-err));
			return err;
		}
		ifindex = (int)if_nametoindex(conf->vxlan_dev);
		if (!ifindex)
			return -ENODEV;
		pr_info("nodes: made %s (VXLAN external, UDP port %u, MTU %u)\n",
			conf->vxlan_dev, conf->vxlan_port, mtu);
	}
	err = zh_nl_link_up(ifindex);
	if (err) {
		snprintf(r->err, sizeof(r->err), "cannot set %s up: %s",
			 conf->vxlan_dev, strerror(-err));
		return err;
	}
	return ifindex;
}

/*
 * zh_vxlan (bpf/lib/vxlan.h): what BPF needs to encapsulate and
 * decapsulate as this node's VXLAN device would, where the kernel lets it;
 * zeroed (nothing in BPF) in routing native. Logged when it changes, with
 * the reason when the kernel's device keeps the work.
 */
static int vxlan_bpf_apply(const struct zh_objs *objs,
			   const struct zh_cluster_conf *conf, int uplink,
			   int vxlan, const struct zh_addr *underlay)
{
	/* Said once per process, and again when it changes. */
	static bool said;
	struct zh_vxlan v = { 0 }, old = { 0 };
	const char *why = NULL;
	__u32 zero = 0;

	if (objs->vxlan_fd < 0)
		return 0; /* pins of an older build: the device does it all */
	if (conf->routing == ZH_ROUTING_VXLAN) {
		if (underlay->family != AF_INET)
			why = "an IPv6 underlay (BPF encapsulates over IPv4 only)";
		else if (!zh_kfeat_has(&objs->feat, ZH_FEAT_TC_VXLAN_ENCAP))
			why = "kernel feature tc_vxlan_encap absent";
	}
	if (conf->routing == ZH_ROUTING_VXLAN && !why) {
		v.family = ZH_AF_INET;
		memcpy(v.saddr, underlay->raw, 4);
		v.flags = ZH_VXLAN_F_ENCAP | ZH_VXLAN_F_DECAP;
		zh_vxlan_mac(underlay, v.mac);
		v.uplink = (__u32)uplink;
		v.dev = (__u32)vxlan;
		v.port = htons((__u16)conf->vxlan_port);
		v.vni = conf->vni;
	}
	if (!bpf_map_lookup_elem(objs->vxlan_fd, &zero, &old) &&
	    !memcmp(&old, &v, sizeof(v)) && said)
		return 0;
	if (bpf_map_update_elem(objs->vxlan_fd, &zero, &v, BPF_ANY))
		return -errno;
	if (conf->routing != ZH_ROUTING_VXLAN)
		return 0;
	said = true;
	if (why)
		pr_info("nodes: routing vxlan: the kernel's device %s encapsulates and decapsulates: %s\n",
			conf->vxlan_dev, why);
	else
		pr_info("nodes: routing vxlan: encapsulation and decapsulation in BPF (%s%s), the device %s for the rest\n",
			"GSO and inner IPv6 decapsulated ",
			zh_kfeat_has(&objs->feat, ZH_FEAT_TC_VXLAN_DECAP) ?
				"in BPF too" :
				"by the device: kernel feature tc_vxlan_decap absent",
			conf->vxlan_dev);
	return 0;
}

/* The desired entries of a map, to remove the rest afterwards. */
struct keys {
	struct zh_lpm_key *k;
	size_t n, cap;
};

static int keys_add(struct keys *ks, const struct zh_lpm_key *k)
{
	if (zh_vec_room(ks->k, ks->n, ks->cap, 64))
		return -ENOMEM;
	ks->k[ks->n++] = *k;
	return 0;
}

static bool keys_has(const struct keys *ks, const struct zh_lpm_key *k)
{
	for (size_t i = 0; i < ks->n; i++)
		if (!memcmp(&ks->k[i], k, sizeof(*k)))
			return true;
	return false;
}

/* Every key of LPM map @fd not in @want goes. */
static int prune(int fd, const struct keys *want, int *removed)
{
	struct zh_lpm_key k, next, *prev = NULL;
	struct keys gone = { 0 };
	int err = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!keys_has(want, &k) && keys_add(&gone, &k)) {
			err = -ENOMEM;
			break;
		}
	}
	for (size_t i = 0; i < gone.n; i++)
		if (!bpf_map_delete_elem(fd, &gone.k[i]))
			(*removed)++;
	free(gone.k);
	return err;
}

/* The routes a node table wants; dumped ones not among them go. */
struct routes {
	struct zh_nl_route *v;
	size_t n, cap;
};

static int routes_add(struct routes *rs, const struct zh_nl_route *rt)
{
	if (zh_vec_room(rs->v, rs->n, rs->cap, 32))
		return -ENOMEM;
	rs->v[rs->n++] = *rt;
	return 0;
}

struct stale_walk {
	const struct routes *want;
	struct routes gone;
};

static int stale_route_cb(const struct zh_nl_route *rt, void *arg)
{
	struct stale_walk *w = arg;

	for (size_t i = 0; i < w->want->n; i++) {
		const struct zh_nl_route *d = &w->want->v[i];

		if (d->dst.family == rt->dst.family &&
		    d->dst.prefix == rt->dst.prefix &&
		    !memcmp(d->dst.raw, rt->dst.raw,
			    zh_addr_len(rt->dst.family)))
			return 0;
	}
	return routes_add(&w->gone, rt) ? -ENOMEM : 0;
}

static void routes_prune(const struct routes *want, int vxlan,
			 struct zh_cluster_result *r)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct stale_walk w = { .want = want };

	for (size_t f = 0; f < ARRAY_SIZE(families); f++)
		zh_nl_route_dump(families[f], stale_route_cb, &w);
	for (size_t i = 0; i < w.gone.n; i++) {
		const struct zh_nl_route *rt = &w.gone.v[i];

		if (!zh_nl_route_del(rt))
			r->routes_removed++;
		/* A VXLAN route's gateway is a neighbour of ours. */
		if (vxlan && rt->ifindex == vxlan && rt->gw.family)
			zh_nl_neigh_del(vxlan, &rt->gw);
	}
	free(w.gone.v);
}

/* zh_nodes, zh_cluster_cidr and the routes for one other node @n. */
static int apply_remote(const struct zh_objs *objs,
			const struct zh_cluster_conf *conf,
			const struct zh_node_info *n, int uplink, int vxlan,
			int underlay_family, struct keys *want_nodes,
			struct routes *want_routes, struct zh_cluster_result *r)
{
	for (int c = 0; c < n->n_cidrs; c++) {
		const struct zh_addr *cidr = &n->cidrs[c];
		const struct zh_addr *via;
		struct zh_nl_route rt = { .dst = *cidr };
		struct zh_node v = { 0 };
		struct zh_lpm_key k;
		char b1[64], b2[64];
		int err;

		via = conf->routing == ZH_ROUTING_VXLAN ?
			      node_addr(n, underlay_family) :
			      node_addr(n, cidr->family);
		if (!via)
			continue;
		lpm_key(&k, cidr);
		memcpy(v.addr, via->raw, zh_addr_len(via->family));
		v.family = via->family == AF_INET ? ZH_AF_INET : ZH_AF_INET6;
		if (conf->routing == ZH_ROUTING_VXLAN) {
			v.flags = ZH_NODE_F_VXLAN;
			v.ifindex = (__u32)vxlan;
			v.vni = conf->vni;
			/* Its device's MAC comes from its first address, as
			 * ours from our first (vxlan_ensure()). */
			zh_vxlan_mac(&n->addrs[0], v.mac);
		} else {
			v.ifindex = (__u32)uplink;
		}
		if (bpf_map_update_elem(objs->nodes_fd, &k, &v, BPF_ANY)) {
			err = -errno;
			snprintf(r->err, sizeof(r->err), "cannot write %s: %s",
				 ZH_MAP_NODES, strerror(-err));
			return err;
		}
		r->entries++;
		err = keys_add(want_nodes, &k);
		if (err)
			return err;
		/* The kernel's route, for what the fast path passes. */
		if (conf->routing == ZH_ROUTING_VXLAN) {
			/* The gateway: the CIDR's own first address, a
			 * permanent neighbour with the remote device's MAC
			 * (as flannel does); the LWT encap says where the
			 * tunnel goes. */
			rt.gw = *cidr;
			rt.gw.prefix = zh_addr_len(cidr->family) * 8;
			rt.ifindex = vxlan;
			rt.encap_dst = *via;
			rt.encap_id = conf->vni;
			err = zh_nl_neigh_add(vxlan, &rt.gw, v.mac);
		} else {
			const struct zh_addr *gw =
				node_addr_exact(n, cidr->family);

			if (!gw) {
				pr_info("nodes: node %s has no %s address: no kernel route to %s (the fast path still sends there)\n",
					n->name,
					cidr->family == AF_INET ? "IPv4" :
								  "IPv6",
					zh_addr_str(cidr, true, b1,
						    sizeof(b1)));
				continue;
			}
			rt.gw = *gw;
			rt.ifindex = uplink;
		}
		if (!err)
			err = zh_nl_route_set(&rt);
		if (err) {
			snprintf(r->err, sizeof(r->err),
				 "cannot route %s via %s (node %s): %s",
				 zh_addr_str(cidr, true, b1, sizeof(b1)),
				 zh_addr_str(via, false, b2, sizeof(b2)),
				 n->name, strerror(-err));
			return err;
		}
		r->routes++;
		err = routes_add(want_routes, &rt);
		if (err)
			return err;
	}
	/* Its own addresses, straight out of the uplink in both modes (the
	 * fabric routes node addresses, VXLAN's underlay among them): a
	 * pod's packet to another node (the reply to a NodePort request
	 * that node SNATed to itself) leaves without the host stack. */
	for (int a = 0; a < n->n_addrs; a++) {
		struct zh_node v = { .ifindex = (__u32)uplink };
		struct zh_lpm_key k;
		int err;

		lpm_key(&k, &n->addrs[a]);
		memcpy(v.addr, n->addrs[a].raw,
		       zh_addr_len(n->addrs[a].family));
		v.family = k.family;
		if (bpf_map_update_elem(objs->nodes_fd, &k, &v, BPF_ANY)) {
			err = -errno;
			snprintf(r->err, sizeof(r->err), "cannot write %s: %s",
				 ZH_MAP_NODES, strerror(-err));
			return err;
		}
		r->entries++;
		err = keys_add(want_nodes, &k);
		if (err)
			return err;
	}
	return 0;
}

static int cluster_put(int fd, const struct zh_addr *a, __u32 flags,
		       struct keys *want)
{
	struct zh_lpm_key k;

	lpm_key(&k, a);
	if (bpf_map_update_elem(fd, &k, &flags, BPF_ANY))
		return -errno;
	return keys_add(want, &k);
}

int zh_cluster_apply(const struct zh_objs *objs,
		     const struct zh_cluster_conf *conf,
		     const struct zh_node_set *set, struct zh_cluster_result *r)
{
	const struct zh_node_info *self = zh_node_set_find(set, conf->self);
	struct keys want_nodes = { 0 }, want_cluster = { 0 };
	struct routes want_routes = { 0 };
	const struct zh_addr *underlay = NULL;
	int uplink, vxlan = 0, err = 0;

	memset(r, 0, sizeof(*r));
	if (objs->nodes_fd < 0 || objs->cluster_cidrs_fd < 0) {
		snprintf(r->err, sizeof(r->err),
			 "the pins have no %s: an older build loaded them",
			 ZH_MAP_NODES);
		return -ENOENT;
	}
	uplink = conf->uplink[0] ? (int)if_nametoindex(conf->uplink) :
				   uplink_of(self);
	if (!uplink) {
		snprintf(
			r->err, sizeof(r->err),
			conf->uplink[0] ? "no uplink device %s" :
			self ? "no device here holds an address of node %s: give --uplink" :
			       "this node (%s) is not in the node table",
			conf->uplink[0] ? conf->uplink : conf->self);
		return -ENODEV;
	}
	r->uplink = uplink;
	if (self && self->n_addrs)
		underlay = &self->addrs[0];
	if (conf->routing == ZH_ROUTING_VXLAN) {
		if (!underlay) {
			snprintf(
				r->err, sizeof(r->err),
				"routing vxlan: this node (%s) has no address in the node table",
				conf->self);
			return -EINVAL;
		}
		vxlan = vxlan_ensure(conf, uplink, underlay, r);
		if (vxlan < 0)
			return vxlan;
		r->vxlan = vxlan;
		if (objs->tc_tunnel_fd >= 0) {
			err = zh_tc_attach(&objs->feat, vxlan,
					   objs->tc_tunnel_fd);
			if (err) {
				snprintf(r->err, sizeof(r->err),
					 "cannot attach %s to %s: %s",
					 ZH_PROG_TC_TUNNEL, conf->vxlan_dev,
					 strerror(-err));
				return err;
			}
		}
	}
	err = vxlan_bpf_apply(objs, conf, uplink, vxlan, underlay);
	if (err) {
		snprintf(r->err, sizeof(r->err), "cannot write %s: %s",
			 ZH_MAP_VXLAN, strerror(-err));
		return err;
	}
	/* Pods of other nodes come in on the uplink (native; vxlan: what BPF
	 * decapsulates), and NodePort requests in both modes. */
	if (objs->tc_uplink_fd >= 0) {
		err = zh_tc_attach(&objs->feat, uplink, objs->tc_uplink_fd);
		if (err) {
			snprintf(r->err, sizeof(r->err),
				 "cannot attach %s to the uplink: %s",
				 ZH_PROG_TC_UPLINK, strerror(-err));
			return err;
		}
	}
	for (size_t i = 0; i < set->n && !err; i++) {
		const struct zh_node_info *n = &set->v[i];
		__u32 local = n == self ? ZH_CLUSTER_F_LOCAL : 0;

		for (int c = 0; c < n->n_cidrs && !err; c++)
			err = cluster_put(objs->cluster_cidrs_fd, &n->cidrs[c],
					  ZH_CLUSTER_F_POD_CIDR | local,
					  &want_cluster);
		for (int a = 0; a < n->n_addrs && !err; a++)
			err = cluster_put(objs->cluster_cidrs_fd, &n->addrs[a],
					  ZH_CLUSTER_F_NODE_IP | local,
					  &want_cluster);
		if (err) {
			snprintf(r->err, sizeof(r->err), "cannot write %s: %s",
				 ZH_MAP_CLUSTER_CIDRS, strerror(-err));
			break;
		}
		if (n == self)
			continue;
		r->remote++;
		err = apply_remote(objs, conf, n, uplink, vxlan,
				   underlay ? underlay->family : AF_INET,
				   &want_nodes, &want_routes, r);
	}
	/* Only once all is written: what goes is what no node has now. */
	if (!err)
		err = prune(objs->nodes_fd, &want_nodes, &r->removed);
	if (!err)
		err = prune(objs->cluster_cidrs_fd, &want_cluster, &r->removed);
	if (!err)
		routes_prune(&want_routes, vxlan, r);
	if (err && !r->err[0])
		snprintf(r->err, sizeof(r->err), "%s", strerror(-err));
	free(want_nodes.k);
	free(want_cluster.k);
	free(want_routes.v);
	return err;
}

/* --- the state file ---------------------------------------------------------- */

int zh_cluster_state_save(const char *dir, const struct zh_cluster_conf *conf,
			  const struct zh_node_set *set)
{
	char path[512], tmp[520];
	json_t *root, *nodes;
	int rc = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, ZH_CLUSTER_STATE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	root = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:[]}", "self",
			 conf->self, "routing", zh_routing_name(conf->routing),
			 "uplink", conf->uplink, "vxlanDevice", conf->vxlan_dev,
			 "vxlanPort", (json_int_t)conf->vxlan_port, "vni",
			 (json_int_t)conf->vni, "nodes");
	if (!root)
		return -ENOMEM;
	nodes = json_object_get(root, "nodes");
	for (size_t i = 0; i < set->n; i++)
		json_array_append_new(nodes, zh_node_to_json(&set->v[i]));
	if (json_dump_file(root, tmp, JSON_INDENT(1)) || rename(tmp, path)) {
		rc = -errno ? -errno : -EIO;
		unlink(tmp);
	}
	json_decref(root);
	return rc;
}

int zh_cluster_state_load(const char *dir, struct zh_cluster_conf *conf,
			  struct zh_node_set *set, char *err, size_t errlen)
{
	char path[512], *text = NULL;
	const char *s;
	json_t *root;
	json_error_t je;
	int rc;

	zh_cluster_conf_init(conf);
	memset(set, 0, sizeof(*set));
	snprintf(path, sizeof(path), "%s/%s", dir, ZH_CLUSTER_STATE);
	root = json_load_file(path, 0, &je);
	if (!root) {
		if (access(path, F_OK)) {
			errf(err, errlen,
			     "%s: none (no node table applied here yet: is zerohopd running with --nodes?)",
			     path);
			return -ENOENT;
		}
		return errf(err, errlen, "%s: %s", path, je.text);
	}
	s = json_string_value(json_object_get(root, "self"));
	snprintf(conf->self, sizeof(conf->self), "%s", s ? s : "");
	s = json_string_value(json_object_get(root, "routing"));
	conf->routing = s && zh_routing_parse(s) == ZH_ROUTING_VXLAN ?
				ZH_ROUTING_VXLAN :
				ZH_ROUTING_NATIVE;
	s = json_string_value(json_object_get(root, "uplink"));
	snprintf(conf->uplink, sizeof(conf->uplink), "%s", s ? s : "");
	s = json_string_value(json_object_get(root, "vxlanDevice"));
	if (s && s[0])
		snprintf(conf->vxlan_dev, sizeof(conf->vxlan_dev), "%s", s);
	if (json_integer_value(json_object_get(root, "vxlanPort")))
		conf->vxlan_port = (unsigned int)json_integer_value(
			json_object_get(root, "vxlanPort"));
	if (json_integer_value(json_object_get(root, "vni")))
		conf->vni = (unsigned int)json_integer_value(
			json_object_get(root, "vni"));
	text = json_dumps(root, 0);
	rc = text ? zh_nodes_parse(text, strlen(text), set, err, errlen) :
		    -ENOMEM;
	free(text);
	json_decref(root);
	return rc;
}

/* --- VXLAN in BPF: its counters ---------------------------------------------- */

static const char *const vxlan_stat_names[ZH_VXLAN_STAT_MAX] = {
#define ZH_VXLAN_STAT_NAME(id, name) [ZH_VXLAN_STAT_##id] = name,
	ZH_VXLAN_STATS(ZH_VXLAN_STAT_NAME)
#undef ZH_VXLAN_STAT_NAME
};

const char *zh_vxlan_stat_name(int stat)
{
	return stat >= 0 && stat < ZH_VXLAN_STAT_MAX ? vxlan_stat_names[stat] :
						       "?";
}

int zh_vxlan_stats_read(const struct zh_objs *o, __u64 out[ZH_VXLAN_STAT_MAX],
			bool reset)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *percpu;
	int err = 0;

	memset(out, 0, sizeof(*out) * ZH_VXLAN_STAT_MAX);
	if (o->vxlan_stats_fd < 0)
		return 0;
	if (ncpu < 0)
		return ncpu;
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (__u32 s = 0; s < ZH_VXLAN_STAT_MAX && !err; s++) {
		if (bpf_map_lookup_elem(o->vxlan_stats_fd, &s, percpu)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < ncpu; c++)
			out[s] += percpu[c];
		if (reset) {
			memset(percpu, 0, (size_t)ncpu * sizeof(*percpu));
			if (bpf_map_update_elem(o->vxlan_stats_fd, &s, percpu,
						BPF_ANY))
				err = -errno;
		}
	}
	free(percpu);
	return err;
}
