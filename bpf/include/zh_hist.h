/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * zh_hist.h - log-linear (HDR-style) latency histograms, shared by the BPF
 * programs, which fold nanosecond deltas into per-CPU copies, and userspace,
 * which sums the CPUs and reads percentiles out (user/lib/hist.h).
 *
 * Buckets: values below 32 ns have one bucket each. Above that every power
 * of two [2^m, 2^(m+1)) is cut into 32 equal sub-buckets, so a bucket is at
 * most 1/32 (3.1 %) of its lower bound wide and its midpoint is within
 * 1/64 (1.6 %) of any value in it. The top power of two ends at 2^35 ns
 * (~34 s); larger values are clamped into the last bucket.
 *
 *   v < 32:  index = v
 *   else:    m = index of the highest set bit of v (5..34)
 *            index = (m - 4) * 32 + ((v >> (m - 5)) & 31)
 *
 * For 32 <= v < 64 the formula gives index = v as well, so the exact and
 * log-linear ranges join without a gap: 992 buckets in all.
 *
 * Only <linux/types.h>: this header is compiled with clang -target bpf too,
 * where there is no libc and no count-leading-zeros instruction.
 */
#ifndef ZH_HIST_H
#define ZH_HIST_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define ZH_HIST_SUB_BITS 5
#define ZH_HIST_SUB (1U << ZH_HIST_SUB_BITS) /* sub-buckets per octave */
#define ZH_HIST_SUB_MASK (ZH_HIST_SUB - 1)
/* Values at or above 2^ZH_HIST_MAX_BITS ns go to the last bucket. */
#define ZH_HIST_MAX_BITS 35
#define ZH_HIST_MAX_NS (1ULL << ZH_HIST_MAX_BITS)
/*
 * Octaves 2^5 .. 2^34 (30 of them) at 32 buckets each, plus the 32 exact
 * buckets below 32 ns: (35 - 5 + 1) * 32 = 992.
 */
#define ZH_HIST_BUCKETS \
	((ZH_HIST_MAX_BITS - ZH_HIST_SUB_BITS + 1) << ZH_HIST_SUB_BITS)

/*
 * One histogram: one hop, one direction, one CPU when it is the value of a
 * BPF_MAP_TYPE_PERCPU_ARRAY. 3 * 8 + 992 * 8 = 7960 bytes. The kernel caps a
 * per-CPU map value at PCPU_MIN_UNIT_SIZE (32 KiB), so __u64 buckets fit
 * with room to spare. Far too big for the 512-byte BPF stack: BPF only ever
 * works on the map value through the pointer from bpf_map_lookup_elem().
 * Userspace reading the per-CPU map gets nr_cpus copies (~8 KB each):
 * allocate that buffer, do not put it on the stack.
 *
 * A change of ZH_HIST_* or of this layout is a change of a map value
 * layout: bump ZH_PIN_VERSION.
 */
struct zh_hist {
	__u64 count; /* values recorded */
	__u64 sum_ns; /* their sum, for the mean and Prometheus _sum */
	__u64 max_ns; /* the largest, exact */
	__u64 buckets[ZH_HIST_BUCKETS];
};

#ifndef __bpf__
_Static_assert(ZH_HIST_BUCKETS == 992, "zh_hist bucket count");
_Static_assert(sizeof(struct zh_hist) == 7960, "zh_hist layout");
_Static_assert(sizeof(struct zh_hist) <= 32768,
	       "zh_hist must fit a per-CPU map value (PCPU_MIN_UNIT_SIZE)");
#endif

/*
 * Index of the highest set bit of @v, which must not be 0. BPF has no clz
 * instruction, and a loop would cost the verifier: a fixed binary search,
 * six shift-and-test steps, no loop.
 */
static __always_inline __u32 zh_hist_msb(__u64 v)
{
	__u32 msb = 0;

	if (v >> 32) {
		v >>= 32;
		msb += 32;
	}
	if (v >> 16) {
		v >>= 16;
		msb += 16;
	}
	if (v >> 8) {
		v >>= 8;
		msb += 8;
	}
	if (v >> 4) {
		v >>= 4;
		msb += 4;
	}
	if (v >> 2) {
		v >>= 2;
		msb += 2;
	}
	if (v >> 1)
		msb += 1;
	return msb;
}

/* The bucket of a value in ns; always < ZH_HIST_BUCKETS. */
static __always_inline __u32 zh_hist_index(__u64 v)
{
	__u32 msb;

	if (v < ZH_HIST_SUB)
		return (__u32)v;
	/* Clamp first: it bounds msb to 5..34 and so the index to 991. */
	if (v >= ZH_HIST_MAX_NS)
		return ZH_HIST_BUCKETS - 1;
	msb = zh_hist_msb(v);
	return ((msb - ZH_HIST_SUB_BITS + 1) << ZH_HIST_SUB_BITS) +
	       (__u32)((v >> (msb - ZH_HIST_SUB_BITS)) & ZH_HIST_SUB_MASK);
}

/*
 * Bounds of bucket @idx: lower <= v < upper for every v below ZH_HIST_MAX_NS
 * that zh_hist_index() puts there. The last bucket's upper bound is
 * ZH_HIST_MAX_NS; clamped values above it are counted there too (its true
 * content is bounded by max_ns only). An @idx past the end reads as the
 * last bucket.
 */
static __always_inline __u64 zh_hist_lower(__u32 idx)
{
	__u32 octave;

	if (idx >= ZH_HIST_BUCKETS)
		idx = ZH_HIST_BUCKETS - 1;
	if (idx < ZH_HIST_SUB)
		return idx;
	/* octave 1 is [32, 64) in steps of 1, octave 2 [64, 128) in 2, ... */
	octave = idx >> ZH_HIST_SUB_BITS;
	return (__u64)(ZH_HIST_SUB + (idx & ZH_HIST_SUB_MASK)) << (octave - 1);
}

static __always_inline __u64 zh_hist_upper(__u32 idx)
{
	__u32 octave;

	if (idx >= ZH_HIST_BUCKETS)
		idx = ZH_HIST_BUCKETS - 1;
	if (idx < ZH_HIST_SUB)
		return (__u64)idx + 1;
	octave = idx >> ZH_HIST_SUB_BITS;
	return (__u64)(ZH_HIST_SUB + (idx & ZH_HIST_SUB_MASK) + 1)
	       << (octave - 1);
}

/*
 * Fold one value into @h: what the datapath does per packet and what
 * zh_hist_add() does in userspace. @h is this CPU's copy of a per-CPU map
 * value: BPF programs are not preempted by another program on the same CPU
 * touching the same slot, so plain increments suffice (no atomics).
 */
static __always_inline void zh_hist_record(struct zh_hist *h, __u64 ns)
{
	/*
	 * 64 bits wide, tested in the register that indexes: clang tests a
	 * 32-bit index in one register and zero-extends a copy for the
	 * access, and a verifier before 6.2 or so (Debian's 6.1) does not
	 * carry the bound across, refusing the program ("R0 unbounded
	 * memory access"). The barrier keeps the compiler from splitting
	 * the two again.
	 */
	__u64 idx = zh_hist_index(ns);

	asm volatile("" : "+r"(idx));
	if (idx >= ZH_HIST_BUCKETS)
		return;
	asm volatile("" : "+r"(idx));
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->buckets[idx]++;
}

#endif /* ZH_HIST_H */
