/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h - Kubernetes NetworkPolicy (networking.k8s.io/v1) compiled into
 * the contents of the policy maps of zh_abi.h (issue 16, first slice: no
 * program reads them yet).
 *
 * Input: the stores of the watch (k8s_watch.h): jansson objects keyed
 * "namespace/name" (Pods, NetworkPolicies) or "name" (Namespaces), the
 * objects as the API server returns them. Output: a model, sorted and
 * deterministic for a given input and previous model:
 *
 *   identities  node-local numbers by signature: the set of peers (pod
 *               and namespace selectors, ipBlocks with their own except)
 *               an address matches, plus how its pod resolves the named
 *               ports that egress rules use. Label churn cannot grow the
 *               count: pods no rule tells apart share a number.
 *               hostNetwork pods of this node are the node (always
 *               allowed); those of other nodes are plain addresses.
 *   ipcache     every pod address of the cluster -> its identity; every
 *               ipBlock cidr/except prefix (and /0) -> the identity of
 *               the addresses in it that no longer prefix holds (LPM).
 *   classes     per direction, the set of policies selecting a local pod
 *               (plus, ingress, its named-port resolution, and audit).
 *   endpoints   each local pod address: identity, classes, flags.
 *   cells       {class, dir, proto, identity} -> sorted disjoint port
 *               intervals: the union of every allow; ZH_POL_ID_ANY holds
 *               the rules whose peers are everyone, an identity its own
 *               cell only where it differs.
 *
 * Numbers (identities, classes, bitmaps) keep their meaning from @prev
 * and a new meaning never takes a number @prev used, so that the writes
 * of zh_pol_diff() can be done in order with no entry ever read in a
 * meaning it does not have (make before break).
 *
 * A bad object (an invalid selector, CIDR, port, protocol, policy type;
 * past a bound) is rejected alone, with its reason in the model; the
 * others compile. A policy whose podSelector and policyTypes still decode
 * keeps isolating its pods, with no allows (fail closed); one that does
 * not is ignored. A class whose cells do not fit the maps gets none: its
 * pods are denied in that direction (flagged and counted).
 *
 * Bounds (struct zh_pol_limits, 0: the default) are documented there.
 */
#ifndef ZH_POLICY_H
#define ZH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "zh_abi.h"

struct zh_pol_limits {
	size_t policies; /* 16384: NetworkPolicies compiled; later ones rejected */
	size_t pods; /* 65536: Pods read; later ones rejected */
	size_t rules; /* 256 per policy and direction */
	size_t peers; /* 256 per rule */
	size_t ports; /* 256 per rule */
	size_t labels; /* 256 per selector (matchLabels + matchExpressions) */
	size_t values; /* 256 per matchExpression */
	size_t excepts; /* 64 per ipBlock */
	size_t identities; /* 16384: past it an address is ZH_POL_ID_WORLD */
	size_t classes; /* 16384: past it a pod's class fails closed */
	size_t cells; /* ZH_MAX_POLICY */
	size_t bitmaps; /* ZH_MAX_POL_PORTS / 2: old and new fit together */
	size_t lpm; /* ZH_MAX_IPCACHE_LPM */
	size_t ipcache; /* ZH_MAX_IPCACHE */
};

struct zh_pol_opts {
	const char *node; /* this node: its pods are the local endpoints */
	bool audit; /* every class audits (--network-policy=audit) */
	/* Namespaces whose pods audit (--network-policy-audit-ns): names
	 * separated by commas (zh_pol_audit_ns_check()); NULL: none. */
	const char *audit_ns;
	/* This node's own addresses (ZH_POL_ID_HOST), besides the IPs of
	 * its hostNetwork pods; may be NULL. */
	const struct zh_ep_key *node_addrs;
	size_t n_node_addrs;
	struct zh_pol_limits lim;
	/* Compute everything from the stores, reusing nothing that @prev
	 * cached (the oracle that incremental compiles are checked against:
	 * both give the same model). */
	bool no_cache;
};

/* A Namespace annotated with this ("true") audits its pods' policy. */
#define ZH_POL_AUDIT_ANNOTATION "zerohop.io/network-policy-audit"

/* Is @list namespace names (RFC 1123 labels) separated by commas? 0, or
 * -EINVAL with the reason in @why. */
int zh_pol_audit_ns_check(const char *list, char *why, size_t len);

#define ZH_POL_REASON_MAX 200

struct zh_pol_reject {
	char kind[16]; /* "NetworkPolicy", "Pod", "Namespace" */
	char key[256];
	char reason[ZH_POL_REASON_MAX];
	bool isolating; /* a policy rejected that still isolates its pods */
};

struct zh_pol_ident {
	uint32_t id;
	unsigned char sig[32]; /* SHA-256 of the signature */
	uint32_t addrs; /* ipcache and LPM entries with it */
};

struct zh_pol_ipc_ent {
	struct zh_ep_key key;
	uint32_t identity;
};

struct zh_pol_lpm_ent {
	struct zh_ipc_lpm_key key;
	uint32_t identity;
};

struct zh_pol_class {
	uint16_t id;
	uint8_t dir; /* enum zh_pol_dir */
	bool audit;
	bool cidr; /* its rules have ipBlock peers */
	bool failed; /* its cells did not fit: none written */
	unsigned char sig[32];
	uint32_t endpoints; /* local pod addresses in it */
	char **policies; /* the keys of the policies that make it, sorted */
	size_t n_policies;
};

struct zh_pol_ep_ent {
	struct zh_ep_key key; /* a local pod's address */
	struct zh_pol_ep val;
	char pod[256]; /* namespace/name */
};

struct zh_pol_cell_ent {
	struct zh_pol_key key;
	struct zh_pol_cell val;
	/* With ZH_POL_CELL_F_BITMAP: zh_pol_ports[val.bitmap]. */
	struct zh_pol_ports *ports;
};

/* A NetworkPolicy's number: its counter in zh_pol_npctr (flows allowed
 * with it credited). Kept from the previous model for the same policy; a
 * new policy never takes a number the previous model used, and its
 * counter is zeroed before a cell credits it (zh_pol_diff()). */
struct zh_pol_num {
	char *key; /* namespace/name */
	uint16_t id; /* 0: past ZH_MAX_POL_NPS - 1 numbers (not counted) */
};

struct zh_pol_summary {
	size_t pods, namespaces, policies; /* read */
	size_t identities, ipcache, lpm, classes, endpoints, cells, bitmaps;
	size_t rejected; /* objects */
	size_t failed_classes; /* cells did not fit */
	size_t identity_overflow; /* addresses put in ZH_POL_ID_WORLD */
	size_t ip_conflicts; /* an address claimed by two pods */
};

struct zh_pol_cache;

struct zh_pol_model {
	struct zh_pol_ident *ids; /* by id */
	size_t n_ids;
	struct zh_pol_ipc_ent *ipc; /* by key */
	size_t n_ipc;
	struct zh_pol_lpm_ent *lpm; /* by key */
	size_t n_lpm;
	struct zh_pol_class *classes; /* by id */
	size_t n_classes;
	struct zh_pol_ep_ent *eps; /* by key */
	size_t n_eps;
	struct zh_pol_cell_ent *cells; /* by key (memcmp of the fields) */
	size_t n_cells;
	struct zh_pol_reject *rejects; /* in the order found */
	size_t n_rejects;
	struct zh_pol_num *nums; /* by key: every policy compiled */
	size_t n_nums;
	struct zh_pol_summary sum;
	/* What the next compile (given this one as @prev) may reuse;
	 * opaque (policy.c). */
	struct zh_pol_cache *cache;
};

/*
 * Compile. @pods, @namespaces, @policies: JSON objects of objects (a
 * store), any may be NULL (none). @prev: the model the maps hold, or
 * NULL. Returns 0 and the model in *@out (zh_pol_model_free()), or
 * -ENOMEM; bad objects are in (*out)->rejects, not an error.
 *
 * Incremental: with @prev (and not opts.no_cache), what @prev's compile
 * read from a Pod object, in a Namespace object, that is still in the
 * stores is reused, not read again. So an object in a store is never
 * edited in place: a change is a new object put in its place, as the
 * watch does (k8s_watch.c); the result is then the same as with
 * opts.no_cache (the tests check it after every event).
 */
int zh_pol_compile(const json_t *pods, const json_t *namespaces,
		   const json_t *policies, const struct zh_pol_opts *o,
		   const struct zh_pol_model *prev, struct zh_pol_model **out);
void zh_pol_model_free(struct zh_pol_model *m);

/* The default of each 0 field of @lim filled in. */
void zh_pol_limits_fill(struct zh_pol_limits *lim);

/* --- what the datapath will decide ------------------------------------- */

enum zh_pol_verdict {
	ZH_POL_ALLOW = 0,
	ZH_POL_DENY = 1,
	ZH_POL_AUDIT = 2, /* denied, but an audited end lets it through */
};

/*
 * The verdict of the maps @m describes, looked up as the datapath will
 * (identity from zh_ipcache, on a miss zh_ipcache_lpm when the class has
 * ipBlocks; the wildcard cell, then the identity's when flagged), for a
 * packet @src -> @dst of IP protocol @proto to destination port @dport
 * (ignored but for TCP, UDP, SCTP). The node's own addresses pass; an
 * end that is not a local pod is not judged here (its own node does).
 */
enum zh_pol_verdict zh_pol_verdict(const struct zh_pol_model *m,
				   const struct zh_ep_key *src,
				   const struct zh_ep_key *dst, uint8_t proto,
				   uint16_t dport);
/* The identity the datapath resolves @addr to; @cidr: consult the LPM. */
uint32_t zh_pol_identity_of(const struct zh_pol_model *m,
			    const struct zh_ep_key *addr, bool cidr);
/* Whether the cell of {class, dir, proto} for @identity allows @port. */
bool zh_pol_cell_allows(const struct zh_pol_model *m, uint16_t class,
			uint8_t dir, uint8_t proto, uint32_t identity,
			uint16_t port);

/* The number of policy @key ("namespace/name") in @m; 0: none. */
uint16_t zh_pol_num_of(const struct zh_pol_model *m, const char *key);

/* "10.0.0.1" or "fd00::1" into a key; 0 or -EINVAL. */
int zh_pol_key_parse(const char *s, struct zh_ep_key *k);

/* --- the writes that take the maps from one model to the next ------------ */

enum zh_pol_op_type {
	ZH_POL_OP_NPCTR_ZERO, /* zh_pol_npctr[npctr] = 0 on every CPU */
	ZH_POL_OP_CLASSCTR_ZERO, /* zh_polctr[npctr] (a class) zeroed */
	ZH_POL_OP_PORTS_PUT, /* zh_pol_ports[idx] = *ports */
	ZH_POL_OP_CELL_PUT,
	ZH_POL_OP_IPC_PUT,
	ZH_POL_OP_LPM_PUT,
	ZH_POL_OP_EP_PUT,
	ZH_POL_OP_EPOCH_BUMP, /* zh_pol_state.epoch++ */
	ZH_POL_OP_EP_DEL,
	ZH_POL_OP_IPC_DEL,
	ZH_POL_OP_LPM_DEL,
	ZH_POL_OP_CELL_DEL,
	ZH_POL_OP_PORTS_DEL, /* zh_pol_ports[idx] zeroed (an array) */
};

struct zh_pol_op {
	enum zh_pol_op_type type;
	union {
		struct {
			struct zh_pol_key key;
			struct zh_pol_cell val;
		} cell;
		struct {
			struct zh_ep_key key;
			struct zh_ipc val;
		} ipc;
		struct {
			struct zh_ipc_lpm_key key;
			struct zh_ipc val;
		} lpm;
		struct {
			struct zh_ep_key key;
			struct zh_pol_ep val;
		} ep;
		struct {
			uint32_t idx;
			const struct zh_pol_ports *ports; /* @new's */
		} ports;
		uint32_t npctr; /* the policy (class) number */
	};
};

/*
 * The writes from @old (NULL: empty maps) to @new, in the order to do
 * them: the counters of policy and class numbers new in @new zeroed (a
 * number may have meant something two models ago); port bitmaps
 * and cells new or changed; ipcache (hash, LPM) and
 * endpoints repointed; the epoch bumped when any write may have removed
 * access (a cell lost ports or went, an address changed identity or
 * went, an endpoint changed class or became isolated); then what @new no
 * longer has deleted. When endpoints change class, addresses and
 * prefixes that change identity go through transitional identities
 * first (cells put before, deleted after: policy_diff.c), so that no
 * write in between denies what both models allow. *@ops (free()) points
 * into @new: use it while @new lives. Returns 0 or -ENOMEM.
 */
int zh_pol_diff(const struct zh_pol_model *old, const struct zh_pol_model *new,
		struct zh_pol_op **ops, size_t *n_ops);
const char *zh_pol_op_name(enum zh_pol_op_type t);

#endif /* ZH_POLICY_H */
