// SPDX-License-Identifier: Apache-2.0
/*
 * pin.c - the BPF objects under the pin directory: probe the kernel and
 * load once per node, reuse forever after. The agent and the CNI plugin
 * both come through here, under the same flock(), so whichever runs first
 * probes and loads, and the rest reuse both the feature set and the pins.
 * A program this kernel cannot run is not loaded (kfeatures.h): one
 * missing helper never takes the whole object down.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
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

#include "pin.h"
#include "log.h"
#include "params.h"
#include "upgrade.h"
#include "zh_fast.skel.h"

#define BPFFS "/sys/fs/bpf"

const char *zh_pin_root_default(void)
{
	const char *env = getenv("ZEROHOP_PIN_ROOT");

	return env && *env ? env : ZH_PIN_ROOT;
}

static bool may_mount;

void zh_bpffs_allow_mount(void)
{
	may_mount = true;
}

int zh_bpffs_ensure(void)
{
	struct statfs st;

	if (statfs(BPFFS, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (!may_mount) {
		pr_warn("%s is not a bpffs here: zerohop's maps must be the node's (mount bpffs there, as zerohopd does; not under `ip netns exec`, which remounts /sys)\n",
			BPFFS);
		return -ENOMEDIUM;
	}
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700") < 0) {
		int err = -errno;

		pr_warn("mount bpffs on %s: %s\n", BPFFS, strerror(errno));
		return err;
	}
	pr_info("mounted bpffs on %s\n", BPFFS);
	return 0;
}

int zh_pin_lock(const char *root)
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

/* The pins zh_objs opens: every map but the programs' scratch space, and
 * every program (a program this kernel cannot run is not pinned). */
struct pin_entry {
	const char *name;
	size_t fd_off;
	bool prog;
};

#define PIN(n, field, is_prog)                              \
	{                                                   \
		n, offsetof(struct zh_objs, field), is_prog \
	}
static const struct pin_entry pins[] = {
	PIN(ZH_MAP_ENDPOINTS, endpoints_fd, false),
	PIN(ZH_MAP_IFACES, ifaces_fd, false),
	PIN(ZH_MAP_STATS, stats_fd, false),
	PIN(ZH_MAP_CONFIG, config_fd, false),
	PIN(ZH_MAP_LAT, lat_fd, false),
	PIN(ZH_MAP_LAT_FLOWS, lat_flows_fd, false),
	PIN(ZH_MAP_SERVICES, services_fd, false),
	PIN(ZH_MAP_BACKENDS, backends_fd, false),
	PIN(ZH_MAP_MAGLEV, maglev_fd, false),
	PIN(ZH_MAP_CT, ct_fd, false),
	PIN(ZH_MAP_AFFINITY, affinity_fd, false),
	PIN(ZH_MAP_NODE_ADDRS, node_addrs_fd, false),
	PIN(ZH_MAP_XSKS, xsks_fd, false),
	PIN(ZH_MAP_XSK_STEER, xsk_steer_fd, false),
	PIN(ZH_MAP_NODES, nodes_fd, false),
	PIN(ZH_MAP_CLUSTER_CIDRS, cluster_cidrs_fd, false),
	PIN(ZH_MAP_NOMASQ, nomasq_fd, false),
	PIN(ZH_MAP_SNAT_SRC, snat_src_fd, false),
	PIN(ZH_PROG_TC_FROM_POD, tc_from_pod_fd, true),
	PIN(ZH_PROG_XDP_FROM_POD, xdp_from_pod_fd, true),
	PIN(ZH_PROG_XDP_POD, xdp_pod_fd, true),
	PIN(ZH_PROG_XDP_POD_XSK, xdp_pod_xsk_fd, true),
	PIN(ZH_PROG_TC_POD, tc_pod_fd, true),
	PIN(ZH_PROG_TC_UPLINK, tc_uplink_fd, true),
	PIN(ZH_PROG_XDP_UPLINK, xdp_uplink_fd, true),
	PIN(ZH_PROG_TC_TUNNEL, tc_tunnel_fd, true),
	PIN(ZH_MAP_SOCK_REV, sock_rev_fd, false),
	PIN(ZH_MAP_SOCK_STATS, sock_stats_fd, false),
	PIN(ZH_MAP_NETNS, netns_fd, false),
	PIN(ZH_PROG_SOCK_CONNECT4, sock_connect4_fd, true),
	PIN(ZH_PROG_SOCK_CONNECT6, sock_connect6_fd, true),
	PIN(ZH_PROG_SOCK_SENDMSG4, sock_sendmsg4_fd, true),
	PIN(ZH_PROG_SOCK_SENDMSG6, sock_sendmsg6_fd, true),
	PIN(ZH_PROG_SOCK_RECVMSG4, sock_recvmsg4_fd, true),
	PIN(ZH_PROG_SOCK_RECVMSG6, sock_recvmsg6_fd, true),
	PIN(ZH_PROG_SOCK_PEER4, sock_peer4_fd, true),
	PIN(ZH_PROG_SOCK_PEER6, sock_peer6_fd, true),
	PIN(ZH_MAP_IPCACHE, ipcache_fd, false),
	PIN(ZH_MAP_IPCACHE_LPM, ipcache_lpm_fd, false),
	PIN(ZH_MAP_POLICY, policy_fd, false),
	PIN(ZH_MAP_POL_PORTS, pol_ports_fd, false),
	PIN(ZH_MAP_POLCTR, polctr_fd, false),
	PIN(ZH_MAP_POL_STATE, pol_state_fd, false),
	PIN(ZH_MAP_POL_EPS, pol_eps_fd, false),
	PIN(ZH_MAP_POL_CT, pol_ct_fd, false),
	PIN(ZH_PROG_TC_TO_POD, tc_to_pod_fd, true),
	PIN(ZH_MAP_SVC_BE, svc_be_fd, false),
	PIN(ZH_MAP_VXLAN, vxlan_fd, false),
	PIN(ZH_MAP_VXLAN_STATS, vxlan_stats_fd, false),
	PIN(ZH_MAP_POL_NPCTR, pol_npctr_fd, false),
	PIN(ZH_MAP_POL_CT4, pol_ct4_fd, false),
	PIN(ZH_MAP_SOCK_CONN, sock_conn_fd, false),
	PIN(ZH_PROG_SOCK_RELEASE, sock_release_fd, true),
};
#define N_PINS (sizeof(pins) / sizeof(pins[0]))

static int *pin_fd(struct zh_objs *o, size_t i)
{
	return (int *)((char *)o + pins[i].fd_off);
}

static void pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/*
 * zh_sock_release has no feature bit (zh_kfeat is full): it is loaded
 * apart, after the rest (load_release()), and the pin tells whether this
 * kernel took it. Never required, never loaded with the others.
 */
static bool apart(const char *name)
{
	return !strcmp(name, ZH_PROG_SOCK_RELEASE);
}

/* Is the map or program @name made on a kernel with features @f? */
static bool made_here(const struct zh_kfeat *f, const char *name, bool prog)
{
	if (prog && apart(name))
		return false;
	if (prog)
		return zh_prog_missing(f, name) < 0;
	/* An XSKMAP only where AF_XDP is: zh_xdp_pod_xsk alone uses it. */
	return strcmp(name, ZH_MAP_XSKS) || zh_kfeat_has(f, ZH_FEAT_AFXDP);
}

/* Is any program pinned in @o->dir (this build's or another's)? */
static bool any_prog_pinned(const struct zh_objs *o)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < N_PINS; i++) {
		if (!pins[i].prog)
			continue;
		pin_path(path, sizeof(path), o->dir, pins[i].name);
		if (!access(path, F_OK))
			return true;
	}
	return false;
}

static bool all_pinned(const struct zh_objs *o)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < N_PINS; i++) {
		if (!made_here(&o->feat, pins[i].name, pins[i].prog))
			continue;
		pin_path(path, sizeof(path), o->dir, pins[i].name);
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
	char buf[256], *tok, *save = NULL, *eq;
	uint64_t n;
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
		if (zh_params_parse_uint(NULL, eq + 1, 1, 1U << 30, NULL, &n,
					 NULL, 0))
			return -EINVAL;
		*map_size_field(opts, i) = (__u32)n;
	}
	return 0;
}

int zh_fast_prepare(struct zh_fast *skel, const struct zh_kfeat *f)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	skel->rodata->zh_kfeat = f->present & ~f->disabled;
	bpf_object__for_each_program (prog, skel->obj) {
		err = bpf_program__set_autoload(
			prog, made_here(f, bpf_program__name(prog), true));
		if (err)
			return err;
	}
	bpf_object__for_each_map (map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		err = bpf_map__set_autocreate(
			map, made_here(f, bpf_map__name(map), false));
		if (err)
			return err;
	}
	return 0;
}

/*
 * A pinned map is reused as it is, whatever size and flags it was made
 * with (--map-size, --maglev-slots): the definition takes them, since
 * libbpf refuses to reuse a pin that differs from it.
 */
static int pinned_settings(struct bpf_map *map, const char *path)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path), err = 0;

	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	close(fd);
	if (!err)
		err = bpf_map__set_max_entries(map, info.max_entries);
	if (!err)
		err = bpf_map__set_map_flags(map, info.map_flags);
	return err;
}

/* Load the embedded object for this kernel, of its programs those in
 * @progs (their ZH_FEAT_PROG_* bits; 0: the maps alone): libbpf reuses the
 * maps pinned under the pin directory and pins the ones it creates there;
 * programs are pinned where no pin exists yet, or with @suffix (not NULL)
 * each at its name and @suffix, whatever is there. */
static int load_and_pin(struct zh_objs *o, const struct zh_load_opts *opts,
			__u64 progs, bool release, const char *suffix)
{
	struct bpf_object_open_opts open_opts = { .sz = sizeof(open_opts),
						  .pin_root_path = o->dir };
	char path[PATH_MAX];
	struct bpf_program *prog;
	struct bpf_map *map;
	struct zh_fast *skel;
	int err;

	skel = zh_fast__open_opts(&open_opts);
	if (!skel) {
		err = -errno;
		snprintf(o->err, sizeof(o->err), "opening the BPF object: %s",
			 strerror(-err));
		return err;
	}
	err = zh_fast_prepare(skel, &o->feat);
	if (err)
		goto out;
	for (size_t i = 0; i < zh_prog_defs_n && !err; i++)
		if (!(progs >> zh_prog_defs[i].feat & 1))
			err = bpf_program__set_autoload(
				bpf_object__find_program_by_name(
					skel->obj, zh_prog_defs[i].name),
				false);
	if (!err && release)
		err = bpf_program__set_autoload(skel->progs.zh_sock_release,
						true);
	if (err)
		goto out;
	bpf_object__for_each_map (map, skel->obj) {
		if (bpf_map__is_internal(map) || !bpf_map__autocreate(map))
			continue;
		pin_path(path, sizeof(path), o->dir, bpf_map__name(map));
		if (!access(path, F_OK)) {
			err = pinned_settings(map, path);
			if (err) {
				zh_errf(o->err, sizeof(o->err), err,
					"pinned map %s: %s", path,
					strerror(-err));
				goto out;
			}
			continue;
		}
		if (!strcmp(bpf_map__name(map), ZH_MAP_MAGLEV))
			err = maglev_settings(map,
					      opts ? opts->maglev_slots : 0);
		else
			err = map_size(map, opts);
		if (err)
			goto out;
	}
	/* Another version's maps that are exactly these are pinned here
	 * too, and reused: both versions' programs use them (upgrade.h). */
	err = zh_upgrade_share(o->root, o->dir, skel->obj);
	if (err < 0) {
		zh_errf(o->err, sizeof(o->err), err,
			"sharing another version's maps: %s", strerror(-err));
		goto out;
	}
	err = zh_fast__load(skel);
	if (err) {
		snprintf(o->err, sizeof(o->err),
			 "loading the BPF programs: %s (libbpf said why above)",
			 strerror(-err));
		goto out;
	}
	bpf_object__for_each_program (prog, skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		pin_path(path, sizeof(path), o->dir, bpf_program__name(prog));
		if (suffix) {
			strncat(path, suffix, sizeof(path) - strlen(path) - 1);
			unlink(path);
		} else if (!access(path, F_OK)) {
			continue;
		}
		err = bpf_program__pin(prog, path);
		if (err) {
			zh_errf(o->err, sizeof(o->err), err, "pin %s: %s", path,
				strerror(-err));
			goto out;
		}
	}
out:
	zh_fast__destroy(skel);
	return err;
}

/*
 * zh_sock_release, alone (the maps pinned already), where it is not
 * pinned yet: the kernel's cgroup sock_release hook (5.9) and BPF_CMPXCHG
 * (5.12) are asked of a minimal program first (zh_feat_sock_release(), as
 * `zerohopctl features` asks), then by the load itself. Refused, nothing
 * is lost: the datapath keeps the copy at first read (sock.h), and the
 * agent says so.
 */
static void load_release(struct zh_objs *o, const struct zh_load_opts *opts)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), o->dir, ZH_PROG_SOCK_RELEASE);
	if (!access(path, F_OK) ||
	    zh_prog_missing(&o->feat, ZH_PROG_SOCK_CONNECT4) >= 0)
		return;
	if (zh_feat_sock_release_disabled()) {
		pr_info("%s not loaded: %s names %s\n", ZH_PROG_SOCK_RELEASE,
			ZH_DISABLE_FEATURES_ENV, ZH_FEAT_SOCK_RELEASE_NAME);
		return;
	}
	/* The minimal program first, quietly: a kernel without the hook or
	 * the instruction is no news worth a verifier log. */
	if (!zh_feat_sock_release())
		pr_info("this kernel lacks a cgroup sock_release hook with BPF_CMPXCHG (5.9 and 5.12): %s not loaded; socket-level LB copies each connected socket's record at its first read\n",
			ZH_PROG_SOCK_RELEASE);
	else if (load_and_pin(o, opts, 0, true, NULL))
		pr_warn("this kernel's verifier refuses %s (the log above says why): socket-level LB copies each connected socket's record at its first read\n",
			ZH_PROG_SOCK_RELEASE);
	o->err[0] = '\0';
}

/*
 * Every program this kernel can run, pinned. Where the object does not load
 * as a whole although every feature it needs was found, a verifier refuses
 * what no probe covers (Debian's 6.1 refused a bounds check that 6.18 takes):
 * the maps alone are made first (a failure there is nobody's program), then
 * each program is loaded on its own. A program refused is recorded in the
 * pinned feature set as absent, named, so that what needs it is refused
 * and the rest runs; `zerohopctl unpin` forgets it.
 */
static int load_programs(struct zh_objs *o, const struct zh_load_opts *opts)
{
	__u64 all = 0, refused = 0;
	char path[PATH_MAX];
	int err;

	for (size_t i = 0; i < zh_prog_defs_n; i++)
		all |= 1ULL << zh_prog_defs[i].feat;
	err = load_and_pin(o, opts, all, false, NULL);
	if (!err)
		goto done;
	err = load_and_pin(o, opts, 0, false, NULL);
	if (err)
		return err;
	pr_warn("%s; loading its programs one by one\n", o->err);
	for (size_t i = 0; i < zh_prog_defs_n; i++) {
		const struct zh_prog_def *d = &zh_prog_defs[i];

		pin_path(path, sizeof(path), o->dir, d->name);
		if (zh_prog_missing(&o->feat, d->name) >= 0 ||
		    !access(path, F_OK))
			continue;
		if (!load_and_pin(o, opts, 1ULL << d->feat, false, NULL))
			continue;
		pr_warn("this kernel's verifier refuses %s (the log above says why): what needs it is refused\n",
			d->name);
		o->feat.present &= ~(1ULL << d->feat);
		refused |= 1ULL << d->feat;
	}
	o->err[0] = '\0';
	err = refused ? zh_feat_write(o->dir, &o->feat) : 0;
	if (err)
		return zh_errf(o->err, sizeof(o->err), err, "pin %s/%s: %s",
			       o->dir, ZH_MAP_FEATURES, strerror(-err));
done:
	load_release(o, opts);
	pr_debug("loaded and pinned BPF objects in %s\n", o->dir);
	return 0;
}

int zh_objs_load_progs(struct zh_objs *o, const struct zh_load_opts *opts,
		       const char *suffix)
{
	char path[PATH_MAX];
	__u64 progs = 0;
	int err;

	/* The programs pinned here: those this kernel runs (load_programs()
	 * left out, and recorded, any it refused). */
	for (size_t i = 0; i < zh_prog_defs_n; i++) {
		pin_path(path, sizeof(path), o->dir, zh_prog_defs[i].name);
		if (!access(path, F_OK))
			progs |= 1ULL << zh_prog_defs[i].feat;
	}
	err = load_and_pin(o, opts, progs, false, suffix);
	/* zh_sock_release apart, as load_programs() loaded it. */
	pin_path(path, sizeof(path), o->dir, ZH_PROG_SOCK_RELEASE);
	if (!err && !access(path, F_OK))
		err = load_and_pin(o, opts, 0, true, suffix);
	return err;
}

static int pin_dirs(char *dir, size_t len, const char *root)
{
	if (snprintf(dir, len, "%s/%s", root, ZH_PIN_VERSION) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* A different ZEROHOP_DISABLE_FEATURES than the pinned set was probed
 * with changes nothing: say so rather than seem to obey. */
static void disabled_differs(const struct zh_kfeat *f, const char *dir)
{
	const char *env = getenv(ZH_DISABLE_FEATURES_ENV);
	__u64 mask = 0;
	char err[128];

	if (zh_feat_parse_list(env ? env : "", &mask, err, sizeof(err)) ||
	    mask != f->disabled)
		pr_warn("%s=\"%s\" is not what the kernel features pinned in %s were probed with; they stand (unpin to probe again)\n",
			ZH_DISABLE_FEATURES_ENV, env ? env : "", dir);
}

int zh_feat_get(const char *root, unsigned int flags, struct zh_kfeat *f,
		bool *probed, char *why, size_t why_len)
{
	char dir[ZH_PIN_PATH_MAX], buf[1024];
	int err;

	if (probed)
		*probed = false;
	err = pin_dirs(dir, sizeof(dir), root);
	if (err)
		return zh_errf(why, why_len, err, "pin root %s: %s", root,
			       strerror(-err));
	err = zh_feat_read(dir, f);
	if (!err) {
		disabled_differs(f, dir);
		return 0;
	}
	if (err != -ENOENT || !(flags & ZH_OBJS_LOAD))
		return zh_errf(why, why_len, err, "%s/%s: %s", dir,
			       ZH_MAP_FEATURES, strerror(-err));
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return zh_errf(why, why_len, -errno, "mkdir %s: %s", dir,
			       strerror(errno));
	err = zh_feat_probe(f, buf, sizeof(buf));
	if (err)
		return zh_errf(why, why_len, err,
			       "probing the kernel's features: %s", buf);
	err = zh_feat_write(dir, f);
	if (err)
		return zh_errf(why, why_len, err, "pin %s/%s: %s", dir,
			       ZH_MAP_FEATURES, strerror(-err));
	pr_debug("probed %s\n", zh_feat_summary(f, buf, sizeof(buf)));
	if (probed)
		*probed = true;
	return 0;
}

int zh_objs_open(struct zh_objs *o, const char *root, unsigned int flags,
		 const struct zh_load_opts *opts)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int err;

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < N_PINS; i++)
		*pin_fd(o, i) = -1;
	if (snprintf(o->root, sizeof(o->root), "%s", root) >=
		    (int)sizeof(o->root) ||
	    pin_dirs(o->dir, sizeof(o->dir), root))
		return zh_errf(o->err, sizeof(o->err), -ENAMETOOLONG,
			       "pin root %.64s...: longer than %d bytes", root,
			       ZH_PIN_PATH_MAX - 16);
	err = zh_feat_get(root, flags, &o->feat, &o->probed, o->err,
			  sizeof(o->err));
	if (err)
		return err;
	if (!zh_kfeat_has(&o->feat, ZH_FEAT_MAPS))
		return zh_errf(
			o->err, sizeof(o->err), -EOPNOTSUPP,
			"this kernel lacks the feature %s (%s): nothing can load",
			zh_feat_name(ZH_FEAT_MAPS),
			zh_feat_doc(ZH_FEAT_MAPS)->what);
	if (!all_pinned(o)) {
		if (!(flags & ZH_OBJS_LOAD))
			return zh_errf(o->err, sizeof(o->err), -ENOENT,
				       "nothing pinned in %s", o->dir);
		o->fresh = !any_prog_pinned(o);
		err = load_programs(o, opts);
		if (err)
			return err;
		o->loaded = true;
	}
	for (size_t i = 0; i < N_PINS; i++) {
		bool optional = pins[i].prog && apart(pins[i].name);

		if (!optional &&
		    !made_here(&o->feat, pins[i].name, pins[i].prog))
			continue;
		pin_path(path, sizeof(path), o->dir, pins[i].name);
		*pin_fd(o, i) = bpf_obj_get(path);
		if (*pin_fd(o, i) < 0 && optional && errno == ENOENT)
			continue;
		if (*pin_fd(o, i) < 0) {
			err = -errno;
			zh_objs_close(o);
			return zh_errf(o->err, sizeof(o->err), err,
				       "open pin %s: %s", path, strerror(-err));
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

/* A pinned bpf_link (socket-level LB's cgroup attachments): detached
 * first, so that nothing of ours stays attached even while some process
 * still holds the link open. */
static void link_detach(const char *path)
{
	char fdpath[64], target[64];
	ssize_t n;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	n = readlink(fdpath, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if (!strcmp(target, "anon_inode:bpf_link"))
			bpf_link_detach(fd);
	}
	close(fd);
}

/* Everything in the pin directory is ours: the maps and programs, the
 * feature set, the programs' scratch map, socket-level LB's links. */
int zh_objs_unpin(const char *root)
{
	char dir[ZH_PIN_PATH_MAX], path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int err;

	err = pin_dirs(dir, sizeof(dir), root);
	if (err)
		return err;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		pin_path(path, sizeof(path), dir, e->d_name);
		link_detach(path);
		if (unlink(path) < 0 && errno != ENOENT && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT && !err)
		err = -errno;
	return err;
}
