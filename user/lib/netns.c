// SPDX-License-Identifier: Apache-2.0
/* netns.c - run a function in a network namespace with setns() (never
 * `ip netns exec`, which remounts /sys and hides the pins). */
#define _GNU_SOURCE /* setns() */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"
#include "log.h"

/* Move the calling thread into the netns at @path. */
static int netns_set(const char *path)
{
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(fd);
	return err;
}

int zh_netns_run(const char *path, int (*fn)(void *arg), void *arg)
{
	int home, ret;

	/* The thread's own netns, not the process's: a thread of ours may
	 * live in another one (xdpbench's clients and servers). */
	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		return -errno;
	if (path) {
		ret = netns_set(path);
		if (ret) {
			close(home);
			return ret;
		}
	}
	ret = fn(arg);
	/*
	 * A thread that cannot go home must not go on: whatever it did next
	 * (a veth, a route, a map write, a netlink reply) would land in the
	 * other namespace, a pod's, and nothing could tell. Every caller
	 * would have to stop here anyway; stopping here is the one place.
	 */
	if (setns(home, CLONE_NEWNET) < 0) {
		pr_warn("cannot return to our network namespace: %s\n",
			strerror(errno));
		abort();
	}
	close(home);
	return ret;
}
