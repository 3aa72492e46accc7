// SPDX-License-Identifier: Apache-2.0
/*
 * nk_pair - libzerohop's netkit calls, one at a time, for
 * tests/integration/netkit.sh: what the CNI plugin does between making a
 * pod's pair and attaching to it, stopped in between so that the test can
 * see the pod isolated there.
 *
 *   nk_pair add HOST PEER NETNS       a pair as the plugin makes it (L2,
 *                                     the peer dropping until attached),
 *                                     PEER in the netns at path NETNS
 *   nk_pair attach HOST PROG          the pinned program PROG on HOST's
 *                                     peer hook
 *   nk_pair attached HOST PROG        exit 0 when it is there, 1 when not
 *   nk_pair replace HOST OLD NEW      pinned program NEW where OLD is on
 *                                     the peer's hook, as an upgrade moves
 *                                     it (zh_hook_replace())
 *   nk_pair hooks HOST                "HOOK PROG_ID" for every program at
 *                                     every hook of HOST, as an upgrade
 *                                     finds them (zh_hooks_foreach())
 *
 * Exits 0, or 1 with the error on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>

#include "attach.h"
#include "nl.h"

static int print_hook(int ifindex, enum zh_hook hook, __u32 id, void *arg)
{
	(void)ifindex;
	(void)arg;
	printf("%s %u\n", zh_hook_name(hook), id);
	return 0;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "nk_pair: %s: %s\n", what, strerror(-err));
	return 1;
}

int main(int argc, char **argv)
{
	int ifindex, fd, ret;

	if (argc == 5 && !strcmp(argv[1], "add")) {
		fd = open(argv[4], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail(argv[4], -errno);
		ret = zh_nl_netkit_add(argv[2], argv[3], fd, 1500,
				       ZH_NETKIT_DROP);
		close(fd);
		return ret ? fail("netkit pair", ret) : 0;
	}
	if (argc == 3 && !strcmp(argv[1], "hooks")) {
		ifindex = (int)if_nametoindex(argv[2]);
		if (!ifindex)
			return fail(argv[2], -errno);
		return zh_hooks_foreach(ifindex, print_hook, NULL) ? 1 : 0;
	}
	if (argc == 5 && !strcmp(argv[1], "replace")) {
		int old;

		ifindex = (int)if_nametoindex(argv[2]);
		if (!ifindex)
			return fail(argv[2], -errno);
		old = bpf_obj_get(argv[3]);
		fd = bpf_obj_get(argv[4]);
		if (old < 0 || fd < 0)
			return fail("pinned program", -ENOENT);
		ret = zh_hook_replace(ifindex, ZH_HOOK_NETKIT_PEER, old, fd);
		close(old);
		close(fd);
		return ret ? fail("replace", ret) : 0;
	}
	if (argc != 4 ||
	    (strcmp(argv[1], "attach") && strcmp(argv[1], "attached"))) {
		fprintf(stderr, "usage: nk_pair add HOST PEER NETNS | "
				"attach|attached HOST PINNED_PROG | "
				"replace HOST OLD NEW | hooks HOST\n");
		return 2;
	}
	ifindex = (int)if_nametoindex(argv[2]);
	if (!ifindex)
		return fail(argv[2], -errno);
	fd = bpf_obj_get(argv[3]);
	if (fd < 0)
		return fail(argv[3], -errno);
	if (!strcmp(argv[1], "attach"))
		ret = zh_netkit_attach(ifindex, fd, 1);
	else
		ret = zh_netkit_attached(ifindex, fd, 1);
	close(fd);
	if (!strcmp(argv[1], "attached"))
		return ret == 1 ? 0 : 1;
	return ret ? fail("attach", ret) : 0;
}
