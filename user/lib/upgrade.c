// SPDX-License-Identifier: Apache-2.0
/*
 * upgrade.c - taking a node over from another version's pins without
 * dropping its flows: share, carry, move, unpin (upgrade.h says what each
 * step does and why).
 */
#define _GNU_SOURCE /* if_nameindex() */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "upgrade.h"
#include "attach.h"
#include "layout.h"
#include "log.h"
#include "maps.h"
#include "netns.h"
#include "kfeatures.h"
#include "zh_fast.skel.h"

#define MAX_PINS 64
#define MAX_VERSIONS 16
#define MAX_NETNS 4096

/* "v<N>": the version's number, or -1 for any other name. */
static long version_num(const char *name)
{
	char *end;
	long n;

	if (name[0] != 'v' || name[1] < '0' || name[1] > '9')
		return -1;
	n = strtol(name + 1, &end, 10);
	return *end ? -1 : n;
}

static int by_version_desc(const void *a, const void *b)
{
	long x = version_num(a), y = version_num(b);

	return x < y ? 1 : x > y ? -1 : 0;
}

int zh_upgrade_versions(const char *root, char out[][16], int max)
{
	char path[PATH_MAX];
	struct dirent *e;
	struct stat st;
	int n = 0;
	DIR *d;

	d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) && n < max) {
		if (version_num(e->d_name) < 0 ||
		    !strcmp(e->d_name, ZH_PIN_VERSION) ||
		    strlen(e->d_name) >= 16)
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
		if (stat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		snprintf(out[n++], 16, "%s", e->d_name);
	}
	closedir(d);
	qsort(out, (size_t)n, sizeof(out[0]), by_version_desc);
	return n;
}

/* --- the pins of one version ---------------------------------------------- */

struct pin {
	char name[64]; /* without the suffix it was opened by */
	int fd;
	bool prog;
	__u32 id;
	__u8 tag[BPF_TAG_SIZE]; /* programs: the kernel's hash of the code */
	struct bpf_map_info map; /* maps only */
};

struct pinset {
	char dir[PATH_MAX];
	struct pin pin[MAX_PINS];
	int n;
};

/* A program or a map? The anonymous inode's name says. */
static int fd_kind(int fd, bool *prog)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (!strcmp(target, "anon_inode:bpf-prog"))
		*prog = true;
	else if (!strcmp(target, "anon_inode:bpf-map"))
		*prog = false;
	else
		return -ENOTSUP;
	return 0;
}

static void pinset_close(struct pinset *s)
{
	for (int i = 0; i < s->n; i++)
		close(s->pin[i].fd);
	s->n = 0;
}

/*
 * Every program and map pinned in @dir, opened: with @suffix NULL those
 * whose name has no '-' (ours never have, a build's programs on their way
 * in have NEW_SUFFIX), else only those whose name ends in @suffix (kept
 * without it).
 */
static int pinset_open(struct pinset *s, const char *dir, const char *suffix)
{
	struct dirent *e;
	DIR *d;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct pin *p = &s->pin[s->n];
		size_t len = strlen(e->d_name),
		       sl = suffix ? strlen(suffix) : 0;
		struct bpf_prog_info pi = {};
		char path[PATH_MAX];
		__u32 ilen;

		if (e->d_name[0] == '.' || len >= sizeof(p->name) ||
		    (!suffix && strchr(e->d_name, '-')) ||
		    (suffix &&
		     (len <= sl || strcmp(e->d_name + len - sl, suffix))))
			continue;
		if (s->n == MAX_PINS) {
			closedir(d);
			pinset_close(s);
			return -E2BIG;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		p->fd = bpf_obj_get(path);
		if (p->fd < 0)
			continue;
		if (fd_kind(p->fd, &p->prog)) {
			close(p->fd);
			continue;
		}
		snprintf(p->name, sizeof(p->name), "%.*s", (int)(len - sl),
			 e->d_name);
		if (p->prog) {
			ilen = sizeof(pi);
			if (bpf_obj_get_info_by_fd(p->fd, &pi, &ilen))
				goto skip;
			p->id = pi.id;
			memcpy(p->tag, pi.tag, sizeof(p->tag));
		} else {
			ilen = sizeof(p->map);
			if (bpf_obj_get_info_by_fd(p->fd, &p->map, &ilen))
				goto skip;
			p->id = p->map.id;
		}
		s->n++;
		continue;
skip:
		close(p->fd);
	}
	closedir(d);
	return 0;
}

static struct pin *pin_find(struct pinset *s, const char *name, bool prog)
{
	for (int i = 0; i < s->n; i++)
		if (s->pin[i].prog == prog && !strcmp(s->pin[i].name, name))
			return &s->pin[i];
	return NULL;
}

static struct pin *pin_by_id(struct pinset *s, __u32 id, bool prog)
{
	for (int i = 0; i < s->n; i++)
		if (s->pin[i].prog == prog && s->pin[i].id == id)
			return &s->pin[i];
	return NULL;
}

static bool hash_like(__u32 type)
{
	return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_LRU_HASH;
}

/* --- 1. share ----------------------------------------------------------- */

/*
 * Maps whose entries name each other's (a conntrack entry a service's and
 * a backend's IDs, a steering rule a pod's sockets' slots): shared with
 * another version all together or not at all, and carried so too. A map
 * in no group is a group of its own.
 */
#define GROUP_MAX 9
static const char *const groups[][GROUP_MAX] = {
	{ ZH_MAP_SERVICES, ZH_MAP_BACKENDS, ZH_MAP_MAGLEV, ZH_MAP_CT,
	  ZH_MAP_AFFINITY, NULL },
	{ ZH_MAP_ENDPOINTS, ZH_MAP_IFACES, ZH_MAP_XSK_STEER, ZH_MAP_XSKS,
	  NULL },
	/* NetworkPolicy: identities, classes, bitmaps and the epoch name
	 * each other's numbers. */
	{ ZH_MAP_IPCACHE, ZH_MAP_IPCACHE_LPM, ZH_MAP_POLICY, ZH_MAP_POL_PORTS,
	  ZH_MAP_POL_EPS, ZH_MAP_POL_STATE, ZH_MAP_POL_CT, ZH_MAP_POLCTR,
	  NULL },
};
#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

/* The group @name is in, or -1. */
static int group_of(const char *name)
{
	for (size_t g = 0; g < N_GROUPS; g++)
		for (int i = 0; i < GROUP_MAX && groups[g][i]; i++)
			if (!strcmp(groups[g][i], name))
				return (int)g;
	return -1;
}

/*
 * Is the pinned map @info (BTF from the kernel) exactly @map of an object
 * whose BTF is @btf? The definition first, then the layouts. Only where
 * max_entries is a capacity (hash maps, the Maglev slots) may it differ:
 * a pinned map keeps its size. A map the kernel keeps without BTF is
 * compared by its definition alone: XSKMAPs (whose values are sockets)
 * are made so.
 */
static bool map_same(const struct bpf_map_info *info, const struct btf *btf,
		     const struct bpf_map *map)
{
	bool capacity = hash_like(info->type) ||
			!strcmp(bpf_map__name(map), ZH_MAP_MAGLEV);
	struct btf *kbtf;
	bool same;

	if (info->type != bpf_map__type(map) ||
	    info->key_size != bpf_map__key_size(map) ||
	    info->value_size != bpf_map__value_size(map) ||
	    (!capacity && info->max_entries != bpf_map__max_entries(map)) ||
	    info->map_flags != bpf_map__map_flags(map))
		return false;
	if (!info->btf_id || !info->btf_value_type_id)
		return info->type == BPF_MAP_TYPE_XSKMAP;
	if (!btf || !bpf_map__btf_key_type_id(map) ||
	    !bpf_map__btf_value_type_id(map))
		return false;
	kbtf = btf__load_from_kernel_by_id(info->btf_id);
	if (!kbtf)
		return false;
	same = zh_layout_same(kbtf, info->btf_key_type_id, btf,
			      bpf_map__btf_key_type_id(map)) &&
	       zh_layout_same(kbtf, info->btf_value_type_id, btf,
			      bpf_map__btf_value_type_id(map));
	btf__free(kbtf);
	return same;
}

/* A map of @obj the loader makes (not its own data sections). */
static bool loader_map(const struct bpf_map *map)
{
	/* Pinned by name: every load of ours reuses it (not a map each load
	 * makes its own, such as a test's). */
	return !bpf_map__is_internal(map) && bpf_map__autocreate(map) &&
	       bpf_map__pin_path(map);
}

/*
 * Share from version @vdir the group of @first (the maps of @obj in the
 * same group, or @first alone): all pinned there exactly as @obj defines
 * them, none pinned in @dir yet. Returns how many maps were shared.
 */
static int share_group(const char *vdir, const char *dir,
		       struct bpf_object *obj, struct bpf_map *first)
{
	const struct btf *btf = bpf_object__btf(obj);
	int g = group_of(bpf_map__name(first)), n = 0, err = 0;
	struct bpf_map *members[GROUP_MAX], *map;
	__u32 sizes[GROUP_MAX];
	int fds[GROUP_MAX];
	char path[PATH_MAX + 64];

	if (g < 0) {
		members[n++] = first;
	} else {
		bpf_object__for_each_map (map, obj)
			if (loader_map(map) && n < GROUP_MAX &&
			    group_of(bpf_map__name(map)) == g)
				members[n++] = map;
	}
	for (int i = 0; i < n; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		bool prog = true;

		fds[i] = -1;
		snprintf(path, sizeof(path), "%s/%s", dir,
			 bpf_map__name(members[i]));
		if (!access(path, F_OK)) {
			err = -EEXIST; /* ours already */
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", vdir,
			 bpf_map__name(members[i]));
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0 || fd_kind(fds[i], &prog) || prog ||
		    bpf_obj_get_info_by_fd(fds[i], &info, &len) ||
		    !map_same(&info, btf, members[i]))
			err = -ENOENT;
		sizes[i] = info.max_entries;
	}
	/* All alike: shared, the definitions taking the pinned sizes. */
	for (int i = 0; i < n && !err; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir,
			 bpf_map__name(members[i]));
		if (bpf_obj_pin(fds[i], path) ||
		    bpf_map__set_max_entries(members[i], sizes[i]))
			err = -errno;
		else
			pr_debug("%s: %s's map is ours too\n", path, vdir);
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (err == -ENOENT || err == -EEXIST)
		return 0;
	return err ? err : n;
}

/* Is @map the first map of @obj (that the loader makes) in group @g? */
static bool first_of_group(struct bpf_object *obj, const struct bpf_map *map,
			   int g)
{
	struct bpf_map *m;

	bpf_object__for_each_map (m, obj)
		if (loader_map(m) && group_of(bpf_map__name(m)) == g)
			return m == map;
	return false;
}

int zh_upgrade_share(const char *root, const char *dir, struct bpf_object *obj)
{
	char vers[MAX_VERSIONS][16], vdir[ZH_PIN_PATH_MAX + 32];
	int n = zh_upgrade_versions(root, vers, MAX_VERSIONS), shared = 0;
	struct bpf_map *map;

	for (int v = 0; v < n; v++) {
		snprintf(vdir, sizeof(vdir), "%s/%s", root, vers[v]);
		bpf_object__for_each_map (map, obj) {
			int g = group_of(bpf_map__name(map)), r;

			/* A group once, from its first member. */
			if (!loader_map(map) ||
			    (g >= 0 && !first_of_group(obj, map, g)))
				continue;
			r = share_group(vdir, dir, obj, map);
			if (r < 0)
				return r;
			shared += r;
		}
	}
	return n < 0 ? n : shared;
}

/* --- 2. carry ------------------------------------------------------------- */

enum carry_how {
	CARRY_ENTRIES, /* entry by entry, ours win */
	/* The Service group (see groups[]), into ours while they hold no
	 * Service: the tables once, the flows also those made meanwhile. */
	CARRY_SERVICES_ONCE,
	CARRY_SERVICES,
	CARRY_IF_EMPTY, /* a one-entry array, into ours while it is zero */
};

static const struct {
	const char *name;
	enum carry_how how;
} carried[] = {
	{ ZH_MAP_ENDPOINTS, CARRY_ENTRIES },
	{ ZH_MAP_IFACES, CARRY_ENTRIES },
	{ ZH_MAP_XSK_STEER, CARRY_ENTRIES },
	{ ZH_MAP_NODE_ADDRS, CARRY_ENTRIES },
	{ ZH_MAP_NODES, CARRY_ENTRIES },
	{ ZH_MAP_CLUSTER_CIDRS, CARRY_ENTRIES },
	{ ZH_MAP_SERVICES, CARRY_SERVICES_ONCE },
	{ ZH_MAP_BACKENDS, CARRY_SERVICES_ONCE },
	{ ZH_MAP_MAGLEV, CARRY_SERVICES_ONCE },
	{ ZH_MAP_CT, CARRY_SERVICES },
	{ ZH_MAP_AFFINITY, CARRY_SERVICES },
	{ ZH_MAP_CONFIG, CARRY_IF_EMPTY },
	/* NetworkPolicy, so that the endpoints' ZH_*_F_POLICY bits (carried
	 * above) find their state: what is not carried (the LPM, the port
	 * bitmaps) reads as no allow, until the agent writes its own. */
	{ ZH_MAP_POL_EPS, CARRY_ENTRIES },
	{ ZH_MAP_IPCACHE, CARRY_ENTRIES },
	{ ZH_MAP_POLICY, CARRY_ENTRIES },
	{ ZH_MAP_POL_STATE, CARRY_IF_EMPTY },
};

/* The plans for a key and a value of @src into @dst, from their BTF. */
static int carry_plans(const struct pin *src, const struct pin *dst,
		       struct zh_layout_plan *kp, struct zh_layout_plan *vp,
		       char *why, size_t why_len)
{
	const struct bpf_map_info *s = &src->map, *d = &dst->map;
	struct btf *sb = NULL, *db = NULL;
	int err = -EINVAL;

	if (!(hash_like(s->type) && hash_like(d->type)) &&
	    !(s->type == BPF_MAP_TYPE_ARRAY && d->type == BPF_MAP_TYPE_ARRAY))
		return zh_errf(why, why_len, -EINVAL,
			       "map type %u, was %u: not carried", d->type,
			       s->type);
	if (!s->btf_id || !d->btf_id || !s->btf_value_type_id ||
	    !d->btf_value_type_id)
		return zh_errf(why, why_len, -EINVAL, "no BTF to convert by");
	sb = btf__load_from_kernel_by_id(s->btf_id);
	db = btf__load_from_kernel_by_id(d->btf_id);
	if (!sb || !db) {
		err = zh_errf(why, why_len, -errno, "BTF: %s", strerror(errno));
		goto out;
	}
	/* Array keys are indexes: the same whatever the BTF says. */
	if (s->type == BPF_MAP_TYPE_ARRAY)
		*kp = (struct zh_layout_plan){ 4, 4, 1, { { 0, 0, 4 } } };
	else if ((err = zh_layout_plan(sb, s->btf_key_type_id, db,
				       d->btf_key_type_id, kp, why, why_len)))
		goto out;
	err = zh_layout_plan(sb, s->btf_value_type_id, db, d->btf_value_type_id,
			     vp, why, why_len);
	if (!err &&
	    (kp->src_size != s->key_size || kp->dst_size != d->key_size ||
	     vp->src_size != s->value_size || vp->dst_size != d->value_size))
		err = zh_errf(why, why_len, -EINVAL,
			      "BTF sizes are not the map's");
out:
	btf__free(sb);
	btf__free(db);
	return err;
}

/*
 * The first @max elements of the array @src into @dst, in batches (the
 * Maglev slots run to millions: one syscall each took seconds), element
 * by element where the kernel has no batch operations for arrays.
 */
static long carry_array(const struct pin *src, const struct pin *dst,
			const struct zh_layout_plan *vp, __u32 max)
{
	enum { BATCH = 4096 };
	__u32 *keys = calloc(BATCH, sizeof(*keys)), next = 0, i = 0;
	char *sv = calloc(BATCH, vp->src_size);
	char *dv = calloc(BATCH, vp->dst_size);
	struct bpf_map_batch_opts bo = { .sz = sizeof(bo) };
	bool end = false;
	long n = -ENOMEM;

	if (!keys || !sv || !dv)
		goto out;
	n = 0;
	while (i < max && !end) {
		__u32 count = max - i < BATCH ? max - i : BATCH;

		if (bpf_map_lookup_batch(src->fd, i ? &next : NULL, &next, keys,
					 sv, &count, &bo)) {
			if (errno != ENOENT)
				break; /* no batches: element by element */
			end = true; /* the last ones, maybe none */
		}
		for (__u32 k = 0; k < count; k++)
			zh_layout_apply(vp, sv + (size_t)k * vp->src_size,
					dv + (size_t)k * vp->dst_size);
		if (count &&
		    !bpf_map_update_batch(dst->fd, keys, dv, &count, &bo))
			n += count;
		i += count;
		end |= !count;
	}
	for (; i < max && !end; i++) {
		if (bpf_map_lookup_elem(src->fd, &i, sv))
			continue;
		zh_layout_apply(vp, sv, dv);
		if (!bpf_map_update_elem(dst->fd, &i, dv, BPF_ANY))
			n++;
	}
out:
	free(keys);
	free(sv);
	free(dv);
	return n;
}

/* Every entry of @src into @dst: hash maps with BPF_NOEXIST (ours win),
 * arrays index by index. Returns how many were written, or an error. */
static long carry_map(const struct pin *src, const struct pin *dst,
		      const struct zh_layout_plan *kp,
		      const struct zh_layout_plan *vp)
{
	void *sk = calloc(1, kp->src_size), *dk = calloc(1, kp->dst_size);
	void *sv = calloc(1, vp->src_size), *dv = calloc(1, vp->dst_size);
	bool array = src->map.type == BPF_MAP_TYPE_ARRAY;
	__u32 max = src->map.max_entries;
	long n = 0;

	if (!sk || !dk || !sv || !dv) {
		n = -ENOMEM;
		goto out;
	}
	if (array && dst->map.max_entries < max)
		max = dst->map.max_entries;
	if (array) {
		n = carry_array(src, dst, vp, max);
		goto out;
	}
	/* An LRU map may drop entries under the walk and restart it: twice
	 * its size in steps is enough for any walk that ends. */
	for (__u64 steps = 0, limit = 2ULL * max + 2;
	     !bpf_map_get_next_key(src->fd, steps ? sk : NULL, sk) &&
	     steps < limit;
	     steps++) {
		if (bpf_map_lookup_elem(src->fd, sk, sv))
			continue; /* gone meanwhile */
		zh_layout_apply(kp, sk, dk);
		zh_layout_apply(vp, sv, dv);
		if (!bpf_map_update_elem(dst->fd, dk, dv, BPF_NOEXIST))
			n++;
		else if (errno != EEXIST)
			pr_debug("%s: an entry not carried: %s\n", dst->name,
				 strerror(errno));
	}
out:
	free(sk);
	free(dk);
	free(sv);
	free(dv);
	return n;
}

static bool map_empty(const struct pin *p)
{
	char key[256];

	if (p->map.type == BPF_MAP_TYPE_ARRAY) {
		char *v = calloc(1, p->map.value_size);
		__u32 zero = 0;
		bool empty = true;

		if (!v)
			return false;
		if (!bpf_map_lookup_elem(p->fd, &zero, v))
			for (__u32 i = 0; i < p->map.value_size && empty; i++)
				empty = !v[i];
		free(v);
		return empty;
	}
	return p->map.key_size > sizeof(key) ||
	       bpf_map_get_next_key(p->fd, NULL, key) != 0;
}

struct takeover {
	const struct zh_objs *o;
	struct pinset old, ours;
	struct zh_upgrade_result *r;
	bool services_fresh; /* our Service maps had none of their own */
	/* the netns to look in: NULL (ours) first, then the pods' */
	char (*netns)[ZH_NETNS_LEN];
	int n_netns;
	bool replace; /* move what we find, or count it */
	int found;
};

/* One pass of step 2. The first carries everything the rules say; a
 * later one only what the datapath writes (entries made meanwhile). */
static int carry(struct takeover *t, bool first)
{
	struct zh_layout_plan *kp = malloc(sizeof(*kp)),
			      *vp = malloc(sizeof(*vp));
	char why[256];
	int err = 0;

	if (!kp || !vp) {
		free(kp);
		free(vp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(carried) / sizeof(carried[0]); i++) {
		struct pin *src = pin_find(&t->old, carried[i].name, false);
		struct pin *dst = pin_find(&t->ours, carried[i].name, false);
		enum carry_how how = carried[i].how;
		bool svc = how == CARRY_SERVICES_ONCE || how == CARRY_SERVICES;
		long n;

		if (!src || !dst || src->id == dst->id)
			continue; /* not there, or shared */
		if ((svc && !t->services_fresh) ||
		    (!first && how != CARRY_ENTRIES && how != CARRY_SERVICES) ||
		    (how == CARRY_IF_EMPTY && !map_empty(dst)))
			continue;
		if (carry_plans(src, dst, kp, vp, why, sizeof(why))) {
			/* The new version starts without them: said, not
			 * fatal (its control plane writes them again). */
			if (first)
				pr_warn("%s: %s's entries cannot be carried over: %s\n",
					carried[i].name, t->r->version, why);
			continue;
		}
		n = carry_map(src, dst, kp, vp);
		if (n < 0) {
			err = err ? err : (int)n;
			continue;
		}
		if (first)
			t->r->carried++;
		t->r->entries += (unsigned long)n;
		pr_debug("%s: %ld entries carried from %s\n", carried[i].name,
			 n, t->r->version);
	}
	free(kp);
	free(vp);
	return err;
}

/* --- 3. move -------------------------------------------------------------- */

static int hook_cb(int ifindex, enum zh_hook hook, __u32 id, void *arg)
{
	struct takeover *t = arg;
	struct pin *old = pin_by_id(&t->old, id, true), *ours;
	char name[IF_NAMESIZE] = "?";
	int err;

	if (!old)
		return 0;
	if_indextoname((unsigned int)ifindex, name);
	if (!t->replace) {
		t->found++;
		pr_debug("%s of %s still on %s (%s)\n", old->name,
			 t->r->version, name, zh_hook_name(hook));
		return 0;
	}
	ours = pin_find(&t->ours, old->name, true);
	err = ours ? zh_hook_replace(ifindex, hook, old->fd, ours->fd) :
		     -ENOENT;
	if (err) {
		pr_warn("%s: %s of %s stays (%s): %s\n", name, old->name,
			t->r->version, zh_hook_name(hook),
			ours ? strerror(-err) : "no program of that name here");
		return 0;
	}
	t->r->moved++;
	return 0;
}

static int scan_netns(void *arg)
{
	struct if_nameindex *ifs = if_nameindex();

	if (!ifs)
		return -errno;
	for (struct if_nameindex *i = ifs; i->if_index; i++)
		zh_hooks_foreach((int)i->if_index, hook_cb, arg);
	if_freenameindex(ifs);
	return 0;
}

static int netns_cb(__u32 host_ifindex, const struct zh_iface *iface, void *arg)
{
	struct takeover *t = arg;

	if (!iface->netns[0] || t->n_netns == MAX_NETNS)
		return 0;
	for (int i = 1; i < t->n_netns; i++)
		if (!strncmp(t->netns[i], iface->netns, ZH_NETNS_LEN))
			return 0;
	snprintf(t->netns[t->n_netns++], ZH_NETNS_LEN, "%.*s", ZH_NETNS_LEN - 1,
		 iface->netns);
	return 0;
}

/* Our netns and every pod's: move (or count) the other version's
 * attachments. */
static void scan(struct takeover *t, bool replace)
{
	t->replace = replace;
	t->found = 0;
	for (int i = 0; i < t->n_netns; i++) {
		int err = zh_netns_run(i ? t->netns[i] : NULL, scan_netns, t);

		if (err && err != -ENOENT)
			pr_debug("netns %s: %s\n", i ? t->netns[i] : "(ours)",
				 strerror(-err));
	}
}

/* --- 4. unpin ------------------------------------------------------------- */

/*
 * Is every map of ours in @name's group (or @name alone) of the size a
 * build makes it by default (no --map-size, --maglev-slots)? An older
 * build reuses a pinned map only at the size its own definition says
 * (libbpf refuses another, and the loaders before pinned_settings() in
 * pin.c did not adapt): a pinned map of another size would stop its agent
 * and plugin from loading at all.
 */
static bool default_sized(struct takeover *t, struct zh_fast *skel,
			  const char *name)
{
	int g = group_of(name);
	struct bpf_map *m;

	if (!skel)
		return false;
	bpf_object__for_each_map (m, skel->obj) {
		const struct pin *p;

		if (g < 0 ? strcmp(bpf_map__name(m), name) :
			    group_of(bpf_map__name(m)) != g)
			continue;
		p = pin_find(&t->ours, bpf_map__name(m), false);
		if (p && p->map.max_entries != bpf_map__max_entries(m))
			return false;
	}
	return true;
}

/*
 * Every pin of the other version that is no map of ours: its programs and
 * the maps only it used. Its pins of maps we share stay, for a rollback
 * to it, where it can reuse them: whole groups of default sizes.
 */
static void unpin(struct takeover *t)
{
	struct zh_fast *skel = zh_fast__open();
	char path[PATH_MAX];

	for (int i = 0; i < t->old.n; i++) {
		const struct pin *p = &t->old.pin[i];

		if (!p->prog && pin_by_id(&t->ours, p->id, false) &&
		    default_sized(t, skel, p->name)) {
			t->r->kept++; /* ours too, and theirs for a rollback */
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", t->old.dir, p->name);
		if (!unlink(path))
			t->r->unpinned++;
		else
			pr_warn("unpin %s: %s\n", path, strerror(errno));
	}
	zh_fast__destroy(skel);
	t->r->removed = !rmdir(t->old.dir);
}

/* A takeover's state for @o, @r zeroed and named @version, its clock
 * started at @t0; NULL (and @r named) when out of memory. */
static struct takeover *takeover_new(const struct zh_objs *o,
				     const char *version,
				     struct zh_upgrade_result *r,
				     struct timespec *t0)
{
	struct takeover *t = calloc(1, sizeof(*t));

	clock_gettime(CLOCK_MONOTONIC, t0);
	memset(r, 0, sizeof(*r));
	snprintf(r->version, sizeof(r->version), "%s", version);
	if (!t)
		return NULL;
	t->o = o;
	t->r = r;
	t->netns = calloc(MAX_NETNS, sizeof(*t->netns));
	if (!t->netns) {
		free(t);
		return NULL;
	}
	return t;
}

/* Our netns, then every pod's; then the first scan of them all. */
static void takeover_scan_all(struct takeover *t)
{
	t->n_netns = 1;
	zh_iface_foreach(t->o, netns_cb, t);
	t->r->netns = t->n_netns;
	scan(t, true);
}

static int takeover_end(struct takeover *t, const struct timespec *t0, int err)
{
	struct zh_upgrade_result *r = t->r;
	struct timespec t1;

	pinset_close(&t->old);
	pinset_close(&t->ours);
	free(t->netns);
	free(t);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->secs = (double)(t1.tv_sec - t0->tv_sec) +
		  (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
	return err;
}

static int takeover_one(const struct zh_objs *o, const char *version,
			struct zh_upgrade_result *r)
{
	struct takeover *t;
	struct timespec t0;
	char dir[PATH_MAX];
	struct pin *svc;
	int err;

	t = takeover_new(o, version, r, &t0);
	if (!t)
		return -ENOMEM;
	snprintf(dir, sizeof(dir), "%s/%s", o->root, version);
	err = pinset_open(&t->old, dir, NULL);
	if (!err)
		err = pinset_open(&t->ours, o->dir, NULL);
	if (err)
		goto out;
	for (int i = 0; i < t->old.n; i++)
		r->shared += !t->old.pin[i].prog &&
			     pin_by_id(&t->ours, t->old.pin[i].id, false);
	svc = pin_find(&t->ours, ZH_MAP_SERVICES, false);
	t->services_fresh = svc && map_empty(svc);

	err = carry(t, true);
	/* Where to look: our netns, then every pod's (ours now include the
	 * other version's, just carried). */
	takeover_scan_all(t);
	if (r->moved) {
		int e = carry(t, false);

		err = err ? err : e;
	}
	scan(t, false);
	r->left = t->found;
	if (!r->left)
		unpin(t);
out:
	return takeover_end(t, &t0, err);
}

int zh_upgrade_takeover(const struct zh_objs *o,
			void (*cb)(const struct zh_upgrade_result *r,
				   void *arg),
			void *arg)
{
	char vers[MAX_VERSIONS][16];
	int n = zh_upgrade_versions(o->root, vers, MAX_VERSIONS), err = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct zh_upgrade_result r;
		int e;

		/* A newer version: this is a rollback, and the pods keep
		 * the newer programs (README, "Rollbacks"). Its maps we
		 * could share are shared already. */
		if (version_num(vers[i]) > version_num(ZH_PIN_VERSION)) {
			pr_info("%s is newer than %s: left as it is (a rollback)\n",
				vers[i], ZH_PIN_VERSION);
			continue;
		}
		e = takeover_one(o, vers[i], &r);

		if (e)
			pr_warn("taking over from %s: %s\n", vers[i],
				strerror(-e));
		err = err ? err : e;
		if (cb)
			cb(&r, arg);
	}
	return err;
}

/* --- the same version, another build ---------------------------------------- */

/* bpffs refuses names with a dot. */
#define NEW_SUFFIX "-new"

/* Do the programs pinned as @t->old differ from this build's? */
static bool programs_differ(struct takeover *t)
{
	for (int i = 0; i < t->ours.n; i++) {
		const struct pin *n = &t->ours.pin[i], *p;

		if (!n->prog)
			continue;
		p = pin_find(&t->old, n->name, true);
		if (!p || memcmp(p->tag, n->tag, sizeof(p->tag)))
			return true;
	}
	return false;
}

/* Our programs, pinned with NEW_SUFFIX, take their names: the old ones'
 * pins go (and with them the programs, once detached). */
static int rename_new(struct takeover *t)
{
	char from[PATH_MAX + 80], to[PATH_MAX + 80];
	int err = 0;

	for (int i = 0; i < t->ours.n; i++) {
		snprintf(to, sizeof(to), "%.*s/%s", PATH_MAX - 1, t->ours.dir,
			 t->ours.pin[i].name);
		snprintf(from, sizeof(from), "%.*s/%s" NEW_SUFFIX, PATH_MAX - 1,
			 t->ours.dir, t->ours.pin[i].name);
		if (rename(from, to) && !err) {
			err = -errno;
			pr_warn("rename %s: %s\n", from, strerror(errno));
		}
	}
	return err;
}

static void unlink_new(struct takeover *t)
{
	char path[PATH_MAX + 80];

	for (int i = 0; i < t->ours.n; i++) {
		snprintf(path, sizeof(path), "%.*s/%s" NEW_SUFFIX, PATH_MAX - 1,
			 t->ours.dir, t->ours.pin[i].name);
		unlink(path);
	}
}

int zh_upgrade_programs(struct zh_objs *o, const struct zh_load_opts *opts,
			struct zh_upgrade_result *r)
{
	struct takeover *t;
	struct timespec t0;
	int err;

	t = takeover_new(o, ZH_PIN_VERSION, r, &t0);
	if (!t)
		return -ENOMEM;
	err = zh_objs_load_progs(o, opts, NEW_SUFFIX);
	if (!err)
		err = pinset_open(&t->old, o->dir, NULL);
	if (!err)
		err = pinset_open(&t->ours, o->dir, NEW_SUFFIX);
	if (err)
		goto out;
	if (!programs_differ(t)) {
		unlink_new(t);
		err = 0;
		goto out;
	}
	r->shared = -1; /* every map: it is the same version */
	takeover_scan_all(t);
	err = rename_new(t);
	scan(t, false);
	r->left = t->found;
	r->unpinned = err ? 0 : t->ours.n;
out:
	if (err)
		unlink_new(t);
	return takeover_end(t, &t0, err);
}

/* --- the ABI ------------------------------------------------------------------ */

/* What gives entries of the pinned maps their meaning, beyond layouts. */
#define ABI_CONST(c)                        \
	{                                   \
#c, (unsigned long long)(c) \
	}
static const struct {
	const char *name;
	unsigned long long value;
} abi_consts[] = {
	ABI_CONST(ZH_AF_INET),
	ABI_CONST(ZH_AF_INET6),
	ABI_CONST(ZH_DATAPATH_TC),
	ABI_CONST(ZH_DATAPATH_XDP),
	ABI_CONST(ZH_EP_F_VIA_RX),
	ABI_CONST(ZH_IFACE_F_V4),
	ABI_CONST(ZH_IFACE_F_V6),
	ABI_CONST(ZH_CFG_F_PROBES),
	ABI_CONST(ZH_SVC_F_NODEPORT),
	ABI_CONST(ZH_BE_F_TERMINATING),
	ABI_CONST(ZH_CT_FWD),
	ABI_CONST(ZH_CT_REV),
	ABI_CONST(ZH_CT_NEW),
	ABI_CONST(ZH_CT_ESTABLISHED),
	ABI_CONST(ZH_CT_CLOSING),
	ABI_CONST(ZH_CT_F_HAIRPIN),
	ABI_CONST(ZH_META_TO_TC),
	ABI_CONST(ZH_HOP_MAX),
	ABI_CONST(ZH_LAT_SRC_MAX),
	ABI_CONST(ZH_HIST_BUCKETS),
	ABI_CONST(ZH_CFG_F_MASQ),
	ABI_CONST(ZH_SVC_F_ETP_LOCAL),
	ABI_CONST(ZH_CT_SNAT_FWD),
	ABI_CONST(ZH_CT_SNAT_REV),
	ABI_CONST(ZH_SNAT_SRC_F_V4),
	ABI_CONST(ZH_SNAT_SRC_F_V6),
	ABI_CONST(ZH_NOMASQ_F_CLUSTER),
	ABI_CONST(ZH_NOMASQ_F_SERVICE),
	ABI_CONST(ZH_NOMASQ_F_USER),
	ABI_CONST(ZH_LPM_FAMILY_BITS),
	ABI_CONST(ZH_NODE_F_VXLAN),
	ABI_CONST(ZH_CLUSTER_F_POD_CIDR),
	ABI_CONST(ZH_CLUSTER_F_NODE_IP),
	ABI_CONST(ZH_CLUSTER_F_LOCAL),
	ABI_CONST(ZH_EP_F_POLICY),
	ABI_CONST(ZH_IFACE_F_POLICY),
	ABI_CONST(ZH_IFACE_F_NETKIT),
	ABI_CONST(ZH_CFG_F_SOCK_PODS),
	ABI_CONST(ZH_CFG_F_REV_GATED),
	ABI_CONST(ZH_CFG_F_SOCK_RELEASE),
	ABI_CONST(ZH_CFG_F_NODEPORT_DSR),
	ABI_CONST(ZH_CT_F_DSR),
	ABI_CONST(ZH_SVC_BE_SLOTS),
	ABI_CONST(ZH_SVC_BE_ROUTED),
};

static int by_name(const void *a, const void *b)
{
	return strcmp(bpf_map__name(*(struct bpf_map *const *)a),
		      bpf_map__name(*(struct bpf_map *const *)b));
}

static int by_prog_name(const void *a, const void *b)
{
	return strcmp(bpf_program__name(*(struct bpf_program *const *)a),
		      bpf_program__name(*(struct bpf_program *const *)b));
}

static int abi_maps(FILE *out, struct bpf_object *obj)
{
	const struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *maps[MAX_PINS] = { NULL }, *map;
	struct bpf_program *progs[MAX_PINS] = { NULL }, *prog;
	size_t n = 0, np = 0;
	bool pin_by_name = false;
	char *buf = malloc(16384);

	if (!buf)
		return -ENOMEM;
	/* What a load pins: the maps pinned by name (opened with a pin root,
	 * they have a pin path), or in an object of before LIBBPF_PIN_BY_NAME,
	 * when none has, all of them (the loader pinned each then). */
	bpf_object__for_each_map (map, obj)
		pin_by_name |= bpf_map__pin_path(map) != NULL;
	bpf_object__for_each_map (map, obj)
		if (!bpf_map__is_internal(map) && n < MAX_PINS &&
		    (!pin_by_name || bpf_map__pin_path(map)))
			maps[n++] = map;
	qsort(maps, n, sizeof(maps[0]), by_name);
	for (size_t i = 0; i < n; i++) {
		const char *type =
			libbpf_bpf_map_type_str(bpf_map__type(maps[i]));
		bool capacity = hash_like(bpf_map__type(maps[i])) ||
				!strcmp(bpf_map__name(maps[i]), ZH_MAP_MAGLEV);

		fprintf(out, "map %s %s key %u value %u ",
			bpf_map__name(maps[i]), type ? type : "?",
			bpf_map__key_size(maps[i]),
			bpf_map__value_size(maps[i]));
		if (capacity)
			fprintf(out, "capacity");
		else
			fprintf(out, "max %u", bpf_map__max_entries(maps[i]));
		fprintf(out, " flags %#x\n", bpf_map__map_flags(maps[i]));
		for (int kv = 0; kv < 2; kv++) {
			__u32 id = kv ? bpf_map__btf_value_type_id(maps[i]) :
					bpf_map__btf_key_type_id(maps[i]);

			if (!id || zh_layout_describe(btf, id, buf, 16384))
				snprintf(buf, 16384, "(no BTF)");
			fprintf(out, "  %s %s\n", kv ? "value" : "key", buf);
		}
	}
	bpf_object__for_each_program (prog, obj)
		if (np < MAX_PINS)
			progs[np++] = prog;
	qsort(progs, np, sizeof(progs[0]), by_prog_name);
	for (size_t i = 0; i < np; i++) {
		const char *type =
			libbpf_bpf_prog_type_str(bpf_program__type(progs[i]));

		fprintf(out, "prog %s %s\n", bpf_program__name(progs[i]),
			type ? type : "?");
	}
	free(buf);
	return 0;
}

int zh_upgrade_abi(FILE *out, const char *path)
{
	struct bpf_object *obj = NULL;
	struct zh_fast *skel = NULL;
	int err;

	/* A pin root gives the maps pinned by name their paths; nothing is
	 * loaded, so nothing is pinned there. */
	struct bpf_object_open_opts opts = { .sz = sizeof(opts),
					     .pin_root_path = "/nonexistent" };

	if (path) {
		obj = bpf_object__open_file(path, &opts);
		if (!obj)
			return -errno;
		fprintf(out, "abi of %s\n", path);
		err = abi_maps(out, obj);
		bpf_object__close(obj);
		return err;
	}
	skel = zh_fast__open_opts(&opts);
	if (!skel)
		return -errno;
	fprintf(out, "abi %s\n", ZH_PIN_VERSION);
	err = abi_maps(out, skel->obj);
	zh_fast__destroy(skel);
	if (err)
		return err;
	fprintf(out, "stats");
	for (int i = 0; i < ZH_STAT_MAX; i++)
		fprintf(out, " %s", zh_stat_name(i));
	fprintf(out, "\nfeatures");
	for (int i = 0; i < ZH_FEAT_MAX; i++)
		fprintf(out, " %s", zh_feat_name(i));
	fprintf(out, "\n");
	for (size_t i = 0; i < sizeof(abi_consts) / sizeof(abi_consts[0]); i++)
		fprintf(out, "const %s %#llx\n", abi_consts[i].name,
			abi_consts[i].value);
	return ferror(out) ? -EIO : 0;
}
