// SPDX-License-Identifier: Apache-2.0
/*
 * gc.c - GC (CNI 1.1.0): the runtime names the attachments of this network
 * that are still valid (cni.dev/valid-attachments). Every other attachment
 * that zh_ifaces records for this network is taken off the host as DEL
 * does it, IPAM aside; then the IPAM plugin gets the same GC when it speaks
 * 1.1.0. Other networks' attachments are never touched: ADD records the
 * network's name in zh_ifaces. Like DEL, GC goes on past a failure and
 * reports it at the end.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni.h"
#include "pod.h"
#include "podstate.h"
#include "zerohop.h"

/* An attachment to remove, copied out of zh_ifaces. */
struct stale {
	char host[ZH_IFNAME_LEN];
	char pod_ifname[ZH_IFNAME_LEN];
	char container_id[ZH_CONTAINER_ID_LEN];
	char *id; /* the whole ID, from the record of its ADD; NULL: none */
};

/*
 * The whole container ID of @st from the record of its ADD (podstate.h):
 * zh_ifaces keeps a long one as its start and a digest. Read before the
 * veth goes: once it has, zerohopd may take the record to release it.
 */
static void stale_id(struct stale *st)
{
	char name[ZH_PODSTATE_NAME_LEN], path[PATH_MAX];
	struct zh_podstate rec;

	st->id = NULL;
	zh_podstate_name(st->container_id, st->pod_ifname, name);
	snprintf(path, sizeof(path), "%s/%s", zh_state_dir(), name);
	if (zh_podstate_load(path, &rec))
		return;
	if (zh_container_id_is(st->container_id, rec.container_id)) {
		st->id = rec.container_id;
		rec.container_id = NULL;
	}
	zh_podstate_free(&rec);
}

struct sweep {
	const char *network;
	const struct zh_attachments *valid;
	struct stale *v;
	size_t n, cap;
	int err; /* -ENOMEM: the list is incomplete */
};

/* ADD kept s in a field of size bytes with snprintf(): is field that? */
static bool stored_eq(const char *field, size_t size, const char *s)
{
	size_t n = strnlen(field, size);

	return n < size && n == strnlen(s, size - 1) && !memcmp(field, s, n);
}

static bool is_valid(const struct zh_attachments *valid,
		     const struct zh_iface *iface)
{
	for (size_t i = 0; i < valid->n; i++) {
		if (zh_container_id_is(iface->container_id,
				       valid->v[i].container_id) &&
		    stored_eq(iface->pod_ifname, sizeof(iface->pod_ifname),
			      valid->v[i].ifname))
			return true;
	}
	return false;
}

/* Collect first: deleting while walking a hash map restarts the walk. */
static int collect_cb(__u32 host_ifindex, const struct zh_iface *iface,
		      void *arg)
{
	struct sweep *sw = arg;
	struct stale *st;

	(void)host_ifindex;
	if (!stored_eq(iface->network, sizeof(iface->network), sw->network) ||
	    is_valid(sw->valid, iface))
		return 0;
	if (sw->n == sw->cap) {
		size_t cap = sw->cap ? sw->cap * 2 : 16;
		struct stale *nv = realloc(sw->v, cap * sizeof(*nv));

		if (!nv) {
			sw->err = -ENOMEM;
			return 1;
		}
		sw->v = nv;
		sw->cap = cap;
	}
	/* Map values are not ours: bound every read. */
	st = &sw->v[sw->n++];
	snprintf(st->host, sizeof(st->host), "%.*s",
		 (int)sizeof(iface->host_ifname) - 1, iface->host_ifname);
	snprintf(st->pod_ifname, sizeof(st->pod_ifname), "%.*s",
		 (int)sizeof(iface->pod_ifname) - 1, iface->pod_ifname);
	snprintf(st->container_id, sizeof(st->container_id), "%.*s",
		 (int)sizeof(iface->container_id) - 1, iface->container_id);
	return 0;
}

/*
 * Remove the stale attachments of conf's network; 0 or -1 with err. The
 * ones removed are left in *gone (*n_gone of them; free()d by the caller)
 * for IPAM.
 */
static int sweep(const struct zh_objs *objs, const struct zh_netconf *conf,
		 const struct zh_attachments *valid, struct stale **gone,
		 size_t *n_gone, struct zh_cni_err *err)
{
	struct sweep sw = { .network = conf->name, .valid = valid };
	struct zh_cni_err first = {}, e;
	size_t failed = 0, kept = 0;
	int ret;

	*gone = NULL;
	*n_gone = 0;
	ret = zh_iface_foreach(objs, collect_cb, &sw);
	if (ret < 0 || sw.err) {
		free(sw.v);
		return zh_cni_err_set(err, ZH_CNI_ERR_BPF,
				      "cannot read the attachments",
				      "%s/" ZH_MAP_IFACES ": %s", objs->dir,
				      strerror(-(sw.err ? sw.err : ret)));
	}
	for (size_t i = 0; i < sw.n; i++) {
		struct stale *st = &sw.v[i];

		pr_info("gc: %s: removing %s (container %s, %s)\n", conf->name,
			st->host, st->container_id, st->pod_ifname);
		stale_id(st);
		if (!zh_pod_unwire(objs, st->host, st->container_id,
				   st->pod_ifname, NULL, &e)) {
			sw.v[kept++] = *st;
			continue;
		}
		free(st->id);
		pr_warn("gc: %s: %s: %s\n", st->host, e.msg, e.details);
		if (!failed++)
			first = e;
	}
	if (failed)
		zh_cni_err_set(err, first.code, first.msg,
			       "%s (%zu of %zu stale attachments not removed)",
			       first.details, failed, sw.n);
	*gone = sw.v;
	*n_gone = kept;
	return failed ? -1 : 0;
}

/*
 * The addresses of the attachments GC removed, given back as DEL would
 * have: an IPAM plugin that speaks no 1.1.0 (Debian's host-local 1.1.1)
 * has no GC of its own, and without this kept them for ever, since no DEL
 * comes for an attachment the runtime has forgotten. An ID that zh_ifaces
 * keeps only as its start and a digest is named whole, from the record of
 * its ADD (stale_id()); without one it cannot be named to IPAM: that one
 * is said, and stays. Each release drops the record. 0 or -1 with err
 * (the first failure; the rest are tried all the same).
 */
static int ipam_release(const struct zh_cni_env *env,
			const struct zh_netconf *conf, const struct stale *v,
			size_t n, struct zh_cni_err *err)
{
	const char *dir = zh_state_dir();
	struct zh_cni_env del = *env;
	struct zh_cni_err e;
	size_t failed = 0;

	del.cmd = ZH_CNI_DEL;
	del.netns = NULL; /* DEL needs none; the pod's may be gone */
	for (size_t i = 0; i < n; i++) {
		del.container_id = v[i].id ? v[i].id : v[i].container_id;
		del.ifname = v[i].pod_ifname;
		if (strchr(del.container_id, '#')) {
			pr_warn("gc: %s: container %s: its ID is kept as a digest and it has no record: IPAM plugin %s keeps its addresses until its DEL\n",
				conf->name, v[i].container_id, conf->ipam_type);
			continue;
		}
		if (!zh_ipam_release(&del, conf, &e)) {
			/* Done: nothing left for the agent to release. */
			zh_podstate_remove(dir, del.container_id, del.ifname);
			continue;
		}
		pr_warn("gc: %s: IPAM DEL of container %s (%s): %s: %s\n",
			conf->name, v[i].container_id, v[i].pod_ifname, e.msg,
			e.details);
		if (!failed++)
			*err = e;
	}
	return failed ? -1 : 0;
}

/* GC for the IPAM plugin, if it speaks 1.1.0, else a DEL for each
 * attachment removed (@gone, @n); 0 or -1 with err. */
static int ipam_gc(const struct zh_cni_env *env, const struct zh_netconf *conf,
		   const struct stale *gone, size_t n, struct zh_cni_err *err)
{
	int ret = zh_ipam_speaks(env, conf->ipam_type, "1.1.0", err);

	if (ret < 0)
		return -1;
	if (!ret) {
		pr_info("gc: IPAM plugin %s does not speak CNI 1.1.0: no GC "
			"for it; a DEL for each of the %zu attachment(s) "
			"removed\n",
			conf->ipam_type, n);
		return ipam_release(env, conf, gone, n, err);
	}
	return zh_ipam_exec(env, ZH_CNI_GC, conf->ipam_type, conf->raw,
			    conf->raw_len, NULL, err);
}

int zh_cmd_gc(const struct zh_cni_env *env, const struct zh_netconf *conf,
	      struct zh_cni_err *err)
{
	struct zh_attachments valid;
	struct stale *gone = NULL;
	struct zh_cni_err ipam;
	struct zh_objs objs;
	size_t n_gone = 0;
	int lock, ret = 0;

	/* A list we cannot read removes nothing, here or in IPAM. */
	if (zh_netconf_attachments(conf, &valid, err))
		return -1;

	lock = zh_pod_objs_take(env->pin_root, &objs, err);
	if (lock == -1) {
		ret = -1; /* still GC the IPAM plugin, then report this */
	} else if (lock < 0) {
		pr_debug("gc: nothing pinned under %s\n", env->pin_root);
	} else if (strlen(conf->name) >= ZH_NETWORK_LEN) {
		/* zh_ifaces keeps a prefix: another network could share it. */
		pr_warn("gc: network name \"%s\" is longer than %d bytes: "
			"its attachments cannot be told apart, none removed\n",
			conf->name, ZH_NETWORK_LEN - 1);
	} else {
		ret = sweep(&objs, conf, &valid, &gone, &n_gone, err);
	}
	/* IPAM outside the lock, as in ADD and DEL. */
	if (lock >= 0) {
		zh_objs_close(&objs);
		zh_pin_unlock(lock);
	}

	if (ipam_gc(env, conf, gone, n_gone, ret ? &ipam : err)) {
		if (ret)
			pr_warn("gc: IPAM plugin %s: %s: %s\n", conf->ipam_type,
				ipam.msg, ipam.details);
		ret = -1;
	}
	for (size_t i = 0; i < n_gone; i++)
		free(gone[i].id);
	free(gone);
	zh_attachments_free(&valid);
	return ret;
}
