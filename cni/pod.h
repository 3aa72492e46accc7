/* SPDX-License-Identifier: Apache-2.0 */
/* pod.h - the CNI commands that touch a pod. */
#ifndef ZH_POD_H
#define ZH_POD_H

#include <net/if.h>
#include <jansson.h>

#include "cni.h"

/* "zh" + 12 hex digits of a hash of "<container_id>/<ifname>". */
void zh_host_ifname(const char *container_id, const char *ifname,
		    char out[IFNAMSIZ]);

/* Each returns 0, or -1 with @err filled. ADD sets *out to the result. */
int zh_cmd_add(const struct zh_cni_env *env, const struct zh_netconf *conf,
	       json_t **out, struct zh_cni_err *err);
int zh_cmd_del(const struct zh_cni_env *env, const struct zh_netconf *conf,
	       struct zh_cni_err *err);
int zh_cmd_check(const struct zh_cni_env *env, const struct zh_netconf *conf,
		 struct zh_cni_err *err);

#endif /* ZH_POD_H */
