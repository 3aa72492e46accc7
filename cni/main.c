// SPDX-License-Identifier: Apache-2.0
/*
 * zerohop - the CNI plugin. Reads the network config on stdin and the
 * CNI_* environment, prints the result or the spec's error JSON on stdout
 * (and nothing else there), logs to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni.h"
#include "pod.h"
#include "zerohop.h"

#define STDIN_MAX (1 << 20)

static const char *env_get(const char *name)
{
	return getenv(name);
}

static char *read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);

	while (buf) {
		ssize_t r = read(STDIN_FILENO, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0) {
				free(buf);
				return NULL;
			}
			break;
		}
		n += r;
		if (n == cap) {
			char *nb;

			if (cap >= STDIN_MAX) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static void print_json_str(char *s)
{
	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
	fflush(stdout);
}

/* VERSION: answer in the version asked for on stdin, if we speak it. */
static int cmd_version(const char *buf, size_t len)
{
	const char *v = ZH_CNI_SPEC_VERSION;
	json_t *root = json_loadb(buf, len, 0, NULL);
	json_t *jv = json_object_get(root, "cniVersion");

	if (json_is_string(jv) &&
	    zh_cni_version_supported(json_string_value(jv)))
		v = json_string_value(jv);
	print_json_str(zh_cni_version_json(v));
	json_decref(root);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"zerohop - CNI plugin wiring pods onto the zerohop BPF fast path\n"
		"\n"
		"Run by a container runtime, as the CNI spec (1.1.0) describes:\n"
		"CNI_COMMAND and the other CNI_* variables in the environment, the\n"
		"network configuration on stdin.\n"
		"\n"
		"Commands (CNI_COMMAND):\n"
		"  ADD      wire the pod in CNI_NETNS onto the fast path; prints the result\n"
		"  DEL      take it off again and release its address (repeatable)\n"
		"  CHECK    compare the pod's wiring with prevResult\n"
		"  STATUS   exit 0 when ADD could be served (bpffs, a kernel that runs\n"
		"           the network's datapath, the IPAM plugin), else error 50\n"
		"  GC       remove this network's attachments missing from\n"
		"           \"cni.dev/valid-attachments\", then GC the IPAM plugin\n"
		"  VERSION  the CNI versions spoken: %s\n"
		"STATUS and GC need cniVersion 1.1.0.\n"
		"\n"
		"Network configuration (besides the standard keys):\n"
		"  \"datapath\": \"tc\" | \"xdp\"  entry program on the host veth (default tc)\n"
		"  \"mtu\": N                  veth MTU (default 1500)\n"
		"  \"ipam\": {\"type\": ...}     delegated IPAM plugin, found in CNI_PATH\n"
		"  \"afxdp\": {\"steer\": [{\"proto\": \"udp\"|\"tcp\", \"port\": N}], \"queues\": N,\n"
		"             \"xdpMode\": \"native\", \"socketPath\": PATH}\n"
		"                            AF_XDP for the pods (README: AF_XDP pods);\n"
		"                            per pod in args.cni.afxdp (false: off)\n"
		"\n"
		"A datapath or \"afxdp\" this node's kernel cannot run is refused at ADD\n"
		"and CHECK with error 2 naming the missing kernel feature (zerohopctl\n"
		"features lists them).\n"
		"\n"
		"Environment: ZEROHOP_PIN_ROOT overrides the pin root (%s),\n"
		"ZEROHOP_XSK_SOCKET the default socketPath, ZEROHOP_DEBUG=1 logs more\n"
		"to stderr, ZEROHOP_DISABLE_FEATURES=name,name makes the kernel probe\n"
		"report those features absent (when it runs: once per pin directory).\n",
		zh_cni_versions_list(), ZH_PIN_ROOT);
}

int main(int argc, char **argv)
{
	struct zh_cni_err err = {};
	struct zh_netconf conf = {};
	struct zh_cni_env env = {};
	const char *version = NULL;
	json_t *out = NULL;
	char *buf = NULL;
	size_t len = 0;
	int ret = -1;

	if (argc > 1 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage();
		return 0;
	}
	zh_log_set_prefix("zerohop-cni");
	zh_log_set_level(getenv("ZEROHOP_DEBUG") ? ZH_LOG_DEBUG : ZH_LOG_WARN);
	zh_log_hook_libs();

	if (zh_cni_env_parse(&env, env_get, &err))
		goto out;
	buf = read_stdin(&len);
	if (!buf) {
		zh_cni_err_set(&err, ZH_CNI_ERR_IO, "cannot read stdin", "%s",
			       strerror(errno));
		goto out;
	}
	if (env.cmd == ZH_CNI_VERSION) {
		ret = cmd_version(buf, len);
		goto out;
	}
	if (zh_netconf_parse(buf, len, &conf, &err))
		goto out;
	version = conf.cni_version;
	if (zh_netconf_allows(&conf, env.cmd, &err))
		goto out;

	switch (env.cmd) {
	case ZH_CNI_ADD:
		ret = zh_cmd_add(&env, &conf, &out, &err);
		break;
	case ZH_CNI_DEL:
		ret = zh_cmd_del(&env, &conf, &err);
		break;
	case ZH_CNI_CHECK:
		ret = zh_cmd_check(&env, &conf, &err);
		break;
	case ZH_CNI_STATUS:
		ret = zh_cmd_status(&env, &conf, &err);
		break;
	case ZH_CNI_GC:
		ret = zh_cmd_gc(&env, &conf, &err);
		break;
	default:
		break;
	}
	if (!ret && out)
		print_json_str(json_dumps(out, JSON_INDENT(2)));
out:
	if (ret)
		print_json_str(zh_cni_err_to_json(&err, version));
	json_decref(out);
	zh_netconf_free(&conf);
	free(buf);
	return ret ? 1 : 0;
}
