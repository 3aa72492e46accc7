/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctgc.h - conntrack garbage collection: a sweep of zh_ct that deletes the
 * entries the datapath already treats as dead, so that they stop taking
 * room (zerohopd runs it, gc.h; README: Conntrack GC).
 *
 * zh_ct is an LRU hash. Nothing in the datapath deletes an entry: a dead
 * one stays until the LRU evicts it, and a full map makes every new
 * flow's insert pay the eviction (a batch of them under the LRU's global
 * lock, ~45-90 us p99 against ~10 us with room) and lets the LRU take a
 * live idle flow (an established TCP connection idle for hours) while
 * dead ones remain.
 *
 * The rule, entry by entry, is the datapath's (bpf/lib/ct.h): an entry is
 * dead when its stamp is more than its timeout (by protocol and TCP
 * state, zh_abi.h ZH_CT_TIMEOUT_*) before the sweep's clock read, the age
 * signed: a stamp ahead of that read (another CPU wrote it after) is
 * young, never 2^64 ns old. One addition keeps what the datapath still
 * reads without that test: the two entries of a flow go together. A dead
 * entry whose flow's other entry lives (the same flow: it names this one
 * back) stays:
 *
 *   - ZH_CT_FWD while its REV lives: policy judges the flow's replies on
 *     the backend it names (policy.h zh_pol_svc_reply(), no age test) --
 *     a UDP stream of replies to one request outlives the request's 120 s;
 *   - ZH_CT_REV while its FWD lives: ICMP errors of the flow are turned
 *     back with it (lb_icmp.h, no age test);
 *   - ZH_CT_SNAT_FWD while its SNAT_REV lives, and the reverse: the flow
 *     keeps its port with both (snat.h zh_snat_out() reads them without an
 *     age test); a SNAT_REV alone is the reservation of its port, and a
 *     dead one is what zh_snat_take() may hand to another flow: once both
 *     are dead the port is free, and the flow, if it ever sends again,
 *     takes a port anew as after the LRU took them. A SNAT_REV whose
 *     SNAT_FWD the LRU took (an orphan, which zh_snat_take() gives back to
 *     its own flow) is kept while it lives, like any entry.
 *
 * Between the read of a slice and its deletes a flow may come back (a
 * packet of a dead flow writes its entries anew): such a flow then finds
 * no entry and starts again, as after an LRU eviction, within the
 * microseconds of one slice; the datapath's own takeover of a dead SNAT
 * port (zh_snat_take()) races its owner the same way.
 *
 * A sweep runs in slices of a bounded number of entries (ZH_CTGC_SLICE):
 * bpf_map_lookup_batch() of one slice, the dead ones deleted with
 * bpf_map_delete_batch() right after. A kernel without the batch
 * operations (or ZH_CTGC_F_PER_KEY) walks with bpf_map_get_next_key(),
 * looking each entry up; deleting the key the walk stands on would send
 * get_next_key() back to the first, so that one is deleted only once the
 * next slice has stepped past it. Entries a slice deletes are in buckets
 * the walk has left: nothing is skipped or read twice. Userspace lookups
 * leave the LRU's reference bits alone: the sweep never makes a dead entry
 * look used.
 */
#ifndef ZH_CTGC_H
#define ZH_CTGC_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include <jansson.h>

#include "zh_abi.h"

/* Entries read by one slice of a sweep. */
#define ZH_CTGC_SLICE 4096U

/* Sweep without bpf_map_lookup_batch()/bpf_map_delete_batch(). */
#define ZH_CTGC_F_PER_KEY (1U << 0)

/* The idle timeout of an entry of @proto in TCP state @state (ct.h
 * zh_ct_timeout_ns()), in ns. */
__u64 zh_ctgc_timeout_ns(__u8 proto, __u8 state);
/* Would the datapath, at @now_ns, find the entry @v at @k alive (ct.h
 * zh_ct_live(), signed)? */
bool zh_ctgc_live(const struct zh_ct_key *k, const struct zh_ct *v,
		  __u64 now_ns);
/*
 * The key, in @out, of the other entry of @k's flow. A ZH_CT_FWD entry
 * names its reply's key through its backend: @be, the zh_backends entry
 * of @v->backend_id (NULL: gone, and so no REV the datapath would pair
 * with it). -ENOENT when there is none to look for.
 */
int zh_ctgc_peer_key(const struct zh_ct_key *k, const struct zh_ct *v,
		     const struct zh_backend *be, struct zh_ct_key *out);
/* Is @pv (at zh_ctgc_peer_key()'s key) the other entry of @k's flow? */
bool zh_ctgc_peer_is(const struct zh_ct_key *k, const struct zh_ct *v,
		     const struct zh_ct *pv);

/* One sweep's outcome. */
struct zh_ctgc_result {
	__u64 seen; /* entries read */
	__u64 live; /* alive, kept */
	__u64 kept; /* dead, kept: their flow's other entry lives */
	__u64 deleted; /* dead, deleted */
	__u64 gone; /* dead, deleted by someone else first (the LRU) */
	__u64 slices;
	bool per_key; /* walked without the batch operations */
	bool cut; /* stopped at the bound of reads (a walk restarted) */
};

struct zh_ctgc;

/*
 * A sweeper of the zh_ct map @ct_fd, pairing FWD entries with their
 * replies through the zh_backends map @be_fd (-1: none, a FWD is then
 * paired with nothing); @slice entries a slice (0: ZH_CTGC_SLICE);
 * @flags ZH_CTGC_F_*. NULL with errno set on failure.
 */
struct zh_ctgc *zh_ctgc_new(int ct_fd, int be_fd, __u32 slice,
			    unsigned int flags);
void zh_ctgc_free(struct zh_ctgc *gc);
/* Start a sweep from the first entry (the result zeroed). */
void zh_ctgc_begin(struct zh_ctgc *gc);
/* One slice: 1 when the sweep is complete, 0 when more remain, or a
 * negative errno (the sweep ends there). */
int zh_ctgc_step(struct zh_ctgc *gc);
/* The sweep so far. */
const struct zh_ctgc_result *zh_ctgc_result(const struct zh_ctgc *gc);
/* The map's capacity. */
__u32 zh_ctgc_max_entries(const struct zh_ctgc *gc);
/* A whole sweep, slices back to back, into @r; 0 or a negative errno. */
int zh_ctgc_sweep(struct zh_ctgc *gc, struct zh_ctgc_result *r);

/*
 * --ct-gc-interval auto: seconds before the next sweep after one that
 * read @r on a map of @max_entries, @prev_s after the last. Like Cilium's
 * conntrack GC: shorter when the sweep freed much of the map (more than a
 * quarter: by that fraction, to a tenth at most) or left it nearly full
 * of live flows (over 3/4: halved), longer (x1.5) when it freed little
 * (under 5 %) of a map at most half full, else the same; within
 * ZH_CTGC_MIN_S..ZH_CTGC_MAX_S. The longest is short beside the LRU's
 * own pace (Cilium allows hours): an idle node that turns busy fills the
 * map within minutes, and every new flow pays the eviction until the next
 * sweep; a sweep of a full map of live flows costs ~60 ms of CPU here.
 */
#define ZH_CTGC_START_S 60U
#define ZH_CTGC_MIN_S 5U
#define ZH_CTGC_MAX_S 300U
unsigned int zh_ctgc_next_interval(unsigned int prev_s,
				   const struct zh_ctgc_result *r,
				   __u32 max_entries);

/*
 * What zerohopd's sweeps did, for /metrics and zerohopctl stats: kept by
 * the agent in its state directory (ZH_CTGC_STATE_FILE, JSON), rewritten
 * whole after every sweep. Not NAME.json: the plugin's records of its
 * pods are, and tests (and people) look for them so.
 */
#define ZH_CTGC_STATE_FILE "conntrack-gc"
struct zh_ctgc_stats {
	bool on; /* sweeping (not --ct-gc-interval off) */
	bool auto_interval;
	unsigned int interval_s; /* until the next sweep */
	__u32 max_entries;
	__u64 sweeps;
	__u64 deleted_total; /* entries deleted, every sweep */
	__u64 kept_total; /* dead entries kept for their flow's other one */
	__u64 errors; /* sweeps that ended in an error */
	struct zh_ctgc_result last; /* the last sweep's */
	__u64 last_duration_ns;
	__u64 last_cpu_ns; /* the sweeping thread's CPU time in it */
	double last_time; /* its end, seconds since the epoch; 0: none yet */
};
/* The JSON of a sweep (zerohopctl conntrack gc) and of the record (the
 * state file, zerohopctl stats): one schema; NULL when out of memory. */
json_t *zh_ctgc_result_json(const struct zh_ctgc_result *r);
json_t *zh_ctgc_stats_json(const struct zh_ctgc_stats *st);
int zh_ctgc_stats_save(const char *dir, const struct zh_ctgc_stats *st);
int zh_ctgc_stats_load(const char *dir, struct zh_ctgc_stats *st);

#endif /* ZH_CTGC_H */
