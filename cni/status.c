// SPDX-License-Identifier: Apache-2.0
/*
 * status.c - STATUS (CNI 1.1.0): could an ADD be served now? ADD needs bpffs
 * (the pins live there, and without an agent the plugin loads and pins the
 * objects itself), a kernel that can run the network's datapath (and
 * AF_XDP, when the network asks for it), and the IPAM plugin. When that
 * plugin speaks 1.1.0 it is asked for its STATUS too, and its error is
 * ours. Success prints nothing.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cni.h"
#include "pod.h"
#include "zerohop.h"

/* Everything that is missing, in one error. */
struct missing {
	char msg[192];
	char details[768];
	int n;
};

static void missing_add(struct missing *m, const char *what,
			const char *details)
{
	size_t len;

	len = strlen(m->msg);
	snprintf(m->msg + len, sizeof(m->msg) - len, "%s%s", m->n ? "; " : "",
		 what);
	len = strlen(m->details);
	snprintf(m->details + len, sizeof(m->details) - len, "%s%s",
		 m->n ? "; " : "", details);
	m->n++;
}

/* The node's feature set (probed and pinned now if nobody has): can it run
 * this network's datapath and AF_XDP? */
static void kernel_status(const struct zh_cni_env *env,
			  const struct zh_netconf *conf, struct missing *m)
{
	struct zh_cni_err kerr;
	struct zh_kfeat f;
	bool netkit;
	char details[512];
	int lock, ret;

	snprintf(details, sizeof(details), "%s: %s", env->pin_root,
		 "cannot take the pin lock");
	lock = zh_pin_lock(env->pin_root);
	ret = lock < 0 ? lock :
			 zh_feat_get(env->pin_root, ZH_OBJS_LOAD, &f, NULL,
				     details, sizeof(details));
	zh_pin_unlock(lock);
	if (ret) {
		missing_add(m, "cannot learn the kernel's features", details);
		return;
	}
	if (zh_netconf_kernel_check(conf, &f, ZH_CNI_ERR_NOT_AVAILABLE, &kerr))
		missing_add(m, kerr.msg, kerr.details);
	/* "device": "netkit" where the kernel cannot make it. */
	if (zh_pick_device(conf, ZH_CNI_ERR_NOT_AVAILABLE, false, &netkit,
			   &kerr))
		missing_add(m, kerr.msg, kerr.details);
}

int zh_cmd_status(const struct zh_cni_env *env, const struct zh_netconf *conf,
		  struct zh_cni_err *err)
{
	const char *type = conf->ipam_type;
	char path[PATH_MAX], what[128], details[512];
	struct zh_cni_err ipam;
	struct missing m = {};
	int ret;

	ret = zh_bpffs_ensure();
	if (ret) {
		snprintf(details, sizeof(details),
			 "mount bpf on /sys/fs/bpf: %s", strerror(-ret));
		missing_add(&m, "bpffs is not mounted on /sys/fs/bpf", details);
	} else {
		kernel_status(env, conf, &m);
	}
	if (!env->path || strchr(type, '/') ||
	    zh_ipam_find(type, env->path, path, sizeof(path))) {
		snprintf(what, sizeof(what), "IPAM plugin \"%s\" not found",
			 type);
		if (env->path)
			snprintf(details, sizeof(details),
				 "no executable \"%s\" in CNI_PATH \"%s\"",
				 type, env->path);
		else
			snprintf(details, sizeof(details),
				 "CNI_PATH is not set: cannot look for \"%s\"",
				 type);
		missing_add(&m, what, details);
	}
	if (m.n)
		return zh_cni_err_set(err, ZH_CNI_ERR_NOT_AVAILABLE, m.msg,
				      "%s", m.details);

	ret = zh_ipam_speaks(env, type, "1.1.0", &ipam);
	if (ret < 0)
		/* Found, but it cannot be run: neither can an ADD run it. */
		return zh_cni_err_set(err, ZH_CNI_ERR_NOT_AVAILABLE,
				      "IPAM plugin cannot be run", "%s: %s: %s",
				      type, ipam.msg, ipam.details);
	if (!ret) {
		pr_debug("status: IPAM plugin %s does not speak CNI 1.1.0: "
			 "not asked for its STATUS\n",
			 type);
		return 0;
	}
	return zh_ipam_exec(env, ZH_CNI_STATUS, type, conf->raw, conf->raw_len,
			    NULL, err);
}
