/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * kfeat.h - what this node's kernel lets the programs use.
 *
 * The loader (user/lib/kfeatures.c, pin.c) sets zh_kfeat before the load to
 * the features its probes found (zh_abi.h, ZH_FEATURES). .rodata is frozen
 * and read-only to the programs, so the verifier knows the value: a branch
 * behind a zh_kernel_has() that is false is never explored, and a helper
 * call in it is never checked against the kernel's list. That is how one
 * object loads on kernels that lack a helper the full datapath calls.
 */
#ifndef ZH_KFEAT_H
#define ZH_KFEAT_H

#include <linux/types.h>
#include "zh_abi.h"

/* Every feature, until the loader says otherwise. */
const volatile __u64 zh_kfeat = ~0ULL;

#define zh_kernel_has(id) (zh_kfeat & ZH_FEAT_BIT(id))

#endif /* ZH_KFEAT_H */
