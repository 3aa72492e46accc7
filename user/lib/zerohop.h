/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zerohop.h - libzerohop: the BPF objects, their pins, the endpoint maps
 * and attachment. Used by zerohopd, zerohopctl, xdpbench and the CNI plugin.
 * Functions return 0 or a negative errno.
 */
#ifndef ZEROHOP_H
#define ZEROHOP_H

#include <stdbool.h>
#include <linux/types.h>

#include "zh_abi.h"
#include "zh_hist.h"
#include "log.h"
#include "nl.h"
#include "link.h"
#include "kfeatures.h"

/*
 * The pin root a binary starts from: ZEROHOP_PIN_ROOT in the environment
 * (tests, a runtime's environment for the CNI plugin) or ZH_PIN_ROOT. Only
 * main() and the plugin's entry read it; the library takes the root as a
 * parameter everywhere else.
 */
const char *zh_pin_root_default(void);

/* Mount bpffs on /sys/fs/bpf when it is not. */
int zh_bpffs_ensure(void);

/*
 * Serialise every writer of the pins and maps under @root: flock() on it,
 * created (and bpffs mounted) when missing. Returns the lock fd.
 */
int zh_pin_lock(const char *root);
void zh_pin_unlock(int fd);

#define ZH_PIN_PATH_MAX 256

struct zh_objs {
	char root[ZH_PIN_PATH_MAX]; /* the pin root */
	char dir[ZH_PIN_PATH_MAX]; /* root/ZH_PIN_VERSION: the pins */
	/* This node's kernel: the programs that could not load here have
	 * fd -1, and so has zh_xsks without AF_XDP (kfeatures.h). */
	struct zh_kfeat feat;
	int endpoints_fd;
	int ifaces_fd;
	int stats_fd;
	int config_fd;
	int lat_fd;
	int lat_flows_fd;
	int services_fd;
	int backends_fd;
	int maglev_fd;
	int ct_fd;
	int affinity_fd;
	int node_addrs_fd;
	int xsks_fd;
	int xsk_steer_fd;
	int tc_from_pod_fd;
	int xdp_from_pod_fd;
	int xdp_pod_fd;
	int xdp_pod_xsk_fd;
	int tc_pod_fd;
	int tc_uplink_fd;
	int xdp_uplink_fd;
	bool probed; /* this call probed the kernel (no feature set pinned) */
	bool loaded; /* this call ran the loader (something was not pinned) */
	char err[256]; /* why zh_objs_open() failed */
};

#define ZH_OBJS_LOAD (1U << 0) /* probe, load and pin what is not pinned yet */

/* For the maps a load creates; pinned maps are reused as they are. */
struct zh_load_opts {
	__u32 maglev_slots; /* zh_maglev's size; 0: ZH_MAGLEV_SLOTS */
	/* max_entries of these maps; 0: zh_abi.h's default */
	__u32 services_max; /* zh_services (NodePorts take an entry too) */
	__u32 backends_max; /* zh_backends */
	__u32 ct_max; /* zh_ct (two entries per flow) */
	__u32 affinity_max; /* zh_affinity */
};

/* "services=200000,conntrack=1048576,...": fills @opts; names are
 * services, backends, conntrack, affinity, maglev. -EINVAL otherwise. */
int zh_load_opts_parse(const char *arg, struct zh_load_opts *opts);

/*
 * Open the objects pinned under @root. With ZH_OBJS_LOAD, what is missing
 * is made: the kernel's features probed and pinned (once per pin
 * directory), then every program this kernel can run loaded from the
 * embedded object and pinned, reusing pinned maps (never replaced; @opts,
 * NULL for the defaults, sizes the maps this load creates). Without it,
 * -ENOENT when something is missing. On failure @o->err says why. Call
 * with zh_pin_lock(@root) held.
 */
int zh_objs_open(struct zh_objs *o, const char *root, unsigned int flags,
		 const struct zh_load_opts *opts);
void zh_objs_close(struct zh_objs *o);
/* Remove every pin of this version under @root (tests, uninstall). */
int zh_objs_unpin(const char *root);

/*
 * The feature set pinned under @root; with ZH_OBJS_LOAD, probed and pinned
 * when there is none (the pin directory is made), else -ENOENT. @probed:
 * set when this call probed; @why: the reason of a failure (both may be
 * NULL). Call with zh_pin_lock(@root) held.
 */
int zh_feat_get(const char *root, unsigned int flags, struct zh_kfeat *f,
		bool *probed, char *why, size_t why_len);

/*
 * Ready the zh_fast skeleton @skel (opened, not loaded) for a kernel with
 * features @f: zh_kfeat in its .rodata, the programs it cannot run and the
 * maps only they use left out. Pin paths are the caller's (the loader pins
 * under its pin directory; a test pins nothing).
 */
struct zh_fast;
int zh_fast_prepare(struct zh_fast *skel, const struct zh_kfeat *f);

/* Endpoints: the identity of the pod behind @host_ifindex and the routes to
 * its addresses, and its AF_XDP steering rules (iface->xsk; its zh_xsks
 * slots start empty). Writes are all or nothing. */
int zh_ep_write(const struct zh_objs *o, __u32 host_ifindex,
		const struct zh_iface *iface, const struct zh_endpoint *ep);
/* Remove the pod behind @host_ifindex, its AF_XDP rules and sockets too;
 * -ENOENT when there is none. */
int zh_ep_remove(const struct zh_objs *o, __u32 host_ifindex);
/* Remove every pod recorded for @container_id/@pod_ifname (a veth that
 * vanished without DEL); returns how many were removed. */
int zh_ep_remove_owner(const struct zh_objs *o, const char *container_id,
		       const char *pod_ifname);
/* 1 when every steering rule of @iface is in zh_xsk_steer and points at
 * its slots, 0 when one is missing or another's (or it has none), or a
 * negative errno. */
int zh_steer_check(const struct zh_objs *o, const struct zh_iface *iface);
/* The first free run of @queues zh_xsks slots (none of a zh_ifaces
 * entry's); -ENOSPC when there is none. Call with the pin lock held. */
int zh_xsk_slot_alloc(const struct zh_objs *o, unsigned int queues,
		      __u32 *slot);
int zh_ep_lookup(const struct zh_objs *o, const struct zh_ep_key *key,
		 struct zh_endpoint *ep);
int zh_iface_lookup(const struct zh_objs *o, __u32 host_ifindex,
		    struct zh_iface *iface);
/* Walk zh_ifaces; @cb returns non-zero to stop (and that is returned). */
int zh_iface_foreach(const struct zh_objs *o,
		     int (*cb)(__u32 host_ifindex, const struct zh_iface *iface,
			       void *arg),
		     void *arg);
void zh_ep_key_v4(struct zh_ep_key *key, __u32 addr_be);
void zh_ep_key_v6(struct zh_ep_key *key, const __u32 addr_be[4]);

/* Make zh_node_addrs the addresses of the calling thread's netns (the
 * node's): what a NodePort answers on. @count: how many, may be NULL. */
int zh_node_addrs_sync(const struct zh_objs *o, int *count);

/* Sum the per-CPU counters. */
int zh_stats_read(const struct zh_objs *o, struct zh_counter out[ZH_STAT_MAX]);
int zh_stats_reset(const struct zh_objs *o);
const char *zh_stat_name(int stat);
bool zh_stat_is_drop_reason(int stat);

/* Latency (zh_abi.h: enum zh_hop, enum zh_lat_src). */
int zh_config_get(const struct zh_objs *o, struct zh_config *cfg);
int zh_config_set(const struct zh_objs *o, const struct zh_config *cfg);
/* Sum the per-CPU histograms of one slot into @out. */
int zh_lat_read(const struct zh_objs *o, int hop, int src, struct zh_hist *out);
/* Zero every histogram and forget every stamped flow. */
int zh_lat_reset(const struct zh_objs *o);
const char *zh_hop_name(int hop);
/* "off" or "0": 0; else a count 1..ZH_SAMPLE_MAX. -EINVAL otherwise. */
#define ZH_SAMPLE_MAX 1000000000U
int zh_sample_parse(const char *s, __u32 *every);
const char *zh_lat_src_name(int src);

/* Attachment. The *_attached() checks return 1 when @prog_fd's program is
 * the one attached, 0 when another or none is, negative on error.
 * zh_tc_attach() uses tcx where @f has it, else a clsact filter. */
int zh_tc_attach(const struct zh_kfeat *f, int ifindex, int prog_fd);
int zh_tc_attached(int ifindex, int prog_fd);
int zh_xdp_attach(int ifindex, int prog_fd); /* native */
/* How XDP is attached to @ifindex, as the kernel reports it: 0 (none),
 * xsk_proto.h's ZH_XSK_XDP_NATIVE or ZH_XSK_XDP_GENERIC, or a negative
 * errno. */
int zh_xdp_mode(int ifindex);
int zh_xdp_attached(int ifindex, int prog_fd);

/*
 * Network namespaces. zh_netns_run() runs @fn(@arg) in the netns at @path
 * from the calling thread and brings the thread back: @fn's return value,
 * or a negative errno when the netns cannot be entered (@fn did not run).
 * @path NULL: @fn runs where the thread is and may move it
 * (unshare(CLONE_NEWNET)); the thread comes back all the same. A thread
 * that cannot come back aborts the process.
 */
int zh_netns_run(const char *path, int (*fn)(void *arg), void *arg);

#endif /* ZEROHOP_H */
