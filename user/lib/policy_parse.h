/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_parse.h - libzerohop's own: the NetworkPolicy objects decoded and
 * checked (policy_parse.c) for the compiler (policy.c). Not an API.
 *
 * Strings are borrowed from the input JSON, which outlives a compile.
 */
#ifndef ZH_POLICY_PARSE_H
#define ZH_POLICY_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <jansson.h>

#include "policy.h"

/* qsort(), for arrays that may be empty (and NULL: not qsort's). */
static inline void pol_sort(void *base, size_t n, size_t size,
			    int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

enum { SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_DNE };

struct pol_req {
	const char *key;
	int op;
	const char **vals; /* sorted */
	size_t n_vals;
};

/* A label selector; no requirement: everything. */
struct pol_sel {
	struct pol_req *r; /* sorted by key, op, values */
	size_t n;
};

struct pol_pfx {
	uint8_t family; /* 4 or 6 */
	uint8_t len;
	uint8_t raw[16]; /* host bits zero */
};

/* A peer, interned: what an address may match. */
enum { PEER_POD, PEER_BLOCK };

struct pol_peer {
	int kind;
	/* PEER_POD: the pods of @ns (podSelector alone), or of the
	 * namespaces @nssel matches; @podsel NULL: all of them. */
	const char *ns;
	struct pol_sel *nssel;
	struct pol_sel *podsel;
	/* PEER_BLOCK */
	struct pol_pfx cidr;
	struct pol_pfx *exc;
	size_t n_exc;
	char *canon; /* what makes it the same peer in every compile */
};

enum { PORT_ALL, PORT_RANGE, PORT_NAMED };

struct pol_port {
	uint8_t proto; /* IPPROTO_TCP, _UDP, _SCTP */
	int kind;
	uint16_t lo, hi;
	const char *name;
};

struct pol_rule {
	bool all_peers; /* from/to missing or empty */
	uint32_t *peers; /* indices in the peer table */
	size_t n_peers;
	bool all_ports; /* ports missing or empty: every protocol and port */
	struct pol_port *ports;
	size_t n_ports;
};

struct pol_policy {
	const char *key; /* namespace/name */
	char ns[254];
	struct pol_sel podsel;
	bool types[2]; /* [ZH_POL_INGRESS], [ZH_POL_EGRESS] */
	struct pol_rule *rules[2];
	size_t n_rules[2];
	bool rejected; /* isolating with no allows (reject.isolating) */
};

/* The peer table: every peer of every policy, once. */
struct pol_peers {
	struct pol_peer *v;
	size_t n, cap;
	json_t *idx; /* canon -> index */
};

/*
 * Decode @obj (a NetworkPolicy whose store key is @key) into @p, its
 * peers into @peers. Returns 0; or -EINVAL with @why said, and
 * @p->rejected when the policy still isolates (podSelector and
 * policyTypes decode); -ENOMEM.
 */
int pol_policy_parse(const char *key, const json_t *obj,
		     const struct zh_pol_limits *lim, struct pol_peers *peers,
		     struct pol_policy *p, char *why, size_t len);
void pol_policy_free(struct pol_policy *p);
void pol_peers_free(struct pol_peers *peers);

/*
 * @key is "namespace/name" with a namespace that is a DNS label (what
 * the API server allows): its length, or -1.
 */
int pol_key_ns(const char *key);

/* @sel matches @labels (a JSON object of strings, or NULL). */
bool pol_sel_match(const struct pol_sel *sel, const json_t *labels);
/* @pfx holds @a (family 4/6, network order bytes). */
bool pol_pfx_has(const struct pol_pfx *pfx, uint8_t family, const uint8_t *a,
		 uint8_t len);
/* "10.0.0.0/8" into @pfx (host bits cleared); 0 or -EINVAL. */
int pol_pfx_parse(const char *s, struct pol_pfx *pfx);

#endif /* ZH_POLICY_PARSE_H */
