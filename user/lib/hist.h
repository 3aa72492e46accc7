/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hist.h - reading the datapath's latency histograms (bpf/include/zh_hist.h):
 * sum the per-CPU copies, then percentiles for `zerohopctl latency` and
 * cumulative `le` buckets for Prometheus.
 *
 * Accuracy: a reported percentile is the midpoint of the bucket that holds
 * the nearest-rank sample, so it is within 1/64 (1.6 %) of that sample for
 * values below ZH_HIST_MAX_NS (~34 s); values below 64 ns are exact. The
 * last bucket also holds the clamped values above ZH_HIST_MAX_NS, for which
 * only max_ns is exact.
 *
 * No libm: libzerohop is linked into the static CNI plugin too.
 */
#ifndef ZH_HIST_USER_H
#define ZH_HIST_USER_H

#include <stddef.h>
#include <linux/types.h>

#include "zh_hist.h"

/* Record one value: the same zh_hist_record() the BPF programs run. */
void zh_hist_add(struct zh_hist *h, __u64 ns);

/* Sum @src into @dst (one CPU into the total): counts add, max of maxes. */
void zh_hist_merge(struct zh_hist *dst, const struct zh_hist *src);

/*
 * The @p-th percentile, @p in [0, 100] (clamped; NaN reads as 0), by
 * nearest rank: the value of rank ceil(p / 100 * n), at least 1, over the
 * n values in the buckets. Returns that bucket's midpoint, never more than
 * max_ns; the top rank (p100) returns max_ns exactly. 0 for an empty
 * histogram.
 */
__u64 zh_hist_percentile(const struct zh_hist *h, double p);

struct zh_hist_summary {
	__u64 count;
	__u64 mean_ns; /* sum_ns / count, rounded to nearest */
	__u64 p50_ns;
	__u64 p90_ns;
	__u64 p99_ns;
	__u64 p999_ns;
	__u64 max_ns;
};

/*
 * Fill @s from @h; an empty histogram gives all zeros. Returns 0, or
 * -EINVAL when an argument is NULL.
 */
int zh_hist_summary(const struct zh_hist *h, struct zh_hist_summary *s);

/*
 * Cumulative counts for Prometheus `le` buckets: out[i] approximates the
 * number of values <= bounds[i]. Exact for bounds below 64 ns and for any
 * bound >= max_ns (out[i] == count then, so the +Inf bucket matches _count).
 * Otherwise a bucket counts in full when every value it can hold is
 * <= bounds[i] (its exclusive upper bound <= bounds[i] + 1) and not at all
 * when not: the bucket that straddles the bound is left out, so out[i]
 * never over-counts and under-counts by at most that one bucket (a range
 * 1/32 of the bound wide). Bounds on bucket edges (upper - 1) are exact.
 *
 * @bounds must be non-decreasing. Returns the number of entries filled:
 * @n, or fewer when a bound is smaller than the one before it (out[] is
 * filled up to that bound).
 */
size_t zh_hist_cumulative(const struct zh_hist *h, const __u64 *bounds_ns,
			  size_t n, __u64 *out);

#endif /* ZH_HIST_USER_H */
