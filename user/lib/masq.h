/* SPDX-License-Identifier: Apache-2.0 */
/*
 * masq.h - masquerade and source NAT, programmed (bpf/lib/snat.h does the
 * packets): what is inside the cluster (zh_nomasq), the node's addresses
 * and port range per uplink (zh_snat_src), masquerade on or off
 * (zh_config), and the nftables rule behind the BPF path for what it
 * passes to the kernel (other protocols than TCP and UDP, fragments).
 */
#ifndef ZH_MASQ_H
#define ZH_MASQ_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "pin.h"

#define ZH_MASQ_MAX_CIDRS 64
#define ZH_MASQ_MAX_DEVS 8
/* The node table's pod CIDRs and node addresses the nftables rule knows
 * (BPF knows every one: zh_cluster_cidr). */
#define ZH_MASQ_MAX_TABLE 256
/* The nftables table the agent owns (family inet). */
#define ZH_MASQ_NFT_TABLE "zerohop_masq"

struct zh_masq_conf {
	bool on; /* masquerade pods' traffic leaving the cluster */
	/* The cluster's pod CIDRs (--cluster-cidr): never masqueraded to,
	 * and the sources the nftables rule masquerades. */
	struct zh_addr cluster[ZH_MASQ_MAX_CIDRS];
	size_t n_cluster;
	/* The node table's (nodes.h): every node's pod CIDRs (sources, and
	 * never masqueraded to, as --cluster-cidr's) and addresses (never
	 * masqueraded to). Not owned: the caller's arrays. */
	const struct zh_addr *node_cidrs;
	size_t n_node_cidrs;
	const struct zh_addr *node_addrs;
	size_t n_node_addrs;
	/* --no-masquerade: further destinations kept as they are. */
	struct zh_addr keep[ZH_MASQ_MAX_CIDRS];
	size_t n_keep;
	/* --service-cidr: the Service ranges (never masqueraded to). */
	struct zh_addr service[2];
	size_t n_service;
	/* The uplinks: each SNATs NodePort flows to its own address;
	 * the first (or --masquerade-dev) is masquerade's. */
	char devs[ZH_MASQ_MAX_DEVS][16];
	size_t n_devs;
	int masq_dev; /* index in devs */
	unsigned int port_min, port_max; /* host order, inclusive */
	/* NodePort flows to other nodes keep the client's port where it is
	 * free (ZH_SNAT_SRC_F_KEEP_PORT on the uplinks' entries; never on
	 * the masquerade's: the node's own connections to the same
	 * destinations would pick those ports). */
	bool keep_port;
};

/* "10.0.0.0/8,fd00::/8" appended to @out (at most @max, *@n so far). */
int zh_masq_parse_cidrs(const char *arg, struct zh_addr *out, size_t max,
			size_t *n);
/* "LO-HI", 1024 <= LO <= HI <= 65535. */
int zh_masq_parse_ports(const char *arg, unsigned int *lo, unsigned int *hi);

/*
 * Write zh_nomasq (the cluster, Service and --no-masquerade CIDRs and the
 * node's own addresses), zh_snat_src (every uplink's addresses and ports;
 * key 0 the masquerade uplink's, only while masquerade is on) and the
 * masquerade flag of zh_config, each map made exactly that. The caller
 * holds the pin lock. Returns 0 or a negative errno with a message.
 */
int zh_masq_apply(const struct zh_objs *o, const struct zh_masq_conf *c,
		  char *err, size_t errlen);

/*
 * The ruleset of the nftables fallback for @c into @buf: a table of our
 * own that masquerades the cluster's sources to what is not inside, with
 * ports below the BPF range (never one BPF hands out). Returns its length,
 * or -ENOSPC.
 */
int zh_masq_nft_ruleset(const struct zh_masq_conf *c, char *buf, size_t len);
/* Run `nft -f -` on @ruleset, at most @timeout_ms. 0, or a negative errno
 * with nft's complaint in @err. */
int zh_masq_nft_run(const char *ruleset, int timeout_ms, char *err,
		    size_t errlen);

#endif /* ZH_MASQ_H */
