/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_maps.h - the Service maps (zh_abi.h: zh_services, zh_backends,
 * zh_maglev, zh_ct, zh_affinity) programmed from a struct zh_svc_set.
 *
 * Everything is derived from the maps themselves: ids, which Maglev slots
 * are in use, what changed. zerohopd and zerohopctl are separate processes
 * and keep no state of their own; every writer holds zh_pin_lock().
 *
 * An apply is planned in full before the first write (svc_plan.c, pure
 * logic, no BPF), so an invalid set or one that does not fit changes
 * nothing. The writes then go in this order, so that the datapath never
 * sees a half-written service:
 *
 *   1. backends (zh_backends): new ones, and those whose state changed. A
 *      backend keeps its id while its service keeps it ({service, address,
 *      port}), so established flows keep their backend; new ids are the
 *      lowest free ones, never 0.
 *   2. Maglev tables (zh_maglev), over the ready backends of weight > 0,
 *      M = zh_prime_at_least(ZH_MAGLEV_PER_BACKEND * n) slots (0 when none
 *      is ready), each into slots no zh_services entry uses (first fit).
 *      A table whose contents and size stay keeps its slots and is not
 *      written.
 *   3. the zh_services entries: one update each, the NodePort entry (an
 *      all-zero address, ZH_SVC_F_NODEPORT, .port the service port) after
 *      its service's, with the service's table, or with np_own a table of
 *      its own over the backends' np_weight (placed as in 2). A service
 *      keeps its id while its {family, proto, port, VIP} stays.
 *   4. removals: zh_services entries no longer wanted, then backends no
 *      longer referenced, then the zh_ct and zh_affinity entries of the
 *      removed services and backends.
 *
 * Each step is one batch (bpf_map_update_batch() is a sequence of
 * single-element updates, each atomic for a reader), so the order holds
 * per service. Slots freed by an apply (a replaced or removed table) are
 * reused from the next apply on, never within it: a reader that found the
 * old entry may still be reading its table. So zh_maglev must hold the old
 * and the new table of every service an apply changes, and zh_services and
 * zh_backends their old and new entries.
 *
 * Functions return 0 or a negative errno.
 */
#ifndef ZH_SVC_MAPS_H
#define ZH_SVC_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "zerohop.h"
#include "svc.h"

#define ZH_SVC_ERR_MAX 512

struct zh_svc_apply_result {
	/* Services of the set (NodePort entries are part of theirs). */
	size_t added, updated, removed, unchanged;
	size_t be_added, be_updated, be_removed;
	size_t ct_removed, affinity_removed;
	__u32 slots_written; /* Maglev slots written by this apply */
	__u32 slots_used; /* in use by zh_services entries afterwards */
	__u32 slots_total; /* zh_maglev's size */
	/* On failure: why, naming the entry and field where there is one,
	 * e.g. "services[2] (web): backends[0].port: 0 is not a port". */
	char err[ZH_SVC_ERR_MAX];
};

/*
 * Make the maps hold exactly @set. Every entry is validated (zh_svc_validate(),
 * no two with one {VIP, port, proto}, nor of one family with one {node port,
 * proto}) and the capacities checked before anything is written: -EINVAL or
 * -ENOSPC with @r->err, and nothing changed. @r may be NULL. Call with
 * zh_pin_lock() held.
 */
int zh_svc_apply(const struct zh_objs *o, const struct zh_svc_set *set,
		 struct zh_svc_apply_result *r);

/*
 * Add or replace @put (NULL: none), and remove the service with @del's
 * {VIP, port, proto} (NULL: none; -ENOENT when there is no such service).
 * Every other service stays exactly as it is, table included: the maps do
 * not keep backend weights, so rebuilding the others from a dump would
 * change the tables of weighted ones. Same checks, order and locking as
 * zh_svc_apply(); a @put whose node port another service has is -EINVAL.
 */
int zh_svc_edit(const struct zh_objs *o, const struct zh_service *put,
		const struct zh_service *del, struct zh_svc_apply_result *r);

/*
 * Some services changed, the others not: add or replace those of @put
 * (NULL: none) and remove those named in @del[0..n_del) (by VIP, port,
 * proto; -ENOENT if one is not there), in one plan and one write, as
 * zh_svc_edit() does for one. What a watch of the Kubernetes API programs
 * for a batch of events, without the cost of planning every service.
 */
int zh_svc_apply_changes(const struct zh_objs *o, const struct zh_svc_set *put,
			 const struct zh_service *del, size_t n_del,
			 struct zh_svc_apply_result *r);

/*
 * A backend an apply removed (gone from zh_backends; its service may stay),
 * and its service's protocol.
 */
struct zh_svc_gone {
	struct zh_backend be; /* svc_id, family, address, port */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

/*
 * After every apply (zh_svc_apply(), zh_svc_apply_changes(), zh_svc_edit())
 * that removed backends, once the maps are without them: @fn(gone, n,
 * @arg) from the applying thread, the pin lock still held, so @fn only
 * takes a copy (the socket-LB sweep, sockdiag.h, runs later). One hook per
 * process, set before any apply; NULL: none.
 */
void zh_svc_set_gone_hook(void (*fn)(const struct zh_svc_gone *gone, size_t n,
				     void *arg),
			  void *arg);

/*
 * What the maps hold beyond the model, per service of a dump (parallel to
 * the set's services, and their backends).
 */
struct zh_svc_info {
	__u32 id;
	__u32 table_off, table_size;
	__u32 *backend_id; /* [n_backends] */
	__u32 *backend_slots; /* [n_backends]: slots it holds in the table */
};

/*
 * Read the maps back into @out (freed with zh_svc_set_free()), sorted by
 * VIP, port and protocol, backends by address and port; names are
 * "VIP:port/proto". The maps keep no weights: a ready backend holding slots
 * reads back as weight 1, one holding none as 0, so applying a dump again
 * changes nothing unless weights were uneven.
 */
int zh_svc_dump(const struct zh_objs *o, struct zh_svc_set *out);
/* The same, and in *@info the ids and tables (free with
 * zh_svc_info_free(*info, out->n)). */
int zh_svc_dump_info(const struct zh_objs *o, struct zh_svc_set *out,
		     struct zh_svc_info **info);
void zh_svc_info_free(struct zh_svc_info *info, size_t n);

/*
 * The reverse lookups' gate (zh_abi.h: zh_svc_be, ZH_CFG_F_REV_GATED).
 * zh_svc_rev_ungate(): every reply is looked up again (the agent, before
 * another version's or build's programs are taken over: they may make
 * flows without marking them). zh_svc_rev_gate(): ungated, zh_svc_be
 * cleared and every flow in zh_ct marked there (the backend's host veth,
 * or ZH_SVC_BE_ROUTED for a backend that is no local pod), then the gate
 * on; only when nothing but this build's programs runs (they mark what
 * they make from then on).
 * @marked (may be NULL): the flows marked. 0 or a negative errno; both
 * are no-ops on pins without zh_svc_be.
 */
int zh_svc_rev_ungate(const struct zh_objs *o);
int zh_svc_rev_gate(const struct zh_objs *o, size_t *marked);
/* ZH_CFG_F_SOCK_RELEASE on or off (zh_config's other fields kept):
 * zh_socklb_attach() and zh_socklb_detach() call it. */
int zh_svc_sock_release(const struct zh_objs *o, bool on);
/* ZH_CFG_F_SOCK_PODS on or off (zh_config's other fields kept). */
int zh_svc_sock_pods(const struct zh_objs *o, bool on);

/* Walk zh_ct; @cb returns non-zero to stop (and that is returned). */
int zh_ct_foreach(const struct zh_objs *o,
		  int (*cb)(const struct zh_ct_key *key, const struct zh_ct *ct,
			    void *arg),
		  void *arg);
/* Remove every zh_ct entry; returns how many were removed. */
int zh_ct_flush(const struct zh_objs *o);
const char *zh_ct_state_name(__u8 state);

/* --- the planner: pure logic, no BPF (svc_plan.c) ------------------------ */

/* One zh_services entry, one zh_backends entry. */
struct zh_svc_ent {
	struct zh_svc_key key;
	struct zh_svc val;
};

struct zh_be_ent {
	__u32 id;
	struct zh_backend be;
};

/* What the maps hold (zh_maglev's contents are read through ops). */
struct zh_svc_state {
	struct zh_svc_ent *svcs;
	size_t n_svcs;
	struct zh_be_ent *bes;
	size_t n_bes;
	__u32 max_svcs, max_bes; /* the maps' max_entries */
	__u32 slots; /* zh_maglev's max_entries */
	/* Maglev slots per ready backend (zh_config); 0: the default */
	__u32 per_backend;
};

void zh_svc_state_free(struct zh_svc_state *st);

/* Reads @n slots of zh_maglev from @off into @out (0 or -errno). */
struct zh_svc_table_ops {
	int (*read)(void *arg, __u32 off, __u32 n, __u32 *out);
	void *arg;
};

/*
 * Free Maglev slots: the gaps between the tables in use, handed out first
 * fit (the lowest-addressed gap that is large enough).
 */
struct zh_svc_region {
	__u32 off, size;
};

struct zh_slot_alloc {
	struct zh_svc_region *gaps; /* by offset */
	size_t n_gaps;
	__u32 *tree; /* max gap size per subtree, leaves = gaps */
	size_t leaves;
	__u32 slots, free;
};

/* @used may overlap and be in any order; parts beyond @slots are ignored. */
int zh_slots_init(struct zh_slot_alloc *a, const struct zh_svc_region *used,
		  size_t n, __u32 slots);
/* The first free run of @size slots: 0 and *off, or -ENOSPC. */
int zh_slots_take(struct zh_slot_alloc *a, __u32 size, __u32 *off);
__u32 zh_slots_largest(const struct zh_slot_alloc *a);
void zh_slots_free(struct zh_slot_alloc *a);

/* The Maglev table size for @n ready backends: 0 when n is 0. */
__u32 zh_svc_table_size(size_t n_ready);
/* The same with @per_backend slots per backend (0: ZH_MAGLEV_PER_BACKEND). */
__u32 zh_svc_table_size_per(size_t n_ready, __u32 per_backend);

/* Flags for zh_svc_plan(). */
#define ZH_SVC_PLAN_KEEP (1U << 0) /* services not in the set stay */

/*
 * The writes that make @st hold @set, in the order they must happen, and
 * what the removals leave behind for zh_ct and zh_affinity.
 */
struct zh_svc_table {
	__u32 off, size; /* where in zh_maglev */
	__u32 fill; /* not 0: every slot holds this backend id */
	size_t ids; /* else: the slots are table_ids[ids, ids + size) */
};

struct zh_svc_plan {
	struct zh_be_ent *be_put; /* 1: new and changed backends */
	size_t n_be_put;
	struct zh_svc_table *tables; /* 2: new tables */
	size_t n_tables;
	__u32 *table_ids; /* their contents, except fills */
	size_t n_table_ids;
	struct zh_svc_ent *svc_put; /* 3: new and changed entries */
	size_t n_svc_put;
	struct zh_svc_key *svc_del; /* 4: entries to remove */
	size_t n_svc_del;
	__u32 *be_del; /* backend ids to remove, sorted */
	size_t n_be_del;
	__u32 *gone_svc; /* service ids no entry has afterwards, sorted */
	size_t n_gone_svc;
	struct zh_be_ent *gone_be; /* removed backends, by service and address */
	size_t n_gone_be;
	struct zh_svc_apply_result r; /* counts and slots (err unused) */
};

/*
 * Plan @set (NULL: empty) against @st. Without ZH_SVC_PLAN_KEEP the maps
 * are to hold @set and nothing else; with it, services not in @set stay as
 * they are, except those named in @del[0..n_del) (by VIP, port, proto),
 * which go (-ENOENT if one is not there). Returns 0, or -EINVAL (invalid
 * entry, clash), -ENOSPC (a map or zh_maglev too small), -ENOMEM, or the
 * table reader's error; @err says why. @p is freed with zh_svc_plan_free()
 * in every case.
 */
int zh_svc_plan(const struct zh_svc_state *st, const struct zh_svc_set *set,
		const struct zh_service *del, size_t n_del, unsigned int flags,
		const struct zh_svc_table_ops *tables, struct zh_svc_plan *p,
		char *err, size_t errlen);
void zh_svc_plan_free(struct zh_svc_plan *p);

/* Does this entry belong to a removed service or backend of @p? */
bool zh_svc_ct_stale(const struct zh_svc_plan *p, const struct zh_ct_key *key,
		     const struct zh_ct *ct);
bool zh_svc_affinity_stale(const struct zh_svc_plan *p,
			   const struct zh_affinity_key *key,
			   const struct zh_affinity *aff);

/* The dump's conversion (zh_svc_dump_info()) from a state. */
int zh_svc_state_to_set(const struct zh_svc_state *st,
			const struct zh_svc_table_ops *tables,
			struct zh_svc_set *out, struct zh_svc_info **info);

/* Keys and values as the datapath has them, from the model. */
void zh_svc_key_make(struct zh_svc_key *k, const struct zh_addr *vip,
		     __u16 port, __u8 proto);
void zh_svc_nodeport_key(struct zh_svc_key *k, int family, __u16 nodeport,
			 __u8 proto);

#endif /* ZH_SVC_MAPS_H */
