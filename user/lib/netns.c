// SPDX-License-Identifier: Apache-2.0
/* netns.c - enter a network namespace with setns() (never `ip netns exec`,
 * which remounts /sys and hides the pins). */
#define _GNU_SOURCE /* setns() */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "zerohop.h"

int zh_netns_enter(const char *path)
{
	int saved, fd, err;

	saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		close(saved);
		return err;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		err = -errno;
		close(fd);
		close(saved);
		return err;
	}
	close(fd);
	return saved;
}

int zh_netns_leave(int saved_fd)
{
	int err = 0;

	if (saved_fd < 0)
		return 0;
	if (setns(saved_fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(saved_fd);
	return err;
}
