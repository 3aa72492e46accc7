/* SPDX-License-Identifier: Apache-2.0 */
/* attach.h - putting pinned programs on interfaces (tcx or clsact, XDP
 * through libxdp) and checking they are there. */
#ifndef ZH_ATTACH_H
#define ZH_ATTACH_H

#include "kfeatures.h"

/* Attachment. The *_attached() checks return 1 when @prog_fd's program is
 * the one attached, 0 when another or none is, negative on error.
 * zh_tc_attach() uses tcx where @f has it, else a clsact filter. */
int zh_tc_attach(const struct zh_kfeat *f, int ifindex, int prog_fd);
int zh_tc_attached(int ifindex, int prog_fd);
/* The same on @ifindex's tc egress (zh_tc_to_pod on a host veth). */
int zh_tc_attach_egress(const struct zh_kfeat *f, int ifindex, int prog_fd);
/* netkit pair with primary @ifindex: @prog_fd on its peer (@peer 1, what
 * the pod sends) or its primary (0, what the host sends the pod). */
int zh_netkit_attach(int ifindex, int prog_fd, int peer);
int zh_netkit_attached(int ifindex, int prog_fd, int peer);
/* 0 when the kernel answers a query of that hook, or a negative errno. */
int zh_netkit_query(int ifindex, int peer);
int zh_xdp_attach(int ifindex, int prog_fd); /* native */
/* Off @ifindex, if @prog_fd is attached there (native): 0 or -errno. */
int zh_xdp_detach(int ifindex, int prog_fd);
/* How XDP is attached to @ifindex, as the kernel reports it: 0 (none),
 * xsk_proto.h's ZH_XSK_XDP_NATIVE or ZH_XSK_XDP_GENERIC, or a negative
 * errno. */
int zh_xdp_mode(int ifindex);
int zh_xdp_attached(int ifindex, int prog_fd);

/*
 * The hooks of an interface where zerohop puts programs, for moving them
 * to another version's programs (upgrade.c): tcx ingress and egress, our
 * clsact filters (their handle and priority), and XDP attached directly
 * in driver or generic mode. A program inside libxdp's dispatcher is listed too,
 * but cannot be replaced in place.
 */
enum zh_hook {
	ZH_HOOK_TCX,
	ZH_HOOK_CLSACT,
	ZH_HOOK_XDP_DRV,
	ZH_HOOK_XDP_SKB,
	ZH_HOOK_XDP_MULTI,
	/* tc egress (zh_tc_to_pod on a host veth) */
	ZH_HOOK_TCX_EGRESS,
	ZH_HOOK_CLSACT_EGRESS,
	/* a netkit pair's peer hook, by its primary (zh_tc_from_pod of a
	 * netkit pod) */
	ZH_HOOK_NETKIT_PEER,
};

const char *zh_hook_name(enum zh_hook hook);
/* @fn for every program at every hook of @ifindex (in the calling
 * thread's netns); stops when @fn returns non-zero, and returns that. */
int zh_hooks_foreach(int ifindex,
		     int (*fn)(int ifindex, enum zh_hook hook, __u32 prog_id,
			       void *arg),
		     void *arg);
/*
 * Put @new_fd's program where @old_fd's is, at @hook of @ifindex, in one
 * step: a frame meets the one or the other, never neither (tcx with
 * BPF_F_REPLACE, the cls_bpf filter replaced, XDP with
 * XDP_FLAGS_REPLACE). -EOPNOTSUPP for ZH_HOOK_XDP_MULTI; -EBUSY (tcx,
 * XDP) when @old_fd's program is no longer there.
 */
int zh_hook_replace(int ifindex, enum zh_hook hook, int old_fd, int new_fd);

#endif /* ZH_ATTACH_H */
