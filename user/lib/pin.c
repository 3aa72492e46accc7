// SPDX-License-Identifier: Apache-2.0
/*
 * pin.c - the BPF objects under the pin directory: load once per node,
 * reuse forever after. The agent and the CNI plugin both come through here,
 * under the same flock(), so whichever runs first loads and the rest reuse.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "zerohop.h"
#include "zh_fast.skel.h"

#define BPFFS "/sys/fs/bpf"

const char *zh_pin_root(void)
{
	const char *env = getenv("ZEROHOP_PIN_ROOT");

	return env && *env ? env : ZH_PIN_ROOT;
}

const char *zh_pin_dir(void)
{
	static char dir[256]; /* a root longer than this is truncated */

	snprintf(dir, sizeof(dir), "%s/%s", zh_pin_root(), ZH_PIN_VERSION);
	return dir;
}

int zh_bpffs_ensure(void)
{
	struct statfs st;

	if (statfs(BPFFS, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700") < 0) {
		int err = -errno;

		pr_warn("mount bpffs on %s: %s\n", BPFFS, strerror(errno));
		return err;
	}
	pr_info("mounted bpffs on %s\n", BPFFS);
	return 0;
}

int zh_pin_lock(void)
{
	return zh_pin_lock_at(zh_pin_root());
}

int zh_pin_lock_at(const char *root)
{
	int fd, err;

	err = zh_bpffs_ensure();
	if (err)
		return err;
	if (mkdir(root, 0700) < 0 && errno != EEXIST) {
		err = -errno;
		pr_warn("mkdir %s: %s\n", root, strerror(errno));
		return err;
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_warn("open %s: %s\n", root, strerror(errno));
		return err;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

void zh_pin_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the last fd releases the flock */
}

struct pin_entry {
	const char *name;
	size_t fd_off;
};

#define PIN(n, field)                              \
	{                                          \
		n, offsetof(struct zh_objs, field) \
	}
static const struct pin_entry pins[] = {
	PIN(ZH_MAP_ENDPOINTS, endpoints_fd),
	PIN(ZH_MAP_IFACES, ifaces_fd),
	PIN(ZH_MAP_STATS, stats_fd),
	PIN(ZH_MAP_CONFIG, config_fd),
	PIN(ZH_MAP_LAT, lat_fd),
	PIN(ZH_MAP_LAT_FLOWS, lat_flows_fd),
	PIN(ZH_MAP_SERVICES, services_fd),
	PIN(ZH_MAP_BACKENDS, backends_fd),
	PIN(ZH_MAP_MAGLEV, maglev_fd),
	PIN(ZH_MAP_CT, ct_fd),
	PIN(ZH_MAP_AFFINITY, affinity_fd),
	PIN(ZH_MAP_NODE_ADDRS, node_addrs_fd),
	PIN(ZH_MAP_XSKS, xsks_fd),
	PIN(ZH_MAP_XSK_STEER, xsk_steer_fd),
	PIN(ZH_PROG_TC_FROM_POD, tc_from_pod_fd),
	PIN(ZH_PROG_XDP_FROM_POD, xdp_from_pod_fd),
	PIN(ZH_PROG_XDP_POD, xdp_pod_fd),
	PIN(ZH_PROG_XDP_POD_XSK, xdp_pod_xsk_fd),
	PIN(ZH_PROG_TC_POD, tc_pod_fd),
	PIN(ZH_PROG_TC_UPLINK, tc_uplink_fd),
	PIN(ZH_PROG_XDP_UPLINK, xdp_uplink_fd),
};
#define N_PINS (sizeof(pins) / sizeof(pins[0]))

static int *pin_fd(struct zh_objs *o, size_t i)
{
	return (int *)((char *)o + pins[i].fd_off);
}

static void pin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", zh_pin_dir(), name);
}

static bool all_pinned(void)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < N_PINS; i++) {
		pin_path(path, sizeof(path), pins[i].name);
		if (access(path, F_OK))
			return false;
	}
	return true;
}

/*
 * zh_maglev, when this load creates it: @slots long (0: ZH_MAGLEV_SLOTS),
 * and BPF_F_MMAPABLE so that libzerohop writes Maglev tables with plain
 * stores instead of a syscall's work per slot (svc_maps.c; 10 M slots take
 * ~0.9 s with bpf_map_update_batch()). The datapath reads it like any array.
 */
static int maglev_settings(struct bpf_map *map, __u32 slots)
{
	int err;

	if (slots) {
		err = bpf_map__set_max_entries(map, slots);
		if (err)
			return err;
	}
	return bpf_map__set_map_flags(map,
				      bpf_map__map_flags(map) | BPF_F_MMAPABLE);
}

static const struct {
	const char *opt; /* in zh_load_opts_parse() */
	const char *map;
	size_t off;
} map_sizes[] = {
	{ "services", ZH_MAP_SERVICES,
	  offsetof(struct zh_load_opts, services_max) },
	{ "backends", ZH_MAP_BACKENDS,
	  offsetof(struct zh_load_opts, backends_max) },
	{ "conntrack", ZH_MAP_CT, offsetof(struct zh_load_opts, ct_max) },
	{ "affinity", ZH_MAP_AFFINITY,
	  offsetof(struct zh_load_opts, affinity_max) },
	{ "maglev", ZH_MAP_MAGLEV,
	  offsetof(struct zh_load_opts, maglev_slots) },
};

static __u32 *map_size_field(struct zh_load_opts *opts, size_t i)
{
	return (__u32 *)((char *)opts + map_sizes[i].off);
}

/* The size asked for in @opts, if any, of a map about to be created. */
static int map_size(struct bpf_map *map, const struct zh_load_opts *opts)
{
	if (!opts)
		return 0;
	for (size_t i = 0; i < sizeof(map_sizes) / sizeof(map_sizes[0]); i++) {
		__u32 n = *map_size_field((struct zh_load_opts *)opts, i);

		if (n && !strcmp(bpf_map__name(map), map_sizes[i].map))
			return bpf_map__set_max_entries(map, n);
	}
	return 0;
}

int zh_load_opts_parse(const char *arg, struct zh_load_opts *opts)
{
	char buf[256], *tok, *save = NULL, *eq, *end;
	unsigned long n;
	size_t i;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		return -EINVAL;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		eq = strchr(tok, '=');
		if (!eq)
			return -EINVAL;
		*eq = '\0';
		for (i = 0; i < sizeof(map_sizes) / sizeof(map_sizes[0]); i++)
			if (!strcmp(tok, map_sizes[i].opt))
				break;
		if (i == sizeof(map_sizes) / sizeof(map_sizes[0]))
			return -EINVAL;
		errno = 0;
		n = strtoul(eq + 1, &end, 10);
		if (errno || *end || eq[1] < '1' || eq[1] > '9' ||
		    n > 1UL << 30)
			return -EINVAL;
		*map_size_field(opts, i) = (__u32)n;
	}
	return 0;
}

/* Load the embedded object: maps reuse their pins or get pinned by libbpf,
 * programs are pinned where no pin exists yet. */
static int load_and_pin(const struct zh_load_opts *opts)
{
	char path[PATH_MAX];
	struct bpf_program *prog;
	struct bpf_map *map;
	struct zh_fast *skel;
	int err;

	if (mkdir(zh_pin_dir(), 0700) < 0 && errno != EEXIST)
		return -errno;
	skel = zh_fast__open();
	if (!skel)
		return -errno;
	bpf_object__for_each_map (map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue; /* .rodata and friends stay private */
		pin_path(path, sizeof(path), bpf_map__name(map));
		err = bpf_map__set_pin_path(map, path);
		if (err)
			goto out;
		/* A pinned map is reused as it is: libbpf refuses one whose
		 * size or flags differ from the definition. */
		if (!access(path, F_OK))
			continue;
		if (!strcmp(bpf_map__name(map), ZH_MAP_MAGLEV))
			err = maglev_settings(map,
					      opts ? opts->maglev_slots : 0);
		else
			err = map_size(map, opts);
		if (err)
			goto out;
	}
	err = zh_fast__load(skel);
	if (err) {
		pr_warn("loading BPF programs failed: %s\n", strerror(-err));
		goto out;
	}
	bpf_object__for_each_program (prog, skel->obj) {
		pin_path(path, sizeof(path), bpf_program__name(prog));
		if (!access(path, F_OK))
			continue;
		err = bpf_program__pin(prog, path);
		if (err) {
			pr_warn("pin %s: %s\n", path, strerror(-err));
			goto out;
		}
	}
	pr_info("loaded and pinned BPF objects in %s\n", zh_pin_dir());
out:
	zh_fast__destroy(skel);
	return err;
}

int zh_objs_open(struct zh_objs *o, unsigned int flags)
{
	return zh_objs_open_opts(o, flags, NULL);
}

int zh_objs_open_opts(struct zh_objs *o, unsigned int flags,
		      const struct zh_load_opts *opts)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int err;

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < N_PINS; i++)
		*pin_fd(o, i) = -1;

	if (!all_pinned()) {
		if (!(flags & ZH_OBJS_LOAD))
			return -ENOENT;
		err = load_and_pin(opts);
		if (err)
			return err;
		o->loaded = true;
	}
	for (size_t i = 0; i < N_PINS; i++) {
		pin_path(path, sizeof(path), pins[i].name);
		*pin_fd(o, i) = bpf_obj_get(path);
		if (*pin_fd(o, i) < 0) {
			err = -errno;
			pr_warn("open pin %s: %s\n", path, strerror(errno));
			zh_objs_close(o);
			return err;
		}
	}
	memset(&info, 0, sizeof(info));
	if (opts && opts->maglev_slots &&
	    !bpf_obj_get_info_by_fd(o->maglev_fd, &info, &len) &&
	    info.max_entries != opts->maglev_slots)
		pr_warn("%s is pinned with %u slots, not %u: the size applies when it is created (unpin first)\n",
			ZH_MAP_MAGLEV, info.max_entries, opts->maglev_slots);
	return 0;
}

void zh_objs_close(struct zh_objs *o)
{
	for (size_t i = 0; i < N_PINS; i++) {
		if (*pin_fd(o, i) >= 0)
			close(*pin_fd(o, i));
		*pin_fd(o, i) = -1;
	}
}

int zh_objs_unpin(void)
{
	char path[PATH_MAX];
	int err = 0;

	for (size_t i = 0; i < N_PINS; i++) {
		pin_path(path, sizeof(path), pins[i].name);
		if (unlink(path) < 0 && errno != ENOENT)
			err = -errno;
	}
	if (rmdir(zh_pin_dir()) < 0 && errno != ENOENT)
		err = -errno;
	return err;
}
