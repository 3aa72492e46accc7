// SPDX-License-Identifier: Apache-2.0
/*
 * masq.c - masquerade and source NAT programmed (masq.h).
 */
#define _GNU_SOURCE /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/wait.h>
#include <bpf/bpf.h>

#include "masq.h"
#include "maps.h"
#include "log.h"
#include "params.h"

int zh_masq_parse_cidrs(const char *arg, struct zh_addr *out, size_t max,
			size_t *n)
{
	char buf[2048], *tok, *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		return -EINVAL;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*n >= max)
			return -E2BIG;
		if (zh_addr_parse(tok, true, &out[*n]))
			return -EINVAL;
		(*n)++;
	}
	return *n ? 0 : -EINVAL;
}

int zh_masq_parse_ports(const char *arg, unsigned int *lo, unsigned int *hi)
{
	char buf[32], *dash;
	uint64_t a, b;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		return -EINVAL;
	dash = strchr(buf, '-');
	if (!dash)
		return -EINVAL;
	*dash = 0;
	if (zh_params_parse_uint(NULL, buf, 1024, 65535, NULL, &a, NULL, 0) ||
	    zh_params_parse_uint(NULL, dash + 1, 1024, 65535, NULL, &b, NULL,
				 0) ||
	    a > b)
		return -EINVAL;
	*lo = (unsigned int)a;
	*hi = (unsigned int)b;
	return 0;
}

/* --- zh_nomasq ------------------------------------------------------------ */

static void lpm_key(struct zh_lpm_key *k, const struct zh_addr *a)
{
	memset(k, 0, sizeof(*k));
	k->family = a->family == AF_INET ? ZH_AF_INET : ZH_AF_INET6;
	k->prefixlen = 32 + (__u32)a->prefix;
	memcpy(k->addr, a->raw, (size_t)zh_addr_len(a->family));
}

struct nomasq_set {
	struct zh_lpm_key keys[ZH_MAX_NOMASQ];
	__u32 flags[ZH_MAX_NOMASQ];
	size_t n;
};

static void nomasq_add(struct nomasq_set *s, const struct zh_addr *a,
		       __u32 flag)
{
	struct zh_lpm_key k;

	lpm_key(&k, a);
	for (size_t i = 0; i < s->n; i++) {
		if (!memcmp(&s->keys[i], &k, sizeof(k))) {
			s->flags[i] |= flag;
			return;
		}
	}
	if (s->n < ZH_MAX_NOMASQ) {
		s->keys[s->n] = k;
		s->flags[s->n++] = flag;
	}
}

/* The node's own addresses, each a /32 or /128. */
static int nomasq_node_addrs(struct nomasq_set *s)
{
	struct ifaddrs *ifa, *i;
	struct zh_addr a;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		memset(&a, 0, sizeof(a));
		a.family = i->ifa_addr->sa_family;
		if (a.family == AF_INET) {
			a.v4 = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			a.prefix = 32;
		} else if (a.family == AF_INET6) {
			a.v6 = ((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			a.prefix = 128;
		} else {
			continue;
		}
		nomasq_add(s, &a, ZH_NOMASQ_F_CLUSTER);
	}
	freeifaddrs(ifa);
	return 0;
}

static bool lpm_key_in(const struct zh_lpm_key *k, const struct nomasq_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(k, &s->keys[i], sizeof(*k)))
			return true;
	return false;
}

static int nomasq_write(int fd, const struct nomasq_set *s)
{
	struct zh_lpm_key key, next;
	void *prev = NULL;
	int err = 0;

	for (size_t i = 0; i < s->n && !err; i++)
		if (bpf_map_update_elem(fd, &s->keys[i], &s->flags[i], BPF_ANY))
			err = -errno;
	while (!err && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		if (lpm_key_in(&key, s)) {
			prev = &key;
			continue;
		}
		if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			err = -errno;
		prev = NULL; /* start over after a delete */
	}
	return err;
}

/* --- zh_snat_src ---------------------------------------------------------- */

static bool v6_link_local(const struct in6_addr *a)
{
	return a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80;
}

/* @dev's first IPv4 and first IPv6 address that is not link-local. */
static int dev_addrs(const char *dev, struct zh_snat_src *src)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, dev))
			continue;
		if (i->ifa_addr->sa_family == AF_INET &&
		    !(src->flags & ZH_SNAT_SRC_F_V4)) {
			src->v4 = ((struct sockaddr_in *)i->ifa_addr)
					  ->sin_addr.s_addr;
			src->flags |= ZH_SNAT_SRC_F_V4;
		} else if (i->ifa_addr->sa_family == AF_INET6 &&
			   !(src->flags & ZH_SNAT_SRC_F_V6)) {
			const struct in6_addr *a =
				&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

			if (v6_link_local(a))
				continue;
			memcpy(src->v6, a, sizeof(src->v6));
			src->flags |= ZH_SNAT_SRC_F_V6;
		}
	}
	freeifaddrs(ifa);
	return 0;
}

static int snat_src_write(int fd, const __u32 *keys,
			  const struct zh_snat_src *vals, size_t n)
{
	__u32 key, next;
	void *prev = NULL;
	bool want;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++)
		if (bpf_map_update_elem(fd, &keys[i], &vals[i], BPF_ANY))
			err = -errno;
	while (!err && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		want = false;
		for (size_t i = 0; i < n; i++)
			want |= keys[i] == key;
		if (want) {
			prev = &key;
			continue;
		}
		if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			err = -errno;
		prev = NULL;
	}
	return err;
}

int zh_masq_apply(const struct zh_objs *o, const struct zh_masq_conf *c,
		  char *err, size_t errlen)
{
	static struct nomasq_set set; /* 28 KiB: not on the stack */
	struct zh_snat_src vals[ZH_MASQ_MAX_DEVS + 1];
	__u32 keys[ZH_MASQ_MAX_DEVS + 1];
	struct zh_config cfg;
	size_t n = 0;
	int rc;

	if (o->nomasq_fd < 0 || o->snat_src_fd < 0)
		return zh_errf(err, errlen, -ENOENT,
			       "no %s or %s pinned: an older build's pins",
			       ZH_MAP_NOMASQ, ZH_MAP_SNAT_SRC);
	set.n = 0;
	for (size_t i = 0; i < c->n_cluster; i++)
		nomasq_add(&set, &c->cluster[i], ZH_NOMASQ_F_CLUSTER);
	for (size_t i = 0; i < c->n_service; i++)
		nomasq_add(&set, &c->service[i], ZH_NOMASQ_F_SERVICE);
	for (size_t i = 0; i < c->n_keep; i++)
		nomasq_add(&set, &c->keep[i], ZH_NOMASQ_F_USER);
	rc = nomasq_node_addrs(&set);
	if (!rc)
		rc = nomasq_write(o->nomasq_fd, &set);
	if (rc)
		return zh_errf(err, errlen, rc, "%s: %s", ZH_MAP_NOMASQ,
			       strerror(-rc));

	for (size_t i = 0; i < c->n_devs; i++) {
		struct zh_snat_src s = { .port_min = (__u16)c->port_min,
					 .port_max = (__u16)c->port_max };
		unsigned int ifindex = if_nametoindex(c->devs[i]);

		if (!ifindex)
			return zh_errf(err, errlen, -errno, "%s: %s",
				       c->devs[i], strerror(errno));
		s.ifindex = ifindex;
		rc = dev_addrs(c->devs[i], &s);
		if (rc)
			return zh_errf(err, errlen, rc, "%s: addresses: %s",
				       c->devs[i], strerror(-rc));
		if (!s.flags)
			continue; /* no address: nothing to SNAT to */
		if (c->on && (int)i == c->masq_dev) {
			keys[n] = 0;
			vals[n++] = s;
		}
		if (c->keep_port)
			s.flags |= ZH_SNAT_SRC_F_KEEP_PORT;
		keys[n] = ifindex;
		vals[n++] = s;
	}
	rc = snat_src_write(o->snat_src_fd, keys, vals, n);
	if (rc)
		return zh_errf(err, errlen, rc, "%s: %s", ZH_MAP_SNAT_SRC,
			       strerror(-rc));

	rc = zh_config_get(o, &cfg);
	if (!rc) {
		cfg.flags = c->on ? cfg.flags | ZH_CFG_F_MASQ :
				    cfg.flags & ~ZH_CFG_F_MASQ;
		rc = zh_config_set(o, &cfg);
	}
	if (rc)
		return zh_errf(err, errlen, rc, "%s: %s", ZH_MAP_CONFIG,
			       strerror(-rc));
	return 0;
}

/* --- nftables ------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, at;
	bool full;
};

static void __attribute__((format(printf, 2, 3)))
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->at, b->len - b->at, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->len - b->at)
		b->full = true;
	else
		b->at += (size_t)n;
}

/* A set of @family's CIDRs from the lists; false when it is empty. */
static bool sb_set(struct sbuf *b, const char *name, int family,
		   const struct zh_addr *const lists[], const size_t counts[],
		   size_t nlists)
{
	char a[64];
	bool any = false;

	for (size_t l = 0; l < nlists; l++)
		for (size_t i = 0; i < counts[l]; i++)
			any |= lists[l][i].family == family;
	if (!any)
		return false;
	sb_add(b,
	       "\tset %s {\n\t\ttype %s; flags interval; auto-merge\n\t\telements = { ",
	       name, family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	any = false;
	for (size_t l = 0; l < nlists; l++)
		for (size_t i = 0; i < counts[l]; i++) {
			if (lists[l][i].family != family)
				continue;
			sb_add(b, "%s%s", any ? ", " : "",
			       zh_addr_str(&lists[l][i], true, a, sizeof(a)));
			any = true;
		}
	sb_add(b, " }\n\t}\n");
	return true;
}

int zh_masq_nft_ruleset(const struct zh_masq_conf *c, char *buf, size_t len)
{
	const struct zh_addr *const pods[] = { c->cluster, c->node_cidrs };
	const size_t npods[] = { c->n_cluster, c->n_node_cidrs };
	const struct zh_addr *const keep[] = { c->cluster, c->node_cidrs,
					       c->node_addrs, c->service,
					       c->keep };
	const size_t nkeep[] = { c->n_cluster, c->n_node_cidrs, c->n_node_addrs,
				 c->n_service, c->n_keep };
	struct sbuf b = { .p = buf, .len = len };
	bool p4, p6, k4, k6;
	char ports[32] = "";

	/* Ports below BPF's range: the kernel never hands out one of its. */
	if (c->port_min > 1025)
		snprintf(ports, sizeof(ports), " to :1024-%u", c->port_min - 1);
	/* Made (so that the delete finds it), emptied, made again: one
	 * transaction, whatever was there. */
	sb_add(&b, "table inet %s\ndelete table inet %s\n", ZH_MASQ_NFT_TABLE,
	       ZH_MASQ_NFT_TABLE);
	if (!c->on)
		return b.full ? -ENOSPC : (int)b.at;
	sb_add(&b, "table inet %s {\n", ZH_MASQ_NFT_TABLE);
	p4 = sb_set(&b, "pods4", AF_INET, pods, npods, 2);
	p6 = sb_set(&b, "pods6", AF_INET6, pods, npods, 2);
	k4 = sb_set(&b, "keep4", AF_INET, keep, nkeep, 5);
	k6 = sb_set(&b, "keep6", AF_INET6, keep, nkeep, 5);
	sb_add(&b,
	       "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	/* Local destinations (the node's own) never reach postrouting's
	 * masquerade: the kernel delivers them before. */
	/* TCP and UDP with ports below BPF's, the rest (ICMP) as it is. */
	for (int v6 = 0; v6 < 2; v6++) {
		const char *ip = v6 ? "ip6" : "ip";
		char match[96];

		if (!(v6 ? p6 : p4))
			continue;
		snprintf(match, sizeof(match), "%s saddr @pods%d%s%s%s", ip,
			 v6 ? 6 : 4, (v6 ? k6 : k4) ? " " : "",
			 (v6 ? k6 : k4) ? ip : "",
			 (v6 ? k6 : k4) ? (v6 ? " daddr != @keep6" :
						" daddr != @keep4") :
					  "");
		if (ports[0])
			sb_add(&b,
			       "\t\t%s meta l4proto { tcp, udp } counter masquerade%s fully-random\n",
			       match, ports);
		sb_add(&b, "\t\t%s counter masquerade fully-random\n", match);
	}
	sb_add(&b, "\t}\n}\n");
	return b.full ? -ENOSPC : (int)b.at;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int zh_masq_nft_run(const char *ruleset, int timeout_ms, char *err,
		    size_t errlen)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status = 0, rc = 0;
	long long deadline = mono_ms() + timeout_ms;
	size_t len = strlen(ruleset), got = 0;
	char msg[512];
	pid_t pid;

	if (len >= 65536) /* one pipe buffer: written before the wait */
		return zh_errf(err, errlen, -E2BIG, "nft ruleset too long");
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		rc = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		if (dup2(in[0], 0) < 0 || dup2(out[1], 2) < 0 ||
		    dup2(null, 1) < 0)
			_exit(126);
		execlp("nft", "nft", "-f", "-", (char *)NULL);
		execl("/usr/sbin/nft", "nft", "-f", "-", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (write(in[1], ruleset, len) != (ssize_t)len)
		rc = -EIO;
	close(in[1]);
	in[1] = -1;
	/* nft's complaint, until it closes its end or the time is up. */
	for (;;) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		long long left = deadline - mono_ms();
		ssize_t r;

		if (left <= 0) {
			kill(pid, SIGKILL);
			rc = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		r = read(out[0], msg + got, sizeof(msg) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(msg) - 1)
			got = 0; /* keep the last part */
	}
	msg[got] = 0;
	if (waitpid(pid, &status, 0) < 0 && !rc)
		rc = -errno;
	if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status))) {
		rc = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT :
								       -EIO;
		zh_errf(err, errlen, rc, "nft: %s",
			rc == -ENOENT ? "not found" :
			got	      ? strtok(msg, "\n") :
					"failed");
		goto out;
	}
	if (rc)
		zh_errf(err, errlen, rc, "nft: %s", strerror(-rc));
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return rc;
}
