/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pol_maps.h - NetworkPolicy into the pinned maps (zh_abi.h): the ordered
 * writes of zh_pol_diff() executed, the endpoints' policy bits kept with
 * them, and the state a new pod starts in.
 *
 * Policy bits: an address whose zh_pol_eps entry isolates it (or is
 * pending) has ZH_EP_F_POLICY on its zh_endpoints entry and its pod
 * ZH_IFACE_F_POLICY on its zh_ifaces entry; without them the fast path
 * judges nothing (bpf/lib/policy.h). A state is written before its bits
 * are set and after they are cleared, so that no bit ever points at a
 * state that allows more than the one meant (a bit without a state reads
 * as pending: deny).
 *
 * Every function here takes the caller's zh_pin_lock().
 */
#ifndef ZH_POL_MAPS_H
#define ZH_POL_MAPS_H

#include <stdbool.h>
#include <stddef.h>

#include "pin.h"
#include "policy.h"

/* In zerohopd's state directory: the names behind the numbers, each local
 * pod address -> {pod, ingress: [policies], egress: [policies]}. */
#define ZH_POL_NAMES_FILE "policy.json"

/* "10.0.0.1" or "fd00::1" from a key. */
void zh_addr_key_str(const struct zh_ep_key *k, char *buf, size_t len);

struct zh_pol_apply_stats {
	size_t writes; /* map updates and deletes done */
	size_t failed; /* ... that failed (each logged) */
	size_t swept; /* stale entries removed (zh_pol_maps_sweep()) */
	bool bumped; /* the epoch moved */
};

/* Execute @ops in order. 0, or the first error (the rest still tried:
 * a cell that could not be written leaves its class with fewer allows,
 * which fails closed). */
int zh_pol_maps_apply(const struct zh_objs *o, const struct zh_pol_op *ops,
		      size_t n_ops, struct zh_pol_apply_stats *st);

/*
 * Make the maps hold @m exactly, whatever a previous agent left: every
 * endpoint of @m rewritten where the map differs (a plugin's pending
 * state, an entry of another agent), then what @m does not have deleted
 * (addresses still pending, for pods the watch has not shown yet, stay),
 * and the epoch bumped when anything went. For an agent's first sync,
 * after zh_pol_maps_apply() of the diff from nothing.
 */
int zh_pol_maps_sweep(const struct zh_objs *o, const struct zh_pol_model *m,
		      struct zh_pol_apply_stats *st);

/* The endpoints of @m whose map entry differs (a pod the plugin made
 * pending after the model had it): rewritten. */
int zh_pol_maps_reconcile(const struct zh_objs *o, const struct zh_pol_model *m,
			  struct zh_pol_apply_stats *st);

/* zh_pol_state.mode (ZH_POL_MODE_*), epoch kept. Off: every policy bit
 * cleared and the policy maps emptied, so that nothing is judged. */
/*
 * Per-policy counters. zh_pol_index(): what names their numbers, for
 * @m: {"namespace/name": {"number": N, "classes": [class, ...],
 * "retired": {...}}} (the classes, of either direction, the policy is one
 * of; what classes it was one of counted, from @retired, may be NULL), as
 * zerohopd keeps it and writes it into policy.json. zh_pol_maps_counts(): from the maps,
 * {"namespace/name": {"allowed": a, "denied": d, "audited": u}}: flows
 * allowed with the policy credited (zh_pol_npctr, policy.c says which
 * policy an allow credits), and the denials and audits of its classes
 * (a denial is credited to every policy selecting the pod in that
 * direction). NULL: out of memory.
 */
json_t *zh_pol_index(const struct zh_pol_model *m, const json_t *retired);
json_t *zh_pol_maps_counts(const struct zh_objs *o, const json_t *index);
/*
 * So that a policy's denials and audits only grow: the counts of @old's
 * classes that @new does not keep (a class changes when a policy starts
 * or stops selecting a pod, or audit changes), read once the maps hold
 * @new, added per policy of @new into @retired ({"namespace/name":
 * {"denied": d, "audited": u}}, which zh_pol_index() carries into the
 * index); policies gone are dropped from it. 0 or -ENOMEM.
 */
int zh_pol_maps_retire(const struct zh_objs *o, const struct zh_pol_model *old,
		       const struct zh_pol_model *new, json_t *retired);

int zh_pol_maps_mode(const struct zh_objs *o, __u32 mode);
int zh_pol_maps_state(const struct zh_objs *o, struct zh_pol_state *out);

/*
 * For the CNI plugin at ADD (zh_ep_write()): while policy is on or in
 * audit, a new pod's addresses start pending (deny all but the node)
 * until the agent writes their state; their bits are set in @iface and
 * @ep before those are written. No-op when policy is off.
 */
int zh_pol_maps_pod_add(const struct zh_objs *o, const struct zh_ep_key *keys,
			int n, struct zh_iface *iface, struct zh_endpoint *ep);
/* At DEL: the pod's addresses' states. */
void zh_pol_maps_pod_del(const struct zh_objs *o, const struct zh_ep_key *keys,
			 int n);

/* One end's part of a verdict (zh_pol_maps_verdict()). */
struct zh_pol_why {
	bool judged; /* a pod of this node with a policy bit */
	__u16 class; /* its class in that direction (0: not isolated) */
	__u32 peer_identity; /* the other end's, as the datapath resolves it */
	int stat; /* 0 allowed, else the ZH_STAT_DROP_POLICY_* reason */
	bool audit; /* denied, but the end audits */
};

/*
 * What the datapath would decide, read from the maps as policy.h reads
 * them, for the first packet of a flow @src -> @dst (@proto, destination
 * port @dport): 0 allowed (or audited), else the drop reason. @why[0] is
 * the destination's ingress, @why[1] the source's egress.
 */
int zh_pol_maps_verdict(const struct zh_objs *o, const struct zh_ep_key *src,
			const struct zh_ep_key *dst, __u8 proto, __u16 dport,
			struct zh_pol_why why[2]);

#endif /* ZH_POL_MAPS_H */
