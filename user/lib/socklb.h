/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socklb.h - socket-level load balancing (bpf/lib/sock.h): the zh_sock_*
 * programs on a cgroup v2 directory, the root of the hierarchy unless told
 * otherwise, so that every socket of the node below it is balanced before
 * it routes.
 *
 * Each hook is a bpf_link (kernel >= 5.7), pinned in the pin directory as
 * <program>_link: it stays attached while the agent restarts, next to
 * whatever else is attached there (a cgroup link is always multi-attach,
 * BPF_F_ALLOW_MULTI: the others' programs run too), and goes away with
 * the pins (zh_objs_unpin() detaches it first).
 */
#ifndef ZH_SOCKLB_H
#define ZH_SOCKLB_H

#include <stdbool.h>
#include <stddef.h>

#include "pin.h"

/* The hooks, in this order (bit i of a mask: hook i). */
enum zh_sock_hook {
	ZH_SOCK_CONNECT4,
	ZH_SOCK_CONNECT6,
	ZH_SOCK_SENDMSG4,
	ZH_SOCK_SENDMSG6,
	ZH_SOCK_RECVMSG4,
	ZH_SOCK_RECVMSG6,
	ZH_SOCK_GETPEERNAME4,
	ZH_SOCK_GETPEERNAME6,
	ZH_SOCK_RELEASE, /* cgroup/sock_release: frees zh_sock_conn slots */
	ZH_SOCK_HOOKS,
};

/* "connect4", ...: the name zerohopctl stats gives the hook. */
const char *zh_sock_hook_name(int hook);

/*
 * The root of the cgroup v2 hierarchy into @buf: /sys/fs/cgroup where it
 * is cgroup2, /sys/fs/cgroup/unified on a hybrid host, else the first
 * cgroup2 mount. -ENOENT when there is none (cgroup v1 only).
 */
int zh_cgroup2_root(char *buf, size_t len);

/*
 * Is @cgroup (NULL: zh_cgroup2_root()), or its cgroup v2 part DIR/unified
 * as zh_socklb_attach() takes it, the root of its hierarchy, every
 * process of the machine below it? Not the root of a cgroup namespace (a
 * container's /sys/fs/cgroup): only the real root has no cgroup.type.
 */
bool zh_cgroup2_is_root(const char *cgroup);

/*
 * Put every hook this kernel runs on the cgroup v2 directory @cgroup
 * (NULL: zh_cgroup2_root()): a pinned link made, or kept where it is
 * there already (its program updated in place to the one pinned now, as
 * after an upgrade), or moved when it is on another cgroup. Returns the
 * mask of hooks attached, or a negative errno with the reason in @why (on
 * failure nothing of ours stays attached).
 */
int zh_socklb_attach(const struct zh_objs *o, const char *cgroup, char *why,
		     size_t why_len);
/* Detach and unpin every hook's link under @o->dir; how many went. */
int zh_socklb_detach(const struct zh_objs *o);
/*
 * The hooks attached (a link pinned under @dir that is still attached to
 * a live cgroup): their mask, 0 when none; @cgroup_id (may be NULL) the
 * cgroup's id (its directory's inode) of the first one.
 */
unsigned int zh_socklb_attached(const char *dir, __u64 *cgroup_id);

/* "connect4", ..., "refused_no_backend": zh_sock_stats' counter @stat. */
const char *zh_sock_stat_name(int stat);
/* zh_sock_stats summed over the CPUs into @out (zero where the map is
 * not there); @reset: zeroed after the read. */
int zh_sock_stats_read(const struct zh_objs *o, __u64 out[ZH_SOCK_STAT_MAX],
		       bool reset);
/* Are Services of @family (AF_INET, AF_INET6) and @proto served at the
 * socket level by the hooks in @mask (zh_socklb_attached())? */
bool zh_sock_serves(unsigned int mask, int family, int proto);

#endif /* ZH_SOCKLB_H */
