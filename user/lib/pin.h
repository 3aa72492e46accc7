/* SPDX-License-Identifier: Apache-2.0 */
/* pin.h - the pin root and its lock, the kernel's features, and the BPF
 * objects opened from the pins (loaded and pinned once per node: pin.c). */
#ifndef ZH_PIN_H
#define ZH_PIN_H

#include <stdbool.h>
#include <linux/types.h>

#include "zh_abi.h"
#include "kfeatures.h"

/*
 * The pin root a binary starts from: ZEROHOP_PIN_ROOT in the environment
 * (tests, a runtime's environment for the CNI plugin) or ZH_PIN_ROOT. Only
 * main() and the plugin's entry read it; the library takes the root as a
 * parameter everywhere else.
 */
const char *zh_pin_root_default(void);

/*
 * Is /sys/fs/bpf a bpffs? 0 when it is; else, where mounting was allowed
 * (zh_bpffs_allow_mount(): the agent), mount one, and elsewhere -ENOMEDIUM
 * with a warning: every bpffs mount is a new, empty instance, so a CNI
 * plugin that mounted its own would load a second, private set of maps
 * (as under `ip netns exec`, which remounts /sys).
 */
int zh_bpffs_ensure(void);
void zh_bpffs_allow_mount(void);

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
	int nodes_fd;
	int cluster_cidrs_fd;
	int nomasq_fd;
	int snat_src_fd;
	int tc_from_pod_fd;
	int xdp_from_pod_fd;
	int xdp_pod_fd;
	int xdp_pod_xsk_fd;
	int tc_pod_fd;
	int tc_uplink_fd;
	int xdp_uplink_fd;
	int tc_tunnel_fd;
	int sock_rev_fd;
	int sock_conn_fd;
	int sock_stats_fd;
	int sock_connect4_fd; /* socket-level LB (socklb.h) */
	int sock_connect6_fd;
	int sock_sendmsg4_fd;
	int sock_sendmsg6_fd;
	int sock_recvmsg4_fd;
	int sock_recvmsg6_fd;
	int sock_peer4_fd;
	int sock_peer6_fd;
	/* zh_sock_release: -1 where the kernel does not load it (pin.c
	 * load_release(); no feature bit) */
	int sock_release_fd;
	int netns_fd; /* zh_netns: pods' and the node's netns (socklb.h) */
	/* NetworkPolicy (policy.h, pol_maps.h) */
	int ipcache_fd;
	int ipcache_lpm_fd;
	int policy_fd;
	int pol_ports_fd;
	int polctr_fd;
	int pol_state_fd;
	int pol_eps_fd;
	int pol_ct_fd;
	int tc_to_pod_fd;
	int svc_be_fd; /* zh_svc_be: where per-packet flows' replies come from */
	/* VXLAN in BPF (bpf/lib/vxlan.h, nodes.h) */
	int vxlan_fd;
	int vxlan_stats_fd;
	int pol_npctr_fd; /* per policy number: flows allowed */
	int pol_ct4_fd; /* zh_pol_ct's IPv4 flows */
	bool probed; /* this call probed the kernel (no feature set pinned) */
	bool loaded; /* this call ran the loader (something was not pinned) */
	/* ... and pinned every program itself: none was pinned before (a
	 * map new to this build, missing from an earlier build's pins,
	 * runs the loader too, and leaves that build's programs pinned) */
	bool fresh;
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
/*
 * Load this build's programs afresh for @o's directory (its pinned maps
 * reused) and pin each one this kernel runs at <dir>/<name>@suffix, over
 * whatever is there (upgrade.c compares and swaps them). On failure
 * @o->err says why. Call with zh_pin_lock(@o->root) held.
 */
int zh_objs_load_progs(struct zh_objs *o, const struct zh_load_opts *opts,
		       const char *suffix);
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

#endif /* ZH_PIN_H */
