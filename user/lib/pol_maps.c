// SPDX-License-Identifier: Apache-2.0
/* pol_maps.c - NetworkPolicy into the pinned maps (pol_maps.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "pol_maps.h"
#include "log.h"
#include "maps.h"

void zh_addr_key_str(const struct zh_ep_key *k, char *buf, size_t len)
{
	if (!inet_ntop(k->family == ZH_AF_INET ? AF_INET : AF_INET6, k->addr,
		       buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

#define EP_JUDGED \
	(ZH_POL_EP_F_ISO_IN | ZH_POL_EP_F_ISO_EG | ZH_POL_EP_F_PENDING)

static int put(int fd, const void *k, const void *v, const char *map,
	       struct zh_pol_apply_stats *st)
{
	if (fd < 0)
		return -EBADF;
	st->writes++;
	if (!bpf_map_update_elem(fd, k, v, BPF_ANY))
		return 0;
	st->failed++;
	pr_warn("policy: writing %s: %s (fails closed)\n", map,
		strerror(errno));
	return -errno;
}

static int del_one(int fd, const void *k, struct zh_pol_apply_stats *st)
{
	if (fd < 0)
		return -EBADF;
	st->writes++;
	if (!bpf_map_delete_elem(fd, k) || errno == ENOENT)
		return 0;
	st->failed++;
	return -errno;
}

/* Does any address of the pod behind @iface need judging? */
static bool iface_judged(const struct zh_objs *o, const struct zh_iface *iface)
{
	struct zh_ep_key k;
	struct zh_pol_ep v;

	memset(&k, 0, sizeof(k));
	if (iface->flags & ZH_IFACE_F_V4) {
		k.family = ZH_AF_INET;
		k.addr[0] = iface->ipv4;
		if (!bpf_map_lookup_elem(o->pol_eps_fd, &k, &v) &&
		    (v.flags & EP_JUDGED))
			return true;
	}
	if (iface->flags & ZH_IFACE_F_V6) {
		memset(&k, 0, sizeof(k));
		k.family = ZH_AF_INET6;
		memcpy(k.addr, iface->ipv6, sizeof(k.addr));
		if (!bpf_map_lookup_elem(o->pol_eps_fd, &k, &v) &&
		    (v.flags & EP_JUDGED))
			return true;
	}
	return false;
}

/* The bits of address @k and its pod as its zh_pol_eps entry says. */
static void bits_sync(const struct zh_objs *o, const struct zh_ep_key *k)
{
	struct zh_pol_ep v;
	struct zh_endpoint ep;
	struct zh_iface iface;
	bool on;
	__u8 ef;
	__u32 iff;

	if (bpf_map_lookup_elem(o->endpoints_fd, k, &ep))
		return; /* no local pod there (yet, or any more) */
	on = !bpf_map_lookup_elem(o->pol_eps_fd, k, &v) &&
	     (v.flags & EP_JUDGED);
	ef = on ? ep.flags | ZH_EP_F_POLICY : ep.flags & ~ZH_EP_F_POLICY;
	if (ef != ep.flags) {
		ep.flags = ef;
		if (bpf_map_update_elem(o->endpoints_fd, k, &ep, BPF_EXIST))
			pr_warn("policy: %s: %s\n", ZH_MAP_ENDPOINTS,
				strerror(errno));
	}
	if (bpf_map_lookup_elem(o->ifaces_fd, &ep.ifindex, &iface))
		return;
	iff = iface_judged(o, &iface) ? iface.flags | ZH_IFACE_F_POLICY :
					iface.flags & ~ZH_IFACE_F_POLICY;
	if (iff != iface.flags) {
		iface.flags = iff;
		if (bpf_map_update_elem(o->ifaces_fd, &ep.ifindex, &iface,
					BPF_EXIST))
			pr_warn("policy: %s: %s\n", ZH_MAP_IFACES,
				strerror(errno));
	}
}

static int epoch_bump(const struct zh_objs *o, struct zh_pol_apply_stats *st)
{
	struct zh_pol_state s;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(o->pol_state_fd, &zero, &s))
		return -errno;
	s.epoch++;
	st->bumped = true;
	return put(o->pol_state_fd, &zero, &s, ZH_MAP_POL_STATE, st);
}

static int ep_put(const struct zh_objs *o, const struct zh_ep_key *k,
		  const struct zh_pol_ep *v, struct zh_pol_apply_stats *st)
{
	int err = put(o->pol_eps_fd, k, v, ZH_MAP_POL_EPS, st);

	/* The state first, then the bits (and, losing isolation, the bits
	 * after the state that no longer isolates). */
	if (!err)
		bits_sync(o, k);
	return err;
}

static int ep_del(const struct zh_objs *o, const struct zh_ep_key *k,
		  struct zh_pol_apply_stats *st)
{
	struct zh_pol_ep none = { 0 };
	int err;

	/* Bits off first: an entry that allows everything, then none. */
	err = put(o->pol_eps_fd, k, &none, ZH_MAP_POL_EPS, st);
	if (!err)
		bits_sync(o, k);
	return del_one(o->pol_eps_fd, k, st);
}

/* Entry @idx of the per-CPU array @fd (values of @size) zeroed on every
 * CPU. */
static int ctr_zero(int fd, uint32_t idx, size_t size, const char *map,
		    struct zh_pol_apply_stats *st)
{
	int ncpu = libbpf_num_possible_cpus(), err;
	void *zero;

	if (fd < 0)
		return 0; /* pins of a version without the counters */
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	zero = calloc((size_t)ncpu, size);
	if (!zero)
		return -ENOMEM;
	err = put(fd, &idx, zero, map, st);
	free(zero);
	return err;
}

/*
 * Runs of one kind of write to one hash or LPM map (cells, ipcache,
 * prefixes; puts or deletes) go to the kernel in batches of up to
 * POL_BATCH: bpf_map_update_batch()/bpf_map_delete_batch() (hash maps
 * 5.6) apply them in order, one at a time, as the single writes did, so a
 * reader sees the same states in between, with one system call for the
 * run (a policy's coming or going is ~3 000 cell writes at 1k policies).
 * A batch stops at the first entry that fails: that one is written alone
 * (put()/del_one(): logged, counted, a full map failing closed as before) and
 * the run goes on after it. A kernel without the batch operations for a
 * map fails the call with no entry done while the entry alone succeeds:
 * the rest of the apply writes one at a time.
 */
#define POL_BATCH 512

struct pol_batch {
	char *k, *v; /* POL_BATCH keys and values, of the largest sizes */
	bool off; /* batches unsupported: single writes */
};

union pol_bkey {
	struct zh_pol_key cell;
	struct zh_ep_key ipc;
	struct zh_ipc_lpm_key lpm;
};

union pol_bval {
	struct zh_pol_cell cell;
	struct zh_ipc ipc;
};

/* The map, key and value of a batchable write, or -1 (written alone). */
static int batch_of(const struct zh_objs *o, const struct zh_pol_op *op,
		    const void **k, size_t *ksz, const void **v, size_t *vsz,
		    bool *del)
{
	*del = false;
	switch (op->type) {
	case ZH_POL_OP_CELL_DEL:
		*del = true;
		/* fallthrough */
	case ZH_POL_OP_CELL_PUT:
		*k = &op->cell.key;
		*ksz = sizeof(op->cell.key);
		*v = &op->cell.val;
		*vsz = sizeof(op->cell.val);
		return o->policy_fd;
	case ZH_POL_OP_IPC_DEL:
		*del = true;
		/* fallthrough */
	case ZH_POL_OP_IPC_PUT:
		*k = &op->ipc.key;
		*ksz = sizeof(op->ipc.key);
		*v = &op->ipc.val;
		*vsz = sizeof(op->ipc.val);
		return o->ipcache_fd;
	case ZH_POL_OP_LPM_DEL:
		*del = true;
		/* fallthrough */
	case ZH_POL_OP_LPM_PUT:
		*k = &op->lpm.key;
		*ksz = sizeof(op->lpm.key);
		*v = &op->lpm.val;
		*vsz = sizeof(op->lpm.val);
		return o->ipcache_lpm_fd;
	default:
		return -1;
	}
}

static const char *map_name(enum zh_pol_op_type t)
{
	return t == ZH_POL_OP_CELL_PUT ? ZH_MAP_POLICY :
	       t == ZH_POL_OP_IPC_PUT  ? ZH_MAP_IPCACHE :
					 ZH_MAP_IPCACHE_LPM;
}

/*
 * ops[0..n) (n <= POL_BATCH), all of one type and map @fd, written in
 * batches; 0 or the first error.
 */
static int batch_run(int fd, const struct zh_pol_op *ops, size_t n,
		     struct pol_batch *b, const struct zh_objs *o,
		     struct zh_pol_apply_stats *st)
{
	const void *k, *v;
	size_t ksz = 0, vsz = 0, done = 0;
	bool del = false;
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		batch_of(o, &ops[i], &k, &ksz, &v, &vsz, &del);
		memcpy(b->k + i * ksz, k, ksz);
		memcpy(b->v + i * vsz, v, vsz);
	}
	while (done < n) {
		__u32 cnt = (__u32)(n - done);
		int rc, err;

		rc = del ? bpf_map_delete_batch(fd, b->k + done * ksz, &cnt,
						NULL) :
			   bpf_map_update_batch(fd, b->k + done * ksz,
						b->v + done * vsz, &cnt, NULL);
		err = rc ? errno : 0;
		/* A failed call that left the count as given did none
		 * (one that fails never did them all). */
		if (rc && cnt >= n - done)
			cnt = 0;
		st->writes += cnt;
		done += cnt;
		if (done == n)
			break;
		/* The entry it stopped at, alone. */
		batch_of(o, &ops[done], &k, &ksz, &v, &vsz, &del);
		rc = del ? del_one(fd, k, st) :
			   put(fd, k, v, map_name(ops[done].type), st);
		if (rc && !first)
			first = rc;
		if (!rc && !cnt && err != ENOENT) {
			/* Not the entry: the batch itself (said once; the
			 * agent's single thread writes the policy maps). */
			static bool said;

			if (!said)
				pr_info("policy: this kernel refused a batched map write (%s): policy map writes one at a time\n",
					strerror(err));
			said = true;
			b->off = true;
			for (done++; done < n; done++) {
				batch_of(o, &ops[done], &k, &ksz, &v, &vsz,
					 &del);
				rc = del ? del_one(fd, k, st) :
					   put(fd, k, v,
					       map_name(ops[done].type), st);
				if (rc && !first)
					first = rc;
			}
			return first;
		}
		done++;
	}
	return first;
}

int zh_pol_maps_apply(const struct zh_objs *o, const struct zh_pol_op *ops,
		      size_t n_ops, struct zh_pol_apply_stats *st)
{
	static const struct zh_pol_ports zero_ports;
	struct pol_batch b = { 0 };
	int first = 0, err = 0;

	b.k = malloc(POL_BATCH * sizeof(union pol_bkey));
	b.v = malloc(POL_BATCH * sizeof(union pol_bval));
	b.off = !b.k || !b.v; /* (then one at a time) */
	for (size_t i = 0; i < n_ops; i++) {
		const struct zh_pol_op *op = &ops[i];
		const void *k, *v;
		size_t ksz, vsz, n = 1;
		bool del;
		int fd = batch_of(o, op, &k, &ksz, &v, &vsz, &del);

		while (fd >= 0 && i + n < n_ops && n < POL_BATCH &&
		       ops[i + n].type == op->type)
			n++;
		if (fd >= 0 && n > 1 && !b.off) {
			err = batch_run(fd, op, n, &b, o, st);
			if (err && !first)
				first = err;
			i += n - 1;
			continue;
		}
		switch (op->type) {
		case ZH_POL_OP_NPCTR_ZERO:
			err = ctr_zero(o->pol_npctr_fd, op->npctr,
				       sizeof(__u64), ZH_MAP_POL_NPCTR, st);
			break;
		case ZH_POL_OP_CLASSCTR_ZERO:
			err = ctr_zero(o->polctr_fd, op->npctr,
				       sizeof(struct zh_pol_count),
				       ZH_MAP_POLCTR, st);
			break;
		case ZH_POL_OP_PORTS_PUT:
			err = put(o->pol_ports_fd, &op->ports.idx,
				  op->ports.ports, ZH_MAP_POL_PORTS, st);
			break;
		case ZH_POL_OP_CELL_PUT:
			err = put(o->policy_fd, &op->cell.key, &op->cell.val,
				  ZH_MAP_POLICY, st);
			break;
		case ZH_POL_OP_IPC_PUT:
			err = put(o->ipcache_fd, &op->ipc.key, &op->ipc.val,
				  ZH_MAP_IPCACHE, st);
			break;
		case ZH_POL_OP_LPM_PUT:
			err = put(o->ipcache_lpm_fd, &op->lpm.key, &op->lpm.val,
				  ZH_MAP_IPCACHE_LPM, st);
			break;
		case ZH_POL_OP_EP_PUT:
			err = ep_put(o, &op->ep.key, &op->ep.val, st);
			break;
		case ZH_POL_OP_EPOCH_BUMP:
			err = epoch_bump(o, st);
			break;
		case ZH_POL_OP_EP_DEL:
			err = ep_del(o, &op->ep.key, st);
			break;
		case ZH_POL_OP_IPC_DEL:
			err = del_one(o->ipcache_fd, &op->ipc.key, st);
			break;
		case ZH_POL_OP_LPM_DEL:
			err = del_one(o->ipcache_lpm_fd, &op->lpm.key, st);
			break;
		case ZH_POL_OP_CELL_DEL:
			err = del_one(o->policy_fd, &op->cell.key, st);
			break;
		case ZH_POL_OP_PORTS_DEL:
			err = put(o->pol_ports_fd, &op->ports.idx, &zero_ports,
				  ZH_MAP_POL_PORTS, st);
			break;
		}
		if (err && !first)
			first = err;
	}
	free(b.k);
	free(b.v);
	return first;
}

/* --- sweep ---------------------------------------------------------------- */

static int cmp_bytes(const void *a, const void *b, size_t n)
{
	return memcmp(a, b, n);
}

static bool has_ipc(const struct zh_pol_model *m, const struct zh_ep_key *k)
{
	for (size_t i = 0; i < m->n_ipc; i++)
		if (!cmp_bytes(&m->ipc[i].key, k, sizeof(*k)))
			return true;
	return false;
}

static bool has_lpm(const struct zh_pol_model *m,
		    const struct zh_ipc_lpm_key *k)
{
	for (size_t i = 0; i < m->n_lpm; i++)
		if (!cmp_bytes(&m->lpm[i].key, k, sizeof(*k)))
			return true;
	return false;
}

static bool has_cell(const struct zh_pol_model *m, const struct zh_pol_key *k)
{
	for (size_t i = 0; i < m->n_cells; i++)
		if (!cmp_bytes(&m->cells[i].key, k, sizeof(*k)))
			return true;
	return false;
}

static const struct zh_pol_ep_ent *ep_of(const struct zh_pol_model *m,
					 const struct zh_ep_key *k)
{
	for (size_t i = 0; i < m->n_eps; i++)
		if (!cmp_bytes(&m->eps[i].key, k, sizeof(*k)))
			return &m->eps[i];
	return NULL;
}

/* Every key of hash map @fd into a fresh array (free()); -errno. */
static ssize_t keys_of(int fd, size_t ksz, size_t max, void **out)
{
	char *keys = calloc(max ? max : 1, ksz);
	size_t n = 0;
	void *prev = NULL;

	*out = NULL;
	if (!keys)
		return -ENOMEM;
	while (n < max && !bpf_map_get_next_key(fd, prev, keys + n * ksz)) {
		prev = keys + n * ksz;
		n++;
	}
	*out = keys;
	return (ssize_t)n;
}

int zh_pol_maps_reconcile(const struct zh_objs *o, const struct zh_pol_model *m,
			  struct zh_pol_apply_stats *st)
{
	int first = 0;

	for (size_t i = 0; i < m->n_eps; i++) {
		struct zh_pol_ep cur;
		int err;

		if (!bpf_map_lookup_elem(o->pol_eps_fd, &m->eps[i].key, &cur) &&
		    !memcmp(&cur, &m->eps[i].val, sizeof(cur)))
			continue;
		err = ep_put(o, &m->eps[i].key, &m->eps[i].val, st);
		if (err && !first)
			first = err;
	}
	return first;
}

int zh_pol_maps_sweep(const struct zh_objs *o, const struct zh_pol_model *m,
		      struct zh_pol_apply_stats *st)
{
	size_t before = st->swept;
	void *keys;
	ssize_t n;
	int err;

	err = zh_pol_maps_reconcile(o, m, st);
	/* Endpoints: what the model does not have goes, but for addresses
	 * the plugin made pending (a pod the watch has not shown yet). */
	n = keys_of(o->pol_eps_fd, sizeof(struct zh_ep_key), ZH_MAX_ENDPOINTS,
		    &keys);
	for (ssize_t i = 0; i < n; i++) {
		const struct zh_ep_key *k = (struct zh_ep_key *)keys + i;
		struct zh_pol_ep v;

		if (ep_of(m, k) || bpf_map_lookup_elem(o->pol_eps_fd, k, &v) ||
		    (v.flags & ZH_POL_EP_F_PENDING))
			continue;
		ep_del(o, k, st);
		st->swept++;
	}
	free(keys);
	n = keys_of(o->ipcache_fd, sizeof(struct zh_ep_key), ZH_MAX_IPCACHE,
		    &keys);
	for (ssize_t i = 0; i < n; i++)
		if (!has_ipc(m, (struct zh_ep_key *)keys + i)) {
			del_one(o->ipcache_fd, (struct zh_ep_key *)keys + i,
				st);
			st->swept++;
		}
	free(keys);
	n = keys_of(o->ipcache_lpm_fd, sizeof(struct zh_ipc_lpm_key),
		    ZH_MAX_IPCACHE_LPM, &keys);
	for (ssize_t i = 0; i < n; i++)
		if (!has_lpm(m, (struct zh_ipc_lpm_key *)keys + i)) {
			del_one(o->ipcache_lpm_fd,
				(struct zh_ipc_lpm_key *)keys + i, st);
			st->swept++;
		}
	free(keys);
	n = keys_of(o->policy_fd, sizeof(struct zh_pol_key), ZH_MAX_POLICY,
		    &keys);
	for (ssize_t i = 0; i < n; i++)
		if (!has_cell(m, (struct zh_pol_key *)keys + i)) {
			del_one(o->policy_fd, (struct zh_pol_key *)keys + i,
				st);
			st->swept++;
		}
	free(keys);
	if (st->swept != before)
		epoch_bump(o, st);
	return err;
}

/* --- mode, plugin --------------------------------------------------------- */

int zh_pol_maps_state(const struct zh_objs *o, struct zh_pol_state *out)
{
	__u32 zero = 0;

	memset(out, 0, sizeof(*out));
	if (o->pol_state_fd < 0)
		return -EBADF;
	return bpf_map_lookup_elem(o->pol_state_fd, &zero, out) ? -errno : 0;
}

int zh_pol_maps_mode(const struct zh_objs *o, __u32 mode)
{
	struct zh_pol_apply_stats st = { 0 };
	struct zh_pol_model empty = { 0 };
	struct zh_pol_state s;
	__u32 zero = 0;
	int err = zh_pol_maps_state(o, &s);

	if (err)
		return err;
	if (mode == ZH_POL_MODE_OFF && s.mode != ZH_POL_MODE_OFF) {
		/* Nothing judged from here: the mode first, then the bits
		 * and states (pending ones too) and the rest. */
		s.mode = mode;
		err = put(o->pol_state_fd, &zero, &s, ZH_MAP_POL_STATE, &st);
		if (err)
			return err;
		zh_pol_maps_sweep(o, &empty, &st);
		{
			void *keys;
			ssize_t n = keys_of(o->pol_eps_fd,
					    sizeof(struct zh_ep_key),
					    ZH_MAX_ENDPOINTS, &keys);

			for (ssize_t i = 0; i < n; i++)
				ep_del(o, (struct zh_ep_key *)keys + i, &st);
			free(keys);
		}
		return 0;
	}
	s.mode = mode;
	return put(o->pol_state_fd, &zero, &s, ZH_MAP_POL_STATE, &st);
}

int zh_pol_maps_pod_add(const struct zh_objs *o, const struct zh_ep_key *keys,
			int n, struct zh_iface *iface, struct zh_endpoint *ep)
{
	struct zh_pol_ep pending = { .flags = ZH_POL_EP_F_PENDING };
	struct zh_pol_state s;

	if (o->pol_eps_fd < 0 || zh_pol_maps_state(o, &s) ||
	    s.mode == ZH_POL_MODE_OFF)
		return 0;
	for (int i = 0; i < n; i++)
		if (bpf_map_update_elem(o->pol_eps_fd, &keys[i], &pending,
					BPF_ANY))
			return -errno;
	iface->flags |= ZH_IFACE_F_POLICY;
	ep->flags |= ZH_EP_F_POLICY;
	return 0;
}

void zh_pol_maps_pod_del(const struct zh_objs *o, const struct zh_ep_key *keys,
			 int n)
{
	for (int i = 0; i < n; i++)
		if (o->pol_eps_fd >= 0)
			bpf_map_delete_elem(o->pol_eps_fd, &keys[i]);
}

/* --- what the datapath would decide, read from the maps ------------------- */

static __u32 map_identity(const struct zh_objs *o, const struct zh_ep_key *a,
			  bool cidr)
{
	struct zh_ipc_lpm_key lk = { .family = a->family };
	struct zh_ipc v;

	if (!bpf_map_lookup_elem(o->ipcache_fd, a, &v))
		return v.identity;
	if (!cidr || o->ipcache_lpm_fd < 0)
		return ZH_POL_ID_WORLD;
	lk.prefixlen = 32 + (a->family == ZH_AF_INET ? 32 : 128);
	memcpy(lk.addr, a->addr, sizeof(lk.addr));
	return bpf_map_lookup_elem(o->ipcache_lpm_fd, &lk, &v) ?
		       ZH_POL_ID_WORLD :
		       v.identity;
}

static bool map_cell_has(const struct zh_objs *o, const struct zh_pol_cell *c,
			 __u16 port)
{
	struct zh_pol_ports *b;
	bool has;

	if (c->flags & ZH_POL_CELL_F_BITMAP) {
		b = malloc(sizeof(*b));
		has = b &&
		      !bpf_map_lookup_elem(o->pol_ports_fd, &c->bitmap, b) &&
		      (b->bits[port / 64] >> (port % 64)) & 1;
		free(b);
		return has;
	}
	for (int i = 0; i < c->n && i < ZH_POL_CELL_IVS; i++)
		if (port >= c->iv[i].lo && port <= c->iv[i].hi)
			return !(c->verdicts & (1U << i));
	return false;
}

static bool map_cells_allow(const struct zh_objs *o, __u16 class, __u8 dir,
			    __u8 proto, __u32 identity, __u16 port)
{
	struct zh_pol_key k = { .class = class, .dir = dir, .proto = proto };
	struct zh_pol_cell any, own;
	bool has_any;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP &&
	    proto != IPPROTO_SCTP) {
		k.proto = ZH_POL_PROTO_OTHER;
		port = 0;
	}
	has_any = !bpf_map_lookup_elem(o->policy_fd, &k, &any);
	if (!has_any || (any.flags & ZH_POL_CELL_F_SPECIFIC)) {
		k.identity = identity;
		if (!bpf_map_lookup_elem(o->policy_fd, &k, &own))
			return map_cell_has(o, &own, port);
	}
	return has_any && map_cell_has(o, &any, port);
}

/* One end, as policy.h's zh_pol_end(). */
static int map_end(const struct zh_objs *o, const struct zh_ep_key *self,
		   const struct zh_ep_key *peer, __u8 dir, __u8 proto,
		   __u16 dport, struct zh_pol_why *w)
{
	struct zh_pol_ep ep = { .flags = ZH_POL_EP_F_PENDING };
	__u32 iso = dir ? ZH_POL_EP_F_ISO_EG : ZH_POL_EP_F_ISO_IN;
	__u32 failed = dir ? ZH_POL_EP_F_FAILED_EG : ZH_POL_EP_F_FAILED_IN;
	__u32 cidr = dir ? ZH_POL_EP_F_CIDR_EG : ZH_POL_EP_F_CIDR_IN;
	struct zh_endpoint e;
	struct zh_iface ifc;
	bool bit;
	__u32 one;

	if (bpf_map_lookup_elem(o->endpoints_fd, self, &e))
		return 0; /* not a pod of this node: its own node judges */
	bit = dir ? !bpf_map_lookup_elem(o->ifaces_fd, &e.ifindex, &ifc) &&
			      (ifc.flags & ZH_IFACE_F_POLICY) :
		    !!(e.flags & ZH_EP_F_POLICY);
	if (!bit)
		return 0;
	bpf_map_lookup_elem(o->pol_eps_fd, self, &ep);
	w->judged = true;
	w->class = dir ? ep.class_eg : ep.class_in;
	if (!(ep.flags & (iso | ZH_POL_EP_F_PENDING)))
		return 0;
	w->peer_identity = map_identity(o, peer, ep.flags & cidr);
	if (w->peer_identity == ZH_POL_ID_HOST ||
	    !bpf_map_lookup_elem(o->node_addrs_fd, peer, &one))
		return 0;
	if (ep.flags & ZH_POL_EP_F_PENDING)
		return ZH_STAT_DROP_POLICY_PENDING;
	if (ep.flags & failed)
		return ZH_STAT_DROP_POLICY_FAILED;
	if (map_cells_allow(o, w->class, dir, proto, w->peer_identity, dport))
		return 0;
	w->audit = ep.flags & ZH_POL_EP_F_AUDIT;
	return dir ? ZH_STAT_DROP_POLICY_EGRESS : ZH_STAT_DROP_POLICY_INGRESS;
}

int zh_pol_maps_verdict(const struct zh_objs *o, const struct zh_ep_key *src,
			const struct zh_ep_key *dst, __u8 proto, __u16 dport,
			struct zh_pol_why why[2])
{
	struct zh_pol_state s;
	int r;

	memset(why, 0, 2 * sizeof(*why));
	if (zh_pol_maps_state(o, &s) || s.mode == ZH_POL_MODE_OFF)
		return 0;
	r = map_end(o, src, dst, ZH_POL_EGRESS, proto, dport, &why[1]);
	why[1].stat = r;
	if (r && !why[1].audit && s.mode != ZH_POL_MODE_AUDIT)
		return r;
	r = map_end(o, dst, src, ZH_POL_INGRESS, proto, dport, &why[0]);
	why[0].stat = r;
	if (r && !why[0].audit && s.mode != ZH_POL_MODE_AUDIT)
		return r;
	return 0;
}

/* --- per-policy counters --------------------------------------------------- */

json_t *zh_pol_index(const struct zh_pol_model *m, const json_t *retired)
{
	json_t *idx = json_object();

	if (!idx)
		return NULL;
	for (size_t i = 0; i < m->n_nums; i++) {
		json_t *o = json_pack("{s:i, s:[]}", "number",
				      (json_int_t)m->nums[i].id, "classes");
		json_t *r = json_object_get(retired, m->nums[i].key);

		if (!o || json_object_set_new(idx, m->nums[i].key, o))
			goto err;
		if (r && json_object_set(o, "retired", r))
			goto err;
	}
	for (size_t c = 0; c < m->n_classes; c++) {
		const struct zh_pol_class *cl = &m->classes[c];

		for (size_t p = 0; p < cl->n_policies; p++) {
			json_t *o = json_object_get(idx, cl->policies[p]);

			if (o &&
			    json_array_append_new(json_object_get(o, "classes"),
						  json_integer(cl->id)))
				goto err;
		}
	}
	return idx;
err:
	json_decref(idx);
	return NULL;
}

json_t *zh_pol_maps_counts(const struct zh_objs *o, const json_t *index)
{
	json_t *out = json_object(), *v;
	const char *key;

	if (!out)
		return NULL;
	json_object_foreach ((json_t *)index, key, v) {
		json_int_t num =
			json_integer_value(json_object_get(v, "number"));
		json_t *ret = json_object_get(v, "retired");
		__u64 allowed = 0, t[4];
		__u64 denied = (__u64)json_integer_value(
			json_object_get(ret, "denied"));
		__u64 audited = (__u64)json_integer_value(
			json_object_get(ret, "audited"));
		json_t *cls = json_object_get(v, "classes"), *c;
		size_t i;

		if (num > 0 && num < ZH_MAX_POL_NPS &&
		    !zh_percpu_sum(o->pol_npctr_fd, (__u32)num, 1, 1, t, false))
			allowed = t[0];
		/* Denials are the absence of an allow: every policy of the
		 * class (those selecting the pod that way) is credited. */
		json_array_foreach (cls, i, c) {
			json_int_t id = json_integer_value(c);

			if (id <= 0 || id >= ZH_MAX_POL_CLASSES ||
			    zh_percpu_sum(o->polctr_fd, (__u32)id, 1, 4, t,
					  false))
				continue;
			denied += t[1];
			audited += t[2];
		}
		if (json_object_set_new(out, key,
					json_pack("{s:I, s:I, s:I}", "allowed",
						  (json_int_t)allowed, "denied",
						  (json_int_t)denied, "audited",
						  (json_int_t)audited))) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* @r[@field] += @n */
static void add_to(json_t *r, const char *field, __u64 n)
{
	json_object_set_new(
		r, field,
		json_integer(json_integer_value(json_object_get(r, field)) +
			     (json_int_t)n));
}

int zh_pol_maps_retire(const struct zh_objs *o, const struct zh_pol_model *old,
		       const struct zh_pol_model *new, json_t *retired)
{
	size_t j = 0;

	if (!old)
		return 0;
	for (size_t i = 0; i < old->n_classes; i++) {
		const struct zh_pol_class *c = &old->classes[i];
		__u64 t[4];

		while (j < new->n_classes &&new->classes[j].id < c->id)
			j++;
		if (j < new->n_classes &&new->classes[j].id == c->id &&
		    !memcmp(new->classes[j].sig, c->sig, sizeof(c->sig)))
			continue; /* kept: still counted where it is */
		if (zh_percpu_sum(o->polctr_fd, c->id, 1, 4, t, false) ||
		    !(t[1] | t[2]))
			continue;
		for (size_t p = 0; p < c->n_policies; p++) {
			json_t *r = json_object_get(retired, c->policies[p]);

			if (!zh_pol_num_of(new, c->policies[p]))
				continue; /* gone: its counts with it */
			if (!r) {
				r = json_object();
				if (!r || json_object_set_new(
						  retired, c->policies[p], r))
					return -ENOMEM;
			}
			add_to(r, "denied", t[1]);
			add_to(r, "audited", t[2]);
		}
	}
	/* Policies gone: their past with them (the next key taken before
	 * the current one goes). */
	for (void *it = json_object_iter(retired), *next; it; it = next) {
		const char *key = json_object_iter_key(it);

		next = json_object_iter_next(retired, it);
		if (!zh_pol_num_of(new, key))
			json_object_del(retired, key);
	}
	return 0;
}
