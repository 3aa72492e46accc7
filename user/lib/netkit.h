/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netkit.h - can this kernel give pods netkit devices? A userspace
 * capability (no zh_kfeat bit: only the CNI plugin acts on it): a
 * throwaway netkit pair is made in a scratch netns and its peer hook
 * queried; the answer is cached per boot.
 */
#ifndef ZH_NETKIT_H
#define ZH_NETKIT_H

#include <stdbool.h>

struct zh_netkit_probe {
	bool ok; /* a pair was made and its peer hook answered */
	int err; /* else the negative errno of the step that failed */
	const char *step; /* "create", "attach", "probe" (our own failure) */
	bool cached; /* read from the cache, not probed now */
};

/* Probe now, in a child process in a scratch netns (a few ms). */
int zh_netkit_probe(struct zh_netkit_probe *p);
/* The answer of this boot, from "<dir>/.netkit-probe" when it is this
 * boot's, else probed and written there (best effort). @dir NULL, or one
 * zh_state_dir_check() refuses: no cache. Returns 0 (the answer in @p) or
 * a negative errno. */
int zh_netkit_usable(const char *dir, struct zh_netkit_probe *p);
/* One line: "yes" or "no (create: Operation not supported)". */
const char *zh_netkit_probe_str(const struct zh_netkit_probe *p, char *buf,
				unsigned long len);

#endif /* ZH_NETKIT_H */
