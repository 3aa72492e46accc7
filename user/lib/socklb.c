// SPDX-License-Identifier: Apache-2.0
/*
 * socklb.c - socket-level load balancing on a cgroup v2 directory
 * (socklb.h): one pinned bpf_link per hook.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "socklb.h"
#include "log.h"
#include "maps.h"
#include "svc_maps.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static const struct {
	const char *name;
	const char *prog;
	enum bpf_attach_type type;
	size_t fd_off;
	bool optional; /* the rest works without it */
} hooks[ZH_SOCK_HOOKS] = {
#define H(h, n, p, t, field, opt) \
	[h] = { n, p, t, offsetof(struct zh_objs, field), opt }
	H(ZH_SOCK_CONNECT4, "connect4", ZH_PROG_SOCK_CONNECT4,
	  BPF_CGROUP_INET4_CONNECT, sock_connect4_fd, false),
	H(ZH_SOCK_CONNECT6, "connect6", ZH_PROG_SOCK_CONNECT6,
	  BPF_CGROUP_INET6_CONNECT, sock_connect6_fd, false),
	H(ZH_SOCK_SENDMSG4, "sendmsg4", ZH_PROG_SOCK_SENDMSG4,
	  BPF_CGROUP_UDP4_SENDMSG, sock_sendmsg4_fd, false),
	H(ZH_SOCK_SENDMSG6, "sendmsg6", ZH_PROG_SOCK_SENDMSG6,
	  BPF_CGROUP_UDP6_SENDMSG, sock_sendmsg6_fd, false),
	H(ZH_SOCK_RECVMSG4, "recvmsg4", ZH_PROG_SOCK_RECVMSG4,
	  BPF_CGROUP_UDP4_RECVMSG, sock_recvmsg4_fd, false),
	H(ZH_SOCK_RECVMSG6, "recvmsg6", ZH_PROG_SOCK_RECVMSG6,
	  BPF_CGROUP_UDP6_RECVMSG, sock_recvmsg6_fd, false),
	H(ZH_SOCK_GETPEERNAME4, "getpeername4", ZH_PROG_SOCK_PEER4,
	  BPF_CGROUP_INET4_GETPEERNAME, sock_peer4_fd, true),
	H(ZH_SOCK_GETPEERNAME6, "getpeername6", ZH_PROG_SOCK_PEER6,
	  BPF_CGROUP_INET6_GETPEERNAME, sock_peer6_fd, true),
	/* Without it, connected sockets copy their record at first read
	 * (sock.h); loaded apart (pin.c), no feature bit. */
	H(ZH_SOCK_RELEASE, "sock_release", ZH_PROG_SOCK_RELEASE,
	  BPF_CGROUP_INET_SOCK_RELEASE, sock_release_fd, true),
#undef H
};

const char *zh_sock_hook_name(int hook)
{
	return hook >= 0 && hook < ZH_SOCK_HOOKS ? hooks[hook].name : "?";
}

static bool is_cgroup2(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == CGROUP2_SUPER_MAGIC;
}

int zh_cgroup2_root(char *buf, size_t len)
{
	static const char *const known[] = { "/sys/fs/cgroup",
					     "/sys/fs/cgroup/unified" };
	char line[1024], dev[256], dir[PATH_MAX], type[64];
	FILE *f;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (is_cgroup2(known[i])) {
			snprintf(buf, len, "%s", known[i]);
			return 0;
		}
	}
	f = fopen("/proc/self/mounts", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 &&
		    !strcmp(type, "cgroup2") && is_cgroup2(dir)) {
			fclose(f);
			if (snprintf(buf, len, "%s", dir) >= (int)len)
				return -ENAMETOOLONG;
			return 0;
		}
	}
	fclose(f);
	return -ENOENT;
}

bool zh_cgroup2_is_root(const char *cgroup)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int n;

	if (!cgroup) {
		if (zh_cgroup2_root(dir, sizeof(dir)))
			return false;
	} else {
		n = snprintf(dir, sizeof(dir), "%s", cgroup);
		if (n < 0 || (size_t)n >= sizeof(dir))
			return false;
	}
	if (!is_cgroup2(dir)) {
		n = snprintf(path, sizeof(path), "%s/unified", dir);
		if (n < 0 || (size_t)n >= sizeof(path) || !is_cgroup2(path))
			return false;
		memcpy(dir, path, sizeof(dir));
	}
	n = snprintf(path, sizeof(path), "%s/cgroup.type", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return false;
	return access(path, F_OK) && errno == ENOENT;
}

static void link_path(char *buf, size_t len, const char *dir, int hook)
{
	snprintf(buf, len, "%s/%s_link", dir, hooks[hook].prog);
}

static int hook_fd(const struct zh_objs *o, int hook)
{
	return *(const int *)((const char *)o + hooks[hook].fd_off);
}

/* The pinned link of @hook: its fd and info, or -errno. */
static int link_open(const char *dir, int hook, struct bpf_link_info *info)
{
	char path[PATH_MAX];
	__u32 len = sizeof(*info);
	int fd;

	link_path(path, sizeof(path), dir, hook);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len) ||
	    info->type != BPF_LINK_TYPE_CGROUP) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

static int prog_id(int fd, __u32 *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

static void unpin_hook(const char *dir, int hook)
{
	char path[PATH_MAX];
	int fd;

	link_path(path, sizeof(path), dir, hook);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd); /* whoever else holds it */
		close(fd);
	}
	unlink(path);
}

int zh_socklb_detach(const struct zh_objs *o)
{
	char path[PATH_MAX];
	int n = 0;

	/* Copies at first read again before the release hook goes. */
	if (o->config_fd >= 0 && zh_svc_sock_release(o, false))
		pr_warn("cannot clear ZH_CFG_F_SOCK_RELEASE in %s\n",
			ZH_MAP_CONFIG);

	for (int h = 0; h < ZH_SOCK_HOOKS; h++) {
		link_path(path, sizeof(path), o->dir, h);
		if (access(path, F_OK))
			continue;
		unpin_hook(o->dir, h);
		n++;
	}
	return n;
}

/* @hook of @o on the cgroup @cg_fd (id @cg_id): 0 or -errno. */
static int attach_hook(const struct zh_objs *o, int hook, int cg_fd,
		       __u64 cg_id, char *why, size_t why_len)
{
	struct bpf_link_info info;
	char path[PATH_MAX];
	__u32 want = 0;
	int fd, err;

	err = prog_id(hook_fd(o, hook), &want);
	if (err)
		return zh_errf(why, why_len, err, "%s: %s", hooks[hook].prog,
			       strerror(-err));
	fd = link_open(o->dir, hook, &info);
	if (fd >= 0 && info.cgroup.cgroup_id == cg_id &&
	    info.cgroup.attach_type == hooks[hook].type) {
		/* There already: an agent restarting, or an upgrade that
		 * pinned new programs (replaced in one step). */
		err = info.prog_id == want ?
			      0 :
			      bpf_link_update(fd, hook_fd(o, hook), NULL);
		close(fd);
		if (!err)
			return 0;
		err = -errno;
		return zh_errf(
			why, why_len, err,
			"%s: updating its link to this build's program: %s",
			hooks[hook].name, strerror(-err));
	}
	if (fd >= 0) /* on another cgroup, or its cgroup gone */
		close(fd);
	unpin_hook(o->dir, hook);
	fd = bpf_link_create(hook_fd(o, hook), cg_fd, hooks[hook].type, NULL);
	if (fd < 0) {
		err = -errno;
		return zh_errf(
			why, why_len, err, "%s: bpf_link_create: %s%s",
			hooks[hook].name, strerror(-err),
			err == -EPERM ?
				" (another program is attached there without BPF_F_ALLOW_MULTI, which leaves no room for others)" :
			err == -EINVAL ?
				" (no cgroup bpf_link in this kernel: 5.7 and later)" :
				"");
	}
	link_path(path, sizeof(path), o->dir, hook);
	err = bpf_obj_pin(fd, path) ? -errno : 0;
	if (err)
		bpf_link_detach(fd);
	close(fd);
	if (err)
		return zh_errf(why, why_len, err, "pin %s: %s", path,
			       strerror(-err));
	return 0;
}

/*
 * ZH_CFG_F_SOCK_RELEASE to @on, once every hook is where it goes. Turned
 * off while the connect hooks stay (the release hook could not be
 * attached this time), connect() takes slots without a look from then on
 * (sock.h), so the records that sockets kept only in their slots are
 * copied into zh_sock_rev right after: a live socket keeps its peer (but
 * for a slot a colliding connect() takes in the moment between), a dead
 * one's copy ages out. Reads copy at first read again meanwhile.
 */
static int release_flag(const struct zh_objs *o, bool on)
{
	struct zh_config cfg;
	struct zh_sock_conn c;
	int err;

	if (on || zh_config_get(o, &cfg) ||
	    !(cfg.flags & ZH_CFG_F_SOCK_RELEASE))
		return zh_svc_sock_release(o, on);
	err = zh_svc_sock_release(o, false);
	for (__u32 s = 0; !err && s < ZH_SOCK_CONN_MAX; s++)
		if (!bpf_map_lookup_elem(o->sock_conn_fd, &s, &c) &&
		    c.key.cookie &&
		    bpf_map_update_elem(o->sock_rev_fd, &c.key, &c.rev,
					BPF_ANY))
			err = -errno;
	return err;
}

int zh_socklb_attach(const struct zh_objs *o, const char *cgroup, char *why,
		     size_t why_len)
{
	char root[PATH_MAX];
	unsigned int mask = 0;
	struct stat st;
	int cg_fd, err;

	if (!cgroup) {
		err = zh_cgroup2_root(root, sizeof(root));
		if (err)
			return zh_errf(
				why, why_len, err,
				"no cgroup v2 hierarchy mounted (looked at /sys/fs/cgroup, /sys/fs/cgroup/unified, /proc/self/mounts)");
		cgroup = root;
	}
	/* A hybrid node's hierarchy, mounted whole (the DaemonSet's
	 * /host/sys/fs/cgroup): its cgroup v2 part is DIR/unified. */
	if (!is_cgroup2(cgroup)) {
		int n = snprintf(root, sizeof(root), "%s/unified", cgroup);

		if (n < 0 || (size_t)n >= sizeof(root) || !is_cgroup2(root))
			return zh_errf(
				why, why_len, -ENOTDIR,
				"%s is not a cgroup v2 directory, nor is %s/unified",
				cgroup, cgroup);
		cgroup = root;
	}
	cg_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0 || fstat(cg_fd, &st)) {
		err = -errno;
		if (cg_fd >= 0)
			close(cg_fd);
		return zh_errf(why, why_len, err, "open %s: %s", cgroup,
			       strerror(-err));
	}
	for (int h = 0; h < ZH_SOCK_HOOKS; h++) {
		if (hook_fd(o, h) < 0) {
			if (hooks[h].optional)
				continue;
			err = zh_errf(why, why_len, -EOPNOTSUPP,
				      "%s is not loaded on this kernel",
				      hooks[h].prog);
			goto err_detach;
		}
		err = attach_hook(o, h, cg_fd, (__u64)st.st_ino, why, why_len);
		if (err && h == ZH_SOCK_RELEASE) {
			/* A nicety: the rest works without it. */
			pr_warn("%s; connected sockets copy their record at first read\n",
				why);
			unpin_hook(o->dir, h);
			continue;
		}
		if (err)
			goto err_detach;
		mask |= 1U << h;
	}
	close(cg_fd);
	err = release_flag(o, mask >> ZH_SOCK_RELEASE & 1);
	if (err) {
		zh_errf(why, why_len, err, "%s: ZH_CFG_F_SOCK_RELEASE: %s",
			ZH_MAP_CONFIG, strerror(-err));
		zh_socklb_detach(o);
		return err;
	}
	return (int)mask;

err_detach:
	zh_socklb_detach(o);
	close(cg_fd);
	return err;
}

unsigned int zh_socklb_attached(const char *dir, __u64 *cgroup_id)
{
	struct bpf_link_info info;
	unsigned int mask = 0;
	int fd;

	for (int h = 0; h < ZH_SOCK_HOOKS; h++) {
		fd = link_open(dir, h, &info);
		if (fd < 0)
			continue;
		close(fd);
		if (!info.cgroup.cgroup_id)
			continue; /* its cgroup is gone */
		if (!mask && cgroup_id)
			*cgroup_id = info.cgroup.cgroup_id;
		mask |= 1U << h;
	}
	return mask;
}

static const char *const sock_stat_names[ZH_SOCK_STAT_MAX] = {
#define ZH_SOCK_STAT_NAME(id, name) [ZH_SOCK_STAT_##id] = name,
	ZH_SOCK_STATS(ZH_SOCK_STAT_NAME)
#undef ZH_SOCK_STAT_NAME
};

const char *zh_sock_stat_name(int stat)
{
	return stat >= 0 && stat < ZH_SOCK_STAT_MAX ? sock_stat_names[stat] :
						      "?";
}

int zh_sock_stats_read(const struct zh_objs *o, __u64 out[ZH_SOCK_STAT_MAX],
		       bool reset)
{
	if (o->sock_stats_fd <
	    0) { /* pins older than the map: nothing counted */
		memset(out, 0, sizeof(*out) * ZH_SOCK_STAT_MAX);
		return 0;
	}
	return zh_percpu_sum(o->sock_stats_fd, 0, ZH_SOCK_STAT_MAX, 1, out,
			     reset);
}

bool zh_sock_serves(unsigned int mask, int family, int proto)
{
	unsigned int want;

	if (family == AF_INET6)
		want = 1U << ZH_SOCK_CONNECT6 |
		       (proto == IPPROTO_UDP ? 1U << ZH_SOCK_SENDMSG6 |
						       1U << ZH_SOCK_RECVMSG6 :
					       0);
	else
		want = 1U << ZH_SOCK_CONNECT4 |
		       (proto == IPPROTO_UDP ? 1U << ZH_SOCK_SENDMSG4 |
						       1U << ZH_SOCK_RECVMSG4 :
					       0);
	return (mask & want) == want;
}
