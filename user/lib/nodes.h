/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nodes.h - the cluster's nodes, and this node's view of them: one table
 * (name, addresses, pod CIDRs per node), fed by zerohopd --nodes FILE,
 * `zerohopctl node add/del`, or the Kubernetes Node objects, and applied
 * by one function (zh_cluster_apply()):
 *
 *   - zh_nodes: every other node's pod CIDRs -> how to reach it (native:
 *     out of the uplink toward its address; vxlan: the VXLAN device, with
 *     the tunnel key toward it);
 *   - zh_cluster_cidr: every pod CIDR and node address ("inside");
 *   - the kernel's routes to the other nodes' pod CIDRs (protocol
 *     ZH_RTPROT), so that what the fast path passes still arrives:
 *     native: via the node's address on the uplink; vxlan: through the
 *     VXLAN device (LWT encap toward the node, the gateway a permanent
 *     neighbour with the remote device's MAC);
 *   - vxlan: the VXLAN device itself (external / collect_md), MTU the
 *     uplink's minus 50 (IPv4 underlay) or 70 (IPv6), zh_tc_tunnel on its
 *     ingress; zh_tc_uplink on the uplink's.
 *
 * What is no longer in the table goes: map entries, routes, neighbours.
 */
#ifndef ZH_NODES_H
#define ZH_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>
#include <jansson.h>

#include "addr.h"
#include "pin.h"

#define ZH_NODE_NAME_MAX 64
#define ZH_NODE_ADDRS_MAX 4
#define ZH_NODE_CIDRS_MAX 4
#define ZH_NODES_MAX 4096
#define ZH_VXLAN_DEV "zh-vxlan"
#define ZH_VXLAN_PORT 8472U
#define ZH_VXLAN_VNI 1U
/* Outer Ethernet, IP, UDP and VXLAN headers. */
#define ZH_VXLAN_OVERHEAD4 50
#define ZH_VXLAN_OVERHEAD6 70
/* The table as last applied, in the state directory (zerohopctl node). */
#define ZH_CLUSTER_STATE "cluster.json"

enum zh_routing {
	ZH_ROUTING_NATIVE = 0,
	ZH_ROUTING_VXLAN = 1,
};

struct zh_node_info {
	char name[ZH_NODE_NAME_MAX];
	struct zh_addr addrs[ZH_NODE_ADDRS_MAX]; /* InternalIPs */
	int n_addrs;
	struct zh_addr cidrs[ZH_NODE_CIDRS_MAX]; /* pod CIDRs */
	int n_cidrs;
};

struct zh_node_set {
	struct zh_node_info *v;
	size_t n, cap;
};

/* How this node reaches the others. */
struct zh_cluster_conf {
	char self[ZH_NODE_NAME_MAX]; /* this node's name in the table */
	enum zh_routing routing;
	char uplink[IF_NAMESIZE]; /* "": the device with this node's address */
	char vxlan_dev[IF_NAMESIZE];
	unsigned int vxlan_port;
	unsigned int vni;
};

/* "native" / "vxlan" -> enum zh_routing, or -EINVAL. */
int zh_routing_parse(const char *s);
const char *zh_routing_name(enum zh_routing r);
void zh_cluster_conf_init(struct zh_cluster_conf *c);

/*
 * A node table from JSON text: ours ({"nodes": [{"name", "addresses",
 * "podCIDRs"}]}) or kubectl's (`kubectl get nodes -o json`: items with
 * metadata.name, status.addresses of type InternalIP, spec.podCIDRs). All
 * or nothing: -EINVAL with @err saying where.
 */
int zh_nodes_parse(const char *text, size_t len, struct zh_node_set *set,
		   char *err, size_t errlen);
int zh_nodes_load(const char *path, struct zh_node_set *set, char *err,
		  size_t errlen);
/* One Kubernetes Node object. -EINVAL (and @err) when it is unusable. */
int zh_node_from_k8s(const json_t *node, struct zh_node_info *n, char *err,
		     size_t errlen);
/* One of ours: {"name", "addresses", "podCIDRs"}. */
int zh_node_from_json(const json_t *o, struct zh_node_info *n, char *err,
		      size_t errlen);
json_t *zh_node_to_json(const struct zh_node_info *n);

/* Add @n, or replace the node of its name. 0 or -ENOMEM/-ENOSPC. */
int zh_node_set_put(struct zh_node_set *set, const struct zh_node_info *n);
/* -ENOENT when there is no node @name. */
int zh_node_set_del(struct zh_node_set *set, const char *name);
const struct zh_node_info *zh_node_set_find(const struct zh_node_set *set,
					    const char *name);
void zh_node_set_free(struct zh_node_set *set);

/* The MAC of a node's VXLAN device: from its underlay address, so that
 * every node knows every other's without asking. */
void zh_vxlan_mac(const struct zh_addr *underlay, unsigned char mac[6]);

struct zh_cluster_result {
	int remote; /* other nodes in the table */
	int entries; /* zh_nodes entries written */
	int removed; /* zh_nodes and zh_cluster_cidr entries removed */
	int routes; /* kernel routes set */
	int routes_removed;
	int uplink; /* its ifindex */
	int vxlan; /* the VXLAN device's ifindex; 0: none */
	char err[256];
};

/*
 * Make this node's maps, routes and devices those of @set as @conf says.
 * Call with zh_pin_lock(@objs->root) held. 0, or a negative errno with
 * @r->err saying why (what was done stays: applying again finishes it).
 */
/* "encap", ..., "encap_refused": zh_vxlan_stats' counter @stat. */
const char *zh_vxlan_stat_name(int stat);
/* zh_vxlan_stats summed over the CPUs into @out (zero where the map is
 * not pinned), then zeroed with @reset. 0 or -errno. */
int zh_vxlan_stats_read(const struct zh_objs *o, __u64 out[ZH_VXLAN_STAT_MAX],
			bool reset);

int zh_cluster_apply(const struct zh_objs *objs,
		     const struct zh_cluster_conf *conf,
		     const struct zh_node_set *set,
		     struct zh_cluster_result *r);

/* The table and its conf as last applied, in @dir/ZH_CLUSTER_STATE. */
int zh_cluster_state_save(const char *dir, const struct zh_cluster_conf *conf,
			  const struct zh_node_set *set);
int zh_cluster_state_load(const char *dir, struct zh_cluster_conf *conf,
			  struct zh_node_set *set, char *err, size_t errlen);

#endif /* ZH_NODES_H */
