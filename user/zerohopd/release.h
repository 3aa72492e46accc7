/* SPDX-License-Identifier: Apache-2.0 */
/*
 * release.h - zerohopd finishes the pods that go without DEL: for every
 * record the CNI plugin left (podstate.h) whose host veth is gone, it
 * releases the pod's addresses through the IPAM plugin, with the
 * configuration the pod's ADD had, as the missing DEL would have.
 *
 * The IPAM plugin runs on a thread of its own (it may take up to its
 * deadline, ZEROHOP_IPAM_TIMEOUT), never on the agent's loop. A record
 * being released is renamed NAME.del first, under the pin lock that ADD
 * writes records under: a new ADD of the same container then writes a new
 * record, which is not touched. A release that fails keeps NAME.del, and
 * the next sweep tries again, unless a new attachment of that container
 * and interface exists by then (its lease must stay).
 */
#ifndef ZH_RELEASE_H
#define ZH_RELEASE_H

struct zh_release;

/* Start the thread for records in @dir; IPAM plugins get @pin_root as
 * ZEROHOP_PIN_ROOT. NULL with errno set on failure. */
struct zh_release *zh_release_start(const char *dir, const char *pin_root);
/* Queue every record in the directory whose veth is gone (at most a
 * bounded number a call). Call under the pin lock. */
void zh_release_sweep(struct zh_release *r);
/* Stop the thread (a release under way finishes first, within the IPAM
 * deadline) and free @r; NULL is fine. */
void zh_release_stop(struct zh_release *r);

#endif /* ZH_RELEASE_H */
