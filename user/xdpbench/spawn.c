// SPDX-License-Identifier: Apache-2.0
/*
 * spawn.c - run a command (a CNI plugin, iptables-restore, nft) in a network
 * namespace, the way a runtime does: fork, setns() in the child, exec.
 *
 * The child gets a process group of its own, so a Ctrl-C on the terminal
 * reaches only xdpbench, which then decides: setup commands are killable
 * (SIGTERM to that one child), the DEL commands of the cleanup run to
 * completion. Long-lived children (the AF_XDP path's server and client)
 * are started, watched and stopped with xb_cmd_start(), xb_cmd_exited(),
 * xb_cmd_wait() and xb_cmd_stop().
 */
#define _GNU_SOURCE /* setns() */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log.h"
#include "xdpbench.h"

extern char **environ;

/* How often a wait looks at xb_stop. */
#define XB_WAIT_POLL_MS 50

/* @name's full path, searched in $PATH when it has no slash. */
static int xb_which(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;

	if (strchr(name, '/')) {
		snprintf(buf, len, "%s", name);
		return access(buf, X_OK) ? -errno : 0;
	}
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (p = path; *p; p = *end ? end + 1 : end) {
		int n;

		end = strchrnul(p, ':');
		n = snprintf(buf, len, "%.*s/%s", (int)(end - p), p, name);
		if (n > 0 && (size_t)n < len && !access(buf, X_OK))
			return 0;
	}
	return -ENOENT;
}

static size_t xb_env_name_len(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* Our environment with @add on top (same names replaced). */
static char **xb_env_build(const char *const *add)
{
	size_t n = 0, k = 0, i, j;
	char **env;

	while (environ[n])
		n++;
	while (add && add[k])
		k++;
	env = calloc(n + k + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0, n = 0; environ[i]; i++) {
		size_t len = xb_env_name_len(environ[i]);
		bool replaced = false;

		for (j = 0; j < k; j++) {
			if (xb_env_name_len(add[j]) == len &&
			    !strncmp(add[j], environ[i], len))
				replaced = true;
		}
		if (!replaced)
			env[n++] = environ[i];
	}
	for (j = 0; j < k; j++)
		env[n++] = (char *)add[j];
	return env;
}

static int xb_open_or_null(const char *path, int flags)
{
	return open(path ? path : "/dev/null", flags | O_CLOEXEC, 0600);
}

/* Wait for @pid; SIGTERM it once when asked to stop and @killable. */
int xb_cmd_wait(pid_t pid, bool killable)
{
	bool killed = false;
	int pidfd, st;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		if (killable && xb_stop && !killed) {
			kill(pid, SIGTERM);
			killed = true;
		}
		if (pidfd >= 0) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };

			int n = poll(&p, 1, XB_WAIT_POLL_MS);

			if (n == 0 || (n < 0 && errno == EINTR))
				continue;
		}
		if (waitpid(pid, &st, 0) == pid)
			break;
		if (errno != EINTR) {
			st = -errno;
			goto out;
		}
	}
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
out:
	if (pidfd >= 0)
		close(pidfd);
	return st;
}

int xb_cmd_exited(pid_t pid, int *status)
{
	pid_t r;
	int st;

	r = waitpid(pid, &st, WNOHANG);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 1;
}

int xb_cmd_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	return xb_cmd_wait(pid, false);
}

pid_t xb_cmd_start(const struct xb_cmd *c)
{
	int nsfd = -1, in = -1, out = -1, err = -1;
	char exe[PATH_MAX];
	char **env = NULL;
	pid_t pid;
	int ret;

	if (c->killable && xb_stop)
		return -EINTR;
	ret = xb_which(c->argv[0], exe, sizeof(exe));
	if (ret)
		return ret;
	if (c->netns) {
		nsfd = open(c->netns, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0)
			return -errno;
	}
	in = xb_open_or_null(c->in, O_RDONLY);
	out = xb_open_or_null(c->out, O_WRONLY | O_CREAT | O_TRUNC);
	err = xb_open_or_null(c->err, O_WRONLY | O_CREAT | O_TRUNC);
	env = xb_env_build(c->env);
	if (in < 0 || out < 0 || err < 0 || !env) {
		pid = env ? -errno : -ENOMEM;
		goto out;
	}

	/*
	 * xdpbench may have threads by now (the AF_XDP agent): the child
	 * is one thread, a copy of this one, and this thread's network
	 * namespace is the root one. After the setns() below that thread,
	 * the main (and only) thread of the child, is in c->netns: what
	 * /proc/PID/ns/net shows to anyone who looks.
	 */
	pid = fork();
	if (pid < 0) {
		pid = -errno;
		goto out;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		struct sigaction sa = { .sa_handler = SIG_DFL };
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		sigaction(SIGPIPE, &sa, NULL);
		setpgid(0, 0);
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET))
			_exit(126);
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		execve(exe, (char *const *)c->argv, env);
		_exit(127);
	}
out:
	free(env);
	if (nsfd >= 0)
		close(nsfd);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	return pid;
}

int xb_cmd_run(const struct xb_cmd *c)
{
	pid_t pid = xb_cmd_start(c);

	if (pid < 0)
		return (int)pid;
	return xb_cmd_wait(pid, c->killable);
}
