/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udpkill.h - zerohopd destroys the connected UDP sockets of a removed
 * backend (sockdiag.h), from a thread of its own: a Service apply (the
 * --services file, the Kubernetes watch) only queues the backends it
 * removed (svc_maps.h zh_svc_set_gone_hook()), so neither the agent's
 * loop nor the watch ever waits for a sweep of the pods' namespaces.
 */
#ifndef ZH_UDPKILL_H
#define ZH_UDPKILL_H

#include "zerohop.h"

struct zh_udpkill;

/*
 * Probe SOCK_DESTROY (zh_sockdiag_probe()) in our netns; where it works,
 * start the thread and hook every apply of this process to it. Where it
 * does not, log once why connected UDP sockets keep a removed backend and
 * return NULL (errno 0): the agent goes on without. NULL with errno set:
 * the thread could not start. @o must outlive zh_udpkill_stop().
 */
struct zh_udpkill *zh_udpkill_start(const struct zh_objs *o);
/* Unhook, stop the thread (a sweep under way ends first, within its
 * deadline) and free @k; NULL is fine. */
void zh_udpkill_stop(struct zh_udpkill *k);

#endif /* ZH_UDPKILL_H */
