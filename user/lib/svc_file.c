// SPDX-License-Identifier: Apache-2.0
/*
 * svc_file.c - the services file (svc.h): read it, tell our format
 * (svc_ours.c) from kubectl's (svc_k8s.c) by the top level, and hand over
 * the set only when the whole document is valid.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "svc.h"
#include "svc_k8s.h"
#include "svc_ours.h"

int zh_svc_parse(const char *text, size_t len, struct zh_svc_set *out,
		 char *err, size_t errlen)
{
	struct zh_svc_build b = { 0 };
	json_error_t jerr;
	json_t *root;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return zh_errf(err, errlen, -EINVAL, "no output");
	memset(out, 0, sizeof(*out));
	if (!text && len)
		return zh_errf(err, errlen, -EINVAL, "no text");
	if (len > ZH_SVC_FILE_MAX)
		return zh_errf(err, errlen, -EFBIG,
			       "%zu bytes, more than the %u MiB allowed", len,
			       ZH_SVC_FILE_MAX >> 20);
	if (!len)
		return zh_errf(err, errlen, -EINVAL, "empty document");

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return zh_errf(err, errlen, -EINVAL, "line %d, column %d: %s",
			       jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root))
		rc = zh_errf(err, errlen, -EINVAL,
			     "the document is not a JSON object");
	else if (json_object_get(root, "services"))
		rc = zh_svc_ours_parse(root, &b, err, errlen);
	else if (json_object_get(root, "kind"))
		rc = zh_svc_k8s_parse(root, &b, err, errlen);
	else
		rc = zh_errf(
			err, errlen, -EINVAL,
			"not a services file: neither {\"services\": [...]} nor Kubernetes objects (kubectl get services,endpointslices -A -o json)");
	if (!rc)
		rc = zh_svc_build_finish(&b, out, err, errlen);
	json_decref(root);
	if (rc) {
		if (rc == -ENOMEM)
			zh_errf(err, errlen, rc, "out of memory");
		zh_svc_build_free(&b);
		return rc;
	}
	return 0;
}

int zh_svc_load(const char *path, struct zh_svc_set *out, char *err,
		size_t errlen)
{
	bool is_stdin = !strcmp(path, "-");
	size_t len = 0, cap = 0;
	char *buf = NULL, msg[512];
	struct stat st;
	ssize_t r;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return zh_errf(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) &&
	    st.st_size > (off_t)ZH_SVC_FILE_MAX) {
		rc = zh_errf(err, errlen, -EFBIG,
			     "%s: %lld bytes, more than the %u MiB allowed",
			     path, (long long)st.st_size,
			     ZH_SVC_FILE_MAX >> 20);
		goto err_close;
	}
	/* Read to the end: stdin and /proc files have no size. */
	for (;;) {
		if (len == cap) {
			char *nb;

			if (cap > ZH_SVC_FILE_MAX) {
				rc = zh_errf(err, errlen, -EFBIG,
					     "%s: more than the %u MiB allowed",
					     path, ZH_SVC_FILE_MAX >> 20);
				goto err_free;
			}
			cap = cap ? cap * 2 : 64 * 1024;
			if (cap > ZH_SVC_FILE_MAX + 1)
				cap = ZH_SVC_FILE_MAX + 1;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = zh_errf(err, errlen, -ENOMEM,
					     "%s: out of memory", path);
				goto err_free;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			zh_errf(err, errlen, rc, "%s: %s", path, strerror(-rc));
			goto err_free;
		}
		if (!r)
			break;
		len += (size_t)r;
	}
	if (!is_stdin)
		close(fd);
	rc = zh_svc_parse(buf, len, out, msg, sizeof(msg));
	if (rc)
		zh_errf(err, errlen, rc, "%s: %s", path, msg);
	free(buf);
	return rc;

err_free:
	free(buf);
err_close:
	if (!is_stdin)
		close(fd);
	return rc;
}
