// SPDX-License-Identifier: Apache-2.0
/*
 * svc_maps.c - the Service maps read and written (svc_maps.h). What to
 * write is planned in svc_plan.c; this file only moves entries, in batches:
 * 100 000 services must go in well under a second.
 *
 * zh_maglev is written through mmap() when the map was created
 * BPF_F_MMAPABLE (~10 M slots in tens of ms), else with
 * bpf_map_update_batch() (~85 ns a slot here).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>

#include "svc_maps.h"
#include "log.h"

/* Entries per batch call: big enough that a hash bucket always fits. */
#define BATCH 8192
/* zh_maglev slots per update batch when it cannot be mapped. */
#define SLOT_BATCH (1U << 20)

struct maglev_io {
	int fd;
	__u32 slots;
	__u32 *mem; /* mmap()ed: BPF_F_MMAPABLE */
	size_t mem_len;
	size_t stride; /* __u32 words from one slot to the next in mem */
	__u32 *keys; /* batch lookups: slot numbers */
	size_t keys_cap;
};

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/*
 * Every entry of a hash map: @keys and @vals (malloc()ed, freed by the
 * caller also on error) of @ksz and @vsz bytes, *@n of them.
 */
static int hash_read_all(int fd, size_t ksz, size_t vsz, void **keys,
			 void **vals, size_t *n)
{
	struct bpf_map_info info;
	size_t cap, chunk = BATCH;
	__u32 in = 0, out = 0, cnt;
	bool first = true;
	int rc;

	*keys = *vals = NULL;
	*n = 0;
	rc = map_info(fd, &info);
	if (rc)
		return rc;
	cap = info.max_entries + BATCH;
	*keys = malloc(cap * ksz);
	*vals = malloc(cap * vsz);
	if (!*keys || !*vals)
		return -ENOMEM;
	for (;;) {
		if (cap - *n < chunk) {
			/* Entries came in while we read (LRU maps): more. */
			void *k = realloc(*keys, (cap + chunk) * ksz);

			if (!k)
				return -ENOMEM;
			*keys = k;
			k = realloc(*vals, (cap + chunk) * vsz);
			if (!k)
				return -ENOMEM;
			*vals = k;
			cap += chunk;
		}
		cnt = (__u32)chunk;
		rc = bpf_map_lookup_batch(fd, first ? NULL : &in, &out,
					  (char *)*keys + *n * ksz,
					  (char *)*vals + *n * vsz, &cnt, NULL);
		rc = rc ? -errno : 0;
		*n += cnt;
		if (rc == -ENOENT)
			return 0; /* the end */
		if (rc == -ENOSPC && !cnt && chunk < (1U << 24)) {
			chunk *= 2; /* a bucket larger than the batch */
			continue;
		}
		if (rc)
			return rc;
		in = out;
		first = false;
	}
}

/* Delete @n keys; keys already gone (LRU, the datapath) are fine. */
static int delete_keys(int fd, const void *keys, size_t ksz, size_t n,
		       size_t *deleted)
{
	size_t done = 0;
	__u32 cnt;
	int rc;

	while (done < n) {
		cnt = (__u32)(n - done < BATCH ? n - done : BATCH);
		rc = bpf_map_delete_batch(fd, (const char *)keys + done * ksz,
					  &cnt, NULL);
		rc = rc ? -errno : 0;
		done += cnt;
		if (deleted)
			*deleted += cnt;
		if (rc == -ENOENT)
			done++; /* that one was gone already */
		else if (rc)
			return rc;
	}
	return 0;
}

/* --- zh_maglev ------------------------------------------------------------ */

static int maglev_open(const struct zh_objs *o, struct maglev_io *m, bool write)
{
	struct bpf_map_info info;
	long page = sysconf(_SC_PAGESIZE);
	void *mem;
	int rc;

	memset(m, 0, sizeof(*m));
	m->fd = o->maglev_fd;
	rc = map_info(m->fd, &info);
	if (rc)
		return rc;
	m->slots = info.max_entries;
	if (info.value_size != sizeof(__u32) || info.key_size != sizeof(__u32))
		return -EPROTO; /* not zh_abi.h's zh_maglev */
	if (!(info.map_flags & BPF_F_MMAPABLE) || !m->slots)
		return 0;
	/*
	 * The kernel lays an array's elements out round_up(value_size, 8)
	 * bytes apart (kernel/bpf/arraymap.c), mapped or not: a __u32 slot
	 * every 8 bytes. maglev_write() checks it on what it wrote.
	 */
	m->stride = ((info.value_size + 7) & ~7U) / sizeof(__u32);
	m->mem_len = ((size_t)m->slots * m->stride * sizeof(__u32) +
		      (size_t)page - 1) &
		     ~((size_t)page - 1);
	mem = mmap(NULL, m->mem_len, PROT_READ | (write ? PROT_WRITE : 0),
		   MAP_SHARED, m->fd, 0);
	if (mem == MAP_FAILED) {
		pr_debug("mmap %s: %s; batch updates instead\n", ZH_MAP_MAGLEV,
			 strerror(errno));
		m->mem_len = 0;
		return 0;
	}
	m->mem = mem;
	return 0;
}

static void maglev_close(struct maglev_io *m)
{
	if (m->mem)
		munmap(m->mem, m->mem_len);
	free(m->keys);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

static int slot_keys(struct maglev_io *m, size_t n)
{
	__u32 *k;

	if (n <= m->keys_cap)
		return 0;
	k = realloc(m->keys, n * sizeof(*k));
	if (!k)
		return -ENOMEM;
	m->keys = k;
	m->keys_cap = n;
	return 0;
}

static int table_read(void *arg, __u32 off, __u32 n, __u32 *out)
{
	struct maglev_io *m = arg;
	__u32 prev = off - 1, next, cnt = n;
	int rc;

	if ((__u64)off + n > m->slots)
		return -ERANGE;
	if (m->mem) {
		for (__u32 i = 0; i < n; i++)
			out[i] = m->mem[(size_t)(off + i) * m->stride];
		return 0;
	}
	rc = slot_keys(m, n);
	if (rc)
		return rc;
	/* An array's batch starts after the key it is given. */
	rc = bpf_map_lookup_batch(m->fd, off ? &prev : NULL, &next, m->keys,
				  out, &cnt, NULL);
	if (rc && errno != ENOENT)
		return -errno;
	return cnt == n ? 0 : -EIO;
}

static __u32 table_slot(const struct zh_svc_plan *p,
			const struct zh_svc_table *tb, __u32 i)
{
	return tb->fill ? tb->fill : p->table_ids[tb->ids + i];
}

static int maglev_write_batch(struct maglev_io *m, const struct zh_svc_plan *p)
{
	size_t t = 0, chunk;
	__u32 *vals, in_t = 0, cnt;
	int rc;

	rc = slot_keys(m, SLOT_BATCH);
	if (rc)
		return rc;
	vals = malloc(SLOT_BATCH * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	/* Batches across tables, slot numbers and values side by side. */
	while (t < p->n_tables) {
		for (chunk = 0; chunk < SLOT_BATCH && t < p->n_tables;
		     chunk++) {
			const struct zh_svc_table *tb = &p->tables[t];

			m->keys[chunk] = tb->off + in_t;
			vals[chunk] = table_slot(p, tb, in_t);
			if (++in_t == tb->size) {
				t++;
				in_t = 0;
			}
		}
		cnt = (__u32)chunk;
		if (bpf_map_update_batch(m->fd, m->keys, vals, &cnt, NULL)) {
			rc = -errno;
			break;
		}
	}
	free(vals);
	return rc;
}

/* Does the kernel see slot @i of table @tb as written through mem? */
static bool mapped_right(const struct maglev_io *m, const struct zh_svc_plan *p,
			 const struct zh_svc_table *tb, __u32 i)
{
	__u32 key = tb->off + i, v;

	return !bpf_map_lookup_elem(m->fd, &key, &v) &&
	       v == table_slot(p, tb, i);
}

static int maglev_write(struct maglev_io *m, const struct zh_svc_plan *p)
{
	const struct zh_svc_table *first, *last;
	size_t t;
	__u32 i;

	if (!m->mem)
		return maglev_write_batch(m, p);
	for (t = 0; t < p->n_tables; t++) {
		const struct zh_svc_table *tb = &p->tables[t];
		__u32 *dst = m->mem + (size_t)tb->off * m->stride;

		for (i = 0; i < tb->size; i++)
			dst[(size_t)i * m->stride] = table_slot(p, tb, i);
	}
	/* The slots before the entries that point at them: the service
	 * updates that follow are syscalls, but say it here. */
	__sync_synchronize();
	if (!p->n_tables)
		return 0;
	/* A layout we do not know would be silent garbage in the datapath:
	 * ask the kernel for the ends of the first and the last table. */
	first = &p->tables[0];
	last = &p->tables[p->n_tables - 1];
	if (mapped_right(m, p, first, 0) &&
	    mapped_right(m, p, first, first->size - 1) &&
	    mapped_right(m, p, last, 0) &&
	    mapped_right(m, p, last, last->size - 1))
		return 0;
	pr_warn("%s: the kernel does not see what was written through mmap(); batch updates instead\n",
		ZH_MAP_MAGLEV);
	munmap(m->mem, m->mem_len);
	m->mem = NULL;
	m->mem_len = 0;
	return maglev_write_batch(m, p);
}

/* --- reading the state ---------------------------------------------------- */

static int state_read(const struct zh_objs *o, struct zh_svc_state *st,
		      char *err, size_t errlen)
{
	struct zh_svc_key *sk = NULL;
	struct zh_svc *sv = NULL;
	struct zh_backend *bv = NULL;
	struct bpf_map_info info;
	const char *what;
	__u32 *bk = NULL;
	size_t i, n;
	int rc;

	memset(st, 0, sizeof(*st));
	/* The table size per backend is the node's setting, in zh_config. */
	if (o->config_fd >= 0) {
		struct zh_config cfg;

		if (!zh_config_get(o, &cfg))
			st->per_backend = cfg.maglev_per_backend;
	}
	what = ZH_MAP_SERVICES;
	rc = map_info(o->services_fd, &info);
	if (rc)
		goto out;
	st->max_svcs = info.max_entries;
	rc = hash_read_all(o->services_fd, sizeof(*sk), sizeof(*sv),
			   (void **)&sk, (void **)&sv, &n);
	if (rc)
		goto out;
	st->svcs = malloc((n + 1) * sizeof(*st->svcs));
	if (!st->svcs) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		st->svcs[i] = (struct zh_svc_ent){ .key = sk[i], .val = sv[i] };
	st->n_svcs = n;

	what = ZH_MAP_BACKENDS;
	rc = map_info(o->backends_fd, &info);
	if (rc)
		goto out;
	st->max_bes = info.max_entries;
	rc = hash_read_all(o->backends_fd, sizeof(*bk), sizeof(*bv),
			   (void **)&bk, (void **)&bv, &n);
	if (rc)
		goto out;
	st->bes = malloc((n + 1) * sizeof(*st->bes));
	if (!st->bes) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		st->bes[i] = (struct zh_be_ent){ .id = bk[i], .be = bv[i] };
	st->n_bes = n;

	what = ZH_MAP_MAGLEV;
	rc = map_info(o->maglev_fd, &info);
	st->slots = info.max_entries;
out:
	if (rc) {
		snprintf(err, errlen, "reading %s: %s", what, strerror(-rc));
		zh_svc_state_free(st);
	}
	free(sk);
	free(sv);
	free(bk);
	free(bv);
	return rc;
}

/* --- writing a plan ------------------------------------------------------- */

/*
 * Write @n entries whose keys and values sit at @koff / @voff in elements of
 * @esz bytes from @e, in batches. One batch is one update after the other,
 * in this order: a service's entry before its NodePort entry.
 */
static int write_entries(int fd, const void *e, size_t esz, size_t n,
			 size_t koff, size_t ksz, size_t voff, size_t vsz)
{
	char *k, *v;
	size_t i, done = 0;
	__u32 cnt;
	int rc = 0;

	if (!n)
		return 0;
	k = malloc(n * ksz);
	v = malloc(n * vsz);
	if (!k || !v) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		memcpy(k + i * ksz, (const char *)e + i * esz + koff, ksz);
		memcpy(v + i * vsz, (const char *)e + i * esz + voff, vsz);
	}
	while (done < n && !rc) {
		cnt = (__u32)(n - done < BATCH ? n - done : BATCH);
		if (bpf_map_update_batch(fd, k + done * ksz, v + done * vsz,
					 &cnt, NULL))
			rc = -errno;
		done += cnt;
	}
out:
	free(k);
	free(v);
	return rc;
}

static int write_svcs(int fd, const struct zh_svc_ent *e, size_t n)
{
	return write_entries(fd, e, sizeof(*e), n,
			     offsetof(struct zh_svc_ent, key), sizeof(e->key),
			     offsetof(struct zh_svc_ent, val), sizeof(e->val));
}

static int write_backends(int fd, const struct zh_be_ent *e, size_t n)
{
	return write_entries(fd, e, sizeof(*e), n,
			     offsetof(struct zh_be_ent, id), sizeof(e->id),
			     offsetof(struct zh_be_ent, be), sizeof(e->be));
}

/* zh_ct and zh_affinity entries of what @p removed. */
static int sweep_flows(const struct zh_objs *o, const struct zh_svc_plan *p,
		       struct zh_svc_apply_result *r)
{
	struct zh_ct_key *ck = NULL;
	struct zh_ct *cv = NULL;
	struct zh_affinity_key *ak = NULL;
	struct zh_affinity *av = NULL;
	size_t i, n, out = 0;
	int rc;

	if (!p->n_gone_svc && !p->n_be_del)
		return 0;
	rc = hash_read_all(o->ct_fd, sizeof(*ck), sizeof(*cv), (void **)&ck,
			   (void **)&cv, &n);
	if (rc) {
		snprintf(r->err, sizeof(r->err), "reading %s: %s", ZH_MAP_CT,
			 strerror(-rc));
		goto out;
	}
	for (i = 0; i < n; i++)
		if (zh_svc_ct_stale(p, &ck[i], &cv[i]))
			ck[out++] = ck[i];
	rc = delete_keys(o->ct_fd, ck, sizeof(*ck), out, &r->ct_removed);
	if (rc) {
		snprintf(r->err, sizeof(r->err), "%s: delete: %s", ZH_MAP_CT,
			 strerror(-rc));
		goto out;
	}

	rc = hash_read_all(o->affinity_fd, sizeof(*ak), sizeof(*av),
			   (void **)&ak, (void **)&av, &n);
	if (rc) {
		snprintf(r->err, sizeof(r->err), "reading %s: %s",
			 ZH_MAP_AFFINITY, strerror(-rc));
		goto out;
	}
	for (i = 0, out = 0; i < n; i++)
		if (zh_svc_affinity_stale(p, &ak[i], &av[i]))
			ak[out++] = ak[i];
	rc = delete_keys(o->affinity_fd, ak, sizeof(*ak), out,
			 &r->affinity_removed);
	if (rc)
		snprintf(r->err, sizeof(r->err), "%s: delete: %s",
			 ZH_MAP_AFFINITY, strerror(-rc));
out:
	free(ck);
	free(cv);
	free(ak);
	free(av);
	return rc;
}

/* The writes in the order svc_maps.h gives. */
static int plan_write(const struct zh_objs *o, struct maglev_io *m,
		      const struct zh_svc_plan *p,
		      struct zh_svc_apply_result *r, bool *be_deleted)
{
	const char *what;
	int rc;

	what = ZH_MAP_BACKENDS;
	rc = write_backends(o->backends_fd, p->be_put, p->n_be_put);
	if (!rc) {
		what = ZH_MAP_MAGLEV;
		rc = maglev_write(m, p);
	}
	if (!rc) {
		what = ZH_MAP_SERVICES;
		rc = write_svcs(o->services_fd, p->svc_put, p->n_svc_put);
	}
	if (!rc)
		rc = delete_keys(o->services_fd, p->svc_del,
				 sizeof(*p->svc_del), p->n_svc_del, NULL);
	if (!rc) {
		what = ZH_MAP_BACKENDS;
		rc = delete_keys(o->backends_fd, p->be_del, sizeof(*p->be_del),
				 p->n_be_del, NULL);
		*be_deleted = !rc;
	}
	if (rc) {
		snprintf(r->err, sizeof(r->err), "%s: update: %s", what,
			 strerror(-rc));
		return rc;
	}
	return sweep_flows(o, p, r);
}

/*
 * zh_config.services: the datapath consults the balancer only while it is
 * set, so a node without Services pays nothing for them. Set after the
 * services are written, cleared after the last is gone.
 */
static int lb_switch(const struct zh_objs *o)
{
	struct zh_svc_key key;
	struct zh_config cfg;
	__u32 on;
	int rc;

	on = !bpf_map_get_next_key(o->services_fd, NULL, &key);
	rc = zh_config_get(o, &cfg);
	if (rc || cfg.services == on)
		return rc;
	cfg.services = on;
	return zh_config_set(o, &cfg);
}

static void (*gone_fn)(const struct zh_svc_gone *gone, size_t n, void *arg);
static void *gone_arg;

void zh_svc_set_gone_hook(void (*fn)(const struct zh_svc_gone *gone, size_t n,
				     void *arg),
			  void *arg)
{
	gone_fn = fn;
	gone_arg = arg;
}

/* By service id (zh_svc_ent's val.id), for gone_tell(). */
static int ent_id_cmp(const void *a, const void *b)
{
	__u32 x = ((const struct zh_svc_ent *)a)->val.id;
	__u32 y = ((const struct zh_svc_ent *)b)->val.id;

	return (x > y) - (x < y);
}

/* The hook told of @p's removed backends, each with its service's
 * protocol, which only @st (the maps before the apply) knows. */
static void gone_tell(struct zh_svc_state *st, const struct zh_svc_plan *p)
{
	struct zh_svc_gone *g;
	size_t i, n = 0;

	if (!gone_fn || !p->n_gone_be)
		return;
	g = calloc(p->n_gone_be, sizeof(*g));
	if (!g) {
		pr_warn("removed backends: out of memory: their sockets are left alone\n");
		return;
	}
	qsort(st->svcs, st->n_svcs, sizeof(*st->svcs), ent_id_cmp);
	for (i = 0; i < p->n_gone_be; i++) {
		struct zh_svc_ent probe = { .val.id = p->gone_be[i].be.svc_id };
		const struct zh_svc_ent *e = bsearch(&probe, st->svcs,
						     st->n_svcs, sizeof(probe),
						     ent_id_cmp);

		if (!e)
			continue;
		g[n].be = p->gone_be[i].be;
		g[n++].proto = e->key.proto;
	}
	if (n)
		gone_fn(g, n, gone_arg);
	free(g);
}

static int apply(const struct zh_objs *o, const struct zh_svc_set *set,
		 const struct zh_service *del, size_t n_del, unsigned int flags,
		 struct zh_svc_apply_result *r)
{
	struct zh_svc_apply_result tmp;
	struct zh_svc_table_ops ops;
	struct zh_svc_state st;
	struct zh_svc_plan plan;
	struct maglev_io m;
	bool be_deleted = false;
	int rc;

	if (!r)
		r = &tmp;
	memset(r, 0, sizeof(*r));
	rc = maglev_open(o, &m, true);
	if (rc) {
		snprintf(r->err, sizeof(r->err), "%s: %s", ZH_MAP_MAGLEV,
			 strerror(-rc));
		return rc;
	}
	rc = state_read(o, &st, r->err, sizeof(r->err));
	if (rc)
		goto out_maglev;
	ops = (struct zh_svc_table_ops){ .read = table_read, .arg = &m };
	rc = zh_svc_plan(&st, set, del, n_del, flags, &ops, &plan, r->err,
			 sizeof(r->err));
	if (rc)
		goto out_state;
	*r = plan.r;
	r->err[0] = '\0';
	rc = plan_write(o, &m, &plan, r, &be_deleted);
	if (!rc) {
		rc = lb_switch(o);
		if (rc)
			snprintf(r->err, sizeof(r->err), "%s: %s",
				 ZH_MAP_CONFIG, strerror(-rc));
	}
	/* The backends are gone from the maps once zh_backends is written
	 * (sweep_flows() failing after it changes nothing of that). */
	if (be_deleted)
		gone_tell(&st, &plan);
	zh_svc_plan_free(&plan);
out_state:
	zh_svc_state_free(&st);
out_maglev:
	maglev_close(&m);
	return rc;
}

int zh_svc_apply(const struct zh_objs *o, const struct zh_svc_set *set,
		 struct zh_svc_apply_result *r)
{
	return apply(o, set, NULL, 0, 0, r);
}

int zh_svc_apply_changes(const struct zh_objs *o, const struct zh_svc_set *put,
			 const struct zh_service *del, size_t n_del,
			 struct zh_svc_apply_result *r)
{
	return apply(o, put, del, n_del, ZH_SVC_PLAN_KEEP, r);
}

int zh_svc_edit(const struct zh_objs *o, const struct zh_service *put,
		const struct zh_service *del, struct zh_svc_apply_result *r)
{
	struct zh_svc_set one = {
		.svcs = (struct zh_service *)put,
		.n = put ? 1 : 0,
	};

	return apply(o, &one, del, del ? 1 : 0, ZH_SVC_PLAN_KEEP, r);
}

int zh_svc_dump(const struct zh_objs *o, struct zh_svc_set *out)
{
	return zh_svc_dump_info(o, out, NULL);
}

int zh_svc_dump_info(const struct zh_objs *o, struct zh_svc_set *out,
		     struct zh_svc_info **info)
{
	struct zh_svc_table_ops ops;
	struct zh_svc_state st;
	struct maglev_io m;
	char err[128];
	int rc;

	memset(out, 0, sizeof(*out));
	if (info)
		*info = NULL;
	rc = maglev_open(o, &m, false);
	if (rc)
		return rc;
	rc = state_read(o, &st, err, sizeof(err));
	if (rc) {
		pr_debug("%s\n", err);
		goto out;
	}
	ops = (struct zh_svc_table_ops){ .read = table_read, .arg = &m };
	rc = zh_svc_state_to_set(&st, &ops, out, info);
	zh_svc_state_free(&st);
out:
	maglev_close(&m);
	return rc;
}

/* --- conntrack ------------------------------------------------------------ */

int zh_ct_foreach(const struct zh_objs *o,
		  int (*cb)(const struct zh_ct_key *key, const struct zh_ct *ct,
			    void *arg),
		  void *arg)
{
	struct zh_ct_key *k = NULL;
	struct zh_ct *v = NULL;
	size_t i, n;
	int rc;

	rc = hash_read_all(o->ct_fd, sizeof(*k), sizeof(*v), (void **)&k,
			   (void **)&v, &n);
	for (i = 0; !rc && i < n; i++)
		rc = cb(&k[i], &v[i], arg);
	free(k);
	free(v);
	return rc;
}

/* Set or clear @flag in zh_config.flags. */
static int config_flag(const struct zh_objs *o, __u32 flag, bool on)
{
	struct zh_config cfg;
	int rc;

	rc = zh_config_get(o, &cfg);
	if (rc)
		return rc;
	if (!!(cfg.flags & flag) == on)
		return 0;
	cfg.flags = on ? cfg.flags | flag : cfg.flags & ~flag;
	return zh_config_set(o, &cfg);
}

int zh_svc_rev_ungate(const struct zh_objs *o)
{
	if (o->svc_be_fd < 0)
		return 0;
	return config_flag(o, ZH_CFG_F_REV_GATED, false);
}

struct rev_mark {
	const struct zh_objs *o;
	size_t marked;
};

/* A flow's REV entry: its backend (the key's source) gets its slot. */
static int rev_mark(const struct zh_ct_key *key, const struct zh_ct *ct,
		    void *arg)
{
	struct rev_mark *m = arg;
	struct zh_ep_key ek = { .family = key->family };
	struct zh_endpoint ep;
	__u32 slot = ZH_SVC_BE_ROUTED, one = 1;

	(void)ct;
	if (key->dir != ZH_CT_REV)
		return 0;
	memcpy(ek.addr, key->saddr, sizeof(ek.addr));
	if (!bpf_map_lookup_elem(m->o->endpoints_fd, &ek, &ep))
		slot = ep.ifindex & (ZH_SVC_BE_SLOTS - 1);
	if (bpf_map_update_elem(m->o->svc_be_fd, &slot, &one, BPF_ANY))
		return -errno;
	m->marked++;
	return 0;
}

int zh_svc_rev_gate(const struct zh_objs *o, size_t *marked)
{
	struct rev_mark m = { .o = o };
	__u32 zero = 0;
	int rc;

	if (o->svc_be_fd < 0)
		return 0;
	/* Ungated while the slots are cleared (those of flows long gone
	 * with them) and marked again from zh_ct: a flow the datapath makes
	 * meanwhile marks itself after the clearing, or is in zh_ct. */
	rc = config_flag(o, ZH_CFG_F_REV_GATED, false);
	for (__u32 s = 0; !rc && s < ZH_SVC_BE_SLOTS; s++)
		if (bpf_map_update_elem(o->svc_be_fd, &s, &zero, BPF_ANY))
			rc = -errno;
	if (!rc)
		rc = zh_ct_foreach(o, rev_mark, &m);
	if (!rc)
		rc = config_flag(o, ZH_CFG_F_REV_GATED, true);
	if (marked)
		*marked = m.marked;
	return rc;
}

int zh_svc_sock_pods(const struct zh_objs *o, bool on)
{
	return config_flag(o, ZH_CFG_F_SOCK_PODS, on);
}

int zh_svc_sock_release(const struct zh_objs *o, bool on)
{
	return config_flag(o, ZH_CFG_F_SOCK_RELEASE, on);
}

int zh_ct_flush(const struct zh_objs *o)
{
	struct zh_ct_key *k = NULL;
	struct zh_ct *v = NULL;
	size_t n, deleted = 0;
	int rc;

	rc = hash_read_all(o->ct_fd, sizeof(*k), sizeof(*v), (void **)&k,
			   (void **)&v, &n);
	if (!rc)
		rc = delete_keys(o->ct_fd, k, sizeof(*k), n, &deleted);
	free(k);
	free(v);
	return rc ? rc : (int)deleted;
}

const char *zh_ct_state_name(__u8 state)
{
	switch (state) {
	case ZH_CT_NEW:
		return "new";
	case ZH_CT_ESTABLISHED:
		return "established";
	case ZH_CT_CLOSING:
		return "closing";
	default:
		return "?";
	}
}
