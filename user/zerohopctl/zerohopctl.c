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

struct ctl {
	bool json;
	bool reset;
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
	{ "unpin", cmd_unpin, false },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-root", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "reset", no_argument, NULL, 'r' },
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
