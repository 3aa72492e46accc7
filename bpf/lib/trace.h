/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * trace.h - the redirect helpers, as the programs call them, and what a
 * test sees of them: where a redirect went (zh_abi.h: zh_trace), which
 * BPF_PROG_TEST_RUN does not tell (it returns the verdict; the target
 * stays in the kernel's per-CPU redirect state).
 *
 * zh_trace_on is a load-time constant that only the kernel-tier tests set
 * (the loader never does). Off, the verifier knows the branch is never
 * taken and removes the recording before the program runs, as it does the
 * code behind a missing kernel feature (kfeat.h): production pays for the
 * flag's load at each call site, never for the map.
 *
 * Every redirect in bpf/ goes through these wrappers; a direct helper call
 * would redirect where no test looks.
 */
#ifndef ZH_TRACE_H
#define ZH_TRACE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "zh_abi.h"

const volatile __u8 zh_trace_on = 0;

/* Not pinned: every load has its own, and only a test reads it (mmap). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zh_trace);
} zh_trace SEC(".maps");

/* Record one redirect helper call and hand its result back unchanged. */
static __always_inline long zh_trace_redirect(__u32 kind, __u32 target,
					      long ret)
{
	if (zh_trace_on) {
		__u32 zero = 0;
		struct zh_trace *t = bpf_map_lookup_elem(&zh_trace, &zero);

		if (t) {
			t->calls++;
			t->kind = kind;
			t->target = target;
			t->ret = ret;
		}
	}
	return ret;
}

static __always_inline long zh_redirect(__u32 ifindex, __u64 flags)
{
	return zh_trace_redirect(ZH_TRACE_REDIRECT, ifindex,
				 bpf_redirect(ifindex, flags));
}

static __always_inline long zh_redirect_peer(__u32 ifindex, __u64 flags)
{
	return zh_trace_redirect(ZH_TRACE_REDIRECT_PEER, ifindex,
				 bpf_redirect_peer(ifindex, flags));
}

/* Without neighbour parameters: the kernel's FIB and neighbour table fill
 * in the L2 header. */
static __always_inline long zh_redirect_neigh(__u32 ifindex, __u64 flags)
{
	return zh_trace_redirect(ZH_TRACE_REDIRECT_NEIGH, ifindex,
				 bpf_redirect_neigh(ifindex, NULL, 0, flags));
}

/* Toward next hop @nh (another node's address): the kernel resolves its
 * neighbour entry on @ifindex and fills in the L2 header. */
static __always_inline long zh_redirect_neigh_nh(__u32 ifindex,
						 struct bpf_redir_neigh *nh)
{
	return zh_trace_redirect(ZH_TRACE_REDIRECT_NEIGH, ifindex,
				 bpf_redirect_neigh(ifindex, nh, sizeof(*nh),
						    0));
}

/* A macro: the helper wants the map itself, not a pointer passed along. */
#define zh_redirect_map(map, key, flags)                               \
	({                                                             \
		__u32 key_ = (key);                                    \
		zh_trace_redirect(ZH_TRACE_REDIRECT_MAP, key_,         \
				  bpf_redirect_map(map, key_, flags)); \
	})

#endif /* ZH_TRACE_H */
