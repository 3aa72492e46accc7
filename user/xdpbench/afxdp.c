// SPDX-License-Identifier: Apache-2.0
/*
 * afxdp.c - the node's side of the zerohop-afxdp path (paths.c sets its
 * pods up):
 *
 *   the agent   the AF_XDP socket handoff as zerohopd --xsk-socket serves
 *               it (libzerohop's xsk_srv), on a socket in the run's
 *               temporary directory, over the path's own pins, in a thread
 *               of its own in our network namespace, polling its fd from
 *               setup to cleanup. xsk_srv enters pods' namespaces for a
 *               moment (zh_netns_run) and takes the pin lock of the
 *               root its objects came from (ZEROHOP_PIN_ROOT names the
 *               path's pins while they are opened, not after).
 *
 *   a slice     the server (`xdpbench server --afxdp`) started in pod b and
 *               waited for until the agent counts its registration; the
 *               client (`xdpbench client --afxdp`) run in pod a to the end;
 *               the server stopped, and its registration seen gone before
 *               the next slice. Both are processes of their own, started
 *               from this thread and moved into the pod before exec: the
 *               agent knows a pod by the netns of its peer's pid, i.e. of
 *               that process's main thread. The client's samples come back
 *               in a sample file, read into the same cell as every path's.
 */
#define _GNU_SOURCE /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/un.h>

#include <jansson.h>

#include "xdpbench.h"
#include "xsk_srv.h"
#include "zerohop.h"

/* A server registers within this, or the path is skipped. */
#define XB_XSK_READY_NS (5000 * 1000000ULL)
/* A stopped server's registration is gone within this. */
#define XB_XSK_SETTLE_NS (2000 * 1000000ULL)
#define XB_XSK_WAIT_US 1000

struct xb_xsk_agent {
	struct zh_objs objs;
	bool objs_open;
	struct zh_xsk_srv *srv;
	pthread_t thread;
	bool thread_started;
	int wake[2]; /* a byte in wake[1]: the thread returns */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char dir[256]; /* the run's temporary directory */
	char exe[PATH_MAX]; /* ourselves, for the pod processes */
	char server_desc[160], client_desc[160]; /* what the first slice said */
};

/* --- the agent ---------------------------------------------------------------- */

static void *xb_xsk_agent_thread(void *arg)
{
	struct xb_xsk_agent *a = arg;
	struct pollfd pf[2] = {
		{ .fd = zh_xsk_srv_fd(a->srv), .events = POLLIN },
		{ .fd = a->wake[0], .events = POLLIN },
	};

	for (;;) {
		enum zh_log_level level;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_warn("AF_XDP agent: poll: %s\n", strerror(errno));
			return NULL;
		}
		if (pf[1].revents)
			return NULL;
		if (!pf[0].revents)
			continue;
		/*
		 * Every registration and release is logged at info level,
		 * four lines a slice, into the middle of the progress line:
		 * only with -v. Refusals reach the refused process, which
		 * says why. Nothing else logs while a slice runs.
		 */
		level = zh_log_get_level();
		if (level < ZH_LOG_DEBUG)
			zh_log_set_level(ZH_LOG_WARN);
		zh_xsk_srv_process(a->srv);
		if (level < ZH_LOG_DEBUG)
			zh_log_set_level(level);
	}
}

static uint64_t xb_xsk_live(const struct xb_xsk_agent *a)
{
	struct zh_xsk_srv_stats st;

	zh_xsk_srv_stats(a->srv, &st);
	return st.live;
}

void xb_xsk_agent_stop(struct xb_xsk_agent *a)
{
	if (!a)
		return;
	if (a->thread_started) {
		char b = 0;

		if (write(a->wake[1], &b, 1) != 1)
			pr_warn("cleanup: waking the AF_XDP agent: %s\n",
				strerror(errno));
		pthread_join(a->thread, NULL);
		a->thread_started = false;
	}
	/* Every connection closed (their slots emptied, under our pins'
	 * lock), the socket file removed. */
	if (a->srv) {
		zh_xsk_srv_close(a->srv);
		a->srv = NULL;
	}
	if (a->objs_open) {
		zh_objs_close(&a->objs);
		a->objs_open = false;
	}
	if (a->wake[0] >= 0)
		close(a->wake[0]);
	if (a->wake[1] >= 0)
		close(a->wake[1]);
	free(a);
}

int xb_xsk_agent_start(struct xb_xsk_agent **out, const char *pin_root,
		       const char *sock, const char *dir, char *why,
		       size_t why_len)
{
	struct xb_xsk_agent *a;
	ssize_t n;
	int lock, ret;

	a = calloc(1, sizeof(*a));
	if (!a)
		return zh_errf(why, why_len, -EIO, "out of memory");
	/* Recorded first: cleanup undoes whatever of it was done. */
	*out = a;
	a->wake[0] = a->wake[1] = -1;
	if (strlen(sock) >= sizeof(a->sock) || strlen(dir) >= sizeof(a->dir))
		return zh_errf(why, why_len, -EIO,
			       "the handoff socket path %s is too long", sock);
	snprintf(a->sock, sizeof(a->sock), "%s", sock);
	snprintf(a->dir, sizeof(a->dir), "%s", dir);
	n = readlink("/proc/self/exe", a->exe, sizeof(a->exe) - 1);
	if (n <= 0)
		return zh_errf(why, why_len, -EIO, "/proc/self/exe: %s",
			       strerror(errno));
	a->exe[n] = '\0';

	/* The path's pins: the objects, and the root whose lock the agent
	 * takes when it writes. */
	lock = zh_pin_lock(pin_root);
	ret = lock < 0 ? lock : zh_objs_open(&a->objs, pin_root, 0, NULL);
	if (lock >= 0)
		zh_pin_unlock(lock);
	a->objs_open = !ret;
	if (!ret)
		ret = zh_xsk_srv_open(&a->srv, a->sock, &a->objs);
	if (!a->objs_open)
		return zh_errf(why, why_len, -EIO,
			       "the plugin's BPF objects: %s",
			       a->objs.err[0] ? a->objs.err : strerror(-ret));
	if (ret)
		return zh_errf(why, why_len, -EIO,
			       "the AF_XDP handoff socket %s: %s", a->sock,
			       strerror(-ret));
	if (pipe2(a->wake, O_CLOEXEC))
		return zh_errf(why, why_len, -EIO, "pipe: %s", strerror(errno));
	ret = xb_thread_start(&a->thread, xb_xsk_agent_thread, a);
	if (ret)
		return zh_errf(why, why_len, -EIO, "the agent's thread: %s",
			       strerror(-ret));
	a->thread_started = true;
	return 0;
}

/* --- a slice ------------------------------------------------------------------ */

#define XB_WARN_PREFIX "xdpbench: warn: "

/*
 * What a pod process said: the first warning in @path not containing
 * @unless (NULL: any), without its prefix. 0 with it in @buf, -ENOENT.
 */
static int xb_xsk_said(const char *path, const char *unless, char *buf,
		       size_t len)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int ret = -ENOENT;

	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, XB_WARN_PREFIX, strlen(XB_WARN_PREFIX)) ||
		    (unless && strstr(line, unless)))
			continue;
		snprintf(buf, len, "%s", line + strlen(XB_WARN_PREFIX));
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* Into @buf, unless it holds something already: the rest of the first line
 * of @path that contains @what. */
static void xb_xsk_find(const char *path, const char *what, char *buf,
			size_t len)
{
	char line[512];
	FILE *f;

	if (buf[0])
		return; /* said in an earlier slice */
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, what);

		if (p) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(buf, len, "%s", p + strlen(what));
			break;
		}
	}
	fclose(f);
}

/* Until the agent counts @want live registrations: 1 when it does, 2 when
 * @server (if > 0) exited first (reaped, its exit status in *@status), 0
 * when interrupted or out of time. */
static int xb_xsk_wait_live(struct xb_xsk_agent *a, uint64_t want, pid_t server,
			    uint64_t limit_ns, int *status)
{
	uint64_t end = xb_now_ns() + limit_ns;

	for (;;) {
		if (xb_xsk_live(a) == want)
			return 1;
		if (server > 0 && xb_cmd_exited(server, status) == 1)
			return 2;
		if (xb_stop || xb_now_ns() >= end)
			return 0;
		usleep(XB_XSK_WAIT_US);
	}
}

const char *xb_xsk_describe_path(const struct xb_xsk_agent *a, char *buf,
				 size_t len)
{
	snprintf(buf, len, "server %s; client %s",
		 a->server_desc[0] ? a->server_desc : "?",
		 a->client_desc[0] ? a->client_desc : "?");
	return buf;
}

int xb_afxdp_measure(struct xb_xsk_agent *a, const char *cli_ns,
		     const char *srv_ns, struct xb_client *c, int cpu_server,
		     char *why, size_t why_len)
{
	const struct sockaddr_in *dst = (const void *)&c->dst;
	char srv_err[PATH_MAX], cli_out[PATH_MAX], cli_err[PATH_MAX],
		samples[PATH_MAX], said[512];
	char port[8], cpu_s[16], cpu_c[16], size[24], warmup[24], count[24],
		timeout[24], sport[8], target[INET_ADDRSTRLEN];
	const char *srv_argv[16], *cli_argv[40];
	struct xb_cmd sc = {
		.argv = srv_argv,
		.netns = srv_ns,
		.err = srv_err,
		.killable = true,
	};
	struct xb_cmd cc = {
		.argv = cli_argv,
		.netns = cli_ns,
		.out = cli_out,
		.err = cli_err,
		.killable = true,
	};
	int n = 0, st = 0, ret, crc, src;
	pid_t server, client;
	json_t *res;

	if (xb_workload_is_tcp(c->wl))
		return zh_errf(why, why_len, -EIO, "%s",
			       xb_path_wl_skip(XB_P_ZH_AFXDP, c->wl));
	snprintf(srv_err, sizeof(srv_err), "%s/afxdp-server.err", a->dir);
	snprintf(cli_out, sizeof(cli_out), "%s/afxdp-client.json", a->dir);
	snprintf(cli_err, sizeof(cli_err), "%s/afxdp-client.err", a->dir);
	snprintf(samples, sizeof(samples), "%s/afxdp-client.samples", a->dir);
	unlink(samples);
	snprintf(port, sizeof(port), "%u", ntohs(dst->sin_port));
	inet_ntop(AF_INET, &dst->sin_addr, target, sizeof(target));

	srv_argv[n++] = a->exe;
	srv_argv[n++] = "server";
	srv_argv[n++] = "--afxdp";
	srv_argv[n++] = "--port";
	srv_argv[n++] = port;
	srv_argv[n++] = "--socket";
	srv_argv[n++] = a->sock;
	if (cpu_server >= 0) {
		snprintf(cpu_s, sizeof(cpu_s), "%d", cpu_server);
		srv_argv[n++] = "--cpu";
		srv_argv[n++] = cpu_s;
	}
	srv_argv[n] = NULL;

	n = 0;
	cli_argv[n++] = a->exe;
	cli_argv[n++] = "client";
	cli_argv[n++] = "--afxdp";
	cli_argv[n++] = "--target";
	cli_argv[n++] = target;
	cli_argv[n++] = "--port";
	cli_argv[n++] = port;
	cli_argv[n++] = "--socket";
	cli_argv[n++] = a->sock;
	snprintf(size, sizeof(size), "%zu", c->size);
	cli_argv[n++] = "--size";
	cli_argv[n++] = size;
	snprintf(warmup, sizeof(warmup), "%" PRIu64, c->warmup);
	cli_argv[n++] = "--warmup";
	cli_argv[n++] = warmup;
	if (c->duration > 0) {
		snprintf(count, sizeof(count), "%.9g", c->duration);
		cli_argv[n++] = "--duration";
	} else {
		snprintf(count, sizeof(count), "%" PRIu64, c->count);
		cli_argv[n++] = "--count";
	}
	cli_argv[n++] = count;
	/* Whole milliseconds, at least one. */
	snprintf(timeout, sizeof(timeout), "%" PRIu64,
		 (c->udp_timeout_ns + 999999) / 1000000);
	cli_argv[n++] = "--timeout-ms";
	cli_argv[n++] = timeout;
	cli_argv[n++] = "--samples";
	cli_argv[n++] = samples;
	cli_argv[n++] = "--label";
	cli_argv[n++] = "zerohop-afxdp";
	cli_argv[n++] = "-o";
	cli_argv[n++] = "json";
	if (c->cpu >= 0) {
		snprintf(cpu_c, sizeof(cpu_c), "%d", c->cpu);
		cli_argv[n++] = "--cpu";
		cli_argv[n++] = cpu_c;
	}
	if (c->wl == XB_WL_UDP_NEWFLOW) {
		if (c->port_next < c->port_first || c->port_next > c->port_last)
			c->port_next = c->port_first;
		snprintf(sport, sizeof(sport), "%u", c->port_next);
		cli_argv[n++] = "--new-flow";
		cli_argv[n++] = "--sport";
		cli_argv[n++] = sport;
	}
	cli_argv[n] = NULL;

	/* The last slice's sockets are gone: a new server is the only one. */
	if (xb_xsk_live(a) &&
	    xb_xsk_wait_live(a, 0, 0, XB_XSK_SETTLE_NS, &st) != 1)
		return xb_stop ? 0 :
				 zh_errf(why, why_len, -EIO,
					 "the agent still holds %" PRIu64
					 " AF_XDP sockets of the last slice",
					 xb_xsk_live(a));

	server = xb_cmd_start(&sc);
	if (server < 0)
		return zh_errf(why, why_len, -EIO, "cannot run %s server: %s",
			       a->exe, strerror((int)-server));
	ret = xb_xsk_wait_live(a, 1, server, XB_XSK_READY_NS, &st);
	if (ret != 1) {
		if (ret == 0)
			xb_cmd_stop(server);
		if (xb_stop)
			return 0;
		if (ret == 2 && !xb_xsk_said(srv_err, NULL, said, sizeof(said)))
			return zh_errf(why, why_len, -EIO, "the server: %s",
				       said);
		if (ret == 2)
			return zh_errf(
				why, why_len, -EIO,
				"the AF_XDP server exited (status %d) before it registered",
				st);
		return zh_errf(
			why, why_len, -EIO,
			"the AF_XDP server did not register with the agent in %" PRIu64
			" s",
			(uint64_t)(XB_XSK_READY_NS / 1000000000ULL));
	}
	client = xb_cmd_start(&cc);
	crc = client < 0 ? (int)client : xb_cmd_wait(client, true);
	src = xb_cmd_stop(server);
	/* Both registrations gone before anything else happens (see
	 * xb_xsk_agent_start() on the environment). */
	if (xb_xsk_wait_live(a, 0, 0, XB_XSK_SETTLE_NS, &st) != 1 && !xb_stop)
		pr_warn("zerohop-afxdp: the agent still holds %" PRIu64
			" AF_XDP sockets after the slice\n",
			xb_xsk_live(a));
	if (xb_stop)
		return 0;
	if (crc < 0)
		return zh_errf(why, why_len, -EIO, "cannot run %s client: %s",
			       a->exe, strerror(-crc));
	xb_xsk_find(srv_err, "AF_XDP server: ", a->server_desc,
		    sizeof(a->server_desc));
	xb_xsk_find(cli_err, "AF_XDP client: ", a->client_desc,
		    sizeof(a->client_desc));
	/* Exit 1 with nothing but losses is a result: every request lost. */
	if (crc && !xb_xsk_said(cli_err, "no reply from", said, sizeof(said)))
		return zh_errf(why, why_len, -EIO, "the client: %s", said);
	ret = access(samples, F_OK) ? -ENOENT :
				      xb_samples_read(c->samples, samples);
	if (ret)
		return zh_errf(
			why, why_len, -EIO,
			"the client (exit status %d) left no samples: %s", crc,
			strerror(-ret));
	if (src && !xb_xsk_said(srv_err, NULL, said, sizeof(said)))
		return zh_errf(why, why_len, -EIO, "the server: %s", said);
	if (c->wl == XB_WL_UDP_NEWFLOW) {
		res = json_load_file(cli_out, 0, NULL);
		if (json_is_integer(json_object_get(res, "sport_next")))
			c->port_next = (uint16_t)json_integer_value(
				json_object_get(res, "sport_next"));
		json_decref(res);
	}
	return 0;
}
