// SPDX-License-Identifier: Apache-2.0
/*
 * ct_load - conntrack load for scripts/bench-load.sh, on the maps pinned
 * in a pin directory (bpf_obj_get()):
 *
 *   ct_load fill PIN_DIR N          write N entries into zh_ct: N/2 flows,
 *                                   each a FWD and a REV entry as lb.h's
 *                                   zh_lb_track() writes them, over the
 *                                   Services and backends in zh_services
 *                                   and zh_backends (ids and addresses as
 *                                   the agent programmed them), from 1000
 *                                   client addresses in 10.244.0.0/16
 *   ct_load count PIN_DIR MAP [REPEAT]
 *                                   count MAP's entries with what the
 *                                   agent's /metrics calls (zh_map_count),
 *                                   REPEAT times (default 1)
 *
 * Prints one line per fill ("N entries in S s") or per count ("N S").
 * Exit 0 done, 1 failed, 2 bad usage.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "zh_abi.h"
#include "maps.h"

/* Entries a bpf_map_update_batch() call writes. */
#define FILL_BATCH 8192
/* Read batch for zh_services and zh_backends. */
#define READ_BATCH 4096
#define CLIENTS 1000U
#define SPORT_MIN 1024U
#define SPORTS (65536U - SPORT_MIN)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* bpf_ktime_get_ns()'s clock. */
static __u64 ktime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static int map_open(const char *dir, const char *name,
		    struct bpf_map_info *info)
{
	char path[512];
	__u32 len = sizeof(*info);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "ct_load: %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(info, 0, sizeof(*info));
	/* bpf_map_get_info_by_fd() is libbpf >= 1.2; Debian 12 has 1.1. */
	if (bpf_obj_get_info_by_fd(fd, info, &len)) {
		fprintf(stderr, "ct_load: %s: info: %s\n", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Every entry of a hash map (key size @ksz, value size @vsz) into *keys,
 * *vals; their number in *n. The maps read here are only written by the
 * agent, which is idle while the benchmark fills.
 */
static int read_all(int fd, const struct bpf_map_info *info, void **keys,
		    void **vals, size_t *n)
{
	size_t cap = info->max_entries + READ_BATCH;
	__u64 in = 0, out = 0;
	bool first = true;
	__u32 cnt;

	*n = 0;
	*keys = malloc(cap * info->key_size);
	*vals = malloc(cap * info->value_size);
	if (!*keys || !*vals)
		return -ENOMEM;
	while (*n + READ_BATCH <= cap) {
		cnt = READ_BATCH;
		if (bpf_map_lookup_batch(fd, first ? NULL : &in, &out,
					 (char *)*keys + *n * info->key_size,
					 (char *)*vals + *n * info->value_size,
					 &cnt, NULL)) {
			*n += cnt;
			return errno == ENOENT ? 0 : -errno;
		}
		*n += cnt;
		in = out;
		first = false;
	}
	return -E2BIG; /* more than max_entries: cannot be */
}

/* A Service with its first two backends (enough for the flows). */
struct svc_be {
	struct zh_svc_key key;
	struct zh_svc svc;
	__u32 be_id[2];
	struct zh_backend be[2];
	unsigned int nbe;
};

static int cmp_id(const void *a, const void *b)
{
	__u32 x = ((const struct svc_be *)a)->svc.id;
	__u32 y = ((const struct svc_be *)b)->svc.id;

	return x < y ? -1 : x > y;
}

static struct svc_be *find_svc(struct svc_be *s, size_t n, __u32 id)
{
	struct svc_be k = { .svc.id = id };

	return bsearch(&k, s, n, sizeof(*s), cmp_id);
}

/*
 * The ClusterIP Services that have a backend, sorted by id, in *out
 * (NodePort entries and Services without ready backends left out).
 */
static int load_services(const char *dir, struct svc_be **out, size_t *nout)
{
	struct bpf_map_info si, bi;
	struct zh_svc_key *sk = NULL;
	struct zh_backend *bes = NULL;
	struct zh_svc *sv = NULL;
	struct svc_be *s = NULL;
	size_t ns = 0, nbe = 0, n = 0;
	__u32 *be_ids = NULL;
	int sfd, bfd, err;

	sfd = map_open(dir, ZH_MAP_SERVICES, &si);
	if (sfd < 0)
		return -ENOENT;
	bfd = map_open(dir, ZH_MAP_BACKENDS, &bi);
	if (bfd < 0) {
		close(sfd);
		return -ENOENT;
	}
	/* The layouts this build knows, or nothing. */
	if (si.key_size != sizeof(*sk) || si.value_size != sizeof(*sv) ||
	    bi.key_size != sizeof(*be_ids) || bi.value_size != sizeof(*bes)) {
		fprintf(stderr, "ct_load: %s, %s: not this build's layout\n",
			ZH_MAP_SERVICES, ZH_MAP_BACKENDS);
		err = -EPROTO;
	} else {
		err = read_all(sfd, &si, (void **)&sk, (void **)&sv, &ns);
	}
	if (!err)
		err = read_all(bfd, &bi, (void **)&be_ids, (void **)&bes, &nbe);
	close(sfd);
	close(bfd);
	if (err)
		goto out;
	s = calloc(ns ? ns : 1, sizeof(*s));
	if (!s) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ns; i++) {
		if ((sv[i].flags & ZH_SVC_F_NODEPORT) || !sv[i].table_size)
			continue;
		s[n].key = sk[i];
		s[n].svc = sv[i];
		n++;
	}
	qsort(s, n, sizeof(*s), cmp_id);
	for (size_t i = 0; i < nbe; i++) {
		struct svc_be *x = find_svc(s, n, bes[i].svc_id);

		if (!x || x->nbe == 2 || (bes[i].flags & ZH_BE_F_TERMINATING))
			continue;
		x->be_id[x->nbe] = be_ids[i];
		x->be[x->nbe++] = bes[i];
	}
	ns = n;
	n = 0;
	for (size_t i = 0; i < ns; i++) /* a table, yet no backend: skip */
		if (s[i].nbe)
			s[n++] = s[i];
out:
	free(sk);
	free(sv);
	free(bes);
	free(be_ids);
	if (err) {
		free(s);
		fprintf(stderr, "ct_load: reading the Services: %s\n",
			strerror(-err));
		return err;
	}
	*out = s;
	*nout = n;
	return 0;
}

/* Flow @i: a client (address, port) to Service @s, balanced to @b. */
static void flow(size_t i, const struct svc_be *s, const struct zh_backend *b,
		 __u32 bid, __u64 now, struct zh_ct_key *k, struct zh_ct *v,
		 struct zh_ct_key *rk, struct zh_ct *rv)
{
	__u32 c = (__u32)(i % CLIENTS);
	__be16 sport = htons((__u16)(SPORT_MIN + (i / CLIENTS) % SPORTS));

	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	memset(rk, 0, sizeof(*rk));
	memset(rv, 0, sizeof(*rv));
	k->family = s->key.family;
	k->proto = s->key.proto;
	k->dir = ZH_CT_FWD;
	k->sport = sport;
	k->dport = s->key.port;
	/* 10.244.0.2 on, IPv4; fd00:10:244::2 on, IPv6 (network order). */
	if (s->key.family == ZH_AF_INET) {
		k->saddr[0] = htonl((10U << 24 | 244U << 16) + 2 + c);
	} else {
		k->saddr[0] = htonl(0xfd000010);
		k->saddr[1] = htonl(0x02440000);
		k->saddr[3] = htonl(2 + c);
	}
	memcpy(k->daddr, s->key.addr, sizeof(k->daddr));
	v->last_seen_ns = now;
	v->svc_id = s->svc.id;
	v->backend_id = bid;
	v->state = s->key.proto == IPPROTO_TCP ? ZH_CT_ESTABLISHED : ZH_CT_NEW;
	*rv = *v;
	memcpy(rv->vip, s->key.addr, sizeof(rv->vip));
	rv->vport = s->key.port;
	rk->family = k->family;
	rk->proto = k->proto;
	rk->dir = ZH_CT_REV;
	rk->sport = b->port;
	rk->dport = sport;
	memcpy(rk->saddr, b->addr, sizeof(rk->saddr));
	memcpy(rk->daddr, k->saddr, sizeof(rk->daddr));
}

static int cmd_fill(const char *dir, unsigned long want)
{
	struct zh_ct_key *keys = NULL;
	struct bpf_map_info info;
	struct zh_ct *vals = NULL;
	struct svc_be *s = NULL;
	size_t ns = 0, flows = want / 2, done = 0;
	double t0;
	int fd, err = -EINVAL;
	__u64 now;

	fd = map_open(dir, ZH_MAP_CT, &info);
	if (fd < 0)
		return -ENOENT;
	if (info.key_size != sizeof(*keys) ||
	    info.value_size != sizeof(*vals)) {
		fprintf(stderr, "ct_load: %s is not this build's layout\n",
			ZH_MAP_CT);
		goto out;
	}
	if (flows > (size_t)CLIENTS * SPORTS) {
		fprintf(stderr, "ct_load: at most %u entries\n",
			2 * CLIENTS * SPORTS);
		err = -EINVAL;
		goto out;
	}
	err = load_services(dir, &s, &ns);
	if (err)
		goto out;
	if (!ns) {
		fprintf(stderr, "ct_load: no Service with a backend in %s\n",
			dir);
		err = -ENOENT;
		goto out;
	}
	keys = calloc(FILL_BATCH, sizeof(*keys));
	vals = calloc(FILL_BATCH, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	now = ktime_ns();
	t0 = now_s();
	while (done < flows) {
		__u32 cnt = 0;

		for (; cnt < FILL_BATCH && done < flows; cnt += 2, done++) {
			const struct svc_be *x = &s[done % ns];
			unsigned int b = (unsigned int)(done / ns) % x->nbe;

			flow(done, x, &x->be[b], x->be_id[b], now, &keys[cnt],
			     &vals[cnt], &keys[cnt + 1], &vals[cnt + 1]);
		}
		if (bpf_map_update_batch(fd, keys, vals, &cnt, NULL)) {
			err = -errno;
			fprintf(stderr, "ct_load: %s: update batch: %s\n",
				ZH_MAP_CT, strerror(errno));
			goto out;
		}
	}
	printf("%zu entries in %.3f s\n", 2 * done, now_s() - t0);
	err = 0;
out:
	free(keys);
	free(vals);
	free(s);
	close(fd);
	return err;
}

static int cmd_count(const char *dir, const char *name, unsigned long repeat)
{
	struct bpf_map_info info;
	int fd = map_open(dir, name, &info);
	__u64 n;
	double t0;

	if (fd < 0)
		return -ENOENT;
	for (unsigned long i = 0; i < repeat; i++) {
		int err;

		t0 = now_s();
		err = zh_map_count(fd, &info, &n);
		if (err) {
			fprintf(stderr, "ct_load: counting %s: %s\n", name,
				strerror(-err));
			close(fd);
			return err;
		}
		printf("%llu %.6f\n", (unsigned long long)n, now_s() - t0);
	}
	close(fd);
	return 0;
}

static int number(const char *s, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || end == s || *end || s[0] == '-' ? -EINVAL : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ct_load fill PIN_DIR N\n"
			"       ct_load count PIN_DIR MAP [REPEAT]\n");
}

int main(int argc, char **argv)
{
	unsigned long v = 1;

	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	if (argc == 4 && !strcmp(argv[1], "fill") && !number(argv[3], &v))
		return cmd_fill(argv[2], v) ? 1 : 0;
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "count") &&
	    (argc == 4 || (!number(argv[4], &v) && v > 0)))
		return cmd_count(argv[2], argv[3], v) ? 1 : 0;
	usage();
	return 2;
}
