/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kfeatures.h - what this node's kernel can do for zerohop, found by loading.
 *
 * Every kernel feature zerohop uses (zh_abi.h, ZH_FEATURES) is probed by
 * loading or attaching a minimal program that uses it: a helper counts as
 * present when a program of the right type that calls it loads, never
 * because a verifier log lacks some phrase. The attach probes run in a
 * private network namespace of their own, on a veth pair made for them.
 *
 * A node probes once: the set is pinned next to the programs (zh_features
 * in the pin directory), so the agent and every later plugin run agree.
 * ZEROHOP_DISABLE_FEATURES=name,name makes the probe report those absent,
 * to run on any kernel what a kernel without them would do.
 */
#ifndef ZH_KFEATURES_H
#define ZH_KFEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "zh_abi.h"

#define ZH_DISABLE_FEATURES_ENV "ZEROHOP_DISABLE_FEATURES"
/* A name ZH_DISABLE_FEATURES_ENV also takes that is no zh_kfeat bit: the
 * loader then leaves zh_sock_release out (zh_feat_sock_release()). */
#define ZH_FEAT_SOCK_RELEASE_NAME "cgroup_sock_release"

/* "tcx", ...; NULL when @id is out of range. */
const char *zh_feat_name(int id);
/* The ZH_FEAT_* of @name (the first @len bytes), or -ENOENT. */
int zh_feat_by_name(const char *name, size_t len);

struct zh_feat_doc {
	const char *what; /* what the probe loads or attaches */
	const char *used_by;
	const char *fallback; /* what happens without it; NULL: refused */
	const char *since; /* the upstream kernel that has it */
};
const struct zh_feat_doc *zh_feat_doc(int id);

/* Present and not disabled. */
static inline bool zh_kfeat_has(const struct zh_kfeat *f, int id)
{
	return (f->present & ~f->disabled) >> id & 1;
}

/* The features a probe answers for: every ZH_FEAT_* bit. */
#define ZH_FEAT_ALL ((__u64)(~0ULL >> (64 - ZH_FEAT_MAX)))

/*
 * "xdp_meta,tcx": the mask of those features. Blanks around names and
 * empty items are fine; an unknown name is -EINVAL with the reason in @err.
 */
int zh_feat_parse_list(const char *list, __u64 *mask, char *err, size_t errlen);

/*
 * Does this kernel load a cgroup sock_release program that does what
 * zh_sock_release does (the hook, 5.9; BPF_CMPXCHG, 5.12)? Not a zh_kfeat
 * bit: only userspace acts on it (pin.c loads zh_sock_release apart; the
 * agent tells the datapath with ZH_CFG_F_SOCK_RELEASE).
 */
bool zh_feat_sock_release(void);
/* Does ZH_DISABLE_FEATURES_ENV name ZH_FEAT_SOCK_RELEASE_NAME? */
bool zh_feat_sock_release_disabled(void);

/* Probe every feature now, with ZEROHOP_DISABLE_FEATURES applied. */
int zh_feat_probe(struct zh_kfeat *f, char *err, size_t errlen);

/* The set pinned in @dir: 0, -ENOENT when there is none, or an error. */
int zh_feat_read(const char *dir, struct zh_kfeat *f);
/* Pin @f in @dir (which exists), replacing what is there. */
int zh_feat_write(const char *dir, const struct zh_kfeat *f);

/*
 * What zerohop offers, and what each needs of the kernel. zh_use_missing()
 * returns the first missing feature (ZH_FEAT_*) that @use cannot work
 * without, or -1 when it can work here.
 */
enum zh_use {
	ZH_USE_TC, /* "datapath": "tc" */
	ZH_USE_XDP, /* "datapath": "xdp" */
	ZH_USE_AFXDP, /* "afxdp": AF_XDP pods, the agent's socket handoff */
	ZH_USE_NODEPORT, /* zerohopd --nodeport-dev */
	ZH_USE_SAMPLING, /* --sample: latency of 1 in N packets */
	ZH_USE_SOCKLB, /* zerohopd --socket-lb: cgroup sock_addr programs */
	/* Pods to other nodes' pods past the host stack, both ways: else
	 * the kernel's routes carry them (zerohopd keeps those anyway). */
	ZH_USE_NATIVE, /* --routing native */
	ZH_USE_VXLAN, /* --routing vxlan */
	ZH_USE_MAX,
};
int zh_use_missing(const struct zh_kfeat *f, enum zh_use use);
const char *zh_use_name(enum zh_use use);
/*
 * NodePort direct server return (zerohopd --nodeport-mode dsr, lb_dsr.h):
 * NULL where this kernel can do it, else why not ("no bpf_check_mtu in
 * tc"). The reply leaves the backend's node by bpf_redirect_neigh(), and
 * bpf_check_mtu() tells what the option makes too big. What the agent
 * falls back to SNAT on, and what xdpbench's zerohop-nodeport-dsr fails on.
 */
const char *zh_dsr_missing(const struct zh_kfeat *f);

/*
 * The programs of zh_fast.bpf.c and what each needs: a program loads only
 * when every feature in @needs is there; a feature in @variant it does
 * without (kfeat.h leaves that code out). ZH_FEAT_MAPS and the program's
 * own @feat (its verifier accepts it) are implied.
 */
struct zh_prog_def {
	const char *name;
	int feat;
	__u64 needs;
	__u64 variant;
};
extern const struct zh_prog_def zh_prog_defs[];
extern const size_t zh_prog_defs_n;
/* The first feature @prog (by name) lacks, or -1 when it loads here. */
int zh_prog_missing(const struct zh_kfeat *f, const char *prog);

/* "6.18.44: 31 of 32 features; absent: xdp_meta (fallback: ...)": one
 * line for the agent's log, into @buf. */
const char *zh_feat_summary(const struct zh_kfeat *f, char *buf, size_t len);

#endif /* ZH_KFEATURES_H */
