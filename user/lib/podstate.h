/* SPDX-License-Identifier: Apache-2.0 */
/*
 * podstate.h - what the CNI plugin records of each attachment, so that the
 * agent can finish a pod that goes without DEL.
 *
 * A runtime that never sends DEL (containerd's `run -d` then `task rm`)
 * leaves the pod's IPAM lease behind: its veth goes with the netns, and
 * with it the endpoint, but host-local still holds the addresses, and a
 * new container of the same ID then fails with "duplicate allocation".
 * ADD therefore records, last, what a DEL would be given: the container ID,
 * the interface, CNI_PATH, CNI_ARGS and the network configuration, with
 * the host veth it made. The agent, seeing that veth gone (a link event, or
 * its sweep) while the record is still there, releases the lease through
 * the IPAM plugin with that configuration; DEL and GC drop the record.
 *
 * One file a record, in a directory only root may write
 * (ZEROHOP_STATE_DIR, else ZH_STATE_DIR), named by the SHA-256 of the
 * container ID and the interface name. The agent reads them all at each
 * sweep (a few hundred small files), so a pod that went while the agent
 * was down, or across a reboot, is released too. Files are written whole (a temporary
 * file renamed over), so a reader sees one record or none.
 */
#ifndef ZH_PODSTATE_H
#define ZH_PODSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define ZH_STATE_DIR "/var/lib/zerohop/pods"
#define ZH_STATE_DIR_ENV "ZEROHOP_STATE_DIR"
/* 64 hex digits and ".json" */
#define ZH_PODSTATE_NAME_LEN 70
/* A record's file is at most this big: a network configuration larger
 * than that is no configuration. */
#define ZH_PODSTATE_MAX (1U << 20)

struct zh_podstate {
	char *container_id, *ifname, *cni_path,
		*cni_args; /* args: may be NULL */
	char *host_ifname;
	__u32 host_ifindex;
	char *config; /* the network configuration, as ADD got it */
};

/* $ZEROHOP_STATE_DIR, else ZH_STATE_DIR. */
const char *zh_state_dir(void);
/* The record's file name for @container_id and @ifname. */
void zh_podstate_name(const char *container_id, const char *ifname,
		      char out[ZH_PODSTATE_NAME_LEN]);
/*
 * Write @st to @dir (made 0700 if missing; refused, -EPERM, unless it is a
 * directory that only root or we may write): whole, or not at all.
 */
int zh_podstate_save(const char *dir, const struct zh_podstate *st);
/* Read the record at @path into @st (zh_podstate_free() after);
 * -EINVAL for a file that is no record. */
int zh_podstate_decode(const char *buf, size_t len, struct zh_podstate *st);
/* The same from @path (a regular file, no symlink, at most
 * ZH_PODSTATE_MAX bytes). */
int zh_podstate_load(const char *path, struct zh_podstate *st);
void zh_podstate_free(struct zh_podstate *st);
/* Remove the record of @container_id/@ifname from @dir; 0 when there was
 * none. */
int zh_podstate_remove(const char *dir, const char *container_id,
		       const char *ifname);
/* 0 when @dir may hold records: a directory, not a symlink, that only
 * root or we may write; -EPERM (or the errno of lstat) otherwise. */
int zh_state_dir_check(const char *dir);

#endif /* ZH_PODSTATE_H */
