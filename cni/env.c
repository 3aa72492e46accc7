// SPDX-License-Identifier: Apache-2.0
/*
 * env.c - the CNI_* environment a runtime hands us, validated the way the
 * reference implementation (pkg/skel) does: every missing variable is
 * reported in one error, then container ID and interface name are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"

/* Longest interface name the kernel takes: IFNAMSIZ (16) minus the NUL. */
#define ZH_IFNAME_MAX 15

const char *zh_cni_cmd_name(enum zh_cni_cmd cmd)
{
	switch (cmd) {
	case ZH_CNI_ADD:
		return "ADD";
	case ZH_CNI_DEL:
		return "DEL";
	case ZH_CNI_CHECK:
		return "CHECK";
	case ZH_CNI_VERSION:
		return "VERSION";
	case ZH_CNI_STATUS:
		return "STATUS";
	case ZH_CNI_GC:
		return "GC";
	}
	return NULL;
}

static int cmd_from_name(const char *s, enum zh_cni_cmd *cmd)
{
	static const enum zh_cni_cmd all[] = { ZH_CNI_ADD,    ZH_CNI_DEL,
					       ZH_CNI_CHECK,  ZH_CNI_VERSION,
					       ZH_CNI_STATUS, ZH_CNI_GC };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(s, zh_cni_cmd_name(all[i]))) {
			*cmd = all[i];
			return 0;
		}
	}
	return -1;
}

/* ASCII only: we must not depend on the runtime's locale. */
static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* What isspace() means in the C locale, spelled out. */
#define ZH_ASCII_SPACE " \t\n\v\f\r"

bool zh_cni_name_valid(const char *s)
{
	if (!s || !is_alnum(s[0]))
		return false;
	for (s++; *s; s++) {
		if (!is_alnum(*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	}
	return true;
}

int zh_cni_validate_container_id(const char *id, struct zh_cni_err *err)
{
	if (!id || !*id)
		return zh_cni_err_set(err, ZH_CNI_ERR_INVALID_ENV,
				      "missing containerID", NULL);
	if (zh_cni_name_valid(id))
		return 0;
	return zh_cni_err_set(
		err, ZH_CNI_ERR_INVALID_ENV,
		"invalid characters in containerID",
		"CNI_CONTAINERID \"%s\" must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$",
		id);
}

int zh_cni_validate_ifname(const char *ifname, struct zh_cni_err *err)
{
	size_t len;

	if (!ifname || !*ifname)
		return zh_cni_err_set(err, ZH_CNI_ERR_INVALID_ENV,
				      "interface name is empty", NULL);
	len = strlen(ifname);
	if (len > ZH_IFNAME_MAX)
		return zh_cni_err_set(
			err, ZH_CNI_ERR_INVALID_ENV,
			"interface name is too long",
			"CNI_IFNAME \"%s\" has %zu bytes, the limit is %d",
			ifname, len, ZH_IFNAME_MAX);
	if (!strcmp(ifname, ".") || !strcmp(ifname, ".."))
		return zh_cni_err_set(err, ZH_CNI_ERR_INVALID_ENV,
				      "interface name is . or ..",
				      "CNI_IFNAME \"%s\"", ifname);
	if (strpbrk(ifname, "/:" ZH_ASCII_SPACE))
		return zh_cni_err_set(
			err, ZH_CNI_ERR_INVALID_ENV,
			"interface name contains / or : or whitespace characters",
			"CNI_IFNAME \"%s\"", ifname);
	return 0;
}

/*
 * Which variables each command needs, besides CNI_COMMAND. GC and STATUS
 * act on the network, not on an attachment: no container, netns or ifname.
 * STATUS does not need CNI_PATH either (the spec makes it optional there);
 * without it, STATUS reports the IPAM plugin as not found.
 */
#define NEED_ADD (1U << ZH_CNI_ADD)
#define NEED_DEL (1U << ZH_CNI_DEL)
#define NEED_CHECK (1U << ZH_CNI_CHECK)
#define NEED_GC (1U << ZH_CNI_GC)

int zh_cni_env_parse(struct zh_cni_env *env,
		     const char *(*get)(const char *name),
		     struct zh_cni_err *err)
{
	const struct {
		const char *name;
		const char **val;
		unsigned int need;
	} vars[] = {
		{ "CNI_CONTAINERID", &env->container_id,
		  NEED_ADD | NEED_DEL | NEED_CHECK },
		{ "CNI_NETNS", &env->netns, NEED_ADD | NEED_CHECK },
		{ "CNI_IFNAME", &env->ifname,
		  NEED_ADD | NEED_DEL | NEED_CHECK },
		{ "CNI_ARGS", &env->args, 0 },
		{ "CNI_PATH", &env->path,
		  NEED_ADD | NEED_DEL | NEED_CHECK | NEED_GC },
	};
	char missing[256] = "";
	const char *cmd;
	size_t i, off = 0;

	memset(env, 0, sizeof(*env));
	if (!get)
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
				      "no environment lookup given", NULL);

	env->pin_root = get("ZEROHOP_PIN_ROOT");
	if (!env->pin_root || !*env->pin_root)
		env->pin_root = ZH_PIN_ROOT;
	env->ipam_timeout_s = ZH_IPAM_TIMEOUT_S;
	{
		const char *t = get("ZEROHOP_IPAM_TIMEOUT");
		char *end;
		unsigned long v;

		if (t && *t) {
			v = strtoul(t, &end, 10);
			if (*end || v < 1 || v > 600)
				return zh_cni_err_set(
					err, ZH_CNI_ERR_INVALID_ENV,
					"bad ZEROHOP_IPAM_TIMEOUT",
					"\"%.32s\": want seconds, 1..600", t);
			env->ipam_timeout_s = (unsigned int)v;
		}
	}
	cmd = get("CNI_COMMAND");
	if (!cmd || !*cmd)
		return zh_cni_err_set(err, ZH_CNI_ERR_INVALID_ENV,
				      "required environment variables missing",
				      "CNI_COMMAND");
	if (cmd_from_name(cmd, &env->cmd))
		return zh_cni_err_set(
			err, ZH_CNI_ERR_INVALID_ENV, "unknown CNI_COMMAND",
			"CNI_COMMAND \"%s\" is not one of ADD, DEL, CHECK, VERSION, STATUS, GC",
			cmd);

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = get(vars[i].name);

		*vars[i].val = (v && *v) ? v : NULL;
		if (*vars[i].val || !(vars[i].need & (1U << env->cmd)))
			continue;
		/* The names are short and few: missing[] always fits them. */
		off += snprintf(missing + off, sizeof(missing) - off, "%s%s",
				off ? ", " : "", vars[i].name);
	}
	if (env->cmd == ZH_CNI_VERSION)
		return 0;
	if (off)
		return zh_cni_err_set(err, ZH_CNI_ERR_INVALID_ENV,
				      "required environment variables missing",
				      "%s", missing);
	if (env->cmd == ZH_CNI_STATUS || env->cmd == ZH_CNI_GC)
		return 0;
	if (zh_cni_validate_container_id(env->container_id, err))
		return -1;
	/* The endpoint entry keeps the path whole, and the agent enters it
	 * later: a cut one could name another namespace. */
	if (env->netns && strlen(env->netns) >= ZH_NETNS_LEN)
		return zh_cni_err_set(
			err, ZH_CNI_ERR_INVALID_ENV, "CNI_NETNS too long",
			"CNI_NETNS is %zu bytes; zerohop keeps at most %d",
			strlen(env->netns), ZH_NETNS_LEN - 1);
	return zh_cni_validate_ifname(env->ifname, err);
}
