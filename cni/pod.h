/* SPDX-License-Identifier: Apache-2.0 */
/* pod.h - the CNI commands: those that touch a pod, STATUS and GC. */
#ifndef ZH_POD_H
#define ZH_POD_H

#include <net/if.h>
#include <jansson.h>

#include "cni.h"

struct zh_objs;
struct zh_ep_flows;

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
/*
 * The pod's link (conf "device"): a veth, or (*@netkit) a netkit pair where
 * this kernel can make one and attach to it (netkit.h, probed once per
 * boot). "netkit" on a kernel that cannot is -1 with @err (@code: ADD's
 * 2, a field this node cannot serve; STATUS's 50); "auto" takes a veth
 * then, and for XDP-mode and AF_XDP pods (netkit has no XDP), and with
 * @say tells stderr why.
 */
int zh_pick_device(const struct zh_netconf *conf, int code, bool say,
		   bool *netkit, struct zh_cni_err *err);
/* status.c: whether ADD could be served now (code 50 when not). */
int zh_cmd_status(const struct zh_cni_env *env, const struct zh_netconf *conf,
		  struct zh_cni_err *err);
/* gc.c: remove this network's attachments that are not in the config's
 * cni.dev/valid-attachments, then GC the IPAM plugin if it speaks 1.1.0. */
int zh_cmd_gc(const struct zh_cni_env *env, const struct zh_netconf *conf,
	      struct zh_cni_err *err);

/*
 * For the commands that only remove (DEL, GC): the pinned objects, opened
 * under the pin lock. Returns the lock fd (zh_objs_close() and
 * zh_pin_unlock() it), -ENOENT when nothing is pinned (no pin root is made
 * then), or -1 with @err filled.
 */
int zh_pod_objs_take(const char *root, struct zh_objs *objs,
		     struct zh_cni_err *err);
/*
 * Take one attachment off the host, IPAM aside: the host veth, whose
 * deletion takes the pod end, its routes, neighbours and programs with
 * it, then its endpoint entries (by the host veth @host and by owner
 * @container_id/@ifname; @objs NULL: nothing pinned) and its Service flows
 * (zh_ct), or, with @flows, the addresses whose flows the caller is to
 * zh_ct_forget() (out of the pin lock). A veth already gone is fine.
 */
int zh_pod_unwire(const struct zh_objs *objs, const char *host,
		  const char *container_id, const char *ifname,
		  struct zh_ep_flows *flows, struct zh_cni_err *err);

#endif /* ZH_POD_H */
