// SPDX-License-Identifier: Apache-2.0
/* maps.c - endpoint and counter maps, as laid out in zh_abi.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <ifaddrs.h>
#include <netinet/in.h>

#include "maps.h"
#include "pol_maps.h"
#include "sha256.h"
#include "addr.h"
#include "log.h"
#include "hist.h"
#include "params.h"

void zh_ep_key_v4(struct zh_ep_key *key, __u32 addr_be)
{
	memset(key, 0, sizeof(*key));
	key->family = ZH_AF_INET;
	key->addr[0] = addr_be;
}

void zh_ep_key_v6(struct zh_ep_key *key, const __u32 addr_be[4])
{
	memset(key, 0, sizeof(*key));
	key->family = ZH_AF_INET6;
	memcpy(key->addr, addr_be, sizeof(key->addr));
}

/* The keys of the addresses @iface owns; returns how many (0..2). */
static int iface_keys(const struct zh_iface *iface, struct zh_ep_key keys[2])
{
	int n = 0;

	if (iface->flags & ZH_IFACE_F_V4)
		zh_ep_key_v4(&keys[n++], iface->ipv4);
	if (iface->flags & ZH_IFACE_F_V6)
		zh_ep_key_v6(&keys[n++], iface->ipv6);
	return n;
}

static int update(int fd, const void *key, const void *val, __u64 flags)
{
	return bpf_map_update_elem(fd, key, val, flags) ? -errno : 0;
}

/* The steering keys of @iface: every rule at every address it owns. */
static int steer_keys(const struct zh_iface *iface,
		      struct zh_steer_key keys[2 * ZH_XSK_MAX_STEER])
{
	struct zh_ep_key addrs[2];
	int na = iface_keys(iface, addrs), n = 0;

	if (!iface->xsk.queues)
		return 0;
	for (int a = 0; a < na; a++) {
		for (int r = 0; r < iface->xsk.nsteer && r < ZH_XSK_MAX_STEER;
		     r++) {
			struct zh_steer_key *k = &keys[n++];

			memset(k, 0, sizeof(*k));
			k->family = addrs[a].family;
			k->proto = iface->xsk.steer[r].proto;
			k->port = iface->xsk.steer[r].port;
			memcpy(k->addr, addrs[a].addr, sizeof(k->addr));
		}
	}
	return n;
}

/* Take @iface's AF_XDP sockets and rules out; only entries that are its. */
static void steer_remove(const struct zh_objs *o, const struct zh_iface *iface)
{
	struct zh_steer_key keys[2 * ZH_XSK_MAX_STEER];
	int n = steer_keys(iface, keys);
	struct zh_steer st;

	for (int i = 0; i < n; i++)
		if (!bpf_map_lookup_elem(o->xsk_steer_fd, &keys[i], &st) &&
		    st.slot == iface->xsk.slot)
			bpf_map_delete_elem(o->xsk_steer_fd, &keys[i]);
	for (__u32 q = 0; q < iface->xsk.queues; q++) {
		__u32 slot = iface->xsk.slot + q;

		bpf_map_delete_elem(o->xsks_fd, &slot);
	}
}

int zh_ep_write(const struct zh_objs *o, __u32 host_ifindex,
		const struct zh_iface *iface_in,
		const struct zh_endpoint *ep_in)
{
	struct zh_steer_key skeys[2 * ZH_XSK_MAX_STEER];
	struct zh_steer st = { .slot = iface_in->xsk.slot,
			       .queues = iface_in->xsk.queues };
	struct zh_iface iface_pol = *iface_in;
	struct zh_endpoint ep_pol = *ep_in;
	const struct zh_iface *iface = &iface_pol;
	const struct zh_endpoint *ep = &ep_pol;
	struct zh_ep_key keys[2];
	int n = iface_keys(iface, keys), ns = steer_keys(iface, skeys);
	int i, j = 0, err;

	/* NetworkPolicy on: the pod is pending (deny all but the node) from
	 * its first packet until the agent writes its state. */
	err = zh_pol_maps_pod_add(o, keys, n, &iface_pol, &ep_pol);
	if (err)
		return err;

	/* Identity first: from the moment an address routes to this pod, the
	 * pod's replies must pass anti-spoofing. */
	err = update(o->ifaces_fd, &host_ifindex, iface, BPF_ANY);
	if (err)
		return err;
	/* Its sockets' slots start empty, whoever had them before. */
	for (__u32 q = 0; q < iface->xsk.queues; q++) {
		__u32 slot = iface->xsk.slot + q;

		bpf_map_delete_elem(o->xsks_fd, &slot);
	}
	for (j = 0; j < ns; j++) {
		err = update(o->xsk_steer_fd, &skeys[j], &st, BPF_NOEXIST);
		if (err)
			goto err_steer;
	}
	for (i = 0; i < n; i++) {
		/* An address is one pod's: never steal another's entry. */
		err = update(o->endpoints_fd, &keys[i], ep, BPF_NOEXIST);
		if (err)
			goto err_endpoints;
	}
	return 0;

err_endpoints:
	while (i--)
		bpf_map_delete_elem(o->endpoints_fd, &keys[i]);
err_steer:
	while (j--)
		bpf_map_delete_elem(o->xsk_steer_fd, &skeys[j]);
	bpf_map_delete_elem(o->ifaces_fd, &host_ifindex);
	if (iface_pol.flags & ZH_IFACE_F_POLICY)
		zh_pol_maps_pod_del(o, keys, n);
	return err;
}

/* Does conntrack key @k name the address @a, either way? */
static bool ct_names(const struct zh_ct_key *k, const struct zh_ep_key *a)
{
	return k->family == a->family &&
	       (!memcmp(k->saddr, a->addr, sizeof(k->saddr)) ||
		!memcmp(k->daddr, a->addr, sizeof(k->daddr)));
}

/* Entries per lookup batch: grown when a hash bucket does not fit. */
#define CT_BATCH 1024U

int zh_ct_forget(const struct zh_objs *o, const struct zh_ep_flows *flows)
{
	const struct zh_ep_key *a = flows->addr;
	int n = flows->n;
	__u32 in = 0, out = 0, cnt, chunk = CT_BATCH;
	struct zh_ct_key *keys = NULL, *stale = NULL;
	size_t nstale = 0, cap = 0;
	struct zh_ct *vals = NULL;
	bool first = true;
	int rc, removed = 0;

	if (!n || o->ct_fd < 0)
		return 0;
	for (;;) {
		if (!keys) {
			keys = calloc(chunk, sizeof(*keys));
			vals = calloc(chunk, sizeof(*vals));
			if (!keys || !vals) {
				rc = -ENOMEM;
				goto out;
			}
		}
		cnt = chunk;
		rc = bpf_map_lookup_batch(o->ct_fd, first ? NULL : &in, &out,
					  keys, vals, &cnt, NULL);
		rc = rc ? -errno : 0;
		if (rc == -ENOSPC && !cnt && chunk < (1U << 20)) {
			/* A bucket larger than the batch: again, bigger. */
			chunk *= 4;
			free(keys);
			free(vals);
			keys = NULL;
			vals = NULL;
			continue;
		}
		if (rc && rc != -ENOENT)
			goto out;
		for (__u32 i = 0; i < cnt; i++) {
			int j = 0;

			while (j < n && !ct_names(&keys[i], &a[j]))
				j++;
			if (j == n)
				continue;
			if (nstale == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct zh_ct_key *ns =
					realloc(stale, ncap * sizeof(*ns));

				if (!ns) {
					rc = -ENOMEM;
					goto out;
				}
				stale = ns;
				cap = ncap;
			}
			stale[nstale++] = keys[i];
		}
		if (rc == -ENOENT)
			break; /* the end */
		in = out;
		first = false;
	}
	/* Deleted after the walk: deleting during it could skip a bucket. */
	for (size_t i = 0; i < nstale; i++)
		if (!bpf_map_delete_elem(o->ct_fd, &stale[i]))
			removed++;
	rc = removed;
out:
	free(keys);
	free(vals);
	free(stale);
	return rc;
}

/* Forget @flows now; said when it fails. */
static void ct_forget_now(const struct zh_objs *o,
			  const struct zh_ep_flows *flows, __u32 host_ifindex)
{
	int n = zh_ct_forget(o, flows);

	if (n < 0)
		pr_warn("%s: forgetting the flows of ifindex %u: %s\n",
			ZH_MAP_CT, host_ifindex, strerror(-n));
}

/* zh_ep_remove(), the zh_ct walk left to the caller when @flows has room
 * for the pod's addresses. */
static int ep_remove(const struct zh_objs *o, __u32 host_ifindex,
		     struct zh_ep_flows *flows)
{
	struct zh_ep_flows ours = { .n = 0 };
	struct zh_ep_key keys[2];
	struct zh_endpoint ep;
	struct zh_iface iface;
	int n;

	if (bpf_map_lookup_elem(o->ifaces_fd, &host_ifindex, &iface))
		return -errno;
	n = iface_keys(&iface, keys);
	for (int i = 0; i < n; i++) {
		/* Only our own entry: the address may already be another's,
		 * and then so are its flows. */
		if (bpf_map_lookup_elem(o->endpoints_fd, &keys[i], &ep)) {
			ours.addr[ours.n++] = keys[i]; /* nobody's */
		} else if (ep.ifindex == host_ifindex) {
			bpf_map_delete_elem(o->endpoints_fd, &keys[i]);
			zh_pol_maps_pod_del(o, &keys[i], 1);
			ours.addr[ours.n++] = keys[i];
		}
	}
	steer_remove(o, &iface);
	zh_netns_forget(o, host_ifindex);
	if (bpf_map_delete_elem(o->ifaces_fd, &host_ifindex) && errno != ENOENT)
		return -errno;
	if (flows && flows->n + ours.n <= ZH_EP_FLOWS_MAX) {
		for (int i = 0; i < ours.n; i++)
			flows->addr[flows->n++] = ours.addr[i];
		return 0;
	}
	ct_forget_now(o, &ours, host_ifindex);
	return 0;
}

int zh_ep_remove(const struct zh_objs *o, __u32 host_ifindex)
{
	return ep_remove(o, host_ifindex, NULL);
}

int zh_ep_remove_into(const struct zh_objs *o, __u32 host_ifindex,
		      struct zh_ep_flows *flows)
{
	return ep_remove(o, host_ifindex, flows);
}

int zh_steer_check(const struct zh_objs *o, const struct zh_iface *iface)
{
	struct zh_steer_key keys[2 * ZH_XSK_MAX_STEER];
	int n = steer_keys(iface, keys);
	struct zh_steer st;

	if (!n)
		return 0;
	for (int i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(o->xsk_steer_fd, &keys[i], &st))
			return errno == ENOENT ? 0 : -errno;
		if (st.slot != iface->xsk.slot ||
		    st.queues != iface->xsk.queues)
			return 0;
	}
	return 1;
}

struct slot_scan {
	unsigned char used[ZH_XSK_SLOTS];
};

static int slot_cb(__u32 host_ifindex, const struct zh_iface *iface, void *arg)
{
	struct slot_scan *sc = arg;

	for (__u32 q = 0; q < iface->xsk.queues; q++)
		if (iface->xsk.slot + q < ZH_XSK_SLOTS)
			sc->used[iface->xsk.slot + q] = 1;
	return 0;
}

int zh_xsk_slot_alloc(const struct zh_objs *o, unsigned int queues, __u32 *slot)
{
	struct slot_scan *sc;
	int err;

	if (!queues || queues > ZH_XSK_MAX_QUEUES)
		return -EINVAL;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	err = zh_iface_foreach(o, slot_cb, sc);
	if (err)
		goto out;
	err = -ENOSPC;
	for (__u32 s = 0; s + queues <= ZH_XSK_SLOTS; s++) {
		__u32 q = 0;

		while (q < queues && !sc->used[s + q])
			q++;
		if (q == queues) {
			*slot = s;
			err = 0;
			break;
		}
		s += q; /* s + q is taken: go on after it */
	}
out:
	free(sc);
	return err;
}

int zh_ep_lookup(const struct zh_objs *o, const struct zh_ep_key *key,
		 struct zh_endpoint *ep)
{
	return bpf_map_lookup_elem(o->endpoints_fd, key, ep) ? -errno : 0;
}

int zh_iface_lookup(const struct zh_objs *o, __u32 host_ifindex,
		    struct zh_iface *iface)
{
	return bpf_map_lookup_elem(o->ifaces_fd, &host_ifindex, iface) ?
		       -errno :
		       0;
}

int zh_iface_foreach(const struct zh_objs *o,
		     int (*cb)(__u32 host_ifindex, const struct zh_iface *iface,
			       void *arg),
		     void *arg)
{
	__u32 key, next, *prev = NULL;
	struct zh_iface iface;
	int ret;

	while (!bpf_map_get_next_key(o->ifaces_fd, prev, &next)) {
		key = next;
		prev = &key;
		/* Deleted under us between the two calls: skip it. */
		if (bpf_map_lookup_elem(o->ifaces_fd, &key, &iface))
			continue;
		ret = cb(key, &iface, arg);
		if (ret)
			return ret;
	}
	return errno == ENOENT ? 0 : -errno;
}

struct owner {
	const char *container_id;
	const char *pod_ifname;
	__u32 found[64];
	int n;
};

void zh_container_id_key(const char *id, char out[ZH_CONTAINER_ID_LEN])
{
	unsigned char d[32];
	size_t n = strlen(id);

	if (n < ZH_CONTAINER_ID_LEN) {
		memcpy(out, id, n + 1);
		return;
	}
	zh_sha256(id, n, d);
	memcpy(out, id, 62);
	out[62] = '#';
	for (int i = 0; i < 16; i++)
		snprintf(out + 63 + 2 * i, 3, "%02x", d[i]);
}

bool zh_container_id_is(const char *stored, const char *id)
{
	char key[ZH_CONTAINER_ID_LEN];

	zh_container_id_key(id, key);
	return !strncmp(stored, key, ZH_CONTAINER_ID_LEN);
}

static int owner_cb(__u32 host_ifindex, const struct zh_iface *iface, void *arg)
{
	struct owner *w = arg;

	if (!zh_container_id_is(iface->container_id, w->container_id) ||
	    strncmp(iface->pod_ifname, w->pod_ifname,
		    sizeof(iface->pod_ifname)))
		return 0;
	w->found[w->n++] = host_ifindex;
	return w->n == (int)(sizeof(w->found) / sizeof(w->found[0]));
}

int zh_ep_remove_owner(const struct zh_objs *o, const char *container_id,
		       const char *pod_ifname, struct zh_ep_flows *flows)
{
	struct owner w = { .container_id = container_id,
			   .pod_ifname = pod_ifname };
	int err, removed = 0;

	/* Collect first: deleting while walking a hash map restarts walks. */
	err = zh_iface_foreach(o, owner_cb, &w);
	if (err < 0)
		return err;
	for (int i = 0; i < w.n; i++)
		if (!ep_remove(o, w.found[i], flows))
			removed++;
	return removed;
}

int zh_percpu_sum(int fd, __u32 first, __u32 slots, size_t words, __u64 *out,
		  bool reset)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *v;
	int err = 0;

	memset(out, 0, sizeof(*out) * slots * words);
	if (fd < 0)
		return -EBADF;
	if (ncpu < 0)
		return ncpu;
	v = calloc((size_t)ncpu, words * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 s = 0; s < slots && !err; s++) {
		__u32 key = first + s;
		__u64 *o = out + (size_t)s * words;

		if (bpf_map_lookup_elem(fd, &key, v)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < ncpu; c++)
			for (size_t w = 0; w < words; w++)
				o[w] += v[(size_t)c * words + w];
		if (reset) {
			memset(v, 0, (size_t)ncpu * words * sizeof(*v));
			err = update(fd, &key, v, BPF_ANY);
		}
	}
	free(v);
	return err;
}

int zh_stats_read(const struct zh_objs *o, struct zh_counter out[ZH_STAT_MAX])
{
	__u64 sum[ZH_STAT_MAX][2];
	int err = zh_percpu_sum(o->stats_fd, 0, ZH_STAT_MAX, 2, &sum[0][0],
				false);

	for (int s = 0; s < ZH_STAT_MAX; s++) {
		out[s].packets = sum[s][0];
		out[s].bytes = sum[s][1];
	}
	return err;
}

/* Zero slots 0..@n-1 of a per-CPU array whose values are @size bytes. */
static int percpu_zero(int fd, __u32 n, size_t size)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	/* The kernel reads values of per-CPU maps in 8-byte strides. */
	zero = calloc(ncpu, (size + 7) & ~(size_t)7);
	if (!zero)
		return -ENOMEM;
	for (__u32 s = 0; s < n && !err; s++)
		err = update(fd, &s, zero, BPF_ANY);
	free(zero);
	return err;
}

int zh_stats_reset(const struct zh_objs *o)
{
	return percpu_zero(o->stats_fd, ZH_STAT_MAX, sizeof(struct zh_counter));
}

int zh_config_get(const struct zh_objs *o, struct zh_config *cfg)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(o->config_fd, &zero, cfg) ? -errno : 0;
}

int zh_config_set(const struct zh_objs *o, const struct zh_config *cfg)
{
	__u32 zero = 0;

	return update(o->config_fd, &zero, cfg, BPF_ANY);
}

int zh_lat_read(const struct zh_objs *o, int hop, int src, struct zh_hist *out)
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 slot = ZH_LAT_SLOT(hop, src);
	struct zh_hist *percpu;
	int err = 0;

	if (hop < 0 || hop >= ZH_HOP_MAX || src < 0 || src >= ZH_LAT_SRC_MAX)
		return -EINVAL;
	if (ncpu < 0)
		return ncpu;
	/* ~8 KB per CPU: the heap, never the stack. */
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(o->lat_fd, &slot, percpu))
		err = -errno;
	for (int c = 0; c < ncpu && !err; c++)
		zh_hist_merge(out, &percpu[c]);
	free(percpu);
	return err;
}

int zh_lat_reset(const struct zh_objs *o)
{
	struct zh_flow_key key;
	int err;

	err = percpu_zero(o->lat_fd, ZH_LAT_SLOTS, sizeof(struct zh_hist));
	/* Deleting the first key each time: no iteration over a changing map. */
	while (!err && !bpf_map_get_next_key(o->lat_flows_fd, NULL, &key))
		if (bpf_map_delete_elem(o->lat_flows_fd, &key) &&
		    errno != ENOENT)
			err = -errno;
	return err;
}

/* @key is one of the @n keys in @keys? */
static bool key_in(const struct zh_ep_key *key, const struct zh_ep_key *keys,
		   size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(key, &keys[i], sizeof(*key)))
			return true;
	return false;
}

int zh_node_addrs_sync(const struct zh_objs *o, int *count)
{
	struct zh_ep_key keys[ZH_MAX_NODE_ADDRS], key, next;
	struct ifaddrs *ifa, *i;
	__u32 one = 1;
	size_t n = 0;
	void *prev = NULL;
	int err = 0;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && n < ZH_MAX_NODE_ADDRS; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			zh_ep_key_v4(&keys[n++],
				     ((struct sockaddr_in *)i->ifa_addr)
					     ->sin_addr.s_addr);
		else if (i->ifa_addr->sa_family == AF_INET6)
			zh_ep_key_v6(&keys[n++],
				     ((struct sockaddr_in6 *)i->ifa_addr)
					     ->sin6_addr.s6_addr32);
	}
	freeifaddrs(ifa);
	for (size_t k = 0; k < n && !err; k++)
		err = update(o->node_addrs_fd, &keys[k], &one, BPF_ANY);
	/* Then the addresses the node no longer has. */
	while (!err && !bpf_map_get_next_key(o->node_addrs_fd, prev, &next)) {
		key = next;
		if (key_in(&key, keys, n)) {
			prev = &key;
			continue;
		}
		if (bpf_map_delete_elem(o->node_addrs_fd, &key) &&
		    errno != ENOENT)
			err = -errno;
		prev = NULL; /* the walk starts over after a delete */
	}
	if (count)
		*count = (int)n;
	return err;
}

int zh_sample_parse(const char *s, __u32 *every)
{
	uint64_t v;

	if (!strcmp(s, "off")) {
		*every = 0;
		return 0;
	}
	if (zh_params_parse_uint(NULL, s, 0, ZH_SAMPLE_MAX, NULL, &v, NULL, 0))
		return -EINVAL;
	*every = (__u32)v;
	return 0;
}

const char *zh_hop_name(int hop)
{
	static const char *const names[ZH_HOP_MAX] = {
		[ZH_HOP_EGRESS] = "egress",
		[ZH_HOP_DELIVER] = "deliver",
		[ZH_HOP_KERNEL] = "kernel",
		[ZH_HOP_AFXDP] = "afxdp",
	};

	return hop >= 0 && hop < ZH_HOP_MAX ? names[hop] : "unknown";
}

const char *zh_lat_src_name(int src)
{
	static const char *const names[ZH_LAT_SRC_MAX] = {
		[ZH_LAT_PROBE] = "probe",
		[ZH_LAT_SAMPLE] = "sample",
	};

	return src >= 0 && src < ZH_LAT_SRC_MAX ? names[src] : "unknown";
}

const char *zh_stat_name(int stat)
{
	static const char *const names[ZH_STAT_MAX] = {
#define ZH_STAT_NAME(id, name) [ZH_STAT_##id] = name,
		ZH_STATS_KEEP(ZH_STAT_NAME) ZH_STATS_DROP(ZH_STAT_NAME)
#undef ZH_STAT_NAME
	};

	if (stat < 0 || stat >= ZH_STAT_MAX)
		return "unknown";
	return names[stat];
}

/* --- counting a map's entries (zh_map_count) --------------------------- */

#define COUNT_BATCH 256

/* Key by key: a key deleted under the walk restarts it from the first
 * key, so never count past max_entries. */
static int count_walk(int fd, const struct bpf_map_info *info, __u64 *n)
{
	__u64 key[8], next[8]; /* __u64: aligned for any key type */
	void *prev = NULL;

	if (info->key_size > sizeof(key))
		return -E2BIG;
	for (*n = 0; *n < info->max_entries; (*n)++) {
		if (bpf_map_get_next_key(fd, prev, next))
			return errno == ENOENT ? 0 : -errno;
		memcpy(key, next, info->key_size);
		prev = key;
	}
	return 0;
}

int zh_map_count(int fd, const struct bpf_map_info *info, __u64 *n)
{
	bool percpu = info->type == BPF_MAP_TYPE_PERCPU_HASH ||
		      info->type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	size_t vsz = info->value_size;
	__u64 in = 0, out = 0;
	void *keys, *vals;
	bool first = true;
	int err = 0;

	if (info->type == BPF_MAP_TYPE_ARRAY ||
	    info->type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		*n = info->max_entries;
		return 0;
	}
	if (percpu)
		vsz = ((vsz + 7) & ~(size_t)7) *
		      (size_t)libbpf_num_possible_cpus();
	keys = malloc((size_t)COUNT_BATCH * info->key_size);
	vals = malloc((size_t)COUNT_BATCH * vsz);
	*n = 0;
	while (keys && vals) {
		__u32 count = COUNT_BATCH;

		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys,
					   vals, &count, NULL);
		if (err && errno != ENOENT)
			break;
		*n += count;
		first = false;
		in = out;
		if (err) { /* ENOENT: that was the last batch */
			err = 0;
			break;
		}
	}
	free(keys);
	free(vals);
	if (!keys || !vals)
		return -ENOMEM;
	if (err && (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP))
		return count_walk(fd, info, n); /* no batch ops here */
	return err ? -errno : 0;
}

/* --- zh_netns ------------------------------------------------------------ */

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* asm-generic/socket.h, kernel 5.14 */
#endif

int zh_netns_cookie(__u64 *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd, err = 0;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len))
		err = -errno;
	else if (len != sizeof(*cookie))
		err = -EINVAL;
	close(fd);
	return err;
}

int zh_netns_write(const struct zh_objs *o, __u64 cookie,
		   const struct zh_netns *n)
{
	if (o->netns_fd < 0)
		return -ENOENT;
	return update(o->netns_fd, &cookie, n, BPF_ANY);
}

/* The pod entries of host veth @ifindex, or (@node) the node entries but
 * @keep's: collected first, as deleting while walking a hash map restarts
 * the walk. How many went. */
static int netns_forget(const struct zh_objs *o, __u32 ifindex, bool node,
			__u64 keep)
{
	__u64 found[64], key, cur = 0;
	struct zh_netns n;
	bool first = true, match;
	int nf = 0, gone = 0;

	if (o->netns_fd < 0)
		return 0;
	while (nf < (int)(sizeof(found) / sizeof(found[0])) &&
	       !bpf_map_get_next_key(o->netns_fd, first ? NULL : &cur, &key)) {
		first = false;
		cur = key;
		if (bpf_map_lookup_elem(o->netns_fd, &key, &n))
			continue;
		match = node ? (n.flags & ZH_NETNS_F_NODE) && key != keep :
			       !(n.flags & ZH_NETNS_F_NODE) &&
					n.ifindex == ifindex;
		if (match)
			found[nf++] = key;
	}
	for (int i = 0; i < nf; i++)
		if (!bpf_map_delete_elem(o->netns_fd, &found[i]))
			gone++;
	return gone;
}

int zh_netns_forget(const struct zh_objs *o, __u32 host_ifindex)
{
	return netns_forget(o, host_ifindex, false, 0);
}

/* The source the kernel picks towards @dst (a UDP connect(): nothing is
 * sent), into @out (4 or 16 bytes). */
static int route_src(int family, const void *dst, void *out)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) :
					    sizeof(struct sockaddr_in6);
	int fd, err = 0;

	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
			*(const __u32 *)dst;
		((struct sockaddr_in *)&ss)->sin_port = htons(9);
	} else {
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, dst, 16);
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(9);
	}
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len))
		err = -errno;
	close(fd);
	if (err)
		return err;
	if (family == AF_INET)
		memcpy(out, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else
		memcpy(out, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	return 0;
}

int zh_netns_node_sync(const struct zh_objs *o, __u32 probe4,
		       const __u32 *probe6, struct zh_netns *out)
{
	static const __u32 zero6[4];
	struct zh_netns n = { .flags = ZH_NETNS_F_NODE };
	struct ifaddrs *ifa, *i;
	__u64 cookie;
	int err;

	if (o->netns_fd < 0)
		return -ENOENT;
	err = zh_netns_cookie(&cookie);
	if (err)
		return err;
	if (probe4 && !route_src(AF_INET, &probe4, &n.addr4) && n.addr4)
		n.flags |= ZH_NETNS_F_V4;
	if (probe6 && memcmp(probe6, zero6, 16) &&
	    !route_src(AF_INET6, probe6, n.addr6) && memcmp(n.addr6, zero6, 16))
		n.flags |= ZH_NETNS_F_V6;
	if (!getifaddrs(&ifa)) {
		for (i = ifa; i; i = i->ifa_next) {
			const struct sockaddr_in *s4 = (void *)i->ifa_addr;
			const struct sockaddr_in6 *s6 = (void *)i->ifa_addr;

			if (!i->ifa_addr)
				continue;
			if (i->ifa_addr->sa_family == AF_INET &&
			    !(n.flags & ZH_NETNS_F_V4) &&
			    (ntohl(s4->sin_addr.s_addr) >> 24) != 127 &&
			    (ntohl(s4->sin_addr.s_addr) >> 16) != 0xa9fe) {
				n.addr4 = s4->sin_addr.s_addr;
				n.flags |= ZH_NETNS_F_V4;
			} else if (i->ifa_addr->sa_family == AF_INET6 &&
				   !(n.flags & ZH_NETNS_F_V6) &&
				   !IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) &&
				   !IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)) {
				memcpy(n.addr6, &s6->sin6_addr, 16);
				n.flags |= ZH_NETNS_F_V6;
			}
		}
		freeifaddrs(ifa);
	}
	err = update(o->netns_fd, &cookie, &n, BPF_ANY);
	if (err)
		return err;
	/* One node: an agent restarted in another netns (a test's node)
	 * leaves no second one behind. */
	netns_forget(o, 0, true, cookie);
	if (out)
		*out = n;
	return 0;
}
