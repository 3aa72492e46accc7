// SPDX-License-Identifier: Apache-2.0
/*
 * zerohopd - the node agent. Loads the BPF objects once and pins them; on
 * restart it reuses the pins, so pods keep forwarding while it is down. It
 * exits on SIGTERM/SIGINT and leaves the pins in place.
 *
 * While running it reconciles the endpoint maps: an entry whose host veth
 * no longer exists (a pod torn down without DEL) is removed. With --listen
 * it serves Prometheus metrics and health checks (metrics.c). With
 * --services it programs the Service maps from a file, at start and on
 * every SIGHUP (svc_maps.h). On --xsk-socket it takes the AF_XDP sockets
 * pods hand it (xsk_srv.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sys/signalfd.h>
#include <poll.h>

#include "zerohop.h"
#include "metrics.h"
#include "svc_maps.h"
#include "xsk_srv.h"

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zerohopd [OPTIONS]\n"
		"Load and pin the zerohop BPF objects, then keep the endpoint maps tidy.\n"
		"Runs in the foreground and logs to stderr.\n"
		"\n"
		"  -p, --pin-root DIR      pin root (default %s; env ZEROHOP_PIN_ROOT)\n"
		"  -i, --reconcile SECS    seconds between stale-endpoint sweeps (default 10, 0 = off)\n"
		"  -l, --listen ADDR:PORT  serve HTTP on that address only (default: off):\n"
		"                          /metrics (Prometheus), /healthz, /readyz;\n"
		"                          e.g. 127.0.0.1:9464 or [::1]:9464\n"
		"      --service-cidr CIDR[,CIDR]  the Service ranges (IPv4 and/or IPv6): an\n"
		"                          address in them that is no Service is dropped\n"
		"      --nodeport-dev DEV[,DEV]  the node's uplinks: NodePorts are answered on\n"
		"                          them (zh_tc_uplink on their tc ingress, and\n"
		"                          zh_xdp_uplink in front where XDP runs natively)\n"
		"      --probes on|off     time xdpbench's probe datagrams per hop (default on)\n"
		"      --sample N|off      time 1 in N packets from pods per hop (default off)\n"
		"                          (`zerohopctl latency` shows them and changes both live)\n"
		"  -s, --services FILE     make the Services those of FILE, at start and on SIGHUP:\n"
		"                          ours or kubectl's JSON (README), all or nothing; a bad\n"
		"                          file is an error at start, and keeps what is there on\n"
		"                          SIGHUP\n"
		"      --maglev-slots N    size of the Maglev slot array when the agent creates it\n"
		"                          (default %u; a pinned one keeps its size)\n"
		"      --maglev-per-backend N  Maglev table size: the smallest prime >= N\n"
		"                          slots per ready backend (default %u)\n"
		"      --map-size NAME=N[,NAME=N]  sizes of the maps when the agent creates\n"
		"                          them: services, backends, conntrack, affinity,\n"
		"                          maglev (defaults in zh_abi.h)\n"
		"      --xsk-socket PATH|none  where pods hand over their AF_XDP sockets\n"
		"                          (default $%s or %s; mount it into AF_XDP pods)\n"
		"  -v, --verbose           more logging (repeat for libbpf debug)\n"
		"  -h, --help              this help\n"
		"\n"
		"At start it probes the kernel's features (once per pin directory; kept\n"
		"there for the CNI plugin) and logs what it lacks in one line; an option\n"
		"this kernel cannot serve is refused, naming the missing feature.\n"
		"ZEROHOP_DISABLE_FEATURES=name,name makes that probe report those absent.\n"
		"\n"
		"SIGTERM or SIGINT: exit, leaving the pins (the dataplane keeps forwarding).\n"
		"SIGHUP: sweep stale endpoints now, and apply the --services file again.\n",
		ZH_PIN_ROOT, ZH_MAGLEV_SLOTS, ZH_MAGLEV_PER_BACKEND,
		ZH_XSK_SOCKET_ENV, ZH_XSK_SOCKET_DEFAULT);
}

struct stale {
	__u32 ifindex[256];
	int n;
};

static int stale_cb(__u32 ifindex, const struct zh_iface *iface, void *arg)
{
	struct stale *s = arg;
	char name[IF_NAMESIZE];

	if (if_indextoname(ifindex, name) &&
	    !strncmp(name, iface->host_ifname, sizeof(iface->host_ifname)))
		return 0;
	s->ifindex[s->n++] = ifindex;
	return s->n == (int)(sizeof(s->ifindex) / sizeof(s->ifindex[0]));
}

static void reconcile(const struct zh_objs *objs)
{
	struct stale s = { .n = 0 };
	int lock;

	lock = zh_pin_lock(objs->root);
	if (lock < 0)
		return;
	zh_iface_foreach(objs, stale_cb, &s);
	for (int i = 0; i < s.n; i++) {
		pr_info("removing stale endpoint on ifindex %u\n",
			s.ifindex[i]);
		zh_ep_remove(objs, s.ifindex[i]);
	}
	zh_pin_unlock(lock);
}

/* "10.96.0.0/12,fd00:96::/108": at most one of each family. */
static int parse_cidrs(const char *arg, struct zh_config *cfg)
{
	char buf[256], *tok, *save = NULL;
	struct zh_addr a;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		return -1;
	cfg->svc_cidr4_len = cfg->svc_cidr6_len = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (zh_addr_parse(tok, true, &a) || !a.prefix)
			return -1;
		if (a.family == AF_INET) {
			if (cfg->svc_cidr4_len)
				return -1;
			cfg->svc_cidr4 = a.v4.s_addr;
			cfg->svc_cidr4_len = (__u8)a.prefix;
		} else {
			if (cfg->svc_cidr6_len)
				return -1;
			memcpy(cfg->svc_cidr6, &a.v6, sizeof(cfg->svc_cidr6));
			cfg->svc_cidr6_len = (__u8)a.prefix;
		}
	}
	return cfg->svc_cidr4_len || cfg->svc_cidr6_len ? 0 : -1;
}

/* zh_tc_uplink on the tc ingress of every device in "eth0,eth1". */
static int attach_uplinks(const struct zh_objs *objs, const char *devs)
{
	char buf[256], *tok, *save = NULL;
	int ifindex, err, missing;

	/* A NodePort that could take requests but not send the replies
	 * back is worse than none: refuse it. */
	missing = zh_use_missing(&objs->feat, ZH_USE_NODEPORT);
	if (missing >= 0) {
		pr_warn("--nodeport-dev: NodePorts cannot work on this kernel: it lacks %s (%s)\n",
			zh_feat_name(missing), zh_feat_doc(missing)->what);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", devs);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		ifindex = (int)if_nametoindex(tok);
		if (!ifindex) {
			pr_warn("--nodeport-dev %s: %s\n", tok,
				strerror(errno));
			return -1;
		}
		err = zh_tc_attach(&objs->feat, ifindex, objs->tc_uplink_fd);
		if (err) {
			pr_warn("--nodeport-dev %s: cannot attach %s: %s\n",
				tok, ZH_PROG_TC_UPLINK, strerror(-err));
			return -1;
		}
		/* XDP in front where the driver runs it natively; tc alone
		 * answers everything otherwise. */
		err = objs->xdp_uplink_fd < 0 ?
			      -EOPNOTSUPP :
			      zh_xdp_attach(ifindex, objs->xdp_uplink_fd);
		pr_info("NodePorts answered on %s by %s\n", tok,
			err ? "tc (no native XDP here)" : "XDP, then tc");
	}
	return 0;
}

/* The node's addresses, for NodePorts: at start and at every sweep. */
static void sync_node_addrs(const struct zh_objs *objs)
{
	int n, err = zh_node_addrs_sync(objs, &n);

	if (err)
		pr_warn("cannot write %s: %s\n", ZH_MAP_NODE_ADDRS,
			strerror(-err));
	else
		pr_debug("%d node address(es) in %s\n", n, ZH_MAP_NODE_ADDRS);
}

/* The services file, parsed; a bad one is logged. */
static int services_load(const char *path, struct zh_svc_set *set)
{
	char err[ZH_SVC_ERR_MAX];
	int rc = zh_svc_load(path, set, err, sizeof(err));

	if (rc)
		pr_warn("services: %s\n", err);
	return rc;
}

/* Program @set: all of it, or (invalid, too big) nothing. Frees @set. */
static int services_apply(const struct zh_objs *objs, const char *path,
			  struct zh_svc_set *set)
{
	struct zh_svc_apply_result r;
	struct timespec t0, t1;
	int lock, rc;

	lock = zh_pin_lock(objs->root);
	if (lock < 0) {
		zh_svc_set_free(set);
		return lock;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = zh_svc_apply(objs, set, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	zh_pin_unlock(lock);
	if (rc)
		pr_warn("services: %s: %s\n", path,
			r.err[0] ? r.err : strerror(-rc));
	else
		pr_info("services: %s: %zu services: %zu added, %zu updated, %zu removed, %zu unchanged; %u Maglev slots written, %u of %u in use; %.3f s\n",
			path, set->n, r.added, r.updated, r.removed,
			r.unchanged, r.slots_written, r.slots_used,
			r.slots_total,
			(double)(t1.tv_sec - t0.tv_sec) +
				(double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	zh_svc_set_free(set);
	return rc;
}

/* SIGHUP: the file again; a bad one changes nothing. */
static void services_reload(const struct zh_objs *objs, const char *path)
{
	struct zh_svc_set set;

	if (services_load(path, &set) || services_apply(objs, path, &set))
		pr_warn("services: keeping the services as they are\n");
}

/*
 * Options this kernel cannot serve: what was asked for explicitly is
 * refused, naming the missing feature; the AF_XDP handoff, on by default,
 * is turned off with a word.
 */
static int agent_features(const struct zh_objs *objs,
			  const struct zh_config *cfg, const char **xsk_path,
			  bool xsk_asked)
{
	int missing;

	missing = zh_use_missing(&objs->feat, ZH_USE_SAMPLING);
	if (cfg->sample_every && missing >= 0) {
		pr_warn("--sample: latency sampling cannot work on this kernel: it lacks %s (%s)\n",
			zh_feat_name(missing), zh_feat_doc(missing)->what);
		return -EOPNOTSUPP;
	}
	missing = zh_use_missing(&objs->feat, ZH_USE_AFXDP);
	if (*xsk_path && missing >= 0) {
		if (xsk_asked) {
			pr_warn("--xsk-socket: AF_XDP cannot work on this kernel: it lacks %s (%s)\n",
				zh_feat_name(missing),
				zh_feat_doc(missing)->what);
			return -EOPNOTSUPP;
		}
		pr_info("AF_XDP socket handoff off: this kernel lacks %s (%s)\n",
			zh_feat_name(missing), zh_feat_doc(missing)->what);
		*xsk_path = NULL;
	}
	return 0;
}

static int count_cb(__u32 ifindex, const struct zh_iface *iface, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-root", required_argument, NULL, 'p' },
		{ "reconcile", required_argument, NULL, 'i' },
		{ "listen", required_argument, NULL, 'l' },
		{ "service-cidr", required_argument, NULL, 'C' },
		{ "nodeport-dev", required_argument, NULL, 'N' },
		{ "probes", required_argument, NULL, 'P' },
		{ "sample", required_argument, NULL, 'S' },
		{ "services", required_argument, NULL, 's' },
		{ "maglev-slots", required_argument, NULL, 'M' },
		{ "map-size", required_argument, NULL, 'Z' },
		{ "maglev-per-backend", required_argument, NULL, 'B' },
		{ "xsk-socket", required_argument, NULL, 'X' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int interval = 10, verbose = 0, lock, sfd, err, c, n_eps = 0;
	struct zh_metrics *metrics = NULL;
	const char *listen_addr = NULL, *nodeport_devs = NULL;
	const char *services = NULL, *xsk_path = zh_xsk_socket_default();
	const char *root = zh_pin_root_default();
	bool xsk_asked = false; /* --xsk-socket PATH: no quiet fallback */
	char feat_line[1024];
	struct zh_xsk_srv *xsk = NULL;
	struct zh_load_opts load = { 0 };
	struct zh_svc_set svc_set = { 0 };
	struct sockaddr_storage ss;
	struct zh_config cfg = { .flags = ZH_CFG_F_PROBES }, cur;
	struct zh_objs objs;
	socklen_t ss_len;
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "p:i:l:s:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			root = optarg;
			break;
		case 'i':
			interval = atoi(optarg);
			if (interval < 0) {
				fprintf(stderr,
					"zerohopd: --reconcile must be >= 0\n");
				return 2;
			}
			break;
		case 'l':
			if (zh_metrics_parse_listen(optarg, &ss, &ss_len)) {
				fprintf(stderr,
					"zerohopd: --listen '%s': expected ADDR:PORT (numeric address, IPv6 in brackets, port 1-65535), e.g. 127.0.0.1:9464 or [::1]:9464\n",
					optarg);
				return 2;
			}
			listen_addr = optarg;
			break;
		case 'C':
			if (parse_cidrs(optarg, &cfg)) {
				fprintf(stderr,
					"zerohopd: --service-cidr '%s': expected CIDR[,CIDR], at most one IPv4 and one IPv6, e.g. 10.96.0.0/12,fd00:96::/108\n",
					optarg);
				return 2;
			}
			break;
		case 'N':
			nodeport_devs = optarg;
			break;
		case 'P':
			if (!strcmp(optarg, "on") || !strcmp(optarg, "off")) {
				cfg.flags = optarg[1] == 'n' ? ZH_CFG_F_PROBES :
							       0;
				break;
			}
			fprintf(stderr,
				"zerohopd: --probes '%s': expected on or off\n",
				optarg);
			return 2;
		case 'S':
			if (zh_sample_parse(optarg, &cfg.sample_every)) {
				fprintf(stderr,
					"zerohopd: --sample '%s': expected a count 1..%u or off\n",
					optarg, ZH_SAMPLE_MAX);
				return 2;
			}
			break;
		case 's':
			services = optarg;
			break;
		case 'M': {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] < '0' ||
			    optarg[0] > '9' || n < 1 || n > 1UL << 30) {
				fprintf(stderr,
					"zerohopd: --maglev-slots '%s': expected a count 1..%lu\n",
					optarg, 1UL << 30);
				return 2;
			}
			load.maglev_slots = (__u32)n;
			break;
		}
		case 'B': {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] < '1' ||
			    optarg[0] > '9' || n > 65536) {
				fprintf(stderr,
					"zerohopd: --maglev-per-backend '%s': expected 1..65536 (default %u)\n",
					optarg, ZH_MAGLEV_PER_BACKEND);
				return 2;
			}
			cfg.maglev_per_backend = (__u32)n;
			break;
		}
		case 'Z':
			if (zh_load_opts_parse(optarg, &load)) {
				fprintf(stderr,
					"zerohopd: --map-size '%s': expected NAME=N[,NAME=N] with NAME one of services, backends, conntrack, affinity, maglev and N 1..%lu\n",
					optarg, 1UL << 30);
				return 2;
			}
			break;
		case 'X':
			if (strcmp(optarg, "none") &&
			    (optarg[0] != '/' || strlen(optarg) >= 108)) {
				fprintf(stderr,
					"zerohopd: --xsk-socket '%s': expected an absolute path shorter than 108 bytes, or none\n",
					optarg);
				return 2;
			}
			xsk_path = strcmp(optarg, "none") ? optarg : NULL;
			xsk_asked = xsk_path != NULL;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "zerohopd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	zh_log_set_prefix("zerohopd");
	zh_log_set_level(verbose ? ZH_LOG_DEBUG : ZH_LOG_INFO);
	zh_log_hook_libs();

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		pr_warn("signalfd: %s\n", strerror(errno));
		return 1;
	}

	/* A bad services file at start is the operator's to fix: say so
	 * and stop before anything is loaded, rather than run without the
	 * services. */
	if (services && services_load(services, &svc_set)) {
		close(sfd);
		return 1;
	}
	lock = zh_pin_lock(root);
	if (lock < 0) {
		pr_warn("cannot lock %s: %s\n", root, strerror(-lock));
		zh_svc_set_free(&svc_set);
		return 1;
	}
	err = zh_objs_open(&objs, root, ZH_OBJS_LOAD, &load);
	zh_pin_unlock(lock);
	if (err) {
		pr_warn("cannot load BPF objects: %s\n", objs.err);
		zh_svc_set_free(&svc_set);
		return 1;
	}
	/* What this kernel can do, in one line: each feature it lacks with
	 * what zerohop does instead (zerohopctl features has the table). */
	pr_info("%s %s\n", objs.probed ? "probed" : "pinned",
		zh_feat_summary(&objs.feat, feat_line, sizeof(feat_line)));
	err = agent_features(&objs, &cfg, &xsk_path, xsk_asked);
	if (err) {
		zh_objs_close(&objs);
		zh_svc_set_free(&svc_set);
		return 1;
	}
	/* Before the first apply: the table size it builds with. */
	if (cfg.maglev_per_backend && !zh_config_get(&objs, &cur)) {
		cur.maglev_per_backend = cfg.maglev_per_backend;
		err = zh_config_set(&objs, &cur);
		if (err)
			pr_warn("cannot write %s: %s\n", ZH_MAP_CONFIG,
				strerror(-err));
	}
	if (services && services_apply(&objs, services, &svc_set)) {
		zh_objs_close(&objs);
		close(sfd);
		return 1;
	}
	zh_iface_foreach(&objs, count_cb, &n_eps);
	if (xsk_path) {
		err = zh_xsk_srv_open(&xsk, xsk_path, &objs);
		if (err) {
			pr_warn("cannot listen for AF_XDP sockets on %s: %s\n",
				xsk_path, strerror(-err));
			zh_objs_close(&objs);
			close(sfd);
			return 1;
		}
	}
	/* After sigprocmask(): the server's thread inherits the mask. */
	if (listen_addr) {
		metrics = zh_metrics_start(listen_addr, &objs, xsk);
		if (!metrics) {
			zh_xsk_srv_close(xsk);
			zh_objs_close(&objs);
			close(sfd);
			return 1;
		}
	}
	if (nodeport_devs && attach_uplinks(&objs, nodeport_devs)) {
		zh_metrics_stop(metrics);
		zh_xsk_srv_close(xsk);
		zh_objs_close(&objs);
		close(sfd);
		return 1;
	}
	sync_node_addrs(&objs);
	/* Last: an agent that failed to start changes nothing. Only the
	 * latency and Service CIDR fields are ours. */
	err = zh_config_get(&objs, &cur);
	if (!err) {
		cur.flags = (cur.flags & ~ZH_CFG_F_PROBES) | cfg.flags;
		cur.sample_every = cfg.sample_every;
		cur.svc_cidr4 = cfg.svc_cidr4;
		cur.svc_cidr4_len = cfg.svc_cidr4_len;
		memcpy(cur.svc_cidr6, cfg.svc_cidr6, sizeof(cur.svc_cidr6));
		cur.svc_cidr6_len = cfg.svc_cidr6_len;
		err = zh_config_set(&objs, &cur);
	}
	if (err)
		pr_warn("cannot write %s: %s\n", ZH_MAP_CONFIG, strerror(-err));
	pr_info("%s BPF objects in %s; %d endpoint(s); latency probes %s, sampling %s%.0u; AF_XDP sockets on %s; ready\n",
		objs.loaded ? "loaded and pinned" : "reusing pinned", objs.dir,
		n_eps, cfg.flags ? "on" : "off",
		cfg.sample_every ? "1 in " : "off", cfg.sample_every,
		xsk_path ? xsk_path : "(none)");

	for (__u64 next = now_ms() + interval * 1000ULL;;) {
		struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN },
					 { .fd = xsk ? zh_xsk_srv_fd(xsk) : -1,
					   .events = POLLIN } };
		struct signalfd_siginfo si;
		__u64 now = now_ms();
		int r = poll(pfd, 2,
			     !interval	? -1 :
			     next > now ? (int)(next - now) :
					  0);

		if (r < 0 && errno != EINTR) {
			pr_warn("poll: %s\n", strerror(errno));
			break;
		}
		if (r > 0 && (pfd[1].revents & POLLIN))
			zh_xsk_srv_process(xsk);
		if (interval && now_ms() >= next) {
			reconcile(&objs);
			sync_node_addrs(&objs);
			next = now_ms() + interval * 1000ULL;
		}
		if (r <= 0 || !(pfd[0].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			reconcile(&objs);
			sync_node_addrs(&objs);
			/* A bad file changes nothing: the agent goes on. */
			if (services)
				services_reload(&objs, services);
			continue;
		}
		pr_info("signal %u: exiting; pins stay in %s\n", si.ssi_signo,
			objs.dir);
		break;
	}
	zh_metrics_stop(metrics); /* no scrape may use the fds below */
	zh_xsk_srv_close(xsk); /* every registration ends with its slot */
	zh_objs_close(&objs);
	close(sfd);
	return 0;
}
