// SPDX-License-Identifier: Apache-2.0
/*
 * attach.c - put pinned programs on interfaces.
 *
 * tc: tcx (kernel >= 6.6) attached with BPF_PROG_ATTACH, so the device owns
 * the attachment (no link to pin per pod); where the feature probe found no
 * tcx (kfeatures.h), a clsact qdisc with one direct-action cls_bpf filter. Either goes away with the
 * interface, so a pod's DEL (which deletes the veth) needs no detach step.
 * XDP: through libxdp, so other XDP users of the interface can coexist.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "attach.h"
#include "log.h"
#include "nl.h"
#include "zh_xsk_proto.h"

/* enum bpf_attach_type value since 6.6; Debian 12's uapi headers predate it */
#define ZH_BPF_TCX_INGRESS 46
#define ZH_BPF_TCX_EGRESS 47
/* and since 6.7 */
#define ZH_BPF_NETKIT_PRIMARY 54
#define ZH_BPF_NETKIT_PEER 55

#define ZH_TC_HANDLE 0x2a
#define ZH_TC_PRIO 1

static int prog_id(int prog_fd, __u32 *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

static int clsact_attach_at(int ifindex, int prog_fd,
			    enum bpf_tc_attach_point at)
{
	struct bpf_tc_hook hook = { .sz = sizeof(struct bpf_tc_hook),
				    .ifindex = ifindex,
				    .attach_point = at };
	struct bpf_tc_opts opts = { .sz = sizeof(struct bpf_tc_opts),
				    .handle = ZH_TC_HANDLE,
				    .priority = ZH_TC_PRIO,
				    .prog_fd = prog_fd,
				    .flags = BPF_TC_F_REPLACE };
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

static int clsact_attach(int ifindex, int prog_fd)
{
	return clsact_attach_at(ifindex, prog_fd, BPF_TC_INGRESS);
}

static int tcx_attached(int ifindex, __u32 id);

int zh_tc_attach(const struct zh_kfeat *f, int ifindex, int prog_fd)
{
	__u32 id = 0;
	int err;

	if (!zh_kfeat_has(f, ZH_FEAT_TCX))
		return clsact_attach(ifindex, prog_fd);
	/* For tcx the kernel reads target_fd as the ifindex. */
	if (!bpf_prog_attach(prog_fd, ifindex, ZH_BPF_TCX_INGRESS, 0))
		return 0;
	err = -errno;
	/* tcx refuses a program it runs already: attached is attached (an
	 * agent restarting puts zh_tc_uplink back where it is). */
	if (err == -EEXIST && !prog_id(prog_fd, &id) &&
	    tcx_attached(ifindex, id))
		return 0;
	return err;
}

int zh_tc_attach_egress(const struct zh_kfeat *f, int ifindex, int prog_fd)
{
	__u32 ids[16], cnt = 16, flags = 0, id = 0;
	int err;

	if (!zh_kfeat_has(f, ZH_FEAT_TCX))
		return clsact_attach_at(ifindex, prog_fd, BPF_TC_EGRESS);
	if (!bpf_prog_attach(prog_fd, ifindex, ZH_BPF_TCX_EGRESS, 0))
		return 0;
	err = -errno;
	if (err != -EEXIST || prog_id(prog_fd, &id) ||
	    bpf_prog_query(ifindex, ZH_BPF_TCX_EGRESS, 0, &flags, ids, &cnt))
		return err;
	for (__u32 i = 0; i < cnt && i < 16; i++)
		if (ids[i] == id)
			return 0;
	return err;
}

static int tcx_attached(int ifindex, __u32 id)
{
	__u32 ids[16], cnt = 16, flags = 0;

	if (bpf_prog_query(ifindex, ZH_BPF_TCX_INGRESS, 0, &flags, ids, &cnt))
		return 0;
	for (__u32 i = 0; i < cnt && i < 16; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

int zh_tc_attached(int ifindex, int prog_fd)
{
	struct bpf_tc_hook hook = { .sz = sizeof(struct bpf_tc_hook),
				    .ifindex = ifindex,
				    .attach_point = BPF_TC_INGRESS };
	struct bpf_tc_opts opts = { .sz = sizeof(struct bpf_tc_opts),
				    .handle = ZH_TC_HANDLE,
				    .priority = ZH_TC_PRIO };
	__u32 id = 0;
	int err;

	err = prog_id(prog_fd, &id);
	if (err)
		return err;
	if (tcx_attached(ifindex, id))
		return 1;
	err = bpf_tc_query(&hook, &opts);
	if (err == -ENOENT || err == -EINVAL)
		return 0;
	if (err)
		return err;
	return opts.prog_id == id;
}

int zh_xdp_attach(int ifindex, int prog_fd)
{
	struct xdp_program *prog;
	int err;

	/* Already there (an agent restarting): nothing to do, where libxdp
	 * would refuse an interface that has an XDP program. */
	if (zh_xdp_attached(ifindex, prog_fd) == 1)
		return 0;
	prog = xdp_program__from_fd(prog_fd);
	err = libxdp_get_error(prog);
	if (err)
		return err;
	err = xdp_program__attach(prog, ifindex, XDP_MODE_NATIVE, 0);
	xdp_program__close(prog);
	return err;
}

int zh_xdp_detach(int ifindex, int prog_fd)
{
	struct xdp_program *prog;
	int err = zh_xdp_attached(ifindex, prog_fd);

	if (err <= 0)
		return err;
	prog = xdp_program__from_fd(prog_fd);
	err = libxdp_get_error(prog);
	if (err)
		return err;
	err = xdp_program__detach(prog, ifindex, XDP_MODE_NATIVE, 0);
	xdp_program__close(prog);
	return err;
}

int zh_xdp_mode(int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	int err = libxdp_get_error(mp), mode;

	if (err)
		return err == -ENOENT ? 0 : err;
	switch (xdp_multiprog__attach_mode(mp)) {
	case XDP_MODE_NATIVE:
	case XDP_MODE_HW:
		mode = ZH_XSK_XDP_NATIVE;
		break;
	case XDP_MODE_SKB:
		mode = ZH_XSK_XDP_GENERIC;
		break;
	default:
		mode = 0;
	}
	xdp_multiprog__close(mp);
	return mode;
}

int zh_xdp_attached(int ifindex, int prog_fd)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	__u32 id = 0;
	int err, found = 0;

	err = prog_id(prog_fd, &id);
	if (err)
		return err;
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	err = libxdp_get_error(mp);
	if (err)
		return err == -ENOENT ? 0 : err;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		found = p && xdp_program__id(p) == id;
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p && !found;
		     p = xdp_multiprog__next_prog(p, mp))
			found = xdp_program__id(p) == id;
	}
	xdp_multiprog__close(mp);
	return found;
}

const char *zh_hook_name(enum zh_hook hook)
{
	static const char *const names[] = {
		[ZH_HOOK_TCX] = "tcx",
		[ZH_HOOK_CLSACT] = "clsact",
		[ZH_HOOK_XDP_DRV] = "xdp",
		[ZH_HOOK_XDP_SKB] = "xdpgeneric",
		[ZH_HOOK_XDP_MULTI] = "xdp (libxdp dispatcher)",
		[ZH_HOOK_TCX_EGRESS] = "tcx egress",
		[ZH_HOOK_CLSACT_EGRESS] = "clsact egress",
		[ZH_HOOK_NETKIT_PEER] = "netkit peer",
	};

	return (unsigned int)hook < sizeof(names) / sizeof(names[0]) ?
		       names[hook] :
		       "?";
}

static int xdp_multi_foreach(int ifindex,
			     int (*fn)(int ifindex, enum zh_hook hook,
				       __u32 prog_id, void *arg),
			     void *arg)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	int ret = 0;

	if (libxdp_get_error(mp))
		return 0;
	if (!xdp_multiprog__is_legacy(mp))
		for (p = xdp_multiprog__next_prog(NULL, mp); p && !ret;
		     p = xdp_multiprog__next_prog(p, mp))
			ret = fn(ifindex, ZH_HOOK_XDP_MULTI, xdp_program__id(p),
				 arg);
	xdp_multiprog__close(mp);
	return ret;
}

int zh_hooks_foreach(int ifindex,
		     int (*fn)(int ifindex, enum zh_hook hook, __u32 prog_id,
			       void *arg),
		     void *arg)
{
	struct bpf_tc_hook hook = { .sz = sizeof(struct bpf_tc_hook),
				    .ifindex = ifindex,
				    .attach_point = BPF_TC_INGRESS };
	struct bpf_tc_opts opts = { .sz = sizeof(struct bpf_tc_opts),
				    .handle = ZH_TC_HANDLE,
				    .priority = ZH_TC_PRIO };
	struct bpf_xdp_query_opts xq = { .sz = sizeof(xq) };
	__u32 ids[64], cnt = 64, flags = 0;
	int ret = 0;

	if (!bpf_prog_query(ifindex, ZH_BPF_TCX_INGRESS, 0, &flags, ids, &cnt))
		for (__u32 i = 0; i < cnt && i < 64 && !ret; i++)
			ret = fn(ifindex, ZH_HOOK_TCX, ids[i], arg);
	/* Only where a clsact qdisc is: a query elsewhere makes the kernel
	 * complain through libbpf's log for nothing. */
	if (!ret && zh_nl_clsact_has(ifindex) == 1 &&
	    !bpf_tc_query(&hook, &opts))
		ret = fn(ifindex, ZH_HOOK_CLSACT, opts.prog_id, arg);
	/* Egress: zh_tc_to_pod on host veths (NetworkPolicy). */
	cnt = 64;
	if (!ret &&
	    !bpf_prog_query(ifindex, ZH_BPF_TCX_EGRESS, 0, &flags, ids, &cnt))
		for (__u32 i = 0; i < cnt && i < 64 && !ret; i++)
			ret = fn(ifindex, ZH_HOOK_TCX_EGRESS, ids[i], arg);
	/* A netkit primary's peer hook (anything else: the kernel refuses
	 * the query, -ENXIO, or before 6.7 knows no such type). */
	cnt = 64;
	if (!ret &&
	    !bpf_prog_query(ifindex, ZH_BPF_NETKIT_PEER, 0, &flags, ids, &cnt))
		for (__u32 i = 0; i < cnt && i < 64 && !ret; i++)
			ret = fn(ifindex, ZH_HOOK_NETKIT_PEER, ids[i], arg);
	hook.attach_point = BPF_TC_EGRESS;
	opts.prog_id = 0;
	opts.prog_fd = 0;
	opts.flags = 0;
	if (!ret && zh_nl_clsact_has(ifindex) == 1 &&
	    !bpf_tc_query(&hook, &opts))
		ret = fn(ifindex, ZH_HOOK_CLSACT_EGRESS, opts.prog_id, arg);
	if (!ret && !bpf_xdp_query(ifindex, 0, &xq)) {
		if (xq.drv_prog_id)
			ret = fn(ifindex, ZH_HOOK_XDP_DRV, xq.drv_prog_id, arg);
		if (!ret && xq.skb_prog_id)
			ret = fn(ifindex, ZH_HOOK_XDP_SKB, xq.skb_prog_id, arg);
		if (!ret && (xq.drv_prog_id || xq.skb_prog_id))
			ret = xdp_multi_foreach(ifindex, fn, arg);
	}
	return ret;
}

int zh_hook_replace(int ifindex, enum zh_hook hook, int old_fd, int new_fd)
{
	struct bpf_prog_attach_opts po = { .sz = sizeof(po),
					   .flags = BPF_F_REPLACE,
					   .replace_prog_fd = old_fd };
	struct bpf_xdp_attach_opts xo = { .sz = sizeof(xo),
					  .old_prog_fd = old_fd };

	switch (hook) {
	case ZH_HOOK_TCX:
		if (!bpf_prog_attach_opts(new_fd, ifindex, ZH_BPF_TCX_INGRESS,
					  &po))
			return 0;
		/* @new_fd's program runs there already (put there since):
		 * the old one only has to go. */
		if (errno == EEXIST)
			return bpf_prog_detach2(old_fd, ifindex,
						ZH_BPF_TCX_INGRESS) ?
				       -errno :
				       0;
		return -errno;
	case ZH_HOOK_CLSACT:
		/* The same handle and priority: cls_bpf swaps the program of
		 * the filter it has. */
		return clsact_attach(ifindex, new_fd);
	case ZH_HOOK_TCX_EGRESS:
		if (!bpf_prog_attach_opts(new_fd, ifindex, ZH_BPF_TCX_EGRESS,
					  &po))
			return 0;
		if (errno == EEXIST)
			return bpf_prog_detach2(old_fd, ifindex,
						ZH_BPF_TCX_EGRESS) ?
				       -errno :
				       0;
		return -errno;
	case ZH_HOOK_CLSACT_EGRESS:
		return clsact_attach_at(ifindex, new_fd, BPF_TC_EGRESS);
	case ZH_HOOK_NETKIT_PEER:
		/* bpf_mprog as tcx: replaced in place, the pod never left
		 * to its peer's default policy (drop) in between. */
		if (!bpf_prog_attach_opts(new_fd, ifindex, ZH_BPF_NETKIT_PEER,
					  &po))
			return 0;
		if (errno == EEXIST)
			return bpf_prog_detach2(old_fd, ifindex,
						ZH_BPF_NETKIT_PEER) ?
				       -errno :
				       0;
		return -errno;
	case ZH_HOOK_XDP_DRV:
	case ZH_HOOK_XDP_SKB:
		return bpf_xdp_attach(ifindex, new_fd,
				      XDP_FLAGS_REPLACE |
					      (hook == ZH_HOOK_XDP_DRV ?
						       XDP_FLAGS_DRV_MODE :
						       XDP_FLAGS_SKB_MODE),
				      &xo);
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * netkit: attached with BPF_PROG_ATTACH as tcx is (the kernel's bpf_mprog
 * behind both), to the primary's ifindex, so that the attachment lives and
 * dies with the pair and the pod, whose netns holds only the peer, cannot
 * name it to detach it.
 */
static int nk_type(int peer)
{
	return peer ? ZH_BPF_NETKIT_PEER : ZH_BPF_NETKIT_PRIMARY;
}

int zh_netkit_attached(int ifindex, int prog_fd, int peer)
{
	__u32 ids[16], cnt = 16, flags = 0, id = 0;
	int err;

	err = prog_id(prog_fd, &id);
	if (err)
		return err;
	if (bpf_prog_query(ifindex, nk_type(peer), 0, &flags, ids, &cnt))
		return -errno;
	for (__u32 i = 0; i < cnt && i < 16; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

int zh_netkit_attach(int ifindex, int prog_fd, int peer)
{
	int err;

	if (!bpf_prog_attach(prog_fd, ifindex, nk_type(peer), 0))
		return 0;
	err = -errno;
	if (err == -EEXIST && zh_netkit_attached(ifindex, prog_fd, peer) == 1)
		return 0;
	return err;
}

int zh_netkit_query(int ifindex, int peer)
{
	__u32 ids[1], cnt = 1, flags = 0;

	if (bpf_prog_query(ifindex, nk_type(peer), 0, &flags, ids, &cnt))
		return errno == ENOSPC ? 0 : -errno;
	return 0;
}
