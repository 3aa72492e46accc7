// SPDX-License-Identifier: Apache-2.0
/*
 * samples.c - every RTT kept, percentiles by nearest rank over all of them,
 * so the tail is exact rather than bucketed. Sample files for `stats`.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xdpbench.h"

/* splitmix64: a reservoir index; quality matters little, speed does. */
static uint64_t xb_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int xb_samples_add(struct xb_samples *s, uint64_t ns)
{
	if (!s->seen || ns < s->min)
		s->min = ns;
	if (ns > s->max)
		s->max = ns;
	s->sum += ns;
	s->seen++;

	if (s->limit && s->n == s->limit) {
		/* Algorithm R: sample i (1-based) replaces a kept one with
		 * probability limit/i. */
		uint64_t j = xb_rand(&s->rng) % s->seen;

		if (j < s->limit)
			s->ns[j] = ns;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		uint64_t *p;

		if (s->limit && cap > s->limit)
			cap = s->limit;
		p = realloc(s->ns, cap * sizeof(*p));
		if (!p) {
			s->seen--;
			return -ENOMEM;
		}
		s->ns = p;
		s->cap = cap;
	}
	s->ns[s->n++] = ns;
	return 0;
}

void xb_samples_free(struct xb_samples *s)
{
	size_t limit = s->limit;

	free(s->ns);
	memset(s, 0, sizeof(*s));
	s->limit = limit;
}

static int xb_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

double xb_rank_us(const uint64_t *sorted, size_t n, double p)
{
	/*
	 * In integers, per 100000: in binary floating point 0.999 * 1000 is
	 * 999.0000000000001, whose ceiling would make p99.9 of 1000 samples
	 * the maximum instead of the 999th.
	 */
	uint64_t q = (uint64_t)llround(p * 1000.0);
	uint64_t rank = (q * (uint64_t)n + 99999) / 100000;

	if (!n)
		return 0;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)sorted[rank - 1] / 1000.0;
}

void xb_summarise(struct xb_samples *s, struct xb_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->count = s->seen;
	out->lost = s->lost;
	out->exact = s->n == s->seen;
	if (!s->n)
		return;
	qsort(s->ns, s->n, sizeof(*s->ns), xb_cmp_u64);
	out->min = (double)s->min / 1000.0;
	out->max = (double)s->max / 1000.0;
	out->mean = (double)(s->sum / s->seen) / 1000.0;
	out->p50 = xb_rank_us(s->ns, s->n, 50);
	out->p90 = xb_rank_us(s->ns, s->n, 90);
	out->p99 = xb_rank_us(s->ns, s->n, 99);
	out->p999 = xb_rank_us(s->ns, s->n, 99.9);
}

/*
 * Sample files: one RTT in nanoseconds per line, preceded by a comment
 * line "# xdpbench rtt_ns lost=N label=L" so `xdpbench stats` can merge
 * runs and still account for losses.
 */
int xb_samples_write(const struct xb_samples *s, const char *label,
		     const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i;
	int ret = 0;

	if (!f) {
		ret = -errno;
		pr_warn("cannot write %s: %s\n", path, strerror(errno));
		return ret;
	}
	fprintf(f, "# xdpbench rtt_ns lost=%" PRIu64 " label=%s\n", s->lost,
		label ? label : "");
	for (i = 0; i < s->n; i++)
		fprintf(f, "%" PRIu64 "\n", s->ns[i]);
	if (ferror(f))
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret)
		pr_warn("cannot write %s: %s\n", path, strerror(-ret));
	return ret;
}

int xb_samples_read(struct xb_samples *s, const char *path)
{
	char line[256];
	unsigned long lineno = 0;
	FILE *f;
	int ret = 0;

	f = !strcmp(path, "-") ? stdin : fopen(path, "r");
	if (!f) {
		ret = -errno;
		pr_warn("cannot read %s: %s\n", path, strerror(errno));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		const char *lost;
		char *end;

		lineno++;
		if (line[0] == '#') {
			lost = strstr(line, " lost=");
			if (lost)
				s->lost += strtoull(lost + 6, NULL, 10);
			continue;
		}
		if (line[0] == '\n')
			continue;
		errno = 0;
		v = strtoull(line, &end, 10);
		if (errno || end == line || (*end && *end != '\n')) {
			pr_warn("%s:%lu: not a sample: %s", path, lineno, line);
			ret = -EINVAL;
			break;
		}
		ret = xb_samples_add(s, v);
		if (ret)
			break;
	}
	if (!ret && ferror(f))
		ret = -EIO;
	if (f != stdin)
		fclose(f);
	return ret;
}
