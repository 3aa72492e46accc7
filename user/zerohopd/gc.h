/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gc.h - zerohopd's conntrack garbage collection: zh_ct swept of its dead
 * entries (user/lib/ctgc.h) every --ct-gc-interval, on a thread of its
 * own, in slices.
 *
 * Why a thread and not the loop's timer: the loop waits in poll() on
 * signals, AF_XDP handoffs and link events, and runs the endpoint
 * reconcile, which already walks zh_ct for gone pods (~0.6 us an entry);
 * a sweep of a full map is tens of milliseconds of map syscalls whatever
 * the slicing, and slices between poll() rounds would still delay each
 * event by one. On its own thread the sweep shares nothing with the loop
 * but its counters (a mutex) and the map fds, which the kernel serialises:
 * the loop never waits for it, and it stops between two slices. The pin
 * lock is not taken: deleting a dead entry commutes with every other
 * writer of zh_ct (the datapath takes no lock; the agent and zerohopctl
 * delete the flows of removed Services and pods, or flush; an upgrade
 * copies the map, where a dead entry copied or not is the same), and
 * holding it for a sweep would stall pod ADDs.
 *
 * It pauses between slices as long as the slice took (at most
 * PAUSE_MAX_MS): one CPU at most half busy while it sweeps. The next sweep
 * is never sooner than ten times the last one took.
 */
#ifndef ZH_GC_H
#define ZH_GC_H

#include <stdbool.h>

#include "ctgc.h"
#include "zerohop.h"

struct zh_gc;

struct zh_gc_opts {
	bool auto_interval; /* adapt the interval (ctgc.h) */
	unsigned int interval_s; /* fixed; or, auto, the first one */
	const char *state_dir; /* ZH_CTGC_STATE_FILE goes there; NULL: not */
};

/* Start sweeping @objs' zh_ct; NULL with errno set on failure. @objs
 * must outlive it. Block the signals the caller handles first. */
struct zh_gc *zh_gc_start(const struct zh_objs *objs,
			  const struct zh_gc_opts *o);
/* The counters so far. */
void zh_gc_stats(const struct zh_gc *g, struct zh_ctgc_stats *st);
/* --ct-gc-interval off: said so in @state_dir (NULL: nowhere), so that
 * zerohopctl stats shows no earlier agent's counters. */
void zh_gc_off(const char *state_dir);
/* Stop (within a slice) and free @g; NULL is fine. */
void zh_gc_stop(struct zh_gc *g);

#endif /* ZH_GC_H */
