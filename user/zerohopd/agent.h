/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.h - what zerohopd's parts share: programming the Services, from
 * the --services file (zerohopd.c) or the Kubernetes API (kube.c).
 */
#ifndef ZH_AGENT_H
#define ZH_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "svc.h"
#include "nodes.h"
#include "zerohop.h"

/*
 * Program @set under the pin lock: all of it, or (invalid, too big)
 * nothing, and log the outcome naming @source. Frees @set. Returns 0 or a
 * negative errno.
 */
int zh_agent_services_apply(const struct zh_objs *objs, const char *source,
			    struct zh_svc_set *set);
/*
 * The same, @partial: only @set and @del[0..n_del) change
 * (zh_svc_apply_changes()), logged at debug level. Frees @set, not @del.
 */
int zh_agent_services_change(const struct zh_objs *objs, const char *source,
			     struct zh_svc_set *set,
			     const struct zh_service *del, size_t n_del,
			     bool partial);

/*
 * Make this node's view of the cluster that of @set (nodes.h) under the
 * pin lock, and keep it in @state_dir for zerohopctl node; log the outcome
 * naming @source. Returns 0 or a negative errno.
 */
int zh_agent_nodes_apply(const struct zh_objs *objs,
			 const struct zh_cluster_conf *conf,
			 const char *state_dir, const char *source,
			 const struct zh_node_set *set);

#endif /* ZH_AGENT_H */
