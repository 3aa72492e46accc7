// SPDX-License-Identifier: Apache-2.0
/*
 * gc.c - the conntrack sweeps' thread (gc.h).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "gc.h"
#include "podstate.h"

/* The longest pause between two slices. */
#define PAUSE_MAX_MS 10
/* The next sweep waits at least this many times the last one's time. */
#define GC_DUTY 10

struct zh_gc {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool stop;
	const struct zh_objs *objs;
	struct zh_gc_opts o;
	char state_dir[PATH_MAX];
	struct zh_ctgc *gc;
	struct zh_ctgc_stats st; /* under lock */
	bool said_save; /* a failed save said once */
};

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* Sleep until CLOCK_MONOTONIC @deadline_ns or zh_gc_stop(): true when
 * stopped. */
static bool wait_until(struct zh_gc *g, __u64 deadline_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000ULL),
			       .tv_nsec = (long)(deadline_ns % 1000000000ULL) };
	bool stop;

	pthread_mutex_lock(&g->lock);
	while (!g->stop && clock_ns(CLOCK_MONOTONIC) < deadline_ns)
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	stop = g->stop;
	pthread_mutex_unlock(&g->lock);
	return stop;
}

/* One sweep, slice by slice: 0, a negative errno, or 1 when stopped. */
static int sweep(struct zh_gc *g)
{
	__u64 t0, t;
	int rc;

	zh_ctgc_begin(g->gc);
	for (;;) {
		t0 = clock_ns(CLOCK_MONOTONIC);
		rc = zh_ctgc_step(g->gc);
		if (rc)
			return rc < 0 ? rc : 0;
		t = clock_ns(CLOCK_MONOTONIC) - t0;
		if (t > PAUSE_MAX_MS * 1000000ULL)
			t = PAUSE_MAX_MS * 1000000ULL;
		if (wait_until(g, clock_ns(CLOCK_MONOTONIC) + t))
			return 1;
	}
}

/* @st into @dir: the plugin's directory of records, made if it is not
 * there yet, written only if no one else may write it. */
static int save_in(const char *dir, const struct zh_ctgc_stats *st)
{
	int err;

	mkdir(dir, 0700);
	err = zh_state_dir_check(dir);
	return err ? err : zh_ctgc_stats_save(dir, st);
}

static void save(struct zh_gc *g)
{
	struct zh_ctgc_stats st;
	int err;

	if (!g->state_dir[0])
		return;
	zh_gc_stats(g, &st);
	err = save_in(g->state_dir, &st);
	if (err && !g->said_save)
		pr_warn("conntrack GC: cannot keep its counters in %s/%s: %s\n",
			g->state_dir, ZH_CTGC_STATE_FILE, strerror(-err));
	g->said_save = err != 0;
}

static void *worker(void *arg)
{
	struct zh_gc *g = arg;
	const struct zh_ctgc_result *r = zh_ctgc_result(g->gc);
	__u32 max = zh_ctgc_max_entries(g->gc);
	unsigned int interval = g->o.interval_s, floor_s;
	__u64 t0, c0, took, cpu, next = 0;
	int rc;

	/* The first sweep at once: a restarted agent finds the map as
	 * the datapath left it. */
	for (;;) {
		if (next && wait_until(g, next))
			break;
		t0 = clock_ns(CLOCK_MONOTONIC);
		c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		rc = sweep(g);
		if (rc == 1)
			break;
		took = clock_ns(CLOCK_MONOTONIC) - t0;
		cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
		if (g->o.auto_interval)
			interval = zh_ctgc_next_interval(interval, r, max);
		floor_s = (unsigned int)((took * GC_DUTY + 999999999ULL) /
					 1000000000ULL);
		if (interval < floor_s)
			interval = floor_s;
		pthread_mutex_lock(&g->lock);
		g->st.sweeps++;
		g->st.errors += rc < 0;
		g->st.deleted_total += r->deleted;
		g->st.kept_total += r->kept;
		g->st.last = *r;
		g->st.last_duration_ns = took;
		g->st.last_cpu_ns = cpu;
		g->st.last_time = (double)clock_ns(CLOCK_REALTIME) / 1e9;
		g->st.interval_s = interval;
		pthread_mutex_unlock(&g->lock);
		if (rc < 0)
			pr_warn("conntrack GC: %s: %s (again in %u s)\n",
				ZH_MAP_CT, strerror(-rc), interval);
		pr_debug(
			"conntrack GC: %llu of %u entries read (%llu slice(s)%s): %llu live, %llu dead kept with their flow, %llu deleted (%llu gone first) in %.1f ms, CPU %.1f ms; next in %u s\n",
			(unsigned long long)r->seen, max,
			(unsigned long long)r->slices,
			r->per_key ? ", per key" : "",
			(unsigned long long)r->live,
			(unsigned long long)r->kept,
			(unsigned long long)r->deleted,
			(unsigned long long)r->gone, (double)took / 1e6,
			(double)cpu / 1e6, interval);
		save(g);
		next = clock_ns(CLOCK_MONOTONIC) + interval * 1000000000ULL;
	}
	return NULL;
}

struct zh_gc *zh_gc_start(const struct zh_objs *objs,
			  const struct zh_gc_opts *o)
{
	struct zh_gc *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;
	int err;

	if (!g)
		return NULL;
	g->objs = objs;
	g->o = *o;
	if (!g->o.interval_s)
		g->o.interval_s = ZH_CTGC_START_S;
	if (o->state_dir)
		snprintf(g->state_dir, sizeof(g->state_dir), "%s",
			 o->state_dir);
	g->o.state_dir = NULL;
	g->gc = zh_ctgc_new(objs->ct_fd, objs->backends_fd, 0, 0);
	if (!g->gc) {
		err = errno;
		free(g);
		errno = err;
		return NULL;
	}
	g->st.on = true;
	g->st.auto_interval = o->auto_interval;
	g->st.interval_s = g->o.interval_s;
	g->st.max_entries = zh_ctgc_max_entries(g->gc);
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&g->thread, NULL, worker, g);
	if (err) {
		pthread_cond_destroy(&g->cond);
		pthread_mutex_destroy(&g->lock);
		zh_ctgc_free(g->gc);
		free(g);
		errno = err;
		return NULL;
	}
	return g;
}

void zh_gc_stats(const struct zh_gc *g, struct zh_ctgc_stats *st)
{
	struct zh_gc *m = (struct zh_gc *)g; /* the lock only */

	pthread_mutex_lock(&m->lock);
	*st = g->st;
	pthread_mutex_unlock(&m->lock);
}

void zh_gc_off(const char *state_dir)
{
	struct zh_ctgc_stats st = { .on = false };

	if (state_dir)
		save_in(state_dir, &st);
}

void zh_gc_stop(struct zh_gc *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	zh_ctgc_free(g->gc);
	free(g);
}
