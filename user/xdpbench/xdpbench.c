// SPDX-License-Identifier: Apache-2.0
/*
 * xdpbench - request/response latency.
 *
 *   xdpbench [run]   the benchmark: paths from a bare veth pair to
 *                    kube-proxy's rules and zerohop, set up, measured
 *                    interleaved and torn down (run.c)
 *   xdpbench server  echo every UDP datagram back (IPv4 and IPv6), from a
 *                    UDP socket or (--afxdp) an AF_XDP socket in a pod
 *   xdpbench client  one outstanding UDP request at a time, RTT per request,
 *                    over a UDP socket or (--afxdp) an AF_XDP socket
 *   xdpbench stats   summarise sample files written by client --samples
 *
 * Latency is CLOCK_MONOTONIC around send() and the matching recv(); every
 * sample is kept and percentiles are nearest rank, so the tail is exact
 * rather than bucketed. Exit codes: 0 ok, 1 failure (or no reply at all),
 * 2 bad arguments.
 */
#define _GNU_SOURCE /* sched_setaffinity() */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

#include "log.h"
#include "pin.h"
#include "params.h"
#include "xdpbench.h"
#include "zh_xsk.h"

#define XB_DEFAULT_COUNT 10000
#define XB_DEFAULT_TIMEOUT_MS 1000
#define XB_JSON_FLAGS \
	(JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_REAL_PRECISION(12))

/* -o, --output: "text" is the table too, as it always was */
static const char *const xb_outputs[] = { "table", "json", "text" };
static const int xb_output_json[] = { false, true, false };

static void xb_usage_hint(const char *cmd)
{
	fprintf(stderr, "Try 'xdpbench %s --help'.\n", cmd);
}

/*
 * The command line of subcommand @cmd against @opts (which has --help and
 * may have --verbose), taking operands or not (@operands). Returns the
 * index of the first operand (>= 1: argv[0] is the command); 0 once
 * --help printed @usage; -EINVAL once it said what was wrong: a refused
 * value names the option and its range, getopt's complaints and an
 * unexpected operand come with the hint. --verbose takes effect here.
 */
static int xb_cmd_parse(const char *cmd, void (*usage)(FILE *f),
			struct zh_param *opts, bool operands, int argc,
			char **argv)
{
	char err[ZH_PARAMS_ERR_MAX];
	int next = zh_params_parse(opts, argc, argv, err, sizeof(err));

	if (zh_params_given(opts, "help")) {
		usage(stdout);
		return 0;
	}
	if (next == -EINVAL) {
		pr_warn("%s\n", err);
		return -EINVAL;
	}
	if (next < 0) {
		pr_warn("%s: %s\n", cmd, err);
		goto hint;
	}
	if (zh_params_given(opts, "verbose"))
		zh_log_set_level(ZH_LOG_DEBUG);
	if (!operands && next < argc) {
		pr_warn("%s: unexpected argument '%s'\n", cmd, argv[next]);
		goto hint;
	}
	return next;
hint:
	xb_usage_hint(cmd);
	return -EINVAL;
}

/* --- summaries ----------------------------------------------------------- */

/* Rounded to nanoseconds; null when there is no sample at all. */
static json_t *xb_json_us(const struct xb_summary *sm, double us)
{
	return sm->count ? json_real(round(us * 1000.0) / 1000.0) : json_null();
}

/* @sport_next >= 0: where a --new-flow cycle goes on (for `run`). */
static int xb_print_json(const struct xb_summary *sm, const char *label,
			 int sport_next)
{
	const struct {
		const char *key;
		double us;
	} f[] = {
		{ "min_us", sm->min },	 { "p50_us", sm->p50 },
		{ "p90_us", sm->p90 },	 { "p99_us", sm->p99 },
		{ "p999_us", sm->p999 }, { "max_us", sm->max },
		{ "mean_us", sm->mean },
	};
	json_t *o;
	size_t i;
	int ret;

	o = json_pack("{s:s, s:I, s:I}", "label", label ? label : "", "count",
		      (json_int_t)sm->count, "lost", (json_int_t)sm->lost);
	if (!o)
		return -ENOMEM;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (json_object_set_new(o, f[i].key, xb_json_us(sm, f[i].us))) {
			json_decref(o);
			return -ENOMEM;
		}
	}
	if (sport_next >= 0 &&
	    json_object_set_new(o, "sport_next", json_integer(sport_next))) {
		json_decref(o);
		return -ENOMEM;
	}
	ret = json_dumpf(o, stdout, XB_JSON_FLAGS);
	json_decref(o);
	if (ret)
		return -EIO;
	putchar('\n');
	return fflush(stdout) ? -errno : 0;
}

static int xb_print_summary(const struct xb_summary *sm, const char *label,
			    bool json, int sport_next)
{
	if (json)
		return xb_print_json(sm, label, sport_next);

	printf("%-16s %10s %8s %10s %10s %10s %10s %10s %10s %10s\n", "label",
	       "count", "lost", "min_us", "p50_us", "p90_us", "p99_us",
	       "p99.9_us", "max_us", "mean_us");
	printf("%-16s %10" PRIu64 " %8" PRIu64, label && *label ? label : "-",
	       sm->count, sm->lost);
	if (sm->count)
		printf(" %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f\n",
		       sm->min, sm->p50, sm->p90, sm->p99, sm->p999, sm->max,
		       sm->mean);
	else
		printf(" %10s %10s %10s %10s %10s %10s %10s\n", "-", "-", "-",
		       "-", "-", "-", "-");
	return fflush(stdout) ? -errno : 0;
}

/* This process (its one thread) on CPU @cpu; -1: wherever. */
static int xb_pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		pr_warn("CPU %d: %s\n", cpu, strerror(errno));
		return -errno;
	}
	return 0;
}

/* --- server -------------------------------------------------------------- */

static void xb_server_usage(FILE *f)
{
	fprintf(f,
		"Usage: xdpbench server [--port PORT] [--bind ADDR] [--busy-poll]\n"
		"       xdpbench server --afxdp [--port PORT] [--iface NAME] [--socket PATH]\n"
		"\n"
		"Echo every UDP datagram back to its sender, from one socket.\n"
		"Without --bind, listens on [::] for IPv4 and IPv6 (or on 0.0.0.0\n"
		"when IPv6 is unavailable). Runs until SIGINT or SIGTERM.\n"
		"\n"
		"With --afxdp, from an AF_XDP socket on the interface of a zerohop pod\n"
		"whose network config steers the port (\"afxdp\"), handed to the node's\n"
		"agent (zerohopd --xsk-socket): every datagram goes back from the frame\n"
		"it arrived in. Always spins (there is nothing to busy-poll on a veth).\n"
		"\n"
		"  -p, --port PORT     UDP port (default %d)\n"
		"  -b, --bind ADDR     local address to bind (IPv4 or IPv6)\n"
		"  -B, --busy-poll     spin on recvfrom(MSG_DONTWAIT) instead of blocking\n"
		"  -X, --afxdp         AF_XDP instead of a UDP socket\n"
		"      --iface NAME    the pod's interface (--afxdp; default eth0)\n"
		"      --socket PATH   the agent's socket (--afxdp; default $%s,\n"
		"                      else %s)\n"
		"      --cpu N         run on CPU N\n"
		"  -v, --verbose       log more\n"
		"  -h, --help          this text\n",
		XB_DEFAULT_PORT, ZH_XSK_AGENT_ENV, ZH_XSK_AGENT_PATH);
}

static int xb_server_socket(const char *bind_addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[INET6_ADDRSTRLEN + 8];
	int fd, off = 0, ret;

	if (bind_addr) {
		ret = xb_resolve(bind_addr, port, true, &ss, &len);
		if (ret)
			return ret;
	} else {
		struct sockaddr_in6 *s6 = (void *)&ss;

		memset(&ss, 0, sizeof(ss));
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	}

	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0 && !bind_addr && errno == EAFNOSUPPORT) {
		struct sockaddr_in *s4 = (void *)&ss;

		memset(&ss, 0, sizeof(ss));
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = htons(port);
		len = sizeof(*s4);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	}
	if (fd < 0) {
		ret = -errno;
		pr_warn("socket: %s\n", strerror(errno));
		return ret;
	}
	/* Dual stack regardless of net.ipv6.bindv6only. */
	if (ss.ss_family == AF_INET6 && !bind_addr &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)))
		pr_debug("IPV6_V6ONLY off: %s\n", strerror(errno));
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		ret = -errno;
		pr_warn("bind %s: %s\n", xb_sockaddr_str(&ss, buf, sizeof(buf)),
			strerror(errno));
		close(fd);
		return ret;
	}
	pr_info("echoing on udp %s%s\n", xb_sockaddr_str(&ss, buf, sizeof(buf)),
		ss.ss_family == AF_INET6 && !bind_addr ? " (IPv4 and IPv6)" :
							 "");
	return fd;
}

static int cmd_server(int argc, char **argv)
{
	struct xb_xsk_opts xo = { 0 };
	const char *bind_addr = NULL;
	bool busy_poll = false, afxdp = false, verbose = false, help = false;
	uint64_t port = XB_DEFAULT_PORT, echoed = 0;
	int fd, ret, cpu = -1, next;
	struct zh_param opts[] = {
		ZH_OPT_UINT("port", 'p', &port, 1, 65535),
		ZH_OPT_STR("bind", 'b', &bind_addr),
		ZH_OPT_FLAG("busy-poll", 'B', &busy_poll),
		ZH_OPT_FLAG("afxdp", 'X', &afxdp),
		ZH_OPT_STR("iface", 0, &xo.ifname),
		ZH_OPT_STR("socket", 0, &xo.agent_path),
		ZH_OPT_UINT("cpu", 0, &cpu, 0, CPU_SETSIZE - 1),
		ZH_OPT_FLAG("verbose", 'v', &verbose),
		ZH_OPT_HELP(&help),
		{},
	};

	next = xb_cmd_parse("server", xb_server_usage, opts, false, argc, argv);
	if (next <= 0)
		return next ? XB_EXIT_USAGE : XB_EXIT_OK;
	if (afxdp && bind_addr) {
		pr_warn("server: --bind and --afxdp exclude each other (the pod's address is the agent's)\n");
		xb_usage_hint("server");
		return XB_EXIT_USAGE;
	}
	if (!afxdp && (xo.ifname || xo.agent_path)) {
		pr_warn("server: --iface and --socket need --afxdp\n");
		xb_usage_hint("server");
		return XB_EXIT_USAGE;
	}

	if (xb_signals_install() || xb_pin_self(cpu))
		return XB_EXIT_FAIL;
	if (afxdp) {
		char err[320];

		ret = xb_xsk_echo(&xo, (uint16_t)port, &echoed, err,
				  sizeof(err));
		if (ret)
			pr_warn("%s\n", err);
		else
			pr_info("stopping: %" PRIu64 " datagrams echoed\n",
				echoed);
		return ret ? XB_EXIT_FAIL : XB_EXIT_OK;
	}
	fd = xb_server_socket(bind_addr, (uint16_t)port);
	if (fd == -EINVAL)
		return XB_EXIT_USAGE;
	if (fd < 0)
		return XB_EXIT_FAIL;
	ret = xb_udp_echo(fd, busy_poll, NULL, &echoed, NULL);
	pr_info("stopping: %" PRIu64 " datagrams echoed\n", echoed);
	close(fd);
	return ret ? XB_EXIT_FAIL : XB_EXIT_OK;
}

/* --- client -------------------------------------------------------------- */

struct xb_client_opts {
	const char *target, *label, *samples_path;
	uint16_t port;
	uint64_t count, warmup, timeout_ms;
	size_t size;
	double duration; /* seconds; 0: use count */
	bool busy_poll, json, afxdp, new_flow;
	int cpu;
	long sport; /* -1: not given */
	struct xb_xsk_opts xo;
};

/* --new-flow's source ports, as `run` cycles them in a netns of its own */
#define XB_NEWFLOW_FIRST 1024
#define XB_NEWFLOW_LAST 65535

static void xb_client_usage(FILE *f)
{
	fprintf(f,
		"Usage: xdpbench client --target ADDR [--port PORT]\n"
		"                       [--count N | --duration SECS] [--size BYTES]\n"
		"                       [--warmup N] [--timeout-ms MS] [--busy-poll]\n"
		"                       [--label NAME] [--samples FILE] [-o table|json]\n"
		"                       [--new-flow [--sport PORT]] [--cpu N]\n"
		"                       [--afxdp [--iface NAME] [--socket PATH]]\n"
		"\n"
		"UDP request/response with one request outstanding, over a connected\n"
		"socket. Each request starts with a latency probe (struct zh_probe:\n"
		"magic, sequence, send time); a reply with another sequence is\n"
		"discarded, and a request without a reply within the timeout counts as\n"
		"lost (the next request gets a new sequence).\n"
		"Prints count, lost, min, p50, p90, p99, p99.9, max and mean RTT in\n"
		"microseconds (nearest-rank percentiles over all samples). SIGINT or\n"
		"SIGTERM stop early and print what was measured.\n"
		"\n"
		"With --afxdp, over an AF_XDP socket on the interface of a zerohop pod\n"
		"whose network config steers the port (\"afxdp\"), handed to the node's\n"
		"agent: each request is a frame built from the addresses the agent\n"
		"returns (the gateway's MAC), sent to the IPv4 --target; the replies\n"
		"come back to the source port, which must be steered too: by default\n"
		"it is --port. Always spins (there is nothing to busy-poll on a veth).\n"
		"\n"
		"  -t, --target ADDR     server address (IPv4, IPv6 or name)\n"
		"  -p, --port PORT       server UDP port (default %d)\n"
		"  -n, --count N         send N measured requests (default %d)\n"
		"  -d, --duration SECS   send measured requests for SECS seconds\n"
		"  -s, --size BYTES      UDP payload size, %d..%d (default %d)\n"
		"  -w, --warmup N        unmeasured requests first (default %d)\n"
		"  -T, --timeout-ms MS   reply timeout per request (default %d)\n"
		"  -B, --busy-poll       spin on recv(MSG_DONTWAIT) instead of blocking\n"
		"  -l, --label NAME      name for this run in the output\n"
		"  -S, --samples FILE    also write every RTT (ns) to FILE, for 'stats'\n"
		"  -o, --output FORMAT   table (default) or json\n"
		"      --new-flow        each request from the next source port of\n"
		"                        %d..%d: a new flow (json: sport_next says\n"
		"                        where the cycle goes on)\n"
		"      --sport PORT      the source port (--afxdp), or where --new-flow's\n"
		"                        cycle starts\n"
		"  -X, --afxdp           AF_XDP instead of a UDP socket\n"
		"      --iface NAME      the pod's interface (--afxdp; default eth0)\n"
		"      --socket PATH     the agent's socket (--afxdp; default $%s,\n"
		"                        else %s)\n"
		"      --cpu N           run on CPU N\n"
		"  -v, --verbose         log more\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit status: 0 when at least one reply arrived, 1 otherwise, 2 for\n"
		"bad arguments.\n",
		XB_DEFAULT_PORT, XB_DEFAULT_COUNT, XB_MIN_SIZE, XB_MAX_SIZE,
		XB_DEFAULT_SIZE, XB_DEFAULT_WARMUP, XB_DEFAULT_TIMEOUT_MS,
		XB_NEWFLOW_FIRST, XB_NEWFLOW_LAST, ZH_XSK_AGENT_ENV,
		ZH_XSK_AGENT_PATH);
}

static int cmd_client(int argc, char **argv)
{
	struct xb_client_opts o = {
		.port = XB_DEFAULT_PORT,
		.count = XB_DEFAULT_COUNT,
		.warmup = XB_DEFAULT_WARMUP,
		.timeout_ms = XB_DEFAULT_TIMEOUT_MS,
		.size = XB_DEFAULT_SIZE,
		.cpu = -1,
		.sport = -1,
	};
	bool verbose = false, help = false, have_count;
	struct zh_param opts[] = {
		ZH_OPT_STR("target", 't', &o.target),
		ZH_OPT_UINT("port", 'p', &o.port, 1, 65535),
		ZH_OPT_UINT("count", 'n', &o.count, 1, UINT32_MAX),
		ZH_OPT_SECS("duration", 'd', &o.duration, 86400),
		ZH_OPT_UINT("size", 's', &o.size, XB_MIN_SIZE, XB_MAX_SIZE),
		ZH_OPT_UINT("warmup", 'w', &o.warmup, 0, UINT32_MAX),
		ZH_OPT_UINT("timeout-ms", 'T', &o.timeout_ms, 1, 3600000),
		ZH_OPT_FLAG("busy-poll", 'B', &o.busy_poll),
		ZH_OPT_STR("label", 'l', &o.label),
		ZH_OPT_STR("samples", 'S', &o.samples_path),
		ZH_OPT_ENUM("output", 'o', &o.json, xb_outputs, xb_output_json,
			    3),
		ZH_OPT_FLAG("new-flow", 0, &o.new_flow),
		ZH_OPT_UINT("sport", 0, &o.sport, 1, 65535),
		ZH_OPT_FLAG("afxdp", 'X', &o.afxdp),
		ZH_OPT_STR("iface", 0, &o.xo.ifname),
		ZH_OPT_STR("socket", 0, &o.xo.agent_path),
		ZH_OPT_UINT("cpu", 0, &o.cpu, 0, CPU_SETSIZE - 1),
		ZH_OPT_FLAG("verbose", 'v', &verbose),
		ZH_OPT_HELP(&help),
		{},
	};
	struct xb_samples s = {};
	struct xb_client cl = {};
	struct xb_summary sm;
	int next, ret, rc;

	next = xb_cmd_parse("client", xb_client_usage, opts, false, argc, argv);
	if (next <= 0)
		return next ? XB_EXIT_USAGE : XB_EXIT_OK;
	have_count = zh_params_given(opts, "count");
	if (!o.target) {
		pr_warn("client: --target is required\n");
		goto usage;
	}
	if (have_count && o.duration > 0) {
		pr_warn("client: --count and --duration exclude each other\n");
		goto usage;
	}
	if (o.sport >= 0 && !o.new_flow && !o.afxdp) {
		pr_warn("client: --sport needs --new-flow or --afxdp\n");
		goto usage;
	}
	if (!o.afxdp && (o.xo.ifname || o.xo.agent_path)) {
		pr_warn("client: --iface and --socket need --afxdp\n");
		goto usage;
	}
	if (!o.label)
		o.label = o.target;
	if (xb_resolve(o.target, o.port, false, &cl.dst, &cl.dst_len))
		return XB_EXIT_USAGE;

	if (xb_signals_install() || xb_pin_self(o.cpu))
		return XB_EXIT_FAIL;
	cl.wl = o.new_flow ? XB_WL_UDP_NEWFLOW : XB_WL_UDP_RR;
	cl.size = o.size;
	cl.busy_poll = o.busy_poll;
	cl.cpu = -1;
	cl.warmup = o.warmup;
	cl.count = o.count;
	cl.duration = o.duration;
	cl.udp_timeout_ns = o.timeout_ms * 1000000ULL;
	cl.samples = &s;
	if (o.new_flow) {
		cl.port_first = XB_NEWFLOW_FIRST;
		cl.port_last = XB_NEWFLOW_LAST;
		cl.port_next = o.sport >= XB_NEWFLOW_FIRST ? (uint16_t)o.sport :
							     XB_NEWFLOW_FIRST;
	} else if (o.sport > 0) {
		o.xo.sport = (uint16_t)o.sport;
	}
	ret = o.afxdp ? xb_xsk_client_run(&cl, &o.xo) : xb_client_run(&cl);
	if (ret)
		pr_warn("%s\n", cl.err);
	if (o.samples_path && xb_samples_write(&s, o.label, o.samples_path))
		ret = ret ? ret : -EIO;
	xb_summarise(&s, &sm);
	if (xb_print_summary(&sm, o.label, o.json,
			     o.new_flow ? (int)cl.port_next : -1))
		ret = ret ? ret : -EIO;
	if (!ret && !sm.count)
		pr_warn("no reply from %s port %u (%" PRIu64 " lost)\n",
			o.target, o.port, sm.lost);
	rc = ret || !sm.count ? XB_EXIT_FAIL : XB_EXIT_OK;
	xb_samples_free(&s);
	return rc;
usage:
	xb_usage_hint("client");
	return XB_EXIT_USAGE;
}

/* --- stats --------------------------------------------------------------- */

static void xb_stats_usage(FILE *f)
{
	fprintf(f,
		"Usage: xdpbench stats [--label NAME] [-o table|json] FILE...\n"
		"\n"
		"Merge sample files written by 'xdpbench client --samples' ('-' for\n"
		"stdin) and print the same summary as the client: percentiles over\n"
		"all samples together, losses summed.\n"
		"\n"
		"  -l, --label NAME      name for the output\n"
		"  -o, --output FORMAT   table (default) or json\n"
		"  -h, --help            this text\n");
}

static int cmd_stats(int argc, char **argv)
{
	struct xb_samples s = {};
	struct xb_summary sm;
	const char *label = "";
	bool json = false, help = false;
	struct zh_param opts[] = {
		ZH_OPT_STR("label", 'l', &label),
		ZH_OPT_ENUM("output", 'o', &json, xb_outputs, xb_output_json,
			    3),
		ZH_OPT_HELP(&help),
		{},
	};
	int next, i, rc = XB_EXIT_OK;

	next = xb_cmd_parse("stats", xb_stats_usage, opts, true, argc, argv);
	if (next <= 0)
		return next ? XB_EXIT_USAGE : XB_EXIT_OK;
	if (next >= argc) {
		pr_warn("stats: no sample file given\n");
		xb_usage_hint("stats");
		return XB_EXIT_USAGE;
	}
	for (i = next; i < argc; i++) {
		if (xb_samples_read(&s, argv[i])) {
			rc = XB_EXIT_FAIL;
			goto out;
		}
	}
	xb_summarise(&s, &sm);
	if (xb_print_summary(&sm, label, json, -1) || !sm.count)
		rc = XB_EXIT_FAIL;
out:
	xb_samples_free(&s);
	return rc;
}

/* --- main ---------------------------------------------------------------- */

static const struct xb_cmd_entry {
	const char *name, *help;
	int (*fn)(int argc, char **argv);
} xb_cmds[] = {
	{ "run", "the benchmark over every path (the default)", cmd_run },
	{ "server", "UDP echo server", cmd_server },
	{ "client", "UDP request/response latency client", cmd_client },
	{ "stats", "summarise sample files from client --samples", cmd_stats },
};

static void xb_usage(FILE *f)
{
	size_t i;

	xb_run_usage(f);
	fprintf(f, "\nOther commands: xdpbench COMMAND [OPTIONS]\n");
	for (i = 1; i < sizeof(xb_cmds) / sizeof(xb_cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", xb_cmds[i].name, xb_cmds[i].help);
	fprintf(f, "'xdpbench COMMAND --help' describes each command.\n");
}

/* The command line, shell-quoted where it needs to be. */
static char *xb_command_line(int argc, char **argv)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_-./=:,@%+";
	size_t len = 1, off = 0;
	char *buf;
	int i;

	for (i = 0; i < argc; i++)
		len += 4 * strlen(argv[i]) + 3;
	buf = malloc(len);
	if (!buf)
		return NULL;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (i)
			buf[off++] = ' ';
		if (*a && strspn(a, safe) == strlen(a)) {
			memcpy(buf + off, a, strlen(a));
			off += strlen(a);
			continue;
		}
		buf[off++] = '\'';
		for (; *a; a++) {
			if (*a == '\'') {
				memcpy(buf + off, "'\\''", 4);
				off += 4;
			} else {
				buf[off++] = *a;
			}
		}
		buf[off++] = '\'';
	}
	buf[off] = '\0';
	return buf;
}

int main(int argc, char **argv)
{
	char *cmdline;
	size_t i;
	int rc;

	zh_log_set_prefix("xdpbench");
	/* It loads the objects of its own paths, as the agent does. */
	zh_bpffs_allow_mount();
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
			 !strcmp(argv[1], "help"))) {
		xb_usage(stdout);
		return XB_EXIT_OK;
	}
	cmdline = xb_command_line(argc, argv);
	if (cmdline)
		xb_command = cmdline;
	/* run is the default: no argument, or an option first. */
	if (argc < 2 || argv[1][0] == '-') {
		rc = cmd_run(argc, argv);
		goto out;
	}
	for (i = 0; i < sizeof(xb_cmds) / sizeof(xb_cmds[0]); i++) {
		if (!strcmp(argv[1], xb_cmds[i].name)) {
			rc = xb_cmds[i].fn(argc - 1, argv + 1);
			goto out;
		}
	}
	pr_warn("unknown command '%s'\n", argv[1]);
	fprintf(stderr, "Try 'xdpbench --help'.\n");
	rc = XB_EXIT_USAGE;
out:
	free(cmdline);
	return rc;
}
