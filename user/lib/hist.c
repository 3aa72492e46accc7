// SPDX-License-Identifier: Apache-2.0
/*
 * hist.c - percentiles and cumulative counts from the log-linear latency
 * histograms the datapath fills (bpf/include/zh_hist.h).
 *
 * The histograms are read from per-CPU maps while the datapath writes them,
 * so count, the buckets and max_ns may disagree by a few in-flight values:
 * the walks below use the bucket totals they actually see and never trust
 * max_ns beyond the bucket it belongs to.
 */
#include <errno.h>
#include <stddef.h>

#include "hist.h"

void zh_hist_add(struct zh_hist *h, __u64 ns)
{
	zh_hist_record(h, ns);
}

void zh_hist_merge(struct zh_hist *dst, const struct zh_hist *src)
{
	size_t i;

	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	for (i = 0; i < ZH_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
}

static __u64 hist_total(const struct zh_hist *h)
{
	__u64 total = 0;
	size_t i;

	for (i = 0; i < ZH_HIST_BUCKETS; i++)
		total += h->buckets[i];
	return total;
}

/*
 * ceil(p / 100 * n) in [1, n], without libm. The product is computed in
 * double, so 99.9 % of 1000 comes out a hair above 999 (99.9 is not exact
 * in binary): forgive a relative 1e-12 before rounding up, far below the
 * granularity of any percentile anyone asks for.
 */
static __u64 hist_rank(double p, __u64 n)
{
	double x, slack;
	__u64 r;

	if (!(p > 0)) /* also NaN */
		return 1;
	if (p >= 100)
		return n;
	x = p / 100 * (double)n;
	slack = x * 1e-12;
	r = (__u64)x;
	if ((double)r < x - slack)
		r++;
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return r;
}

__u64 zh_hist_percentile(const struct zh_hist *h, double p)
{
	__u64 total, rank, seen = 0, lower, mid;
	__u32 i;

	total = hist_total(h);
	if (!total)
		return 0;
	rank = hist_rank(p, total);

	for (i = 0; i < ZH_HIST_BUCKETS - 1; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			break;
	}
	/* i is the bucket of the rank-th value (the last if the loop ran out) */
	lower = zh_hist_lower(i);
	mid = lower + (zh_hist_upper(i) - lower) / 2;

	/*
	 * max_ns lives in the top non-empty bucket: the top rank is exactly
	 * max_ns, and no value in that bucket is above it. A max_ns below the
	 * bucket is a racy read of a busy map; the midpoint is better then.
	 */
	if (h->max_ns >= lower && (rank == total || mid > h->max_ns))
		return h->max_ns;
	return mid;
}

int zh_hist_summary(const struct zh_hist *h, struct zh_hist_summary *s)
{
	if (!h || !s)
		return -EINVAL;

	s->count = h->count;
	s->mean_ns = h->count ? (h->sum_ns + h->count / 2) / h->count : 0;
	s->p50_ns = zh_hist_percentile(h, 50);
	s->p90_ns = zh_hist_percentile(h, 90);
	s->p99_ns = zh_hist_percentile(h, 99);
	s->p999_ns = zh_hist_percentile(h, 99.9);
	s->max_ns = h->max_ns;
	return 0;
}

size_t zh_hist_cumulative(const struct zh_hist *h, const __u64 *bounds_ns,
			  size_t n, __u64 *out)
{
	__u64 cum = 0;
	__u32 b = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		__u64 bound = bounds_ns[i];

		if (i && bound < bounds_ns[i - 1])
			break;
		/* Every value is <= max_ns <= bound: exact. */
		if (bound >= h->max_ns) {
			out[i] = h->count;
			continue;
		}
		/*
		 * Whole buckets whose every value is <= bound. The last bucket
		 * is never one of them: it holds the clamped values, which
		 * are only bounded by max_ns.
		 */
		while (b < ZH_HIST_BUCKETS - 1 && zh_hist_upper(b) - 1 <= bound)
			cum += h->buckets[b++];
		/* Racy per-CPU reads: keep out[] below the +Inf bucket. */
		out[i] = cum < h->count ? cum : h->count;
	}
	return i;
}
