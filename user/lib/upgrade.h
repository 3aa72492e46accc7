/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upgrade.h - another version of zerohop under the same pin root: an
 * upgrade (or a rollback) that keeps traffic.
 *
 * Each version pins under <root>/<ZH_PIN_VERSION> (zh_abi.h). When ours
 * starts where another version's programs run the node's pods:
 *
 *  1. Share (the loader, whoever loads first: agent or plugin). A map of
 *     ours whose definition (type, key and value size, flags; max_entries
 *     where it is more than a capacity) and key and value layout
 *     (layout.h: BTF) are exactly another version's is not created: that
 *     version's map is pinned in our directory too, and both versions'
 *     programs use the one map. Maps whose entries name each other's go
 *     together or not at all. Nothing is copied, and nothing can diverge
 *     while pods move over.
 *  2. Carry (the agent, under the pin lock). What the other version keeps
 *     in maps we could not share is copied into ours, entry by entry,
 *     member by member by name (new members zero): endpoints, pods, node
 *     addresses and AF_XDP rules per entry (ours win a conflict); the
 *     Services with their conntrack and affinity (the entries name each
 *     other by ID) as a whole, only into Service maps still empty (else
 *     the other version's flows are balanced again by our Maglev tables,
 *     to the same backend where the backends are the same); the settings
 *     only into an empty zh_config. Counters, latency histograms and
 *     scratch space start afresh; AF_XDP sockets cannot be copied (their
 *     pods register them again).
 *  3. Move. Every attachment of the other version's programs that we can
 *     see (every interface of our netns, and of every pod's netns in
 *     zh_ifaces) gets our program of the same name, replaced in one step
 *     (attach.h: zh_hook_replace()). Then the carry runs again for the
 *     entries the other version's programs made meanwhile.
 *  4. Unpin. A version none of whose programs is attached anywhere we
 *     look loses every pin that is not one of our maps: its programs and
 *     the maps only it used (the kernel frees them). Its pins of the maps
 *     we share stay: they hold nothing of their own, and a rollback to
 *     that version finds the node's Services and conntrack in them.
 */
#ifndef ZH_UPGRADE_H
#define ZH_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#include "pin.h"

struct bpf_object;

/*
 * The loader, before it loads @obj into @dir (its definitions sized for
 * this load): every group of maps (upgrade.c: maps whose entries name each
 * other's, such as the Service maps and conntrack) that another version
 * under @root pins exactly as @obj defines it, and of which @dir pins
 * nothing yet, is pinned in @dir too, the definitions taking the pinned
 * maps' sizes, so that libbpf reuses them. Returns how many maps were
 * shared, or a negative errno. Call with zh_pin_lock(@root) held.
 */
int zh_upgrade_share(const char *root, const char *dir, struct bpf_object *obj);

struct zh_upgrade_result {
	char version[16]; /* the other version's directory name */
	int shared; /* its maps that are ours too */
	int carried; /* maps copied from */
	unsigned long entries; /* entries copied */
	int moved; /* attachments moved to our programs */
	int netns; /* network namespaces looked in */
	int left; /* attachments of its programs still in place */
	int unpinned; /* its pins removed */
	int kept; /* its pins of maps we share, kept for a rollback */
	bool removed; /* its directory is gone */
	double secs;
};

/*
 * Steps 2 to 4 for every other version under @o->root, newest first:
 * @cb, if not NULL, hears of each (for the agent's log). 0, or the first
 * error (the other versions are still tried). Call with
 * zh_pin_lock(@o->root) held.
 */
int zh_upgrade_takeover(const struct zh_objs *o,
			void (*cb)(const struct zh_upgrade_result *r,
				   void *arg),
			void *arg);

/*
 * The same version, another build: where the programs pinned under
 * @o->dir are not this build's (the kernel's tags of their code differ),
 * this build's are loaded (the pinned maps reused), every attachment of
 * the pinned ones moved to them as in step 3, and they take over the pins.
 * @r->moved 0 when the pinned programs are this build's already. On
 * failure nothing changed but what moved. Reopen @o's objects after.
 * Call with zh_pin_lock(@o->root) held.
 */
int zh_upgrade_programs(struct zh_objs *o, const struct zh_load_opts *opts,
			struct zh_upgrade_result *r);

/*
 * The ABI: what a build pins, as text, one thing a line, for comparing
 * two builds (`zerohopctl abi`, tests/unit/test_abi.c). Every map but the
 * programs' own data sections, by name: its type, key and value sizes,
 * max_entries (or "capacity" where a pinned map keeps any size: hash
 * maps, the Maglev slots), flags, and the layouts of its key and value
 * (layout.h); every program, by name, and its type. For this build (@path
 * NULL) also its ZH_PIN_VERSION, the counters of zh_stats and the
 * feature bits of zh_features in index order, and the constants that give
 * the maps' fields their meaning. @path: a BPF object file of another
 * build (its maps and programs only). 0 or a negative errno.
 */
int zh_upgrade_abi(FILE *out, const char *path);

/* The names of the other versions under @root (directories "v<N>" but
 * ours), newest first, into @out; returns how many, or a negative errno. */
int zh_upgrade_versions(const char *root, char out[][16], int max);

#endif /* ZH_UPGRADE_H */
