// SPDX-License-Identifier: Apache-2.0
/*
 * podstate.c - the CNI plugin's record of an attachment, for the agent to
 * finish a pod that goes without DEL (podstate.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>

#include "maps.h"
#include "podstate.h"
#include "sha256.h"

const char *zh_state_dir(void)
{
	const char *d = getenv(ZH_STATE_DIR_ENV);

	return d && *d ? d : ZH_STATE_DIR;
}

void zh_podstate_name(const char *container_id, const char *ifname,
		      char out[ZH_PODSTATE_NAME_LEN])
{
	char buf[ZH_CONTAINER_ID_LEN + ZH_IFNAME_LEN + 1];
	unsigned char d[32];

	/* The key, not the ID: the same for the whole ID and for what an
	 * endpoint entry keeps of it (GC names records from those). '/' is
	 * in neither a valid container ID nor an ifname. */
	zh_container_id_key(container_id, buf);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%s", ifname);
	zh_sha256(buf, strlen(buf), d);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	memcpy(out + 64, ".json", 6);
}

int zh_state_dir_check(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		return -EPERM;
	return 0;
}

static int mkdirs(const char *dir)
{
	char buf[4096];
	size_t n = strlen(dir);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int path_of(char *out, size_t len, const char *dir, const char *id,
		   const char *ifname)
{
	char name[ZH_PODSTATE_NAME_LEN];

	zh_podstate_name(id, ifname, name);
	return snprintf(out, len, "%s/%s", dir, name) >= (int)len ?
		       -ENAMETOOLONG :
		       0;
}

int zh_podstate_save(const char *dir, const struct zh_podstate *st)
{
	char path[4096], tmp[4096 + 16];
	json_t *j;
	int fd, err;

	err = mkdirs(dir);
	if (!err)
		err = zh_state_dir_check(dir);
	if (!err)
		err = path_of(path, sizeof(path), dir, st->container_id,
			      st->ifname);
	if (err)
		return err;
	j = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:I, s:s}", "containerID",
		      st->container_id, "ifname", st->ifname, "cniPath",
		      st->cni_path, "cniArgs", st->cni_args, "hostIfname",
		      st->host_ifname, "hostIfindex",
		      (json_int_t)st->host_ifindex, "config", st->config);
	if (!j)
		return -EINVAL;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		err = -errno;
		json_decref(j);
		return err;
	}
	err = json_dumpfd(j, fd, JSON_COMPACT) ? -EIO : 0;
	json_decref(j);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static int dup_str(json_t *j, const char *key, bool need, char **out)
{
	json_t *v = json_object_get(j, key);

	if (!v || json_is_null(v))
		return need ? -EINVAL : 0;
	if (!json_is_string(v))
		return -EINVAL;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

int zh_podstate_decode(const char *buf, size_t len, struct zh_podstate *st)
{
	json_error_t jerr;
	json_t *j, *ix;
	int err;

	memset(st, 0, sizeof(*st));
	if (len > ZH_PODSTATE_MAX)
		return -EINVAL;
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return -EINVAL;
	}
	ix = json_object_get(j, "hostIfindex");
	err = dup_str(j, "containerID", true, &st->container_id);
	if (!err)
		err = dup_str(j, "ifname", true, &st->ifname);
	if (!err)
		err = dup_str(j, "cniPath", true, &st->cni_path);
	if (!err)
		err = dup_str(j, "cniArgs", false, &st->cni_args);
	if (!err)
		err = dup_str(j, "hostIfname", true, &st->host_ifname);
	if (!err)
		err = dup_str(j, "config", true, &st->config);
	if (!err && (!json_is_integer(ix) || json_integer_value(ix) <= 0 ||
		     json_integer_value(ix) > UINT32_MAX))
		err = -EINVAL;
	if (!err)
		st->host_ifindex = (__u32)json_integer_value(ix);
	json_decref(j);
	if (err)
		zh_podstate_free(st);
	return err;
}

int zh_podstate_load(const char *path, struct zh_podstate *st)
{
	struct stat sb;
	char *buf;
	ssize_t n;
	int fd, err;

	memset(st, 0, sizeof(*st));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) ||
	    sb.st_size > ZH_PODSTATE_MAX) {
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	/* A record is written whole and renamed into place: one read. */
	n = pread(fd, buf, (size_t)sb.st_size + 1, 0);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (!err)
		err = n > sb.st_size ? -EINVAL :
				       zh_podstate_decode(buf, (size_t)n, st);
	free(buf);
	return err;
}

void zh_podstate_free(struct zh_podstate *st)
{
	free(st->container_id);
	free(st->ifname);
	free(st->cni_path);
	free(st->cni_args);
	free(st->host_ifname);
	free(st->config);
	memset(st, 0, sizeof(*st));
}

int zh_podstate_remove(const char *dir, const char *container_id,
		       const char *ifname)
{
	char path[4096];
	int err = path_of(path, sizeof(path), dir, container_id, ifname);

	if (err)
		return err;
	return unlink(path) && errno != ENOENT ? -errno : 0;
}
