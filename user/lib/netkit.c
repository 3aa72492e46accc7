// SPDX-License-Identifier: Apache-2.0
/*
 * netkit.c - the netkit capability probe (netkit.h).
 *
 * Why a real pair: "is the kind known" alone misses a kernel that builds
 * netkit but refuses its attach types (a BPF syscall filter, an old bpf
 * mprog), and a RTM_NEWLINK without NLM_F_CREATE answers -ENODEV before it
 * looks at the kind. Why a child in a new netns: nothing of the probe is
 * ever seen in the caller's netns, and it all goes when the child exits.
 * Why a cache: on a kernel without netkit every RTM_NEWLINK of that kind
 * makes the kernel try to load a module (a usermode modprobe), which a
 * pod's ADD should not pay each time.
 */
#define _GNU_SOURCE /* unshare() */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "attach.h"
#include "netkit.h"
#include "nl.h"
#include "podstate.h"

#define PROBE_SECS 5
#define CACHE_NAME ".netkit-probe"

static const char *const steps[] = { "create", "attach", "probe" };

/* In the child: 0, or the step (1-based) and errno packed in a byte pair
 * written to @fd. */
static void probe_child(int fd)
{
	unsigned char out[2] = { 0, 0 };
	int ret, ifindex;

	alarm(PROBE_SECS);
	if (unshare(CLONE_NEWNET)) {
		out[0] = 3;
		out[1] = (unsigned char)errno;
		goto done;
	}
	ret = zh_nl_netkit_add("zhnkprobe0", "zhnkprobe1", -1, 1500,
			       ZH_NETKIT_DROP);
	if (ret) {
		out[0] = 1;
		out[1] = (unsigned char)-ret;
		goto done;
	}
	ifindex = (int)if_nametoindex("zhnkprobe0");
	ret = ifindex ? zh_netkit_query(ifindex, 1) : -ENODEV;
	if (ret) {
		out[0] = 2;
		out[1] = (unsigned char)-ret;
	}
done:
	if (write(fd, out, sizeof(out)) != sizeof(out))
		_exit(1);
	_exit(0);
}

int zh_netkit_probe(struct zh_netkit_probe *p)
{
	unsigned char in[2];
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	memset(p, 0, sizeof(*p));
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (!pid) {
		close(fds[0]);
		probe_child(fds[1]);
	}
	close(fds[1]);
	/* The child's alarm() bounds this read: SIGALRM closes the pipe. */
	do
		n = read(fds[0], in, sizeof(in));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(in))
		return -ETIMEDOUT;
	if (!in[0]) {
		p->ok = true;
		return 0;
	}
	p->step = steps[in[0] - 1 < 3 ? in[0] - 1 : 2];
	p->err = in[1] ? -(int)in[1] : -EIO;
	return 0;
}

/* This boot and kernel: what a cached answer must match. */
static int boot_key(char *buf, size_t len)
{
	struct utsname u;
	char id[64] = "";
	FILE *f;

	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (!f)
		return -errno;
	if (!fgets(id, sizeof(id), f))
		id[0] = 0;
	fclose(f);
	id[strcspn(id, "\n")] = 0;
	if (!id[0] || uname(&u))
		return -EIO;
	snprintf(buf, len, "%s %s", id, u.release);
	return 0;
}

static int cache_read(const char *path, const char *key,
		      struct zh_netkit_probe *p)
{
	char line[256], k[200], step[16];
	int ok, err;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	/* "<boot id> <release>|<ok> <errno> <step>" */
	if (sscanf(line, "%199[^|]|%d %d %15s", k, &ok, &err, step) != 4 ||
	    strcmp(k, key) || err > 0 || err < -4095)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->ok = ok == 1;
	p->err = err;
	p->step = steps[0];
	for (int i = 0; i < 3; i++)
		if (!strcmp(step, steps[i]))
			p->step = steps[i];
	p->cached = true;
	return 0;
}

static void cache_write(const char *dir, const char *path, const char *key,
			const struct zh_netkit_probe *p)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/" CACHE_NAME ".%d", dir, (int)getpid());
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%s|%d %d %s\n", key, p->ok ? 1 : 0, p->err,
		p->step ? p->step : "none");
	if (fclose(f) || rename(tmp, path))
		unlink(tmp);
}

int zh_netkit_usable(const char *dir, struct zh_netkit_probe *p)
{
	char key[200], path[4200];
	struct stat st;
	int ret;

	/* Only a directory that only root (or we) may write: what a
	 * cached answer says decides what ADD makes. */
	if (!dir || boot_key(key, sizeof(key)) || stat(dir, &st) ||
	    !S_ISDIR(st.st_mode) || zh_state_dir_check(dir))
		return zh_netkit_probe(p);
	snprintf(path, sizeof(path), "%s/" CACHE_NAME, dir);
	if (!cache_read(path, key, p))
		return 0;
	ret = zh_netkit_probe(p);
	if (!ret)
		cache_write(dir, path, key, p);
	return ret;
}

const char *zh_netkit_probe_str(const struct zh_netkit_probe *p, char *buf,
				unsigned long len)
{
	if (p->ok)
		snprintf(buf, len, "yes");
	else
		snprintf(buf, len, "no (%s: %s)", p->step ? p->step : "?",
			 strerror(-p->err));
	return buf;
}
