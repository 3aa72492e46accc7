// SPDX-License-Identifier: Apache-2.0
/*
 * ipam.c - delegation to an IPAM plugin the way the CNI spec describes it:
 * the plugin is found in CNI_PATH, runs with our environment and the
 * command we ask for, reads the network configuration on stdin and answers
 * on stdout. No shell is involved. A plugin that speaks no 1.1.0 gets a
 * 1.1.0 configuration as 1.0.0 (zh_ipam_delegate()).
 */
#define _GNU_SOURCE /* memfd_create(), pipe2(), environ */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cni.h"
#include "log.h"
#include "sha256.h"

/* The CNI_* variables we set for the child; inherited copies are dropped. */
static const char *const managed_vars[] = {
	"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS",
	"CNI_IFNAME",  "CNI_ARGS",	  "CNI_PATH",
};
#define N_MANAGED (sizeof(managed_vars) / sizeof(managed_vars[0]))

struct child_env {
	char **envp; /* NULL-terminated */
	size_t n_inherited; /* envp[0..n_inherited) borrowed from environ */
	size_t n; /* the rest up to n are ours to free */
};

static bool is_managed(const char *entry)
{
	size_t i, len;

	for (i = 0; i < N_MANAGED; i++) {
		len = strlen(managed_vars[i]);
		if (!strncmp(entry, managed_vars[i], len) && entry[len] == '=')
			return true;
	}
	return false;
}

static void child_env_free(struct child_env *ce)
{
	size_t i;

	if (!ce->envp)
		return;
	for (i = ce->n_inherited; i < ce->n; i++)
		free(ce->envp[i]);
	free(ce->envp);
	ce->envp = NULL;
}

/*
 * Our environment with the CNI_* variables replaced by what env says and
 * CNI_COMMAND by cmd. In production env came from getenv(), so this is our
 * environment with only CNI_COMMAND changed; tests get their fakes through.
 */
static int child_env_build(struct child_env *ce, const struct zh_cni_env *env,
			   const char *cmd)
{
	const char *vals[N_MANAGED] = { cmd,	    env->container_id,
					env->netns, env->ifname,
					env->args,  env->path };
	size_t i, count = 0;

	memset(ce, 0, sizeof(*ce));
	while (environ && environ[count])
		count++;
	ce->envp = calloc(count + N_MANAGED + 1, sizeof(*ce->envp));
	if (!ce->envp)
		return -1;
	for (i = 0; i < count; i++) {
		if (!is_managed(environ[i]))
			ce->envp[ce->n++] = environ[i];
	}
	ce->n_inherited = ce->n;
	for (i = 0; i < N_MANAGED; i++) {
		if (!vals[i])
			continue;
		if (asprintf(&ce->envp[ce->n], "%s=%s", managed_vars[i],
			     vals[i]) < 0) {
			ce->envp[ce->n] = NULL;
			child_env_free(ce);
			return -1;
		}
		ce->n++;
	}
	return 0;
}

int zh_ipam_find(const char *type, const char *path, char *out, size_t size)
{
	const char *dir = path, *end;
	struct stat st;
	size_t dlen;
	int n;

	while (dir && *dir) {
		end = strchrnul(dir, ':');
		dlen = end - dir;
		if (dlen && dlen < size) {
			n = snprintf(out, size, "%.*s/%s", (int)dlen, dir,
				     type);
			if (n > 0 && (size_t)n < size && !stat(out, &st) &&
			    S_ISREG(st.st_mode) && !access(out, X_OK))
				return 0;
		}
		dir = *end ? end + 1 : NULL;
	}
	return -1;
}

/*
 * Move fd above stdin/stdout/stderr, close-on-exec, so that the child's
 * dup2() onto 0 and 1 never clobbers the source descriptor.
 */
static int fd_above_stdio(int fd)
{
	int nfd;

	if (fd < 0 || fd > STDERR_FILENO)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	close(fd);
	return nfd;
}

/* The configuration as a file: no pipe to fill, no SIGPIPE if unread. */
static int stdin_fd(const char *raw, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	fd = fd_above_stdio(memfd_create("zh-ipam-stdin", MFD_CLOEXEC));
	if (fd < 0)
		return -1;
	while (off < len) {
		n = write(fd, raw + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto err_close;
		off += n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto err_close;
	return fd;
err_close:
	close(fd);
	return -1;
}

struct capture {
	char *buf; /* NUL-terminated */
	size_t len;
	bool too_big;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Read fd to EOF, keeping at most ZH_IPAM_STDOUT_MAX bytes, until
 * @deadline_ms (CLOCK_MONOTONIC). Returns 0, -1 (errno), or -2 when the
 * deadline passed first.
 */
static int capture_read(int fd, struct capture *out, long long deadline_ms)
{
	size_t cap = 4096;
	ssize_t n;
	char *nb;

	memset(out, 0, sizeof(*out));
	out->buf = malloc(cap + 1);
	if (!out->buf)
		return -1;
	for (;;) {
		if (out->len == cap) {
			if (cap >= ZH_IPAM_STDOUT_MAX) {
				out->too_big = true;
				break;
			}
			cap *= 2;
			if (cap > ZH_IPAM_STDOUT_MAX)
				cap = ZH_IPAM_STDOUT_MAX;
			nb = realloc(out->buf, cap + 1);
			if (!nb)
				goto err_free;
			out->buf = nb;
		}
		{
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			long long left = deadline_ms - now_ms();
			int r;

			if (left <= 0)
				goto timeout;
			r = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				goto err_free;
			if (!r)
				continue; /* the deadline is checked above */
		}
		n = read(fd, out->buf + out->len, cap - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err_free;
		if (n == 0)
			break;
		out->len += n;
	}
	/* Full buffer: one more byte means the plugin wrote too much. */
	if (out->too_big) {
		char c;

		do {
			n = read(fd, &c, 1);
		} while (n < 0 && errno == EINTR);
		out->too_big = n > 0;
	}
	out->buf[out->len] = '\0';
	return 0;
timeout:
	free(out->buf);
	out->buf = NULL;
	return -2;
err_free:
	free(out->buf);
	out->buf = NULL;
	return -1;
}

static int wait_child(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int zh_ipam_error_decode(const char *buf, size_t len, struct zh_cni_err *err)
{
	json_t *j, *code, *msg, *details;
	int ret = -1;

	j = json_loadb(buf, len, 0, NULL);
	code = json_object_get(j, "code");
	msg = json_object_get(j, "msg");
	details = json_object_get(j, "details");
	if (json_is_integer(code) && json_integer_value(code) > 0 &&
	    json_integer_value(code) <= INT_MAX && json_is_string(msg)) {
		if (json_is_string(details))
			zh_cni_err_set(err, (int)json_integer_value(code),
				       json_string_value(msg), "%s",
				       json_string_value(details));
		else
			zh_cni_err_set(err, (int)json_integer_value(code),
				       json_string_value(msg), NULL);
		ret = 0;
	}
	json_decref(j);
	return ret;
}

int zh_ipam_result_decode(const char *type, const char *buf, size_t len,
			  struct zh_result *res, struct zh_cni_err *err)
{
	json_error_t jerr;
	json_t *j;
	int ret;

	memset(res, 0, sizeof(*res));
	j = json_loadb(buf, len, 0, &jerr);
	if (!j)
		return zh_cni_err_set(err, ZH_CNI_ERR_DECODE,
				      "IPAM plugin returned an invalid result",
				      "%s: line %d, column %d: %s", type,
				      jerr.line, jerr.column, jerr.text);
	ret = zh_result_parse(j, res, err);
	json_decref(j);
	return ret;
}

/* Fork and exec path; collect its stdout and exit status. */
static int run_plugin(const char *type, const char *path, char **envp,
		      const char *raw, size_t len, unsigned int timeout_s,
		      struct capture *out, int *status, struct zh_cni_err *err)
{
	char *argv[] = { (char *)path, NULL };
	int in, pout[2], perr[2], exec_errno = 0, fail, rc;
	ssize_t n;
	pid_t pid;

	in = stdin_fd(raw, len);
	if (in < 0)
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
				      "cannot prepare IPAM plugin stdin", "%s",
				      strerror(errno));
	if (pipe2(pout, O_CLOEXEC)) {
		fail = errno;
		goto err_in;
	}
	pout[0] = fd_above_stdio(pout[0]);
	pout[1] = fd_above_stdio(pout[1]);
	if (pout[0] < 0 || pout[1] < 0) {
		fail = errno;
		goto err_pout;
	}
	/* Closed by a successful execve(); carries errno if it fails. */
	if (pipe2(perr, O_CLOEXEC)) {
		fail = errno;
		goto err_pout;
	}
	perr[0] = fd_above_stdio(perr[0]);
	perr[1] = fd_above_stdio(perr[1]);
	if (perr[0] < 0 || perr[1] < 0) {
		fail = errno;
		goto err_perr;
	}

	pid = fork();
	if (pid < 0) {
		fail = errno;
		goto err_perr;
	}
	if (pid == 0) {
		sigset_t none;

		/* Only async-signal-safe calls from here on. The agent
		 * runs this from a thread that blocks the signals its loop
		 * takes: the plugin gets none blocked. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(in, STDIN_FILENO) >= 0 &&
		    dup2(pout[1], STDOUT_FILENO) >= 0)
			execve(path, argv, envp);
		exec_errno = errno;
		n = write(perr[1], &exec_errno, sizeof(exec_errno));
		(void)n;
		_exit(127);
	}
	close(in);
	close(pout[1]);
	close(perr[1]);

	do {
		n = read(perr[0], &exec_errno, sizeof(exec_errno));
	} while (n < 0 && errno == EINTR);
	close(perr[0]);
	if (n == sizeof(exec_errno)) {
		close(pout[0]);
		wait_child(pid, status);
		return zh_cni_err_set(err, ZH_CNI_ERR_IPAM,
				      "cannot execute IPAM plugin", "%s: %s",
				      path, strerror(exec_errno));
	}

	rc = capture_read(pout[0], out, now_ms() + (long long)timeout_s * 1000);
	if (rc == -2) {
		/* Everything ADD made is rolled back; the runtime may try
		 * again later. */
		zh_cni_err_set(
			err, ZH_CNI_ERR_TRY_AGAIN, "IPAM plugin timed out",
			"%s did not finish within %u s (ZEROHOP_IPAM_TIMEOUT): killed",
			type, timeout_s);
		kill(pid, SIGKILL);
	} else if (rc) {
		zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
			       "cannot read IPAM plugin output", "%s: %s", type,
			       strerror(errno));
		kill(pid, SIGKILL);
	} else if (out->too_big) {
		zh_cni_err_set(err, ZH_CNI_ERR_IPAM,
			       "IPAM plugin output too large",
			       "%s wrote more than %d bytes", type,
			       ZH_IPAM_STDOUT_MAX);
		kill(pid, SIGKILL);
	}
	close(pout[0]);
	if (wait_child(pid, status)) {
		free(out->buf);
		out->buf = NULL;
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
				      "cannot wait for IPAM plugin", "%s: %s",
				      type, strerror(errno));
	}
	if (!out->buf || out->too_big) {
		free(out->buf);
		out->buf = NULL;
		return -1;
	}
	return 0;

err_perr:
	if (perr[0] >= 0)
		close(perr[0]);
	if (perr[1] >= 0)
		close(perr[1]);
err_pout:
	if (pout[0] >= 0)
		close(pout[0]);
	if (pout[1] >= 0)
		close(pout[1]);
err_in:
	close(in);
	return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
			      "cannot start IPAM plugin", "%s: %s", type,
			      strerror(fail));
}

/*
 * Find and run the plugin for cmd. 0: it exited 0 and out->buf holds its
 * stdout (the caller frees it); 1: it ran and failed, err says how; -1: it
 * could not be found or run, err says why. out->buf is NULL unless 0.
 */
static int ipam_call(const struct zh_cni_env *env, enum zh_cni_cmd cmd,
		     const char *type, const char *raw, size_t len,
		     struct capture *out, struct zh_cni_err *err)
{
	const char *cmd_name = zh_cni_cmd_name(cmd);
	struct child_env ce;
	char path[PATH_MAX];
	int status, ret;

	memset(out, 0, sizeof(*out));
	if (!env || !cmd_name || (!raw && len))
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
				      "bad arguments to zh_ipam_exec", NULL);
	if (!type || !*type || strchr(type, '/'))
		return zh_cni_err_set(err, ZH_CNI_ERR_IPAM,
				      "invalid IPAM plugin type",
				      "type \"%s\" must be a plain file name "
				      "found in CNI_PATH \"%s\"",
				      type ? type : "",
				      env->path ? env->path : "");
	if (!env->path || zh_ipam_find(type, env->path, path, sizeof(path)))
		return zh_cni_err_set(err, ZH_CNI_ERR_IPAM,
				      "IPAM plugin not found",
				      "no executable \"%s\" in CNI_PATH \"%s\"",
				      type, env->path ? env->path : "");

	if (child_env_build(&ce, env, cmd_name))
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL, "out of memory",
				      "building the IPAM environment");
	pr_debug("ipam: %s %s\n", cmd_name, path);
	ret = run_plugin(type, path, ce.envp, raw, len,
			 env->ipam_timeout_s ? env->ipam_timeout_s :
					       ZH_IPAM_TIMEOUT_S,
			 out, &status, err);
	child_env_free(&ce);
	if (ret)
		return -1;

	if (WIFSIGNALED(status)) {
		zh_cni_err_set(err, ZH_CNI_ERR_IPAM,
			       "IPAM plugin killed by a signal", "%s %s: %s",
			       type, cmd_name, strsignal(WTERMSIG(status)));
		goto err_ran;
	}
	if (WEXITSTATUS(status)) {
		/* Trailing newlines make for untidy details. */
		while (out->len && strchr(" \t\r\n", out->buf[out->len - 1]))
			out->buf[--out->len] = '\0';
		if (zh_ipam_error_decode(out->buf, out->len, err))
			zh_cni_err_set(err, ZH_CNI_ERR_IPAM,
				       "IPAM plugin failed",
				       "%s %s: exit status %d; output: %.256s",
				       type, cmd_name, WEXITSTATUS(status),
				       out->buf);
		pr_debug("ipam: %s %s failed: %s\n", type, cmd_name,
			 err ? err->msg : "");
		goto err_ran;
	}
	return 0;
err_ran:
	free(out->buf);
	out->buf = NULL;
	return 1;
}

int zh_ipam_exec(const struct zh_cni_env *env, enum zh_cni_cmd cmd,
		 const char *type, const char *raw, size_t len,
		 struct zh_result *res, struct zh_cni_err *err)
{
	struct capture out;
	int ret;

	if (res)
		memset(res, 0, sizeof(*res));
	if (ipam_call(env, cmd, type, raw, len, &out, err))
		return -1;
	ret = 0;
	if (cmd == ZH_CNI_ADD && res)
		ret = zh_ipam_result_decode(type, out.buf, out.len, res, err);
	free(out.buf);
	return ret;
}

bool zh_ipam_versions_has(const char *buf, size_t len, const char *version)
{
	json_t *j = json_loadb(buf, len, 0, NULL), *v;
	bool found = false;
	size_t i;

	json_array_foreach (json_object_get(j, "supportedVersions"), i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), version))
			found = true;
	}
	json_decref(j);
	return found;
}

/*
 * The last answer of zh_ipam_speaks(), so that a plugin is asked once: one
 * slot is enough, a run of ours delegates to one IPAM plugin.
 */
static struct {
	char path[PATH_MAX];
	char version[16];
	int answer;
} speaks_cache;

int zh_ipam_speaks(const struct zh_cni_env *env, const char *type,
		   const char *version, struct zh_cni_err *err)
{
	char path[PATH_MAX] = "", *in;
	struct capture out;
	json_t *q;
	int ret;

	if (!version || strlen(version) >= sizeof(speaks_cache.version))
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
				      "bad arguments to zh_ipam_speaks", NULL);
	/* Not found: ipam_call() below says so the way zh_ipam_exec() does. */
	if (type && !strchr(type, '/') && env && env->path &&
	    !zh_ipam_find(type, env->path, path, sizeof(path)) &&
	    !strcmp(path, speaks_cache.path) &&
	    !strcmp(version, speaks_cache.version))
		return speaks_cache.answer;

	q = json_pack("{s:s}", "cniVersion", version);
	in = q ? json_dumps(q, JSON_COMPACT) : NULL;
	json_decref(q);
	if (!in)
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL, "out of memory",
				      "asking IPAM plugin %s for its versions",
				      type ? type : "");
	ret = ipam_call(env, ZH_CNI_VERSION, type, in, strlen(in), &out, err);
	free(in);
	if (ret < 0)
		return -1;
	/* A plugin that cannot answer VERSION surely does not speak 1.1.0. */
	ret = !ret && zh_ipam_versions_has(out.buf, out.len, version);
	free(out.buf);
	snprintf(speaks_cache.path, sizeof(speaks_cache.path), "%s", path);
	snprintf(speaks_cache.version, sizeof(speaks_cache.version), "%s",
		 version);
	speaks_cache.answer = ret;
	return ret;
}

/* conf for a 1.0.0 plugin: malloc'd, NUL-terminated; NULL without memory. */
static char *conf_as_100(const struct zh_netconf *conf, size_t *len)
{
	json_t *root = json_deep_copy(conf->root), *prev;
	const char *pv;
	char *s = NULL;

	if (!root)
		return NULL;
	/* A 1.0.0 plugin that reads prevResult would refuse a 1.1.0 one. */
	prev = json_object_get(root, "prevResult");
	pv = json_string_value(json_object_get(prev, "cniVersion"));
	if (pv && !strcmp(pv, "1.1.0") &&
	    json_object_set_new(prev, "cniVersion", json_string("1.0.0")))
		goto out;
	if (json_object_set_new(root, "cniVersion", json_string("1.0.0")))
		goto out;
	s = json_dumps(root, JSON_COMPACT);
	if (s)
		*len = strlen(s);
out:
	json_decref(root);
	return s;
}

int zh_ipam_delegate(const struct zh_cni_env *env, enum zh_cni_cmd cmd,
		     const struct zh_netconf *conf, struct zh_result *res,
		     struct zh_cni_err *err)
{
	static bool logged;
	size_t len = 0;
	char *copy;
	int ret;

	if (res)
		memset(res, 0, sizeof(*res));
	if (!conf || !conf->cni_version || !conf->raw)
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
				      "bad arguments to zh_ipam_delegate",
				      NULL);
	if (strcmp(conf->cni_version, "1.1.0"))
		return zh_ipam_exec(env, cmd, conf->ipam_type, conf->raw,
				    conf->raw_len, res, err);
	ret = zh_ipam_speaks(env, conf->ipam_type, "1.1.0", err);
	if (ret < 0)
		return -1;
	if (ret)
		return zh_ipam_exec(env, cmd, conf->ipam_type, conf->raw,
				    conf->raw_len, res, err);

	copy = conf_as_100(conf, &len);
	if (!copy)
		return zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL, "out of memory",
				      "configuration for IPAM plugin %s",
				      conf->ipam_type);
	if (!logged) {
		pr_debug("ipam: %s does not speak CNI 1.1.0: it gets the "
			 "configuration as cniVersion 1.0.0\n",
			 conf->ipam_type);
		logged = true;
	}
	ret = zh_ipam_exec(env, cmd, conf->ipam_type, copy, len, res, err);
	free(copy);
	return ret;
}

/*
 * The attachment's IPAM lock is an abstract unix socket name: bound, it is
 * held; it goes when the last process holding the socket exits. No file
 * to leave behind, and a process killed with SIGKILL lets go too.
 */
static void lock_name(const struct zh_cni_env *env, struct sockaddr_un *sa,
		      socklen_t *len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	char buf[PATH_MAX * 2];
	int n;

	/* The pin root too: test runs with pin roots of their own, and the
	 * same IDs, do not wait for each other. */
	n = snprintf(buf, sizeof(buf), "%s\n%s\n%s",
		     env->pin_root ? env->pin_root : "",
		     env->container_id ? env->container_id : "",
		     env->ifname ? env->ifname : "");
	zh_sha256(buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0, d);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
		     "zerohop/ipam/");
	for (int i = 0; i < 16; i++) {
		sa->sun_path[1 + n + 2 * i] = hex[d[i] >> 4];
		sa->sun_path[1 + n + 2 * i + 1] = hex[d[i] & 15];
	}
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n + 32);
}

int zh_ipam_lock(const struct zh_cni_env *env, unsigned int wait_s)
{
	long long deadline = now_ms() + (long long)wait_s * 1000;
	struct sockaddr_un sa;
	socklen_t len;
	int fd, err;

	lock_name(env, &sa, &len);
	/* Not close-on-exec: the IPAM plugin holds it too (above). */
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	while (bind(fd, (struct sockaddr *)&sa, len)) {
		err = -errno;
		if (err != -EADDRINUSE || now_ms() >= deadline) {
			close(fd);
			return err == -EADDRINUSE ? -ETIMEDOUT : err;
		}
		usleep(20 * 1000);
	}
	return fd;
}

int zh_ipam_release(const struct zh_cni_env *env, const struct zh_netconf *conf,
		    struct zh_cni_err *err)
{
	int ipam_lock, ret;

	/* After an IPAM plugin a killed ADD left running: else it reserves
	 * an address after we gave the attachment's back. One that runs
	 * past the deadline is not waited for any longer: DEL goes on. */
	ipam_lock = zh_ipam_lock(env, env->ipam_timeout_s ?
					      env->ipam_timeout_s :
					      ZH_IPAM_TIMEOUT_S);
	if (ipam_lock < 0)
		pr_warn("IPAM DEL of container %s ifname %s without its lock: %s\n",
			env->container_id, env->ifname, strerror(-ipam_lock));
	ret = zh_ipam_delegate(env, ZH_CNI_DEL, conf, NULL, err);
	if (ipam_lock >= 0)
		close(ipam_lock);
	return ret;
}
