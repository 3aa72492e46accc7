// SPDX-License-Identifier: Apache-2.0
/*
 * zerohopctl - inspect and drive the zerohop dataplane through its pins.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <jansson.h>

#include "zerohop.h"
#include "hist.h"

struct ctl {
	bool json;
	bool reset;
	const char *probes; /* latency --probes on|off */
	const char *sample; /* latency --sample N|off */
	struct zh_objs objs;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zerohopctl [-p DIR] COMMAND [-o json]\n"
		"\n"
		"Commands:\n"
		"  endpoints [-o json]       pods on the fast path: IPs, MAC, host veth, netns, container\n"
		"  stats [-o json] [--reset] packets redirected, passed to the kernel, dropped by reason\n"
		"  latency [-o json] [--reset] [--probes on|off] [--sample N|off]\n"
		"                            per-hop latency: count, p50, p90, p99, p99.9, max per\n"
		"                            hop and source; --probes times xdpbench's probe\n"
		"                            datagrams, --sample times 1 in N packets from pods\n"
		"  unpin                     remove the pins of this version (uninstall; attached\n"
		"                            programs keep running until their interfaces go)\n"
		"\n"
		"Options:\n"
		"  -p, --pin-root DIR  pin root (default %s; env ZEROHOP_PIN_ROOT)\n"
		"  -o, --output FMT    table (default) or json\n"
		"  -h, --help          this help (also after a command)\n",
		ZH_PIN_ROOT);
}

static void mac_str(const __u8 *m, char *out, size_t len)
{
	snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

static void iface_ips(const struct zh_iface *ifc, char *v4, char *v6)
{
	v4[0] = v6[0] = '\0';
	if (ifc->flags & ZH_IFACE_F_V4)
		inet_ntop(AF_INET, &ifc->ipv4, v4, INET6_ADDRSTRLEN);
	if (ifc->flags & ZH_IFACE_F_V6)
		inet_ntop(AF_INET6, ifc->ipv6, v6, INET6_ADDRSTRLEN);
}

static int ep_table_cb(__u32 ifindex, const struct zh_iface *ifc, void *arg)
{
	char v4[INET6_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], mac[18];

	iface_ips(ifc, v4, v6);
	mac_str(ifc->mac, mac, sizeof(mac));
	printf("%-15s %-25s %-17s %-7u %-15s %-4s %-5s %-12.12s %s\n",
	       v4[0] ? v4 : "-", v6[0] ? v6 : "-", mac, ifindex,
	       ifc->host_ifname, ifc->pod_ifname,
	       ifc->datapath == ZH_DATAPATH_XDP ? "xdp" : "tc",
	       ifc->container_id, ifc->netns);
	return 0;
}

static int ep_json_cb(__u32 ifindex, const struct zh_iface *ifc, void *arg)
{
	char v4[INET6_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], mac[18];
	json_t *arr = arg, *ips = json_array();

	iface_ips(ifc, v4, v6);
	mac_str(ifc->mac, mac, sizeof(mac));
	if (v4[0])
		json_array_append_new(ips, json_string(v4));
	if (v6[0])
		json_array_append_new(ips, json_string(v6));
	json_array_append_new(
		arr, json_pack("{s:o, s:s, s:i, s:s, s:s, s:i, s:s, s:s, s:s}",
			       "ips", ips, "mac", mac, "hostIfindex",
			       (int)ifindex, "hostIfname", ifc->host_ifname,
			       "podIfname", ifc->pod_ifname, "podIfindex",
			       (int)ifc->pod_ifindex, "datapath",
			       ifc->datapath == ZH_DATAPATH_XDP ? "xdp" : "tc",
			       "netns", ifc->netns, "containerID",
			       ifc->container_id));
	return 0;
}

static int print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	json_decref(j);
	if (!s)
		return -ENOMEM;
	puts(s);
	free(s);
	return 0;
}

static int cmd_endpoints(struct ctl *c)
{
	json_t *arr;
	int err;

	if (!c->json) {
		printf("%-15s %-25s %-17s %-7s %-15s %-4s %-5s %-12s %s\n",
		       "IPV4", "IPV6", "MAC", "IFINDEX", "HOST-IFNAME", "IF",
		       "MODE", "CONTAINER", "NETNS");
		return zh_iface_foreach(&c->objs, ep_table_cb, NULL);
	}
	arr = json_array();
	err = zh_iface_foreach(&c->objs, ep_json_cb, arr);
	if (err) {
		json_decref(arr);
		return err;
	}
	return print_json(arr);
}

static int cmd_stats(struct ctl *c)
{
	struct zh_counter st[ZH_STAT_MAX];
	__u64 passed = 0, dropped = 0;
	json_t *j, *drops, *passes;
	int err;

	err = zh_stats_read(&c->objs, st);
	if (err)
		return err;
	for (int s = ZH_STAT_PASS_NOT_IP; s < ZH_STAT_MAX; s++) {
		if (zh_stat_is_drop_reason(s))
			dropped += st[s].packets;
		else
			passed += st[s].packets;
	}
	if (c->json) {
		drops = json_object();
		passes = json_object();
		for (int s = ZH_STAT_PASS_NOT_IP; s < ZH_STAT_MAX; s++)
			json_object_set_new(
				zh_stat_is_drop_reason(s) ? drops : passes,
				zh_stat_name(s),
				json_pack("{s:I, s:I}", "packets",
					  (json_int_t)st[s].packets, "bytes",
					  (json_int_t)st[s].bytes));
		j = json_pack("{s:{s:I, s:I}, s:I, s:o, s:I, s:o}",
			      "redirected", "packets",
			      (json_int_t)st[ZH_STAT_REDIRECT].packets, "bytes",
			      (json_int_t)st[ZH_STAT_REDIRECT].bytes, "passed",
			      (json_int_t)passed, "passReasons", passes,
			      "dropped", (json_int_t)dropped, "dropReasons",
			      drops);
		err = print_json(j);
	} else {
		printf("%-22s %14s %16s\n", "COUNTER", "PACKETS", "BYTES");
		for (int s = 0; s < ZH_STAT_MAX; s++)
			printf("%-22s %14llu %16llu\n", zh_stat_name(s),
			       (unsigned long long)st[s].packets,
			       (unsigned long long)st[s].bytes);
		printf("%-22s %14llu\n%-22s %14llu\n", "total passed",
		       (unsigned long long)passed, "total dropped",
		       (unsigned long long)dropped);
	}
	if (!err && c->reset)
		err = zh_stats_reset(&c->objs);
	return err;
}

static double ns_us(__u64 ns)
{
	return (double)ns / 1000.0;
}

static json_t *lat_json(int hop, int src, const struct zh_hist_summary *sm)
{
	return json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "hop",
			 zh_hop_name(hop), "source", zh_lat_src_name(src),
			 "count", (json_int_t)sm->count, "mean_us",
			 ns_us(sm->mean_ns), "p50_us", ns_us(sm->p50_ns),
			 "p90_us", ns_us(sm->p90_ns), "p99_us",
			 ns_us(sm->p99_ns), "p999_us", ns_us(sm->p999_ns),
			 "max_us", ns_us(sm->max_ns));
}

/* Apply --probes / --sample to the datapath's configuration. */
static int lat_configure(struct ctl *c, struct zh_config *cfg)
{
	int err = zh_config_get(&c->objs, cfg);

	if (err || (!c->probes && !c->sample))
		return err;
	if (c->probes) {
		if (!strcmp(c->probes, "on"))
			cfg->flags |= ZH_CFG_F_PROBES;
		else if (!strcmp(c->probes, "off"))
			cfg->flags &= ~ZH_CFG_F_PROBES;
		else
			return -EINVAL;
	}
	if (c->sample && zh_sample_parse(c->sample, &cfg->sample_every))
		return -EINVAL;
	return zh_config_set(&c->objs, cfg);
}

static int cmd_latency(struct ctl *c)
{
	struct zh_hist *h = malloc(sizeof(*h));
	struct zh_hist_summary sm;
	struct zh_config cfg;
	json_t *hops = NULL;
	bool any = false;
	int err;

	if (!h)
		return -ENOMEM;
	err = lat_configure(c, &cfg);
	if (err == -EINVAL)
		fprintf(stderr,
			"zerohopctl: latency: --probes takes on or off, --sample a count 1..%u or off\n",
			ZH_SAMPLE_MAX);
	if (err)
		goto out;
	if (c->json) {
		hops = json_array();
	} else {
		printf("probes %s, sampling %s",
		       cfg.flags & ZH_CFG_F_PROBES ? "on" : "off",
		       cfg.sample_every ? "1 in " : "off");
		if (cfg.sample_every)
			printf("%u", cfg.sample_every);
		printf("\n%-8s %-7s %10s %10s %10s %10s %10s %10s\n", "HOP",
		       "SOURCE", "COUNT", "P50(us)", "P90(us)", "P99(us)",
		       "P99.9(us)", "MAX(us)");
	}
	for (int hop = 0; hop < ZH_HOP_MAX && !err; hop++) {
		for (int src = 0; src < ZH_LAT_SRC_MAX && !err; src++) {
			err = zh_lat_read(&c->objs, hop, src, h);
			if (err)
				break;
			zh_hist_summary(h, &sm);
			if (hops) {
				json_array_append_new(hops,
						      lat_json(hop, src, &sm));
				continue;
			}
			if (!sm.count)
				continue;
			any = true;
			printf("%-8s %-7s %10llu %10.2f %10.2f %10.2f %10.2f %10.2f\n",
			       zh_hop_name(hop), zh_lat_src_name(src),
			       (unsigned long long)sm.count, ns_us(sm.p50_ns),
			       ns_us(sm.p90_ns), ns_us(sm.p99_ns),
			       ns_us(sm.p999_ns), ns_us(sm.max_ns));
		}
	}
	if (err)
		goto out;
	if (hops) {
		err = print_json(json_pack("{s:b, s:i, s:o}", "probes",
					   !!(cfg.flags & ZH_CFG_F_PROBES),
					   "sampleEvery", (int)cfg.sample_every,
					   "hops", hops));
		hops = NULL;
	} else if (!any) {
		printf("(nothing recorded yet)\n");
	}
	if (!err && c->reset)
		err = zh_lat_reset(&c->objs);
out:
	json_decref(hops);
	free(h);
	return err;
}

static int cmd_unpin(struct ctl *c)
{
	int lock = zh_pin_lock(), err;

	if (lock < 0)
		return lock;
	err = zh_objs_unpin();
	zh_pin_unlock(lock);
	return err;
}

static const struct {
	const char *name;
	int (*fn)(struct ctl *c);
	bool needs_objs;
} cmds[] = {
	{ "endpoints", cmd_endpoints, true },
	{ "stats", cmd_stats, true },
	{ "latency", cmd_latency, true },
	{ "unpin", cmd_unpin, false },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-root", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "reset", no_argument, NULL, 'r' },
		{ "probes", required_argument, NULL, 'P' },
		{ "sample", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct ctl c = {};
	const char *cmd = NULL;
	int opt, err;

	zh_log_set_prefix("zerohopctl");
	zh_log_set_level(ZH_LOG_WARN);
	zh_log_hook_libs();
	/* Options may come before or after the command (getopt permutes). */
	while ((opt = getopt_long(argc, argv, "p:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			setenv("ZEROHOP_PIN_ROOT", optarg, 1);
			break;
		case 'o':
			if (!strcmp(optarg, "json")) {
				c.json = true;
			} else if (strcmp(optarg, "table")) {
				fprintf(stderr,
					"zerohopctl: unknown output '%s' (table, json)\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			c.reset = true;
			break;
		case 'P':
			c.probes = optarg;
			break;
		case 'S':
			c.sample = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "zerohopctl: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmd, cmds[i].name))
			continue;
		if (cmds[i].needs_objs) {
			err = zh_objs_open(&c.objs, 0);
			if (err) {
				fprintf(stderr,
					"zerohopctl: no zerohop objects pinned in %s (%s): is zerohopd running?\n",
					zh_pin_dir(), strerror(-err));
				return 1;
			}
		}
		err = cmds[i].fn(&c);
		if (cmds[i].needs_objs)
			zh_objs_close(&c.objs);
		if (err) {
			fprintf(stderr, "zerohopctl: %s: %s\n", cmd,
				strerror(-err));
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "zerohopctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
