// SPDX-License-Identifier: Apache-2.0
/*
 * release.c - the leases of pods gone without DEL (release.h).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>

#include "cni.h"
#include "log.h"
#include "podstate.h"
#include "release.h"

/* Records queued at once; the rest wait for the next sweep. */
#define QUEUE_MAX 64
/* Directory entries a sweep looks at: bounded work on the agent's loop. */
#define SWEEP_MAX 4096

struct zh_release {
	char dir[4096];
	const char *pin_root;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	/* Names (NAME.json.del) waiting or being released. */
	char q[QUEUE_MAX][ZH_PODSTATE_NAME_LEN + 4];
	int head, n; /* q[head] is being released, and stays queued */
};

static bool queued(const struct zh_release *r, const char *name)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->q[(r->head + i) % QUEUE_MAX], name))
			return true;
	return false;
}

/* Under r->lock: queue @name unless it is already there or the queue is
 * full (the next sweep finds it again). */
static void enqueue(struct zh_release *r, const char *name)
{
	if (r->n == QUEUE_MAX || queued(r, name))
		return;
	snprintf(r->q[(r->head + r->n) % QUEUE_MAX], sizeof(r->q[0]), "%s",
		 name);
	r->n++;
	pthread_cond_signal(&r->cond);
}

static bool veth_alive(const struct zh_podstate *st)
{
	return if_nametoindex(st->host_ifname) == st->host_ifindex;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && !strcmp(s + a - b, tail);
}

void zh_release_sweep(struct zh_release *r)
{
	char path[4096 + 80], del[4096 + 88];
	struct dirent *de;
	int seen = 0;
	DIR *d;

	if (!r || zh_state_dir_check(r->dir))
		return; /* no records (yet), or a directory not to trust */
	d = opendir(r->dir);
	if (!d)
		return;
	pthread_mutex_lock(&r->lock);
	while ((de = readdir(d)) && seen++ < SWEEP_MAX) {
		struct zh_podstate st;
		size_t len = strlen(de->d_name);

		if (len == ZH_PODSTATE_NAME_LEN + 3 &&
		    ends_with(de->d_name, ".json.del")) {
			enqueue(r, de->d_name); /* a release to try again */
			continue;
		}
		if (len != ZH_PODSTATE_NAME_LEN - 1 ||
		    !ends_with(de->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", r->dir, de->d_name);
		if (zh_podstate_load(path, &st))
			continue; /* not a record: not ours to act on */
		if (!veth_alive(&st)) {
			snprintf(del, sizeof(del), "%s.del", path);
			if (!rename(path, del)) {
				pr_info("pod %.64s (%s) is gone without DEL: releasing its addresses\n",
					st.container_id, st.ifname);
				enqueue(r, strrchr(del, '/') + 1);
			}
		}
		zh_podstate_free(&st);
	}
	pthread_mutex_unlock(&r->lock);
	closedir(d);
}

/* A new attachment of this container and interface (its ADD wrote a
 * record under the plain name) holds the addresses now: a DEL would
 * release its lease. */
static bool taken_again(const char *path)
{
	char live[4096 + 80];

	snprintf(live, sizeof(live), "%.*s", (int)(strlen(path) - 4), path);
	return !access(live, F_OK);
}

/* IPAM DEL with the record's configuration; 0 when released. */
static int release_one(const struct zh_release *r, const char *name)
{
	char path[4096 + 80];
	struct zh_netconf conf = { 0 };
	struct zh_podstate st;
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;
	int ret, ipam_lock;

	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	if (taken_again(path)) {
		unlink(path);
		return 0;
	}
	ret = zh_podstate_load(path, &st);
	if (ret) {
		pr_warn("release: %s: %s: dropped\n", path,
			ret == -EINVAL ? "not a record" : strerror(-ret));
		unlink(path);
		return ret;
	}
	env = (struct zh_cni_env){
		.cmd = ZH_CNI_DEL,
		.container_id = st.container_id,
		.ifname = st.ifname,
		.args = st.cni_args,
		.path = st.cni_path,
		.pin_root = r->pin_root,
		.ipam_timeout_s = ZH_IPAM_TIMEOUT_S,
	};
	/* The attachment's IPAM lock, which an ADD holds to its end (its
	 * record written): after it, look again for a new attachment. */
	ipam_lock = zh_ipam_lock(&env, ZH_IPAM_TIMEOUT_S);
	ret = zh_netconf_parse(st.config, strlen(st.config), &conf, &err);
	if (ret) {
		pr_warn("release: pod %.64s: its configuration: %s: %s: dropped\n",
			st.container_id, err.msg, err.details);
		unlink(path);
	} else if (ipam_lock < 0) {
		pr_warn("release: pod %.64s: its IPAM lock: %s (tried again at the next sweep)\n",
			st.container_id, strerror(-ipam_lock));
		ret = -EAGAIN;
	} else if (taken_again(path)) {
		unlink(path);
	} else if (zh_ipam_delegate(&env, ZH_CNI_DEL, &conf, NULL, &err)) {
		pr_warn("release: pod %.64s: IPAM DEL: %s: %s (tried again at the next sweep)\n",
			st.container_id, err.msg, err.details);
		ret = -EAGAIN;
	} else {
		pr_info("released the addresses of pod %.64s (%s)\n",
			st.container_id, st.ifname);
		unlink(path);
	}
	if (ipam_lock >= 0)
		close(ipam_lock);
	zh_netconf_free(&conf);
	zh_podstate_free(&st);
	return ret;
}

static void *worker(void *arg)
{
	struct zh_release *r = arg;
	char name[sizeof(r->q[0])];

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->stop && !r->n)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stop)
			break;
		memcpy(name, r->q[r->head], sizeof(name));
		pthread_mutex_unlock(&r->lock);
		release_one(r, name);
		pthread_mutex_lock(&r->lock);
		r->head = (r->head + 1) % QUEUE_MAX;
		r->n--;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct zh_release *zh_release_start(const char *dir, const char *pin_root)
{
	struct zh_release *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return NULL;
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	r->pin_root = pin_root;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	err = pthread_create(&r->thread, NULL, worker, r);
	if (err) {
		free(r);
		errno = err;
		return NULL;
	}
	return r;
}

void zh_release_stop(struct zh_release *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
