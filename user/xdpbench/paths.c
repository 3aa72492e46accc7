// SPDX-License-Identifier: Apache-2.0
/*
 * paths.c - the measured paths, each a client and a server in network
 * namespaces made here (host: both in ours, over loopback):
 *
 *   veth         two netns joined by a bare veth pair: the floor
 *   bridge       node netns + two pods wired by the reference bridge plugin
 *   kubeproxy    bridge + kube-proxy's iptables rules for N Services in the
 *                node; the client sends to the last Service's ClusterIP
 *   nftables     bridge + kube-proxy's nftables rules, same Services
 *   zerohop-tc   node netns + two pods wired by our plugin, "datapath": "tc"
 *   zerohop-xdp  the same with "datapath": "xdp"
 *   zerohop-svc  zerohop-tc + the same N Services, balanced in BPF: programmed
 *                with zh_svc_apply() into maps loaded (big enough) before
 *                the first ADD; the client sends to the last ClusterIP
 *   zerohop-afxdp  zerohop-tc with "afxdp" on both pods: the plugin attaches
 *                zh_xdp_pod_xsk (native XDP) to each pod's eth0 and steers
 *                UDP to the bench's port into the pod's AF_XDP socket; pod
 *                a (the client) also steers every other UDP port, because
 *                a reply goes to the request's source port, which
 *                udp-newflow varies, and rules match destination ports
 *                only. The agent's side of the handoff runs in a thread
 *                here (afxdp.c), on a socket in the temporary directory
 *                that the config names ("socketPath"); client and server
 *                are `xdpbench client|server --afxdp` processes in the
 *                pods, and always spin on their rings: --busy-poll is
 *                implied, whatever the other paths do. UDP only: TCP
 *                workloads are skipped (xb_path_wl_skip()).
 *   zerohop-sock zerohop-svc's setup (the same N Services in BPF maps of
 *                its own) plus socket-level load balancing: the zh_sock_*
 *                cgroup programs attached (zh_socklb_attach()) to a cgroup
 *                v2 directory made for the path, below the root but never
 *                the root itself; the process moves into it only while
 *                the client runs (xb_cgroup_enter()), so that the client's
 *                sockets, and only they, are balanced at connect() and
 *                sendmsg(); the server's socket, made before, is not. The
 *                client in pod a sends to the last ClusterIP
 *   host-svc     the same, with the client in the node netns (a
 *                hostNetwork pod, a host agent): without socket-level LB
 *                the node has no way to a ClusterIP at all
 *   kubeproxy-host  kubeproxy's setup with the client in the node netns:
 *                the rules' OUTPUT hook DNATs it, POSTROUTING masquerades
 *                (what a node without zerohop's socket-LB does for
 *                host-svc's client)
 *
 *   kubeproxy-nodeport  two nodes and a client on a fabric bridge (as
 *                kind's): the client sends to node A's NodePort, whose
 *                backend is a pod on node B; node A has kube-proxy's
 *                iptables rules for it (DNAT, MASQUERADE --random-fully)
 *                and forwards; node B routes to its pod
 *   zerohop-nodeport  the same fabric, node A with zerohop's objects
 *                (zh_tc_uplink on its uplink, the NodePort programmed with
 *                zh_svc_apply): DNAT and SNAT in BPF, the kernel of node A
 *                forwards nothing (ip_forward 0, FORWARD DROP)
 *   zerohop-nodeport-dsr  the same fabric, both nodes with zerohop's
 *                objects in DSR mode (zerohopd --nodeport-mode dsr: the
 *                node table of both, zh_tc_uplink on each uplink, the
 *                NodePort on each) and node B's pod wired by the zerohop
 *                plugin: node A DNATs the request and adds the front end
 *                as an IP option, node B's uplink program takes it out
 *                and the pod's reply leaves node B straight to the client,
 *                from node A's address; node A forwards nothing either
 *
 * CNI plugins are run as a runtime runs them: CNI_* environment, the config
 * on stdin, from inside the node netns. Everything made is recorded in
 * struct xb_env first and removed by xb_env_cleanup() on every exit path:
 * a DEL for every ADD, the namespaces (with every link, bridge, rule and
 * conntrack entry in them), the pin root and the temporary directory
 * (with the AF_XDP handoff socket: its agent is stopped, its thread
 * joined, before anything else is removed).
 */
#define _GNU_SOURCE /* unshare() */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "xdpbench.h"
#include "socklb.h"
#include "svc.h"
#include "svc_maps.h"
#include "nodes.h"
#include "masq.h"
#include "zerohop.h"

#define XB_NETNS_DIR "/run/netns"
#define XB_BPFFS "/sys/fs/bpf"
#define XB_BRIDGE_NAME "xbbr0"
#define XB_POD_IFNAME "eth0"

const char *const xb_path_names[XB_P_MAX] = {
	[XB_P_HOST] = "host",
	[XB_P_VETH] = "veth",
	[XB_P_BRIDGE] = "bridge",
	[XB_P_KUBEPROXY] = "kubeproxy",
	[XB_P_NFTABLES] = "nftables",
	[XB_P_ZH_TC] = "zerohop-tc",
	[XB_P_ZH_XDP] = "zerohop-xdp",
	[XB_P_ZH_SVC] = "zerohop-svc",
	[XB_P_ZH_AFXDP] = "zerohop-afxdp",
	[XB_P_ZH_SOCK] = "zerohop-sock",
	[XB_P_HOST_SVC] = "host-svc",
	[XB_P_KUBEPROXY_HOST] = "kubeproxy-host",
	[XB_P_KP_NODEPORT] = "kubeproxy-nodeport",
	[XB_P_ZH_NODEPORT] = "zerohop-nodeport",
	[XB_P_NODE] = "node",
	[XB_P_ZH_NATIVE] = "zerohop-native",
	[XB_P_ZH_VXLAN] = "zerohop-vxlan",
	[XB_P_BRIDGE_ROUTES] = "bridge-routes",
	[XB_P_VXLAN_BRIDGE] = "vxlan-bridge",
	[XB_P_ZH_POLICY] = "zerohop-policy",
	[XB_P_ZH_VXLAN_DEV] = "zerohop-vxlan-dev",
	[XB_P_ZH_NETKIT] = "zerohop-netkit",
	[XB_P_ZH_SOCK_POD] = "zerohop-sock-pod",
	[XB_P_ZH_NODEPORT_DSR] = "zerohop-nodeport-dsr",
};

/* Pod subnets, one per path, all outside the ClusterIP range 10.96/12. */
static const char *const xb_subnets[XB_P_MAX] = {
	[XB_P_VETH] = "10.240.0.0/24",
	[XB_P_BRIDGE] = "10.241.0.0/24",
	[XB_P_KUBEPROXY] = "10.242.0.0/24",
	[XB_P_NFTABLES] = "10.243.0.0/24",
	[XB_P_ZH_TC] = "10.244.0.0/24",
	[XB_P_ZH_XDP] = "10.245.0.0/24",
	[XB_P_ZH_SVC] = "10.246.0.0/24",
	[XB_P_ZH_AFXDP] = "10.247.0.0/24",
	[XB_P_ZH_SOCK] = "10.248.0.0/24",
	[XB_P_HOST_SVC] = "10.249.0.0/24",
	[XB_P_KUBEPROXY_HOST] = "10.251.0.0/24",
	[XB_P_ZH_POLICY] = "10.252.0.0/24",
	[XB_P_ZH_SOCK_POD] = "10.253.0.0/24",
};

const char *xb_path_wl_skip(int path, enum xb_workload wl)
{
	if (path == XB_P_ZH_AFXDP && xb_workload_is_tcp(wl))
		return "AF_XDP path: UDP workloads only";
	if (path == XB_P_ZH_AFXDP && wl == XB_WL_UDP_CRR)
		return "AF_XDP path: udp-crr is a kernel socket's calls";
	return NULL;
}

const char *xb_netns_path(const char *name, char *buf, size_t len)
{
	if (!name || !*name)
		return NULL;
	snprintf(buf, len, XB_NETNS_DIR "/%s", name);
	return buf;
}

/* --- the run's state and its removal ------------------------------------ */

int xb_env_init(struct xb_env *e)
{
	const char *tmp = getenv("TMPDIR");

	memset(e, 0, sizeof(*e));
	snprintf(e->prefix, sizeof(e->prefix), "xb%d", (int)getpid());
	snprintf(e->tmp, sizeof(e->tmp), "%s/%s.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp", e->prefix);
	if (!mkdtemp(e->tmp)) {
		int err = -errno;

		pr_warn("mkdtemp %s: %s\n", e->tmp, strerror(errno));
		e->tmp[0] = '\0';
		return err;
	}
	return 0;
}

static int xb_rm_one(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT)
		pr_warn("cleanup: cannot remove %s: %s\n", path,
			strerror(errno));
	return 0;
}

/* rm -rf, without crossing into other filesystems. */
static void xb_rm_rf(const char *path)
{
	if (nftw(path, xb_rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) &&
	    errno != ENOENT)
		pr_warn("cleanup: %s: %s\n", path, strerror(errno));
}

static int xb_netns_del(const char *name)
{
	char path[PATH_MAX];
	int ret = 0;

	xb_netns_path(name, path, sizeof(path));
	/* Lazily: a thread still inside keeps the netns, not the name. */
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		ret = -errno;
	if (unlink(path) && errno != ENOENT)
		ret = -errno;
	return ret;
}

static int xb_cni(struct xb_env *e, const char *cmd, const struct xb_cni_add *a,
		  json_t **result, char *why, size_t why_len);

void xb_env_cleanup(struct xb_env *e)
{
	char why[512];
	int i;

	/* The AF_XDP agent first: no thread of ours runs past this point. */
	xb_xsk_agent_stop(e->xsk);
	e->xsk = NULL;
	/* One DEL for every ADD (also those that failed), newest first. */
	for (i = e->n_adds - 1; i >= 0; i--) {
		if (xb_cni(e, "DEL", &e->adds[i], NULL, why, sizeof(why)))
			pr_warn("cleanup: %s\n", why);
	}
	e->n_adds = 0;
	for (i = e->n_netns - 1; i >= 0; i--) {
		int ret = xb_netns_del(e->netns[i]);

		if (ret)
			pr_warn("cleanup: netns %s: %s\n", e->netns[i],
				strerror(-ret));
	}
	e->n_netns = 0;
	/* Socket-LB: this process back where it came from, our links off
	 * the cgroups, the cgroups (empty now) removed. */
	if (e->cg_home[0])
		xb_cgroup_enter(e, NULL);
	for (i = 0; i < XB_P_MAX; i++) {
		if (e->zh_objs[i] && e->cgroups[i][0])
			zh_socklb_detach(e->zh_objs[i]);
		if (e->cgroups[i][0] && rmdir(e->cgroups[i]) && errno != ENOENT)
			pr_warn("cleanup: rmdir %s: %s\n", e->cgroups[i],
				strerror(errno));
		e->cgroups[i][0] = '\0';
		if (e->zh_objs[i]) {
			zh_objs_close(e->zh_objs[i]);
			free(e->zh_objs[i]);
			e->zh_objs[i] = NULL;
		}
	}
	if (e->zh_np) {
		zh_objs_close(e->zh_np);
		free(e->zh_np);
		e->zh_np = NULL;
	}
	if (e->zh_dsr_b) {
		zh_objs_close(e->zh_dsr_b);
		free(e->zh_dsr_b);
		e->zh_dsr_b = NULL;
	}
	if (e->pin_root[0]) {
		xb_rm_rf(e->pin_root);
		e->pin_root[0] = '\0';
	}
	if (e->tmp[0]) {
		xb_rm_rf(e->tmp);
		e->tmp[0] = '\0';
	}
}

/* A file name in the run's temporary directory. */
static const char *xb_tmp_file(struct xb_env *e, char *buf, size_t len,
			       const char *name)
{
	snprintf(buf, len, "%s/%s", e->tmp, name);
	return buf;
}

/* --- network namespaces ---------------------------------------------------- */

/* In a new netns of this thread's (zh_netns_run(NULL, ...) brings the
 * thread back): bind-mount it on the file @arg, loopback up. */
static int xb_netns_new_fn(void *arg)
{
	const char *path = arg;

	if (unshare(CLONE_NEWNET))
		return -errno;
	if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL))
		return -errno;
	/* Loopback is ifindex 1 in every netns. */
	return zh_nl_link_up(1);
}

/*
 * What `ip netns add` does: /run/netns a shared mount point (so the
 * bind mounts propagate to every mount namespace and unmount everywhere),
 * an empty file, a new netns bind-mounted on it. The netns is made by
 * this thread, which then comes back.
 */
static int xb_netns_add(struct xb_env *e, const char *path_name,
			const char *role, char *name, size_t name_len)
{
	char path[PATH_MAX];
	bool made_mount = false;
	int fd;

	if (e->n_netns == XB_MAX_NETNS)
		return -ENOSPC;
	snprintf(name, name_len, "%s-%s-%s", e->prefix, path_name, role);
	if (mkdir(XB_NETNS_DIR, 0755) && errno != EEXIST)
		return -errno;
	while (mount("", XB_NETNS_DIR, "none", MS_SHARED | MS_REC, NULL)) {
		if (errno != EINVAL || made_mount)
			return -errno;
		if (mount(XB_NETNS_DIR, XB_NETNS_DIR, "none", MS_BIND | MS_REC,
			  NULL))
			return -errno;
		made_mount = true;
	}
	xb_netns_path(name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	/* Ours from here on: recorded before anything else can fail. */
	snprintf(e->netns[e->n_netns++], XB_NAME_MAX, "%s", name);

	return zh_netns_run(NULL, xb_netns_new_fn, path);
}

/* Run @fn in netns @name, from this thread. */
static int xb_in_netns(const char *name, int (*fn)(void *), void *arg)
{
	char path[PATH_MAX];

	return zh_netns_run(xb_netns_path(name, path, sizeof(path)), fn, arg);
}

struct xb_sysctl {
	const char *key, *val;
	bool optional; /* missing is fine */
};

static int xb_sysctl_fn(void *arg)
{
	const struct xb_sysctl *s = arg;
	char path[PATH_MAX];
	int fd, ret = 0;
	size_t len = strlen(s->val);

	/* /proc/sys/net is the netns of the thread that opens it. */
	snprintf(path, sizeof(path), "/proc/sys/%s", s->key);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT && s->optional ? 0 : -errno;
	if (write(fd, s->val, len) != (ssize_t)len)
		ret = -errno;
	close(fd);
	return ret;
}

static int xb_sysctl(const char *ns, const char *key, const char *val,
		     bool optional, char *why, size_t why_len)
{
	struct xb_sysctl s = { key, val, optional };
	int ret = xb_in_netns(ns, xb_sysctl_fn, &s);

	if (ret)
		zh_errf(why, why_len, -EIO, "sysctl %s=%s in %s: %s", key, val,
			ns, strerror(-ret));
	return ret;
}

/* --- a node netns as a client ------------------------------------------------ */

/* The node's own address (on lo), as 10.200.0.1 is in the tests' nodes:
 * the source of host-svc's requests and where the pod's replies go. */
#define XB_NODE_ADDR "10.200.255.1/32"
/* The ClusterIP range: a node routes it (its default route does). */
#define XB_SVC_CIDR "10.96.0.0/12"

struct xb_node_prep {
	const char *lo_addr; /* NULL: none */
	const char *route_dev; /* XB_SVC_CIDR on-link out of it; NULL: none */
};

static int xb_node_prep_fn(void *arg)
{
	const struct xb_node_prep *n = arg;
	struct zh_addr a;
	int ret = 0, idx;

	if (n->lo_addr) {
		ret = zh_addr_parse(n->lo_addr, true, &a);
		if (!ret)
			ret = zh_nl_addr_add(1, &a, 0); /* lo is ifindex 1 */
	}
	if (!ret && n->route_dev) {
		idx = (int)if_nametoindex(n->route_dev);
		if (!idx)
			return -errno;
		ret = zh_addr_parse(XB_SVC_CIDR, true, &a);
		if (!ret)
			ret = zh_nl_route_add(idx, &a, NULL);
	}
	return ret;
}

/* --- veth ----------------------------------------------------------------- */

struct xb_veth {
	int peer_fd; /* -1: only configure */
	const char *addr;
};

static int xb_veth_fn(void *arg)
{
	const struct xb_veth *v = arg;
	struct zh_addr a;
	int idx, ret;

	if (v->peer_fd >= 0) {
		ret = zh_nl_veth_add(XB_POD_IFNAME, XB_POD_IFNAME, v->peer_fd,
				     1500);
		if (ret)
			return ret;
	}
	idx = (int)if_nametoindex(XB_POD_IFNAME);
	if (!idx)
		return -errno;
	ret = zh_addr_parse(v->addr, true, &a);
	if (!ret)
		ret = zh_nl_addr_add(idx, &a, 0);
	if (!ret)
		ret = zh_nl_link_up(idx);
	return ret;
}

static int xb_setup_veth(struct xb_env *e, struct xb_path *p, char *why,
			 size_t why_len)
{
	char path[PATH_MAX];
	struct xb_veth v;
	int ret, fd;

	ret = xb_netns_add(e, "veth", "a", p->cli_ns, sizeof(p->cli_ns));
	if (!ret)
		ret = xb_netns_add(e, "veth", "b", p->srv_ns,
				   sizeof(p->srv_ns));
	if (ret)
		return zh_errf(why, why_len, -EIO, "netns: %s", strerror(-ret));
	fd = open(xb_netns_path(p->srv_ns, path, sizeof(path)),
		  O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return zh_errf(why, why_len, -EIO, "%s: %s", path,
			       strerror(errno));
	v.peer_fd = fd;
	v.addr = "10.240.0.1/24";
	ret = xb_in_netns(p->cli_ns, xb_veth_fn, &v);
	close(fd);
	if (!ret) {
		v.peer_fd = -1;
		v.addr = "10.240.0.2/24";
		ret = xb_in_netns(p->srv_ns, xb_veth_fn, &v);
	}
	if (ret)
		return zh_errf(why, why_len, -EIO, "veth: %s", strerror(-ret));
	inet_pton(AF_INET, "10.240.0.2", &p->srv_ip);
	return 0;
}

/* --- CNI -------------------------------------------------------------------- */

/* The first line of a file, for error messages. */
static void xb_first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/*
 * Run the plugin of @a with CNI_COMMAND=@cmd. With @result, ADD's result is
 * parsed into it. On failure @why has the plugin's own error message.
 */
static int xb_cni(struct xb_env *e, const char *cmd, const struct xb_cni_add *a,
		  json_t **result, char *why, size_t why_len)
{
	char out[PATH_MAX], err[PATH_MAX], ns[PATH_MAX], name[128];
	char env_cmd[32], env_id[96], env_ns[PATH_MAX + 16], env_path[4200],
		env_pin[160], msg[256];
	const char *env[8] = { env_cmd, env_id, env_ns,
			       "CNI_IFNAME=" XB_POD_IFNAME, env_path };
	const char *argv[] = { a->plugin, NULL };
	struct xb_cmd c = {
		.argv = argv,
		.env = env,
		.in = a->conf,
		.out = out,
		.err = err,
		.killable = !strcmp(cmd, "ADD"),
	};
	const char *plugin = strrchr(a->plugin, '/');
	json_error_t jerr;
	json_t *res;
	int rc;

	plugin = plugin ? plugin + 1 : a->plugin;
	snprintf(env_cmd, sizeof(env_cmd), "CNI_COMMAND=%s", cmd);
	snprintf(env_id, sizeof(env_id), "CNI_CONTAINERID=%s", a->pod);
	snprintf(env_ns, sizeof(env_ns), "CNI_NETNS=%s",
		 xb_netns_path(a->pod, ns, sizeof(ns)));
	snprintf(env_path, sizeof(env_path), "CNI_PATH=%s", a->cni_path);
	if (a->pin_root[0]) {
		snprintf(env_pin, sizeof(env_pin), "ZEROHOP_PIN_ROOT=%s",
			 a->pin_root);
		env[5] = env_pin;
	}
	snprintf(name, sizeof(name), "%s.%s.out", a->pod, cmd);
	xb_tmp_file(e, out, sizeof(out), name);
	snprintf(name, sizeof(name), "%s.%s.err", a->pod, cmd);
	xb_tmp_file(e, err, sizeof(err), name);
	c.netns = xb_netns_path(a->node, ns, sizeof(ns));

	rc = xb_cmd_run(&c);
	if (rc < 0)
		return zh_errf(why, why_len, -EIO, "%s %s: cannot run %s: %s",
			       cmd, a->pod, a->plugin, strerror(-rc));
	res = json_load_file(out, 0, &jerr);
	if (rc) {
		/* The CNI error JSON on stdout, else whatever was on stderr. */
		const char *m =
			res ? json_string_value(json_object_get(res, "msg")) :
			      NULL;
		const char *d = res ? json_string_value(
					      json_object_get(res, "details")) :
				      NULL;

		if (!m)
			xb_first_line(err, msg, sizeof(msg));
		zh_errf(why, why_len, -EIO,
			"%s %s with %s failed (exit %d): %s%s%s", cmd, a->pod,
			plugin, rc, m ? m : msg, d ? ": " : "", d ? d : "");
		json_decref(res);
		return -EIO;
	}
	if (!result) {
		json_decref(res);
		return 0;
	}
	if (!res)
		return zh_errf(why, why_len, -EIO, "%s %s with %s: result: %s",
			       cmd, a->pod, plugin, jerr.text);
	*result = res;
	return 0;
}

/* The address and gateway of the result's first IPv4 address. */
static int xb_cni_ip(json_t *res, struct in_addr *ip, struct in_addr *gw)
{
	json_t *ips = json_object_get(res, "ips"), *v;
	size_t i;

	json_array_foreach (ips, i, v) {
		const char *addr =
			json_string_value(json_object_get(v, "address"));
		const char *g =
			json_string_value(json_object_get(v, "gateway"));
		char buf[INET_ADDRSTRLEN + 4];

		if (!addr || !strchr(addr, '.'))
			continue;
		snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(addr, "/"),
			 addr);
		if (inet_pton(AF_INET, buf, ip) != 1)
			return -EINVAL;
		if (gw && (!g || inet_pton(AF_INET, g, gw) != 1))
			gw->s_addr = 0;
		return 0;
	}
	return -ENOENT;
}

/* ADD pod @pod of node @node with @plugin; the first IPv4 address out. */
static int xb_pod_add(struct xb_env *e, const char *node, const char *pod,
		      const char *conf, const char *plugin,
		      const char *cni_path, const char *pin_root,
		      struct in_addr *ip, struct in_addr *gw, char *why,
		      size_t why_len)
{
	struct xb_cni_add *a;
	json_t *res = NULL;
	int ret;

	if (e->n_adds == XB_MAX_ADDS)
		return zh_errf(why, why_len, -EIO, "too many pods");
	if (strlen(conf) >= sizeof(e->adds[0].conf) ||
	    strlen(plugin) >= sizeof(e->adds[0].plugin) ||
	    strlen(cni_path) >= sizeof(e->adds[0].cni_path))
		return zh_errf(why, why_len, -EIO, "%s: a path is too long",
			       pod);
	/* Recorded first: DEL undoes a half-done ADD too. */
	a = &e->adds[e->n_adds++];
	snprintf(a->node, sizeof(a->node), "%s", node);
	snprintf(a->pod, sizeof(a->pod), "%s", pod);
	snprintf(a->conf, sizeof(a->conf), "%s", conf);
	snprintf(a->plugin, sizeof(a->plugin), "%s", plugin);
	snprintf(a->cni_path, sizeof(a->cni_path), "%s", cni_path);
	snprintf(a->pin_root, sizeof(a->pin_root), "%s",
		 pin_root ? pin_root : "");

	ret = xb_cni(e, "ADD", a, &res, why, why_len);
	if (ret)
		return ret;
	ret = xb_cni_ip(res, ip, gw);
	json_decref(res);
	if (ret)
		return zh_errf(why, why_len, -EIO,
			       "ADD %s: no IPv4 address in the result", pod);
	return 0;
}

/* @name in the colon-separated @dirs: its path in @buf. */
static int xb_find_in(const char *dirs, const char *name, char *buf, size_t len)
{
	const char *p, *end;

	for (p = dirs; *p; p = *end ? end + 1 : end) {
		int n;

		end = strchrnul(p, ':');
		if (end == p)
			continue;
		n = snprintf(buf, len, "%.*s/%s", (int)(end - p), p, name);
		if (n > 0 && (size_t)n < len && !access(buf, X_OK))
			return 0;
	}
	return -ENOENT;
}

static int xb_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* A node netns and pods a (client) and b (server) wired by @plugin, with
 * the network config @conf_a and @conf_b (NULL: @conf_a's). */
static int xb_setup_pods(struct xb_env *e, struct xb_path *p,
			 const char *plugin, const char *cni_path,
			 const char *conf_a, const char *conf_b,
			 const char *pin_root, char *why, size_t why_len)
{
	const char *name = xb_path_names[p->id];
	char conf[PATH_MAX], conf2[PATH_MAX], fname[128];
	struct in_addr gw_a;
	int ret;

	ret = 0;
	if (!p->node_ns[0])
		ret = xb_netns_add(e, name, "node", p->node_ns,
				   sizeof(p->node_ns));
	if (!ret)
		ret = xb_netns_add(e, name, "a", p->cli_ns, sizeof(p->cli_ns));
	if (!ret)
		ret = xb_netns_add(e, name, "b", p->srv_ns, sizeof(p->srv_ns));
	if (ret)
		return zh_errf(why, why_len, -EIO, "netns: %s", strerror(-ret));

	snprintf(fname, sizeof(fname), "%s.conf", name);
	xb_tmp_file(e, conf, sizeof(conf), fname);
	ret = xb_write_file(conf, conf_a);
	if (ret)
		return zh_errf(why, why_len, -EIO, "%s: %s", conf,
			       strerror(-ret));
	snprintf(conf2, sizeof(conf2), "%s", conf);
	if (conf_b) {
		snprintf(fname, sizeof(fname), "%s-b.conf", name);
		xb_tmp_file(e, conf2, sizeof(conf2), fname);
		ret = xb_write_file(conf2, conf_b);
		if (ret)
			return zh_errf(why, why_len, -EIO, "%s: %s", conf2,
				       strerror(-ret));
	}
	ret = xb_pod_add(e, p->node_ns, p->cli_ns, conf, plugin, cni_path,
			 pin_root, &p->cli_ip, &gw_a, why, why_len);
	if (!ret)
		ret = xb_pod_add(e, p->node_ns, p->srv_ns, conf2, plugin,
				 cni_path, pin_root, &p->srv_ip, &p->gw, why,
				 why_len);
	return ret;
}

/* --- bridge, and the Services on top of it ------------------------------- */

static int xb_setup_bridge(struct xb_env *e, struct xb_path *p,
			   const struct xb_setup_opts *o, char *why,
			   size_t why_len)
{
	static const char *const brnf[] = {
		"net/bridge/bridge-nf-call-iptables",
		"net/bridge/bridge-nf-call-ip6tables",
		"net/bridge/bridge-nf-call-arptables",
	};
	const char *name = xb_path_names[p->id];
	char plugin[PATH_MAX], conf[1024], ipam[PATH_MAX];
	json_t *j;
	char *text;
	size_t i;
	int ret;

	if (xb_find_in(o->cni_path, "bridge", plugin, sizeof(plugin)) ||
	    xb_find_in(o->cni_path, "host-local", ipam, sizeof(ipam)))
		return zh_errf(
			why, why_len, -EIO,
			"the bridge and host-local CNI plugins are not in %s (--cni-path; Debian: containernetworking-plugins)",
			o->cni_path);
	snprintf(ipam, sizeof(ipam), "%s/ipam-%s", e->tmp, name);
	/* A default route via the bridge, as on a node: how a pod reaches
	 * a ClusterIP. */
	j = json_pack(
		"{s:s, s:s, s:s, s:s, s:b, s:b, s:{s:s, s:[[{s:s}]], s:[{s:s}], s:s}}",
		"cniVersion", "1.0.0", "name", name, "type", "bridge", "bridge",
		XB_BRIDGE_NAME, "isGateway", 1, "ipMasq", 0, "ipam", "type",
		"host-local", "ranges", "subnet", xb_subnets[p->id], "routes",
		"dst", "0.0.0.0/0", "dataDir", ipam);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return zh_errf(why, why_len, -EIO, "out of memory");
	snprintf(conf, sizeof(conf), "%s\n", text);
	free(text);

	/* The node first: pods must never see a half-configured node. */
	ret = xb_netns_add(e, name, "node", p->node_ns, sizeof(p->node_ns));
	if (ret)
		return zh_errf(why, why_len, -EIO, "netns: %s", strerror(-ret));
	ret = xb_sysctl(p->node_ns, "net/ipv4/ip_forward", "1", false, why,
			why_len);
	/* No br_netfilter: frames between ports of the bridge stay out of
	 * iptables; what is routed (to a ClusterIP) goes through it. */
	for (i = 0; !ret && i < sizeof(brnf) / sizeof(brnf[0]); i++)
		ret = xb_sysctl(p->node_ns, brnf[i], "0", true, why, why_len);
	if (ret)
		return ret;
	return xb_setup_pods(e, p, plugin, o->cni_path, conf, NULL, NULL, why,
			     why_len);
}

/*
 * udp-newflow's source ports come round again after ~64 k requests, a few
 * seconds; with conntrack's default 30 s they would find last round's
 * entry and not be new flows at all. 1 s keeps every one of them new.
 */
#define XB_CT_UDP_TIMEOUT "1"

static int xb_setup_services(struct xb_env *e, struct xb_path *p,
			     const struct xb_setup_opts *o, char *why,
			     size_t why_len)
{
	bool nft = p->id == XB_P_NFTABLES;
	struct xb_svc_cfg cfg = {
		.n = (uint32_t)o->services,
		.target_ip = p->srv_ip,
		.target_port = XB_DEFAULT_PORT,
	};
	const char *ipt_argv[] = { "iptables-restore", "--noflush", NULL };
	char rules[PATH_MAX], out[PATH_MAX], err[PATH_MAX], ns[PATH_MAX],
		msg[256];
	const char *nft_argv[] = { "nft", "-f", rules, NULL };
	struct xb_cmd c = {
		.argv = nft ? nft_argv : ipt_argv,
		.netns = xb_netns_path(p->node_ns, ns, sizeof(ns)),
		.in = nft ? NULL : rules,
		.out = xb_tmp_file(e, out, sizeof(out), "rules.out"),
		.err = xb_tmp_file(e, err, sizeof(err), "rules.err"),
		.killable = true,
	};
	uint64_t t0 = xb_now_ns();
	FILE *f;
	int ret;

	xb_tmp_file(e, rules, sizeof(rules),
		    nft ? "nftables.nft" : "kubeproxy.rules");
	f = fopen(rules, "w");
	if (!f)
		return zh_errf(why, why_len, -EIO, "%s: %s", rules,
			       strerror(errno));
	ret = nft ? xb_svc_nft(f, &cfg) : xb_svc_iptables(f, &cfg);
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret)
		return zh_errf(why, why_len, -EIO, "%s: %s", rules,
			       strerror(-ret));

	if (!o->quiet)
		pr_info("%s: loading %u Services with %s\n",
			xb_path_names[p->id], cfg.n,
			nft ? "nft -f" : "iptables-restore --noflush");
	ret = xb_cmd_run(&c);
	if (ret) {
		xb_first_line(err, msg, sizeof(msg));
		return zh_errf(why, why_len, -EIO, "%s: %s", c.argv[0],
			       ret < 0 ? strerror(-ret) : msg);
	}
	p->info.set = true;
	p->info.services = cfg.n;
	p->info.programming_s = (double)(xb_now_ns() - t0) / 1e9;
	if (!o->quiet)
		pr_info("%s: loaded in %.1f s\n", xb_path_names[p->id],
			p->info.programming_s);
	ret = xb_sysctl(p->node_ns, "net/netfilter/nf_conntrack_udp_timeout",
			XB_CT_UDP_TIMEOUT, false, why, why_len);
	if (ret)
		return ret;
	p->target.sin_addr = xb_svc_vip(cfg.n - 1);
	p->target.sin_port = htons(XB_SVC_PORT);
	xb_svc_chain(p->sep_chain, sizeof(p->sep_chain), "KUBE-SEP-", cfg.n - 1,
		     IPPROTO_UDP, 0);
	return 0;
}

/* --- zerohop ---------------------------------------------------------------- */

/*
 * zerohop-svc, before the first ADD: the objects loaded and pinned with a
 * zh_maglev big enough for every Service (the plugin reuses pinned maps,
 * never resizes them), kept open for zh_svc_apply() and the checks.
 */
static int xb_zh_svc_load(struct xb_env *e, const struct xb_path *p,
			  const char *pin, uint32_t slots, uint32_t conntrack,
			  char *why, size_t why_len)
{
	struct zh_load_opts load = { .maglev_slots = slots,
				     .ct_max = conntrack };
	struct zh_objs *objs;
	int lock, ret;

	objs = calloc(1, sizeof(*objs));
	if (!objs)
		return zh_errf(why, why_len, -EIO, "out of memory");
	lock = zh_pin_lock(pin);
	if (lock < 0) {
		ret = lock;
		goto err;
	}
	ret = zh_objs_open(objs, pin, ZH_OBJS_LOAD, &load);
	zh_pin_unlock(lock);
	if (ret)
		goto err;
	e->zh_objs[p->id] = objs;
	return 0;

err:
	ret = zh_errf(why, why_len, -EIO, "loading the BPF objects into %s: %s",
		      pin, objs->err[0] ? objs->err : strerror(-ret));
	free(objs);
	return ret;
}

/* The Services into the maps, timed: the kubeproxy path's layout. */
static int xb_zh_svc_apply(struct xb_env *e, struct xb_path *p,
			   const struct xb_setup_opts *o, const char *pin,
			   char *why, size_t why_len)
{
	struct xb_svc_cfg cfg = {
		.n = (uint32_t)o->services,
		.target_ip = p->srv_ip,
		.target_port = XB_DEFAULT_PORT,
	};
	struct zh_svc_apply_result r;
	struct zh_svc_set set;
	uint64_t t0;
	int lock, ret;

	ret = xb_svc_zh_set(&cfg, &set);
	if (ret)
		return zh_errf(why, why_len, -EIO, "Services: %s",
			       strerror(-ret));
	if (!o->quiet)
		pr_info("%s: programming %u Services (%zu VIP:port entries) with zh_svc_apply\n",
			xb_path_names[p->id], cfg.n, set.n);
	lock = zh_pin_lock(pin);
	if (lock < 0) {
		ret = lock;
		snprintf(r.err, sizeof(r.err), "zh_pin_lock: %s",
			 strerror(-ret));
	} else {
		t0 = xb_now_ns();
		ret = zh_svc_apply(e->zh_objs[p->id], &set, &r);
		p->info.programming_s = (double)(xb_now_ns() - t0) / 1e9;
		zh_pin_unlock(lock);
	}
	xb_svc_zh_free(&set);
	if (ret)
		return zh_errf(why, why_len, -EIO, "zh_svc_apply: %s",
			       r.err[0] ? r.err : strerror(-ret));
	p->info.set = true;
	p->info.services = cfg.n;
	p->info.maglev_slots = r.slots_used;
	/* An array map keeps each u32 value in 8 bytes (round_up(4, 8)). */
	p->info.maglev_bytes = (uint64_t)r.slots_used * 8;
	p->info.maglev_map_bytes = (uint64_t)r.slots_total * 8;
	if (!o->quiet)
		pr_info("%s: zh_svc_apply took %.3f s: %zu added, %" PRIu32
			" Maglev slots in use = %.1f MiB (zh_maglev: %" PRIu32
			" slots, %.1f MiB)\n",
			xb_path_names[p->id], p->info.programming_s, r.added,
			r.slots_used, (double)p->info.maglev_bytes / 1048576.0,
			r.slots_total,
			(double)p->info.maglev_map_bytes / 1048576.0);
	p->target.sin_addr = xb_svc_vip(cfg.n - 1);
	p->target.sin_port = htons(XB_SVC_PORT);
	return 0;
}

char *xb_zh_conf(const char *name, const char *datapath, const char *subnet,
		 const char *ipam_dir, const char *xsk_sock,
		 bool xsk_every_port)
{
	json_t *j, *afxdp;
	char *text, *out = NULL;

	/* 1.1.0 with "afxdp": the result names the socket
	 * (interfaces[].socketPath). */
	j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:{s:s, s:[[{s:s}]], s:s}}",
		      "cniVersion", xsk_sock ? "1.1.0" : "1.0.0", "name", name,
		      "type", "zerohop", "datapath", datapath, "mtu", 1500,
		      "ipam", "type", "host-local", "ranges", "subnet", subnet,
		      "dataDir", ipam_dir);
	if (j && xsk_sock) {
		afxdp = json_pack("{s:[{s:s, s:i}], s:s}", "steer", "proto",
				  "udp", "port", XB_DEFAULT_PORT, "socketPath",
				  xsk_sock);
		/* No port: every UDP port (the exact rule still matches
		 * first, with one lookup). */
		if (afxdp && xsk_every_port &&
		    json_array_append_new(json_object_get(afxdp, "steer"),
					  json_pack("{s:s}", "proto", "udp"))) {
			json_decref(afxdp);
			afxdp = NULL;
		}
		/* set_new takes @afxdp, also when it fails */
		if (!afxdp || json_object_set_new(j, "afxdp", afxdp)) {
			json_decref(j);
			j = NULL;
		}
	}
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text && asprintf(&out, "%s\n", text) < 0)
		out = NULL;
	free(text);
	if (!out)
		errno = ENOMEM;
	return out;
}

/* --- socket-level load balancing: a cgroup of the path's own ---------------- */

/* Where this process is in the cgroup v2 hierarchy under @root: the "0::"
 * line of /proc/self/cgroup. */
static int xb_cgroup_home(const char *root, char *buf, size_t len)
{
	char line[4096];
	int ret = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		ret = snprintf(buf, len, "%s%s", root,
			       strcmp(line + 3, "/") ? line + 3 : "") >=
				      (int)len ?
			      -ENAMETOOLONG :
			      0;
		break;
	}
	fclose(f);
	return ret;
}

int xb_cgroup_enter(struct xb_env *e, const char *dir)
{
	char path[PATH_MAX], pid[24];
	int fd, ret = 0, n;

	if (!dir)
		dir = e->cg_home;
	if (!*dir)
		return -ENOENT;
	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The whole process, every thread of it. */
	if (write(fd, pid, (size_t)n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * zerohop-sock, host-svc: a cgroup v2 directory of the path's own, below
 * the root (never the root: every socket of the machine would be
 * balanced by the bench's maps), with the pinned objects' zh_sock_*
 * programs attached to it as the agent attaches them.
 */
static int xb_socklb_setup(struct xb_env *e, struct xb_path *p, const char *pin,
			   char *why, size_t why_len)
{
	char root[PATH_MAX], cg[sizeof(e->cgroups[0])];
	int lock, mask, ret;

	ret = zh_cgroup2_root(root, sizeof(root));
	if (ret)
		return zh_errf(why, why_len, -EIO,
			       "no cgroup v2 hierarchy mounted: %s",
			       strerror(-ret));
	if (!e->cg_home[0]) {
		ret = xb_cgroup_home(root, e->cg_home, sizeof(e->cg_home));
		if (ret) {
			e->cg_home[0] = '\0';
			return zh_errf(
				why, why_len, -EIO,
				"cannot tell this process's cgroup v2 directory (/proc/self/cgroup): %s",
				strerror(-ret));
		}
	}
	if (snprintf(cg, sizeof(cg), "%s/%s-%s", root, e->prefix,
		     xb_path_names[p->id]) >= (int)sizeof(cg))
		return zh_errf(why, why_len, -EIO, "%s/...: name too long",
			       root);
	if (mkdir(cg, 0755))
		return zh_errf(why, why_len, -EIO, "mkdir %s: %s", cg,
			       strerror(errno));
	memcpy(e->cgroups[p->id], cg, sizeof(cg));
	lock = zh_pin_lock(pin);
	if (lock < 0)
		return zh_errf(why, why_len, -EIO, "zh_pin_lock %s: %s", pin,
			       strerror(-lock));
	mask = zh_socklb_attach(e->zh_objs[p->id], cg, why, why_len);
	zh_pin_unlock(lock);
	if (mask < 0)
		return mask;
	if (!zh_sock_serves((unsigned int)mask, AF_INET, IPPROTO_UDP) ||
	    !zh_sock_serves((unsigned int)mask, AF_INET, IPPROTO_TCP))
		return zh_errf(
			why, why_len, -EIO,
			"socket-level LB on %s: hooks 0x%x, not all of connect4, sendmsg4, recvmsg4",
			cg, (unsigned int)mask);
	p->cgroup = e->cgroups[p->id];
	return 0;
}

/* --- zerohop-policy (policy.c) ---------------------------------------------- */

/* Before the first ADD: the objects loaded (kept open, as zerohop-svc's),
 * and policy on, so that the pods start pending as on a policed node. */
static int xb_policy_before_pods(struct xb_env *e, struct xb_path *p,
				 const char *pin, char *why, size_t why_len)
{
	int ret = xb_zh_svc_load(e, p, pin, 0, 0, why, why_len);

	if (ret)
		return ret;
	return xb_policy_mode_on(e->zh_objs[p->id], pin, why, why_len);
}

/* After pods a and b: a third pod, "other", on the same network (the one
 * the policy does not allow), then the policy compiled and written. */
static int xb_policy_after_pods(struct xb_env *e, struct xb_path *p,
				const struct xb_setup_opts *o,
				const char *cni_path, const char *pin,
				char *why, size_t why_len)
{
	const char *name = xb_path_names[p->id];
	char conf[PATH_MAX], fname[128], info[256];
	int ret;

	ret = xb_netns_add(e, name, "c", p->other_ns, sizeof(p->other_ns));
	if (ret)
		return zh_errf(why, why_len, -EIO, "netns: %s", strerror(-ret));
	/* xb_setup_pods() wrote the network config here. */
	snprintf(fname, sizeof(fname), "%s.conf", name);
	xb_tmp_file(e, conf, sizeof(conf), fname);
	ret = xb_pod_add(e, p->node_ns, p->other_ns, conf, o->plugin, cni_path,
			 pin, &p->other_ip, NULL, why, why_len);
	if (ret)
		return ret;
	ret = xb_policy_apply(e->zh_objs[p->id], pin, p, info, sizeof(info),
			      why, why_len);
	if (!ret && !o->quiet)
		pr_info("%s: %s\n", name, info);
	return ret;
}

/*
 * What zerohopd writes at the end of its start, for the Services' paths:
 * the Service CIDR (--service-cidr 10.96.0.0/12, where xb_svc_vip()
 * takes the VIPs), the reverse lookups gated on zh_svc_be
 * (zh_svc_rev_gate()), and for zerohop-sock and host-svc
 * ZH_CFG_F_SOCK_PODS, as the agent sets it with its hooks on the cgroup
 * v2 root: here they are on the path's own cgroup, in which the only pod
 * that sends to a Service (the client) makes its sockets.
 */
static int xb_zh_agent_config(struct xb_env *e, const struct xb_path *p,
			      const char *pin, char *why, size_t why_len)
{
	const struct zh_objs *o = e->zh_objs[p->id];
	struct zh_config cfg;
	int lock, ret;

	lock = zh_pin_lock(pin);
	if (lock < 0)
		return zh_errf(why, why_len, -EIO, "zh_pin_lock %s: %s", pin,
			       strerror(-lock));
	ret = zh_config_get(o, &cfg);
	if (!ret) {
		cfg.svc_cidr4 = htonl(0x0a600000U); /* 10.96.0.0/12 */
		cfg.svc_cidr4_len = 12;
		ret = zh_config_set(o, &cfg);
	}
	if (!ret)
		ret = zh_svc_rev_gate(o, NULL);
	if (!ret)
		ret = zh_svc_sock_pods(o, xb_path_is_socklb(p->id));
	zh_pin_unlock(lock);
	if (ret)
		return zh_errf(why, why_len, -EIO, "%s: %s", ZH_MAP_CONFIG,
			       strerror(-ret));
	return 0;
}

/* e->pin_root: a directory of this run's own on bpffs, made by the first
 * path that pins. */
static int xb_pin_root(struct xb_env *e, char *why, size_t why_len)
{
	char root[sizeof(e->pin_root)];

	if (e->pin_root[0])
		return 0;
	snprintf(root, sizeof(root), XB_BPFFS "/%s", e->prefix);
	if (mkdir(root, 0700))
		return zh_errf(why, why_len, -EIO, "mkdir %s: %s", root,
			       strerror(errno));
	memcpy(e->pin_root, root, sizeof(root));
	return 0;
}

/* The zerohop plugin's CNI_PATH: the plugin's own directory first, as a
 * runtime's would be, then --cni-path, which must hold host-local. */
static int xb_zh_cni_path(const struct xb_setup_opts *o, char *cni_path,
			  size_t len, char *why, size_t why_len)
{
	char host_local[PATH_MAX];
	const char *slash;

	if (!o->plugin)
		return zh_errf(
			why, why_len, -EIO,
			"the zerohop CNI plugin was not found (--plugin)");
	if (access(o->plugin, X_OK))
		return zh_errf(why, why_len, -EIO, "--plugin %s: %s", o->plugin,
			       strerror(errno));
	slash = strrchr(o->plugin, '/');
	snprintf(cni_path, len, "%.*s:%s", slash ? (int)(slash - o->plugin) : 1,
		 slash ? o->plugin : ".", o->cni_path);
	if (xb_find_in(cni_path, "host-local", host_local, sizeof(host_local)))
		return zh_errf(
			why, why_len, -EIO,
			"the host-local CNI plugin is not in %s (--cni-path)",
			o->cni_path);
	return 0;
}

static int xb_setup_zerohop(struct xb_env *e, struct xb_path *p,
			    const struct xb_setup_opts *o, char *why,
			    size_t why_len)
{
	const char *dp = p->id == XB_P_ZH_XDP ? "xdp" : "tc";
	const char *name = xb_path_names[p->id];
	bool afxdp = p->id == XB_P_ZH_AFXDP;
	char ipam[PATH_MAX], pin[128], cni_path[4200], sock[PATH_MAX];
	char *conf_a = NULL, *conf_b = NULL;
	int ret;

	ret = xb_zh_cni_path(o, cni_path, sizeof(cni_path), why, why_len);
	if (ret)
		return ret;
	/* Each node netns stands for a node with pins of its own: the maps
	 * are keyed by host ifindex, which two netns may share. */
	ret = xb_pin_root(e, why, why_len);
	if (ret)
		return ret;
	snprintf(pin, sizeof(pin), "%s/%s", e->pin_root,
		 p->id == XB_P_ZH_SVC	   ? "svc" :
		 p->id == XB_P_ZH_SOCK	   ? "sock" :
		 p->id == XB_P_ZH_SOCK_POD ? "sockpod" :
		 p->id == XB_P_HOST_SVC	   ? "hostsvc" :
		 p->id == XB_P_ZH_POLICY   ? "policy" :
		 afxdp			   ? "afxdp" :
					     dp);
	if (xb_path_has_services(p->id)) {
		/* The target has two entries (UDP and TCP), every one a table
		 * of one backend. */
		uint64_t slots = (o->services + 1) * zh_svc_table_size(1);

		if (slots > UINT32_MAX)
			return zh_errf(why, why_len, -EIO, "too many Services");
		ret = xb_zh_svc_load(e, p, pin, (uint32_t)slots, o->conntrack,
				     why, why_len);
		if (ret)
			return ret;
	}
	if (p->id == XB_P_ZH_POLICY) {
		ret = xb_policy_before_pods(e, p, pin, why, why_len);
		if (ret)
			return ret;
	}
	snprintf(ipam, sizeof(ipam), "%s/ipam-%s", e->tmp, name);
	xb_tmp_file(e, sock, sizeof(sock), "xsk.sock");
	conf_a = xb_zh_conf(name, dp, xb_subnets[p->id], ipam,
			    afxdp ? sock : NULL, true);
	if (afxdp)
		conf_b = xb_zh_conf(name, dp, xb_subnets[p->id], ipam, sock,
				    false);
	if (!conf_a || (afxdp && !conf_b)) {
		free(conf_a);
		return zh_errf(why, why_len, -EIO, "out of memory");
	}
	ret = xb_setup_pods(e, p, o->plugin, cni_path, conf_a, conf_b, pin, why,
			    why_len);
	free(conf_a);
	free(conf_b);
	if (!ret && xb_path_has_services(p->id))
		ret = xb_zh_svc_apply(e, p, o, pin, why, why_len);
	if (!ret && p->id == XB_P_ZH_POLICY)
		ret = xb_policy_after_pods(e, p, o, cni_path, pin, why,
					   why_len);
	if (!ret && xb_path_is_socklb(p->id))
		ret = xb_socklb_setup(e, p, pin, why, why_len);
	if (!ret && xb_path_has_services(p->id))
		ret = xb_zh_agent_config(e, p, pin, why, why_len);
	/* host-svc: the client is the node itself, from an address of its
	 * own (the pods' gateway is link-local and not the node's). */
	if (!ret && p->id == XB_P_HOST_SVC) {
		struct xb_node_prep n = { .lo_addr = XB_NODE_ADDR };

		ret = xb_in_netns(p->node_ns, xb_node_prep_fn, &n);
		if (ret)
			return zh_errf(why, why_len, -EIO, "%s on lo in %s: %s",
				       XB_NODE_ADDR, p->node_ns,
				       strerror(-ret));
		memcpy(p->cli_ns, p->node_ns, sizeof(p->cli_ns));
		inet_pton(AF_INET, "10.200.255.1", &p->cli_ip);
	}
	/* zerohop-sock-pod: the same node, Services and hooks, the client
	 * to the server pod itself (connect4 finds no Service there). */
	if (!ret && p->id == XB_P_ZH_SOCK_POD) {
		p->target.sin_addr = p->srv_ip;
		p->target.sin_port = htons(XB_DEFAULT_PORT);
	}
	/* The agent, once the plugin has loaded and pinned the objects. */
	if (!ret && afxdp) {
		ret = xb_xsk_agent_start(&e->xsk, pin, sock, e->tmp, why,
					 why_len);
		p->xsk = e->xsk;
	}
	return ret;
}

/* --- NodePort to a backend on another node ---------------------------------- */

#define XB_NP_PORT 30080
#define XB_NP_A "192.168.90.1"
#define XB_NP_B "192.168.90.2"
#define XB_NP_CLI "192.168.90.100"
#define XB_NP_POD "10.250.0.2"
#define XB_NP_SEP "KUBE-SEP-XBNODEPORT0000"

/* Run a command given as one string of words (no quoting), in @ns ("":
 * ours). */
static int xb_sh(struct xb_env *e, const char *ns, char *why, size_t why_len,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int xb_sh(struct xb_env *e, const char *ns, char *why, size_t why_len,
		 const char *fmt, ...)
{
	char line[512], copy[512], err[PATH_MAX], nsp[PATH_MAX], msg[256];
	const char *argv[32];
	char *tok, *save = NULL;
	struct xb_cmd c = { .argv = argv, .killable = true };
	va_list ap;
	int n = 0, ret;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(copy, sizeof(copy), "%s", line);
	for (tok = strtok_r(copy, " ", &save); tok && n < 31;
	     tok = strtok_r(NULL, " ", &save))
		argv[n++] = tok;
	argv[n] = NULL;
	c.netns = xb_netns_path(ns, nsp, sizeof(nsp));
	c.err = xb_tmp_file(e, err, sizeof(err), "sh.err");
	ret = xb_cmd_run(&c);
	if (!ret)
		return 0;
	xb_first_line(err, msg, sizeof(msg));
	return zh_errf(why, why_len, -EIO, "%s%s%s: %s", ns && *ns ? ns : "",
		       ns && *ns ? ": " : "", line,
		       ret < 0 ? strerror(-ret) : msg);
}

/* kube-proxy's rules for one NodePort (UDP and TCP) whose one endpoint
 * is the pod on node B: the chains it makes, in the order it makes them. */
static int xb_np_iptables(FILE *f)
{
	static const char *const protos[] = { "udp", "tcp" };

	fprintf(f,
		"*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n"
		":KUBE-POSTROUTING - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
		":KUBE-EXT-XBNODEPORT0000 - [0:0]\n"
		":KUBE-SVC-XBNODEPORT0000 - [0:0]\n:" XB_NP_SEP " - [0:0]\n"
		"-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
		"-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
		"-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n"
		"-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"
		"-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
		"-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n"
		"-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n");
	for (int i = 0; i < 2; i++)
		fprintf(f,
			"-A KUBE-NODEPORTS -p %s -m %s --dport %d -j KUBE-EXT-XBNODEPORT0000\n"
			"-A " XB_NP_SEP
			" -p %s -m %s -j DNAT --to-destination " XB_NP_POD
			":%d\n",
			protos[i], protos[i], XB_NP_PORT, protos[i], protos[i],
			XB_DEFAULT_PORT);
	fprintf(f,
		"-A KUBE-EXT-XBNODEPORT0000 -m comment --comment \"masquerade traffic for xb/np external destinations\" -j KUBE-MARK-MASQ\n"
		"-A KUBE-EXT-XBNODEPORT0000 -j KUBE-SVC-XBNODEPORT0000\n"
		"-A KUBE-SVC-XBNODEPORT0000 -j " XB_NP_SEP "\n"
		"-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n"
		"COMMIT\n");
	return ferror(f) ? -EIO : 0;
}

/* The NodePort XB_NP_PORT (UDP and TCP; ClusterIP 10.96.0.1:80) whose one
 * backend is @backend:XB_DEFAULT_PORT, into @objs. */
static int xb_np_services(struct zh_objs *objs, const char *backend)
{
	char text[640], err[ZH_SVC_ERR_MAX];
	struct zh_svc_apply_result r;
	struct zh_svc_set set;
	int ret;

	snprintf(
		text, sizeof(text),
		"{\"services\": ["
		"{\"vip\": \"10.96.0.1\", \"port\": 80, \"proto\": \"udp\", \"nodePort\": %d, \"backends\": [{\"ip\": \"%s\", \"port\": %d}]},"
		"{\"vip\": \"10.96.0.1\", \"port\": 80, \"proto\": \"tcp\", \"nodePort\": %d, \"backends\": [{\"ip\": \"%s\", \"port\": %d}]}]}",
		XB_NP_PORT, backend, XB_DEFAULT_PORT, XB_NP_PORT, backend,
		XB_DEFAULT_PORT);
	ret = zh_svc_parse(text, strlen(text), &set, err, sizeof(err));
	if (ret) {
		pr_warn("the NodePort: %s\n", err);
		return ret;
	}
	ret = zh_svc_apply(objs, &set, &r);
	zh_svc_set_free(&set);
	return ret;
}

struct xb_np_zh {
	struct xb_env *e;
	const char *pin;
	uint32_t conntrack;
	char *why;
	size_t why_len;
};

/* In node A's netns: zerohop's objects, its uplink, its addresses, the
 * NodePort. */
static int xb_np_zh_fn(void *arg)
{
	struct xb_np_zh *z = arg;
	struct zh_masq_conf mc = { .n_devs = 1,
				   .port_min = 1024,
				   .port_max = 65535,
				   .keep_port = true };
	char err[ZH_SVC_ERR_MAX];
	struct zh_load_opts load = { 0 };
	struct zh_objs *objs;
	int lock, ret, ifindex;

	objs = calloc(1, sizeof(*objs));
	if (!objs)
		return -ENOMEM;
	lock = zh_pin_lock(z->pin);
	if (lock < 0) {
		free(objs);
		return lock;
	}
	load.ct_max = z->conntrack;
	ret = zh_objs_open(objs, z->pin, ZH_OBJS_LOAD, &load);
	if (ret) {
		zh_pin_unlock(lock);
		zh_errf(z->why, z->why_len, ret, "loading into %s: %s", z->pin,
			objs->err[0] ? objs->err : strerror(-ret));
		free(objs);
		return ret;
	}
	z->e->zh_np = objs;
	ifindex = (int)if_nametoindex(XB_POD_IFNAME);
	ret = ifindex ? zh_tc_attach(&objs->feat, ifindex, objs->tc_uplink_fd) :
			-errno;
	/* The uplink's XDP in front as the agent's default (--uplink-xdp
	 * auto) has it: only where it runs natively and the uplink is no
	 * veth (this one is: tc alone). */
	if (!ret && objs->xdp_uplink_fd >= 0 &&
	    zh_link_is_veth(XB_POD_IFNAME) == 0)
		zh_xdp_attach(ifindex, objs->xdp_uplink_fd);
	if (!ret)
		ret = zh_node_addrs_sync(objs, NULL);
	/* Ports over the whole range, as MASQUERADE --random-fully has:
	 * this node has no sockets of its own to keep clear of. */
	snprintf(mc.devs[0], sizeof(mc.devs[0]), "%s", XB_POD_IFNAME);
	if (!ret)
		ret = zh_masq_apply(objs, &mc, err, sizeof(err));
	if (!ret)
		ret = xb_np_services(objs, XB_NP_POD);
	zh_pin_unlock(lock);
	if (ret)
		zh_errf(z->why, z->why_len, ret, "node A: %s", strerror(-ret));
	return ret;
}

static int xb_zh_node_info(struct zh_node_info *n, const char *name,
			   const char *addr, const char *cidr);

/* zerohop-nodeport-dsr: the node table (node A with a pod CIDR of its
 * own, unused; node B with its pod's), as zerohopd --nodes gives it. */
#define XB_NP_DSR_CIDR_A "10.250.1.0/24"
#define XB_NP_DSR_CIDR_B "10.250.0.0/24"

struct xb_np_dsr {
	struct zh_objs **out; /* kept open until cleanup */
	const char *pin;
	uint32_t conntrack;
	const struct zh_node_set *set;
	const char *self; /* "a" or "b" */
	bool masq; /* node A: SNAT is there (what DSR must not use) */
	const char *backend; /* NULL: not yet (the objects, the table) */
	char why[600];
};

/*
 * In a node's netns, as zerohopd --nodeport-mode dsr --routing native
 * would: the objects loaded, the kernel asked what DSR needs (the agent's
 * own check, zh_dsr_missing()), the node table applied (zh_nodes,
 * zh_cluster_cidr, routes, zh_tc_uplink on eth0), the node's addresses;
 * node A's masquerade as zerohop-nodeport's. With @backend (a second call,
 * once the pod is there): the NodePort, then DSR on in zh_config.
 */
static int xb_np_dsr_fn(void *arg)
{
	struct xb_np_dsr *d = arg;
	struct zh_masq_conf mc = { .n_devs = 1,
				   .port_min = 1024,
				   .port_max = 65535,
				   .keep_port = true };
	struct zh_load_opts load = { .ct_max = d->conntrack };
	struct zh_cluster_result r;
	struct zh_cluster_conf conf;
	struct zh_config cfg;
	struct zh_objs *objs = *d->out;
	const char *no_dsr;
	char err[ZH_SVC_ERR_MAX];
	int lock, ret;

	lock = zh_pin_lock(d->pin);
	if (lock < 0) {
		snprintf(d->why, sizeof(d->why), "lock %s: %s", d->pin,
			 strerror(-lock));
		return lock;
	}
	if (d->backend) {
		ret = objs ? xb_np_services(objs, d->backend) : -EBADF;
		if (!ret)
			ret = zh_config_get(objs, &cfg);
		if (!ret) {
			cfg.flags |= ZH_CFG_F_NODEPORT_DSR;
			ret = zh_config_set(objs, &cfg);
		}
		if (ret)
			snprintf(d->why, sizeof(d->why),
				 "the NodePort, DSR on: %s", strerror(-ret));
		zh_pin_unlock(lock);
		return ret;
	}
	objs = calloc(1, sizeof(*objs));
	if (!objs) {
		zh_pin_unlock(lock);
		return -ENOMEM;
	}
	ret = zh_objs_open(objs, d->pin, ZH_OBJS_LOAD, &load);
	if (ret) {
		snprintf(d->why, sizeof(d->why), "loading into %s: %s", d->pin,
			 objs->err[0] ? objs->err : strerror(-ret));
		free(objs);
		zh_pin_unlock(lock);
		return ret;
	}
	*d->out = objs;
	no_dsr = zh_dsr_missing(&objs->feat);
	if (no_dsr) {
		snprintf(
			d->why, sizeof(d->why),
			"this kernel cannot do NodePort DSR: %s (zerohopd --nodeport-mode dsr falls back to SNAT here)",
			no_dsr);
		zh_pin_unlock(lock);
		return -EOPNOTSUPP;
	}
	zh_cluster_conf_init(&conf);
	snprintf(conf.self, sizeof(conf.self), "%s", d->self);
	snprintf(conf.uplink, sizeof(conf.uplink), XB_POD_IFNAME);
	conf.routing = ZH_ROUTING_NATIVE;
	ret = zh_cluster_apply(objs, &conf, d->set, &r);
	if (ret)
		snprintf(d->why, sizeof(d->why), "the node table: %s",
			 r.err[0] ? r.err : strerror(-ret));
	if (!ret) {
		ret = zh_node_addrs_sync(objs, NULL);
		if (ret)
			snprintf(d->why, sizeof(d->why), "node addresses: %s",
				 strerror(-ret));
	}
	snprintf(mc.devs[0], sizeof(mc.devs[0]), "%s", XB_POD_IFNAME);
	if (!ret && d->masq) {
		ret = zh_masq_apply(objs, &mc, err, sizeof(err));
		if (ret)
			snprintf(d->why, sizeof(d->why), "masquerade: %s", err);
	}
	zh_pin_unlock(lock);
	return ret;
}

/*
 * zerohop-nodeport-dsr past the fabric: node B's objects and table, its
 * pod by the zerohop plugin (into @nb, the pod's netns made already),
 * node A's, then the NodePort to that pod on both nodes and DSR on.
 * Node A's kernel forwards nothing (FORWARD DROP, ip_forward 0).
 */
static int xb_setup_np_dsr(struct xb_env *e, struct xb_path *p,
			   const struct xb_setup_opts *o, const char *nb,
			   char *why, size_t why_len)
{
	const char *name = xb_path_names[p->id];
	char pin[2][128], ipam[PATH_MAX], conf[PATH_MAX], cni_path[4200];
	char backend[INET_ADDRSTRLEN];
	struct zh_objs **objs[2] = { &e->zh_objs[p->id], &e->zh_dsr_b };
	const char *ns[2] = { p->node_ns, nb };
	struct zh_node_set set = { 0 };
	struct zh_node_info n;
	struct in_addr gw;
	json_t *j;
	char *text;
	int ret;

	ret = xb_zh_cni_path(o, cni_path, sizeof(cni_path), why, why_len);
	if (ret)
		return ret;
	ret = xb_sh(e, p->node_ns, why, why_len,
		    "iptables -w -I FORWARD -j DROP");
	if (ret)
		return ret;
	ret = xb_pin_root(e, why, why_len);
	if (ret)
		return ret;
	for (int i = 0; i < 2; i++) {
		snprintf(pin[i], sizeof(pin[i]), "%s/nodeport-dsr-%c",
			 e->pin_root, 'a' + i);
		if (xb_zh_node_info(&n, i ? "b" : "a", i ? XB_NP_B : XB_NP_A,
				    i ? XB_NP_DSR_CIDR_B : XB_NP_DSR_CIDR_A) ||
		    zh_node_set_put(&set, &n)) {
			zh_node_set_free(&set);
			return zh_errf(why, why_len, -EIO, "the node table");
		}
	}
	/* Node B first: its pod's address is the NodePort's backend. */
	for (int i = 1; !ret && i >= 0; i--) {
		struct xb_np_dsr d = { .out = objs[i],
				       .pin = pin[i],
				       .conntrack = o->conntrack,
				       .set = &set,
				       .self = i ? "b" : "a",
				       .masq = !i };

		ret = xb_in_netns(ns[i], xb_np_dsr_fn, &d);
		if (ret)
			zh_errf(why, why_len, ret, "node %c: %s", 'A' + i,
				d.why[0] ? d.why : strerror(-ret));
		if (ret || !i)
			continue;
		snprintf(ipam, sizeof(ipam), "%s/ipam-%s", e->tmp, name);
		j = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:[[{s:s}]], s:s}}",
			"cniVersion", "1.0.0", "name", name, "type", "zerohop",
			"datapath", "tc", "routing", "native", "device", "veth",
			"ipam", "type", "host-local", "ranges", "subnet",
			XB_NP_DSR_CIDR_B, "dataDir", ipam);
		text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		xb_tmp_file(e, conf, sizeof(conf), "zerohop-np-dsr.conf");
		ret = text ? xb_write_file(conf, text) : -ENOMEM;
		free(text);
		if (ret) {
			zh_errf(why, why_len, -EIO, "%s: %s", conf,
				strerror(-ret));
			break;
		}
		ret = xb_pod_add(e, nb, p->srv_ns, conf, o->plugin, cni_path,
				 pin[1], &p->srv_ip, &gw, why, why_len);
	}
	zh_node_set_free(&set);
	inet_ntop(AF_INET, &p->srv_ip, backend, sizeof(backend));
	for (int i = 1; !ret && i >= 0; i--) {
		struct xb_np_dsr d = { .out = objs[i],
				       .pin = pin[i],
				       .backend = backend };

		ret = xb_in_netns(ns[i], xb_np_dsr_fn, &d);
		if (ret)
			zh_errf(why, why_len, ret, "node %c: %s", 'A' + i,
				d.why[0] ? d.why : strerror(-ret));
	}
	return ret;
}

static int xb_setup_nodeport(struct xb_env *e, struct xb_path *p,
			     const struct xb_setup_opts *o, char *why,
			     size_t why_len)
{
	const char *name = xb_path_names[p->id];
	bool zh = p->id == XB_P_ZH_NODEPORT;
	bool dsr = p->id == XB_P_ZH_NODEPORT_DSR;
	char fab[XB_NAME_MAX], nb[XB_NAME_MAX], pin[128];
	struct {
		const char *ns, *addr;
	} ports[3];
	int ret;

	ret = xb_netns_add(e, name, "fab", fab, sizeof(fab));
	if (!ret)
		ret = xb_netns_add(e, name, "a", p->cli_ns, sizeof(p->cli_ns));
	if (!ret)
		ret = xb_netns_add(e, name, "node", p->node_ns,
				   sizeof(p->node_ns));
	if (!ret)
		ret = xb_netns_add(e, name, "nodeb", nb, sizeof(nb));
	if (!ret)
		ret = xb_netns_add(e, name, "b", p->srv_ns, sizeof(p->srv_ns));
	if (ret)
		return zh_errf(why, why_len, -EIO, "netns: %s", strerror(-ret));
	ports[0].ns = p->cli_ns, ports[0].addr = XB_NP_CLI "/24";
	ports[1].ns = p->node_ns, ports[1].addr = XB_NP_A "/24";
	ports[2].ns = nb, ports[2].addr = XB_NP_B "/24";
	ret = xb_sh(e, fab, why, why_len, "ip link add br0 type bridge");
	if (!ret)
		ret = xb_sh(e, fab, why, why_len, "ip link set br0 up");
	for (int i = 0; !ret && i < 3; i++) {
		ret = xb_sh(
			e, "", why, why_len,
			"ip link add p%d netns %s type veth peer name " XB_POD_IFNAME
			" netns %s",
			i, fab, ports[i].ns);
		if (!ret)
			ret = xb_sh(e, fab, why, why_len,
				    "ip link set p%d master br0 up", i);
		if (!ret)
			ret = xb_sh(e, ports[i].ns, why, why_len,
				    "ip addr add %s dev " XB_POD_IFNAME,
				    ports[i].addr);
		if (!ret)
			ret = xb_sh(e, ports[i].ns, why, why_len,
				    "ip link set " XB_POD_IFNAME " up");
		/* Complete checksums on the wire, as from a NIC. */
		if (!ret)
			ret = xb_sh(e, ports[i].ns, why, why_len,
				    "ethtool -K " XB_POD_IFNAME " tx off");
	}
	/* Node B routes to its pod; node A to node B's pod CIDR. */
	if (!ret)
		ret = xb_sysctl(nb, "net/ipv4/ip_forward", "1", false, why,
				why_len);
	if (ret)
		return ret;
	inet_pton(AF_INET, XB_NP_A, &p->gw); /* the masquerade source */
	inet_pton(AF_INET, XB_NP_CLI, &p->cli_ip);
	inet_pton(AF_INET, XB_NP_A, &p->target.sin_addr);
	p->target.sin_port = htons(XB_NP_PORT);
	/* DSR: node B's pod by the zerohop plugin, the routes by the node
	 * table. */
	if (dsr)
		return xb_setup_np_dsr(e, p, o, nb, why, why_len);
	ret = xb_sh(
		e, "", why, why_len,
		"ip link add pod0 netns %s type veth peer name " XB_POD_IFNAME
		" netns %s",
		nb, p->srv_ns);
	if (!ret)
		ret = xb_sh(e, nb, why, why_len,
			    "ip addr add 10.250.0.1/24 dev pod0");
	if (!ret)
		ret = xb_sh(e, nb, why, why_len, "ip link set pod0 up");
	if (!ret)
		ret = xb_sh(e, p->srv_ns, why, why_len,
			    "ip addr add " XB_NP_POD "/24 dev " XB_POD_IFNAME);
	if (!ret)
		ret = xb_sh(e, p->srv_ns, why, why_len,
			    "ip link set " XB_POD_IFNAME " up");
	if (!ret)
		ret = xb_sh(e, p->srv_ns, why, why_len,
			    "ip route add default via 10.250.0.1");
	if (!ret)
		ret = xb_sh(e, p->node_ns, why, why_len,
			    "ip route add 10.250.0.0/24 via " XB_NP_B);
	if (ret)
		return ret;
	inet_pton(AF_INET, XB_NP_POD, &p->srv_ip);

	if (!zh) {
		char rules[PATH_MAX], out[PATH_MAX], err[PATH_MAX],
			ns[PATH_MAX], msg[256];
		const char *argv[] = { "iptables-restore", "--noflush", NULL };
		struct xb_cmd c = {
			.argv = argv,
			.netns = xb_netns_path(p->node_ns, ns, sizeof(ns)),
			.in = xb_tmp_file(e, rules, sizeof(rules),
					  "nodeport.rules"),
			.out = xb_tmp_file(e, out, sizeof(out), "np.out"),
			.err = xb_tmp_file(e, err, sizeof(err), "np.err"),
			.killable = true,
		};
		FILE *f = fopen(rules, "w");

		if (!f)
			return zh_errf(why, why_len, -EIO, "%s: %s", rules,
				       strerror(errno));
		ret = xb_np_iptables(f);
		if (fclose(f) && !ret)
			ret = -errno;
		if (!ret)
			ret = xb_cmd_run(&c);
		if (ret) {
			xb_first_line(err, msg, sizeof(msg));
			return zh_errf(why, why_len, -EIO,
				       "iptables-restore: %s",
				       ret < 0 ? strerror(-ret) : msg);
		}
		snprintf(p->sep_chain, sizeof(p->sep_chain), "%s", XB_NP_SEP);
		ret = xb_sysctl(p->node_ns, "net/ipv4/ip_forward", "1", false,
				why, why_len);
		if (!ret)
			ret = xb_sysctl(
				p->node_ns,
				"net/netfilter/nf_conntrack_udp_timeout",
				XB_CT_UDP_TIMEOUT, false, why, why_len);
		return ret;
	}
	/* zerohop: node A's kernel forwards nothing; BPF carries it all. */
	ret = xb_sh(e, p->node_ns, why, why_len,
		    "iptables -w -I FORWARD -j DROP");
	if (ret)
		return ret;
	ret = xb_pin_root(e, why, why_len);
	if (ret)
		return ret;
	snprintf(pin, sizeof(pin), "%s/nodeport", e->pin_root);
	{
		struct xb_np_zh z = { e, pin, o->conntrack, why, why_len };

		why[0] = '\0';
		ret = xb_in_netns(p->node_ns, xb_np_zh_fn, &z);
		if (ret && !why[0])
			zh_errf(why, why_len, ret, "node A: %s",
				strerror(-ret));
	}
	(void)o;
	return ret;
}

/* --- a path ----------------------------------------------------------------- */

/* --- across two nodes -------------------------------------------------------- */

/*
 * Two node netns joined by a veth pair (eth0 at each end: the fabric),
 * 192.168.60.1 (a, the client's) and .2 (b, the server's); each node's pod
 * CIDR is 10.<base>.<1|2>.0/24.
 */
#define XB_NODE_A "192.168.60.1"
#define XB_NODE_B "192.168.60.2"

static int xb_cross_base(enum xb_path_id id)
{
	switch (id) {
	case XB_P_ZH_NATIVE:
		return 252;
	case XB_P_ZH_VXLAN:
		return 253;
	case XB_P_ZH_VXLAN_DEV:
		return 254;
	case XB_P_ZH_NETKIT:
		return 255;
	case XB_P_BRIDGE_ROUTES:
		return 250;
	default:
		return 251; /* vxlan-bridge */
	}
}

static int xb_setup_node_pair(struct xb_env *e, struct xb_path *p, char *why,
			      size_t why_len)
{
	const char *name = xb_path_names[p->id];
	char path[PATH_MAX];
	struct xb_veth v;
	int ret, fd;

	ret = xb_netns_add(e, name, "nodea", p->node_ns, sizeof(p->node_ns));
	if (!ret)
		ret = xb_netns_add(e, name, "nodeb", p->node2_ns,
				   sizeof(p->node2_ns));
	if (ret)
		return zh_errf(why, why_len, -EIO, "netns: %s", strerror(-ret));
	fd = open(xb_netns_path(p->node2_ns, path, sizeof(path)),
		  O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return zh_errf(why, why_len, -EIO, "%s: %s", path,
			       strerror(errno));
	v.peer_fd = fd;
	v.addr = XB_NODE_A "/24";
	ret = xb_in_netns(p->node_ns, xb_veth_fn, &v);
	close(fd);
	if (!ret) {
		v.peer_fd = -1;
		v.addr = XB_NODE_B "/24";
		ret = xb_in_netns(p->node2_ns, xb_veth_fn, &v);
	}
	if (ret)
		return zh_errf(why, why_len, -EIO, "veth: %s", strerror(-ret));
	return 0;
}

/* `ip ARGS` (or `bridge ARGS`), words split at spaces, in netns @ns. */
static int xb_ip(struct xb_env *e, const char *ns, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int xb_ip(struct xb_env *e, const char *ns, const char *fmt, ...)
{
	char line[512], nspath[PATH_MAX], err[PATH_MAX], *argv[32], *save;
	struct xb_cmd c = { .argv = (const char *const *)argv,
			    .netns = xb_netns_path(ns, nspath, sizeof(nspath)),
			    .err = xb_tmp_file(e, err, sizeof(err), "ip.err") };
	va_list ap;
	int n = 0, ret;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *w = strtok_r(line, " ", &save); w && n < 31;
	     w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	ret = xb_cmd_run(&c);
	if (ret) {
		char first[200];

		xb_first_line(err, first, sizeof(first));
		pr_warn("%s: %s: exit %d: %s\n", ns, argv[0], ret, first);
		return -EIO;
	}
	return 0;
}

/* A pod of node @node (its CIDR 10.@base.@idx.0/24) wired by the
 * reference bridge plugin, as kindnet and flannel do; @mtu 0: default. */
static int xb_cross_bridge_pod(struct xb_env *e, struct xb_path *p,
			       const struct xb_setup_opts *o, const char *node,
			       int idx, unsigned int mtu, const char *role,
			       char *pod_ns, size_t pod_ns_len,
			       struct in_addr *ip, char *why, size_t why_len)
{
	const char *name = xb_path_names[p->id];
	char plugin[PATH_MAX], ipam[PATH_MAX], conf[PATH_MAX], subnet[32];
	struct in_addr gw;
	json_t *j;
	char *text;
	int ret;

	if (xb_find_in(o->cni_path, "bridge", plugin, sizeof(plugin)))
		return zh_errf(
			why, why_len, -EIO,
			"the bridge CNI plugin is not in %s (--cni-path; Debian: containernetworking-plugins)",
			o->cni_path);
	snprintf(subnet, sizeof(subnet), "10.%d.%d.0/24", xb_cross_base(p->id),
		 idx);
	snprintf(ipam, sizeof(ipam), "%s/ipam-%s-%d", e->tmp, name, idx);
	j = json_pack(
		"{s:s, s:s, s:s, s:s, s:b, s:b, s:{s:s, s:[[{s:s}]], s:[{s:s}], s:s}}",
		"cniVersion", "1.0.0", "name", name, "type", "bridge", "bridge",
		XB_BRIDGE_NAME, "isGateway", 1, "ipMasq", 0, "ipam", "type",
		"host-local", "ranges", "subnet", subnet, "routes", "dst",
		"0.0.0.0/0", "dataDir", ipam);
	if (j && mtu)
		json_object_set_new(j, "mtu", json_integer(mtu));
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return zh_errf(why, why_len, -EIO, "out of memory");
	xb_tmp_file(e, conf, sizeof(conf), "bridge.conf");
	ret = xb_write_file(conf, text);
	free(text);
	if (ret)
		return zh_errf(why, why_len, -EIO, "%s: %s", conf,
			       strerror(-ret));
	ret = xb_netns_add(e, name, role, pod_ns, pod_ns_len);
	if (ret)
		return zh_errf(why, why_len, -EIO, "netns: %s", strerror(-ret));
	return xb_pod_add(e, node, pod_ns, conf, plugin, o->cni_path, NULL, ip,
			  &gw, why, why_len);
}

/*
 * The kernel's ways across nodes, with pods of the bridge plugin:
 * bridge-routes (kindnet: a static route to the other node's pod CIDR via
 * its address) and vxlan-bridge (flannel: a VXLAN device, the other
 * node's pod CIDR routed onlink through it, its gateway a permanent
 * neighbour with the remote device's MAC, and an FDB entry to the remote
 * node's address). Both nodes forward; no br_netfilter.
 */
static int xb_setup_cross_kernel(struct xb_env *e, struct xb_path *p,
				 const struct xb_setup_opts *o, char *why,
				 size_t why_len)
{
	static const char *const brnf[] = {
		"net/bridge/bridge-nf-call-iptables",
		"net/bridge/bridge-nf-call-ip6tables",
		"net/bridge/bridge-nf-call-arptables",
	};
	bool vx = p->id == XB_P_VXLAN_BRIDGE;
	int base = xb_cross_base(p->id), ret;
	const char *ns[2] = { p->node_ns, p->node2_ns };
	const char *addr[2] = { XB_NODE_A, XB_NODE_B };

	ret = xb_setup_node_pair(e, p, why, why_len);
	for (int i = 0; !ret && i < 2; i++) {
		int me = i + 1, other = 2 - i;

		ret = xb_sysctl(ns[i], "net/ipv4/ip_forward", "1", false, why,
				why_len);
		for (size_t k = 0; !ret && k < sizeof(brnf) / sizeof(brnf[0]);
		     k++)
			ret = xb_sysctl(ns[i], brnf[k], "0", true, why,
					why_len);
		if (ret)
			break;
		if (!vx) {
			ret = xb_ip(e, ns[i],
				    "ip route add 10.%d.%d.0/24 via %s", base,
				    other, addr[1 - i]);
		} else {
			ret = xb_ip(
				e, ns[i],
				"ip link add flannel.1 type vxlan id 1 local %s dev eth0 dstport 8472 nolearning",
				addr[i]);
			if (!ret)
				ret = xb_ip(
					e, ns[i],
					"ip link set flannel.1 address 02:fa:00:00:00:0%d mtu 1450 up",
					me);
			if (!ret)
				ret = xb_ip(
					e, ns[i],
					"ip addr add 10.%d.%d.0/32 dev flannel.1",
					base, me);
			if (!ret)
				ret = xb_ip(
					e, ns[i],
					"ip neigh add 10.%d.%d.0 lladdr 02:fa:00:00:00:0%d dev flannel.1 nud permanent",
					base, other, other);
			if (!ret)
				ret = xb_ip(
					e, ns[i],
					"bridge fdb append 02:fa:00:00:00:0%d dev flannel.1 dst %s",
					other, addr[1 - i]);
			if (!ret)
				ret = xb_ip(
					e, ns[i],
					"ip route add 10.%d.%d.0/24 via 10.%d.%d.0 dev flannel.1 onlink",
					base, other, base, other);
		}
		if (ret)
			return zh_errf(
				why, why_len, -EIO,
				"%s: the kernel's route to the other node",
				ns[i]);
	}
	if (ret)
		return ret;
	ret = xb_cross_bridge_pod(e, p, o, p->node_ns, 1, vx ? 1450 : 0, "a",
				  p->cli_ns, sizeof(p->cli_ns), &p->cli_ip, why,
				  why_len);
	if (!ret)
		ret = xb_cross_bridge_pod(e, p, o, p->node2_ns, 2,
					  vx ? 1450 : 0, "b", p->srv_ns,
					  sizeof(p->srv_ns), &p->srv_ip, why,
					  why_len);
	return ret;
}

struct xb_zh_node {
	const char *pin;
	struct zh_cluster_conf conf;
	const struct zh_node_set *set;
	bool tunnel_dev; /* zh_vxlan off: the kernel's device tunnels */
	char why[256];
};

/* In the node's netns: the objects loaded and pinned (as zerohopd would),
 * and the node table applied: routes, zh_nodes, the VXLAN device. */
static int xb_zh_node_fn(void *arg)
{
	struct xb_zh_node *n = arg;
	struct zh_cluster_result r;
	struct zh_objs objs;
	int lock, ret;

	lock = zh_pin_lock(n->pin);
	if (lock < 0)
		return lock;
	ret = zh_objs_open(&objs, n->pin, ZH_OBJS_LOAD, NULL);
	if (ret) {
		snprintf(n->why, sizeof(n->why), "%s", objs.err);
	} else {
		ret = zh_cluster_apply(&objs, &n->conf, n->set, &r);
		if (ret)
			snprintf(n->why, sizeof(n->why), "%s", r.err);
		if (!ret && n->tunnel_dev && objs.vxlan_fd >= 0) {
			struct zh_vxlan off = { 0 };
			__u32 zero = 0;

			if (bpf_map_update_elem(objs.vxlan_fd, &zero, &off,
						BPF_ANY))
				ret = -errno;
			else
				pr_info("%s: zh_vxlan cleared: the kernel's VXLAN device tunnels (the tunnel key set from BPF)\n",
					xb_path_names[XB_P_ZH_VXLAN_DEV]);
		}
		zh_objs_close(&objs);
	}
	zh_pin_unlock(lock);
	return ret;
}

static int xb_zh_node_info(struct zh_node_info *n, const char *name,
			   const char *addr, const char *cidr)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->n_addrs = n->n_cidrs = 1;
	if (zh_addr_parse(addr, false, &n->addrs[0]) ||
	    zh_addr_parse(cidr, true, &n->cidrs[0]))
		return -EINVAL;
	n->addrs[0].prefix = 32;
	return 0;
}

/* zerohop-native and zerohop-vxlan(-dev): each node with pins of its own and
 * the node table of both, a pod of the zerohop plugin on each. */
static int xb_setup_cross_zerohop(struct xb_env *e, struct xb_path *p,
				  const struct xb_setup_opts *o, char *why,
				  size_t why_len)
{
	const char *name = xb_path_names[p->id];
	bool vx = p->id == XB_P_ZH_VXLAN || p->id == XB_P_ZH_VXLAN_DEV;
	int base = xb_cross_base(p->id), ret;
	const char *ns[2] = { p->node_ns, p->node2_ns };
	char *pod_ns[2] = { p->cli_ns, p->srv_ns };
	struct in_addr *pod_ip[2] = { &p->cli_ip, &p->srv_ip };
	char pin[2][128], cidr[2][32], ipam[PATH_MAX], conf[PATH_MAX];
	char cni_path[4200];
	struct zh_node_set set = { 0 };
	struct zh_node_info n;
	struct in_addr gw;

	ret = xb_zh_cni_path(o, cni_path, sizeof(cni_path), why, why_len);
	if (ret)
		return ret;
	ret = xb_setup_node_pair(e, p, why, why_len);
	if (ret)
		return ret;
	ret = xb_pin_root(e, why, why_len);
	if (ret)
		return ret;
	for (int i = 0; i < 2; i++) {
		snprintf(pin[i], sizeof(pin[i]), "%s/%s-%c", e->pin_root, name,
			 'a' + i);
		snprintf(cidr[i], sizeof(cidr[i]), "10.%d.%d.0/24", base,
			 i + 1);
		if (xb_zh_node_info(&n, i ? "b" : "a",
				    i ? XB_NODE_B : XB_NODE_A, cidr[i]) ||
		    zh_node_set_put(&set, &n)) {
			zh_node_set_free(&set);
			return zh_errf(why, why_len, -EIO, "the node table");
		}
	}
	for (int i = 0; !ret && i < 2; i++) {
		struct xb_zh_node zn = { .pin = pin[i],
					 .set = &set,
					 .tunnel_dev = p->id ==
						       XB_P_ZH_VXLAN_DEV };
		json_t *j;
		char *text;

		/* Forwarding on, as on every Kubernetes node: the FIB
		 * lookup answers, and the kernel could route the rest. */
		ret = xb_sysctl(ns[i], "net/ipv4/ip_forward", "1", false, why,
				why_len);
		if (ret)
			break;
		zh_cluster_conf_init(&zn.conf);
		snprintf(zn.conf.self, sizeof(zn.conf.self), "%s",
			 i ? "b" : "a");
		snprintf(zn.conf.uplink, sizeof(zn.conf.uplink), "eth0");
		zn.conf.routing = vx ? ZH_ROUTING_VXLAN : ZH_ROUTING_NATIVE;
		ret = xb_in_netns(ns[i], xb_zh_node_fn, &zn);
		if (ret) {
			zh_errf(why, why_len, -EIO, "node %s: %s", ns[i],
				zn.why[0] ? zn.why : strerror(-ret));
			break;
		}
		snprintf(ipam, sizeof(ipam), "%s/ipam-%s-%d", e->tmp, name, i);
		/* No "mtu": routing vxlan takes the VXLAN device's. */
		j = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:[[{s:s}]], s:s}}",
			"cniVersion", "1.0.0", "name", name, "type", "zerohop",
			"datapath", "tc", "routing", vx ? "vxlan" : "native",
			"device", p->id == XB_P_ZH_NETKIT ? "netkit" : "veth",
			"ipam", "type", "host-local", "ranges", "subnet",
			cidr[i], "dataDir", ipam);
		text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		xb_tmp_file(e, conf, sizeof(conf), "zerohop-cross.conf");
		ret = text ? xb_write_file(conf, text) : -ENOMEM;
		free(text);
		if (ret) {
			zh_errf(why, why_len, -EIO, "%s: %s", conf,
				strerror(-ret));
			break;
		}
		ret = xb_netns_add(e, name, i ? "b" : "a", pod_ns[i],
				   XB_NAME_MAX);
		if (ret) {
			zh_errf(why, why_len, -EIO, "netns: %s",
				strerror(-ret));
			break;
		}
		ret = xb_pod_add(e, ns[i], pod_ns[i], conf, o->plugin, cni_path,
				 pin[i], pod_ip[i], &gw, why, why_len);
	}
	zh_node_set_free(&set);
	return ret;
}

int xb_path_setup(struct xb_env *e, struct xb_path *p,
		  const struct xb_setup_opts *o, char *why, size_t why_len)
{
	int ret;

	p->srv_bind.sin_family = AF_INET;
	p->srv_bind.sin_port = htons(XB_DEFAULT_PORT);
	p->target.sin_family = AF_INET;
	p->target.sin_port = htons(XB_DEFAULT_PORT);
	p->cycle_ports = p->id != XB_P_HOST;

	switch (p->id) {
	case XB_P_HOST:
		/* Our own netns: loopback, and a port nobody else holds. */
		p->srv_bind.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		p->srv_bind.sin_port = 0;
		p->srv_ip.s_addr = htonl(INADDR_LOOPBACK);
		p->target.sin_addr = p->srv_ip;
		return 0;
	case XB_P_VETH:
		ret = xb_setup_veth(e, p, why, why_len);
		break;
	case XB_P_BRIDGE:
	case XB_P_KUBEPROXY:
	case XB_P_NFTABLES:
	case XB_P_KUBEPROXY_HOST:
		ret = xb_setup_bridge(e, p, o, why, why_len);
		break;
	case XB_P_ZH_TC:
	case XB_P_ZH_XDP:
	case XB_P_ZH_SVC:
	case XB_P_ZH_AFXDP:
	case XB_P_ZH_SOCK:
	case XB_P_ZH_SOCK_POD:
	case XB_P_HOST_SVC:
	case XB_P_ZH_POLICY:
		ret = xb_setup_zerohop(e, p, o, why, why_len);
		break;
	case XB_P_KP_NODEPORT:
	case XB_P_ZH_NODEPORT:
	case XB_P_ZH_NODEPORT_DSR:
		return xb_setup_nodeport(e, p, o, why, why_len);
	case XB_P_NODE:
		ret = xb_setup_node_pair(e, p, why, why_len);
		/* The nodes themselves: client on a, server on b. */
		snprintf(p->cli_ns, sizeof(p->cli_ns), "%s", p->node_ns);
		snprintf(p->srv_ns, sizeof(p->srv_ns), "%s", p->node2_ns);
		inet_pton(AF_INET, XB_NODE_B, &p->srv_ip);
		break;
	case XB_P_ZH_NATIVE:
	case XB_P_ZH_VXLAN:
	case XB_P_ZH_VXLAN_DEV:
	case XB_P_ZH_NETKIT:
		ret = xb_setup_cross_zerohop(e, p, o, why, why_len);
		break;
	case XB_P_BRIDGE_ROUTES:
	case XB_P_VXLAN_BRIDGE:
		ret = xb_setup_cross_kernel(e, p, o, why, why_len);
		break;
	default:
		return zh_errf(why, why_len, -EIO, "unknown path");
	}
	if (ret)
		return ret;
	if (p->id == XB_P_ZH_SVC || xb_path_is_socklb(p->id))
		return 0; /* the target is the VIP already */
	p->target.sin_addr = p->srv_ip;
	if (xb_path_has_services(p->id))
		ret = xb_setup_services(e, p, o, why, why_len);
	/* kubeproxy-host: the client is the node itself. A node routes the
	 * ClusterIPs (its default route): OUTPUT's DNAT comes after that
	 * first route lookup. */
	if (!ret && p->id == XB_P_KUBEPROXY_HOST) {
		struct xb_node_prep n = { .route_dev = XB_BRIDGE_NAME };

		ret = xb_in_netns(p->node_ns, xb_node_prep_fn, &n);
		if (ret)
			return zh_errf(why, why_len, -EIO,
				       "route %s dev %s in %s: %s", XB_SVC_CIDR,
				       XB_BRIDGE_NAME, p->node_ns,
				       strerror(-ret));
		memcpy(p->cli_ns, p->node_ns, sizeof(p->cli_ns));
	}
	return ret;
}

/* --- did the Service rules do their job? ---------------------------------- */

struct xb_ct_find {
	const char *want[2];
	bool found;
};

static int xb_ct_find_fn(void *arg)
{
	struct xb_ct_find *c = arg;
	char line[512];
	FILE *f;

	/* thread-self: /proc/self/net would be the netns of the main thread. */
	f = fopen("/proc/thread-self/net/nf_conntrack", "r");
	if (!f)
		return -errno;
	while (!c->found && fgets(line, sizeof(line), f))
		c->found = strstr(line, c->want[0]) && strstr(line, c->want[1]);
	fclose(f);
	return 0;
}

/* Packets counted by the DNAT rule of @chain in the nat table. */
static int xb_ipt_dnat_packets(struct xb_env *e, const struct xb_path *p,
			       uint64_t *pkts)
{
	const char *argv[] = { "iptables",   "-w", "-t", "nat", "-L",
			       p->sep_chain, "-n", "-v", "-x",	NULL };
	char out[PATH_MAX], ns[PATH_MAX], line[512];
	struct xb_cmd c = {
		.argv = argv,
		.netns = xb_netns_path(p->node_ns, ns, sizeof(ns)),
		.out = xb_tmp_file(e, out, sizeof(out), "counters.out"),
		.killable = true,
	};
	FILE *f;
	int ret;

	ret = xb_cmd_run(&c);
	if (ret)
		return ret < 0 ? ret : -EIO;
	f = fopen(out, "r");
	if (!f)
		return -errno;
	ret = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long n;

		/* Every DNAT rule of the chain (one per protocol). */
		if (strstr(line, "DNAT") && sscanf(line, "%llu", &n) == 1) {
			*pkts = ret ? n : *pkts + n;
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

bool xb_path_has_services(int id)
{
	return id == XB_P_KUBEPROXY || id == XB_P_NFTABLES ||
	       id == XB_P_ZH_SVC || id == XB_P_ZH_SOCK || id == XB_P_HOST_SVC ||
	       id == XB_P_ZH_SOCK_POD || id == XB_P_KUBEPROXY_HOST;
}

bool xb_path_is_socklb(int id)
{
	return id == XB_P_ZH_SOCK || id == XB_P_HOST_SVC ||
	       id == XB_P_ZH_SOCK_POD;
}

struct xb_zh_ct_find {
	const struct xb_path *p;
	bool any_src; /* FWD: to the VIP from anyone */
	size_t fwd, rev;
};

static int xb_zh_ct_fn(const struct zh_ct_key *k, const struct zh_ct *ct,
		       void *arg)
{
	struct xb_zh_ct_find *c = arg;

	(void)ct;
	if (k->family != ZH_AF_INET || k->proto != IPPROTO_UDP)
		return 0;
	/* FWD: client -> VIP:80; REV: server pod:7777 -> client. */
	if (k->dir == ZH_CT_FWD &&
	    (c->any_src || k->saddr[0] == c->p->cli_ip.s_addr) &&
	    k->daddr[0] == c->p->target.sin_addr.s_addr &&
	    k->dport == c->p->target.sin_port)
		c->fwd++;
	else if (k->dir == ZH_CT_REV && k->saddr[0] == c->p->srv_ip.s_addr &&
		 k->sport == htons(XB_DEFAULT_PORT) &&
		 k->daddr[0] == c->p->cli_ip.s_addr)
		c->rev++;
	return 0;
}

/*
 * zerohop-svc: the server pod answered requests sent to the VIP, from the
 * client pod's own address (no masquerade: the balancer only rewrites the
 * destination), and zh_ct has the flow both ways. Nothing else in the node
 * NATs: without our maps nothing would answer on the VIP.
 */
static int xb_zh_verify(struct xb_env *e, const struct xb_path *p,
			const struct xb_server *srv, char *why, size_t why_len)
{
	const struct sockaddr_in *peer = (const void *)&srv->last_peer;
	struct xb_zh_ct_find c = { .p = p };
	char vip[INET_ADDRSTRLEN], cip[INET_ADDRSTRLEN];
	int ret;

	inet_ntop(AF_INET, &p->target.sin_addr, vip, sizeof(vip));
	inet_ntop(AF_INET, &p->cli_ip, cip, sizeof(cip));
	if (!e->zh_objs[p->id])
		return zh_errf(why, why_len, -EIO,
			       "the Service maps are not open");
	if (!srv->echoed)
		return zh_errf(why, why_len, -EIO,
			       "the server saw no request to %s", vip);
	if (peer->sin_family != AF_INET ||
	    peer->sin_addr.s_addr != p->cli_ip.s_addr)
		return zh_errf(
			why, why_len, -EIO,
			"the server saw the request from %s, not from the client pod %s",
			inet_ntoa(peer->sin_addr), cip);
	ret = zh_ct_foreach(e->zh_objs[p->id], xb_zh_ct_fn, &c);
	if (ret < 0)
		return zh_errf(why, why_len, -EIO, "zh_ct: %s", strerror(-ret));
	if (!c.fwd || !c.rev)
		return zh_errf(
			why, why_len, -EIO,
			"zh_ct has %zu entries %s -> %s:%d and %zu replies back: not balanced by zerohop",
			c.fwd, cip, vip, XB_SVC_PORT, c.rev);
	return 0;
}

/*
 * zerohop-sock, host-svc: the server pod answered requests sent to the VIP
 * (the node has no other way there: no route, no NAT rule), the client's
 * connect() was translated by the cgroup programs (zh_sock_stats), and
 * the per-packet balancer never saw the VIP (no zh_ct entry for it):
 * socket-level LB, not per-packet NAT. zerohop-sock: the server's peer is
 * the client pod itself.
 */
static int xb_sock_verify(struct xb_env *e, const struct xb_path *p,
			  const struct xb_server *srv, char *why,
			  size_t why_len)
{
	const struct sockaddr_in *peer = (const void *)&srv->last_peer;
	struct xb_zh_ct_find c = { .p = p, .any_src = true };
	char vip[INET_ADDRSTRLEN], cip[INET_ADDRSTRLEN];
	__u64 st[ZH_SOCK_STAT_MAX];
	int ret;

	inet_ntop(AF_INET, &p->target.sin_addr, vip, sizeof(vip));
	inet_ntop(AF_INET, &p->cli_ip, cip, sizeof(cip));
	if (!e->zh_objs[p->id])
		return zh_errf(why, why_len, -EIO,
			       "the Service maps are not open");
	if (!srv->echoed)
		return zh_errf(why, why_len, -EIO,
			       "the server saw no request to %s", vip);
	if (peer->sin_family != AF_INET ||
	    peer->sin_addr.s_addr != p->cli_ip.s_addr)
		return zh_errf(
			why, why_len, -EIO,
			"the server saw the request from %s, not from the client %s",
			inet_ntoa(peer->sin_addr), cip);
	ret = zh_sock_stats_read(e->zh_objs[p->id], st, false);
	if (ret)
		return zh_errf(why, why_len, -EIO, "zh_sock_stats: %s",
			       strerror(-ret));
	/* A pod's address is no Service's: connect4 ran and left it. */
	if (p->id == XB_P_ZH_SOCK_POD)
		return st[ZH_SOCK_STAT_CONNECT4] ?
			       zh_errf(why, why_len, -EIO,
				       "zh_sock_stats counted %llu connect4 translations to the pod's own address",
				       (unsigned long long)
					       st[ZH_SOCK_STAT_CONNECT4]) :
			       0;
	if (!st[ZH_SOCK_STAT_CONNECT4])
		return zh_errf(
			why, why_len, -EIO,
			"zh_sock_stats counted no connect4 translation: not balanced at the socket");
	ret = zh_ct_foreach(e->zh_objs[p->id], xb_zh_ct_fn, &c);
	if (ret < 0)
		return zh_errf(why, why_len, -EIO, "zh_ct: %s", strerror(-ret));
	if (c.fwd)
		return zh_errf(
			why, why_len, -EIO,
			"zh_ct has %zu entries to %s:%d: the per-packet path balanced it",
			c.fwd, vip, XB_SVC_PORT);
	return 0;
}

struct xb_np_ct {
	size_t snat_fwd, snat_rev;
};

static int xb_np_ct_fn(const struct zh_ct_key *k, const struct zh_ct *ct,
		       void *arg)
{
	struct xb_np_ct *c = arg;

	(void)ct;
	c->snat_fwd += k->dir == ZH_CT_SNAT_FWD;
	c->snat_rev += k->dir == ZH_CT_SNAT_REV;
	return 0;
}

/*
 * zerohop-nodeport: the pod on node B answered requests to node A's
 * NodePort, seeing node A's address (SNAT), and zh_ct has the SNAT both
 * ways. Node A's kernel forwards nothing: only BPF could have done it.
 */
static int xb_np_zh_verify(struct xb_env *e, const struct xb_path *p,
			   const struct xb_server *srv, char *why,
			   size_t why_len)
{
	const struct sockaddr_in *peer = (const void *)&srv->last_peer;
	struct xb_np_ct c = { 0 };
	int ret;

	if (!e->zh_np)
		return zh_errf(why, why_len, -EIO,
			       "node A's maps are not open");
	if (!srv->echoed)
		return zh_errf(why, why_len, -EIO,
			       "the server saw no request to the NodePort");
	if (peer->sin_family != AF_INET ||
	    peer->sin_addr.s_addr != p->gw.s_addr)
		return zh_errf(
			why, why_len, -EIO,
			"the server saw the request from %s, not from node A " XB_NP_A
			": not SNATed",
			inet_ntoa(peer->sin_addr));
	ret = zh_ct_foreach(e->zh_np, xb_np_ct_fn, &c);
	if (ret < 0)
		return zh_errf(why, why_len, -EIO, "zh_ct: %s", strerror(-ret));
	if (!c.snat_fwd || !c.snat_rev)
		return zh_errf(
			why, why_len, -EIO,
			"zh_ct has %zu SNAT entries out and %zu back: not SNATed by zerohop",
			c.snat_fwd, c.snat_rev);
	return 0;
}

struct xb_np_dsr_ct {
	const struct xb_path *p;
	size_t snat, dsr;
};

static int xb_np_dsr_ct_fn(const struct zh_ct_key *k, const struct zh_ct *ct,
			   void *arg)
{
	struct xb_np_dsr_ct *c = arg;

	c->snat += k->dir == ZH_CT_SNAT_FWD || k->dir == ZH_CT_SNAT_REV;
	/* Node B's reply entry: the pod -> the client, node A's NodePort
	 * to restore, out of the uplink. */
	c->dsr += k->dir == ZH_CT_REV && (ct->flags & ZH_CT_F_DSR) &&
		  k->family == ZH_AF_INET &&
		  k->saddr[0] == c->p->srv_ip.s_addr &&
		  k->daddr[0] == c->p->cli_ip.s_addr &&
		  ct->vip[0] == c->p->target.sin_addr.s_addr &&
		  ct->vport == c->p->target.sin_port && ct->out_ifindex;
	return 0;
}

/*
 * zerohop-nodeport-dsr: the pod on node B answered requests to node A's
 * NodePort and saw the client's own address (no SNAT), node A holds no
 * SNAT entry, node B holds the DSR reply entry (lb_dsr.h). Node A's
 * kernel forwards nothing: only its BPF could have sent the requests on.
 * (That the replies left node B straight to the client, never through
 * node A, run.c checks on node A's uplink counters.)
 */
static int xb_np_dsr_verify(struct xb_env *e, const struct xb_path *p,
			    const struct xb_server *srv, char *why,
			    size_t why_len)
{
	const struct sockaddr_in *peer = (const void *)&srv->last_peer;
	struct xb_np_dsr_ct a = { .p = p }, b = { .p = p };
	int ret;

	if (!e->zh_objs[p->id] || !e->zh_dsr_b)
		return zh_errf(why, why_len, -EIO,
			       "the nodes' maps are not open");
	if (!srv->echoed)
		return zh_errf(why, why_len, -EIO,
			       "the server saw no request to the NodePort");
	if (peer->sin_family != AF_INET ||
	    peer->sin_addr.s_addr != p->cli_ip.s_addr)
		return zh_errf(
			why, why_len, -EIO,
			"the server saw the request from %s, not from the client " XB_NP_CLI
			": not DSR",
			inet_ntoa(peer->sin_addr));
	ret = zh_ct_foreach(e->zh_objs[p->id], xb_np_dsr_ct_fn, &a);
	if (ret >= 0)
		ret = zh_ct_foreach(e->zh_dsr_b, xb_np_dsr_ct_fn, &b);
	if (ret < 0)
		return zh_errf(why, why_len, -EIO, "zh_ct: %s", strerror(-ret));
	if (a.snat)
		return zh_errf(why, why_len, -EIO,
			       "node A's zh_ct has %zu SNAT entries: SNATed",
			       a.snat);
	if (!b.dsr)
		return zh_errf(
			why, why_len, -EIO,
			"node B's zh_ct has no DSR entry from the pod to the client with node A's NodePort to restore");
	return 0;
}

struct xb_netdev {
	const char *dev;
	uint64_t rx, tx; /* packets */
	bool found;
};

static int xb_netdev_fn(void *arg)
{
	struct xb_netdev *d = arg;
	unsigned long long v[10];
	char line[512], name[64];
	FILE *f;

	/* thread-self: /proc/self/net would be the netns of the main thread. */
	f = fopen("/proc/thread-self/net/dev", "r");
	if (!f)
		return -errno;
	while (!d->found && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = ' ';
		/* name; rx: bytes packets errs drop fifo frame compressed
		 * multicast; tx: bytes packets ... */
		if (sscanf(line,
			   " %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6], &v[7], &v[8], &v[9]) != 11 ||
		    strcmp(name, d->dev))
			continue;
		d->rx = v[1];
		d->tx = v[9];
		d->found = true;
	}
	fclose(f);
	return d->found ? 0 : -ENOENT;
}

int xb_path_uplink_packets(const struct xb_path *p, uint64_t *rx, uint64_t *tx)
{
	struct xb_netdev d = { .dev = XB_POD_IFNAME };
	int ret;

	if (!p->node_ns[0])
		return -ENOENT;
	ret = xb_in_netns(p->node_ns, xb_netdev_fn, &d);
	if (ret)
		return ret;
	*rx = d.rx;
	*tx = d.tx;
	return 0;
}

int xb_path_slice_reset(struct xb_env *e, const struct xb_path *p)
{
	int ret;

	if (p->id == XB_P_ZH_NODEPORT_DSR && e->zh_objs[p->id] && e->zh_dsr_b) {
		ret = zh_ct_flush(e->zh_objs[p->id]);
		if (ret >= 0)
			ret = zh_ct_flush(e->zh_dsr_b);
		return ret < 0 ? ret : 0;
	}

	if (p->id == XB_P_ZH_NODEPORT && e->zh_np) {
		ret = zh_ct_flush(e->zh_np);
		return ret < 0 ? ret : 0;
	}
	if (p->id == XB_P_ZH_POLICY && e->zh_objs[p->id])
		return xb_policy_ct_flush(e->zh_objs[p->id]);
	if (p->id != XB_P_ZH_SVC || !e->zh_objs[p->id])
		return 0;
	ret = zh_ct_flush(e->zh_objs[p->id]);
	return ret < 0 ? ret : 0;
}

int xb_path_verify_nat(struct xb_env *e, const struct xb_path *p,
		       const struct xb_server *srv, char *why, size_t why_len)
{
	const struct sockaddr_in *peer = (const void *)&srv->last_peer;
	char vip[INET_ADDRSTRLEN], sip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
	char want0[64], want1[96];
	struct xb_ct_find ct = { { want0, want1 }, false };
	uint64_t pkts = 0;
	int ret;

	if (p->id == XB_P_ZH_SVC)
		return xb_zh_verify(e, p, srv, why, why_len);
	if (xb_path_is_socklb(p->id))
		return xb_sock_verify(e, p, srv, why, why_len);
	if (p->id == XB_P_ZH_NODEPORT)
		return xb_np_zh_verify(e, p, srv, why, why_len);
	if (p->id == XB_P_ZH_NODEPORT_DSR)
		return xb_np_dsr_verify(e, p, srv, why, why_len);
	inet_ntop(AF_INET, &p->target.sin_addr, vip, sizeof(vip));
	inet_ntop(AF_INET, &p->srv_ip, sip, sizeof(sip));
	inet_ntop(AF_INET, &p->gw, gw, sizeof(gw));
	if (!srv->echoed)
		return zh_errf(why, why_len, -EIO,
			       "the server saw no request to %s", vip);
	/* masqueradeAll: the request reached the pod from the node. */
	if (peer->sin_family != AF_INET ||
	    peer->sin_addr.s_addr != p->gw.s_addr)
		return zh_errf(
			why, why_len, -EIO,
			"the server saw the request from %s, not from the node's %s: not masqueraded",
			inet_ntoa(peer->sin_addr), gw);
	/* The original direction to the ClusterIP, the reply from the pod to
	 * the node: DNAT and SNAT both in one entry. */
	snprintf(want0, sizeof(want0), " dst=%s ", vip);
	snprintf(want1, sizeof(want1), " src=%s dst=%s sport=%d ", sip, gw,
		 XB_DEFAULT_PORT);
	ret = xb_in_netns(p->node_ns, xb_ct_find_fn, &ct);
	if (ret)
		return zh_errf(why, why_len, -EIO, "nf_conntrack in %s: %s",
			       p->node_ns, strerror(-ret));
	if (!ct.found)
		return zh_errf(
			why, why_len, -EIO,
			"no conntrack entry in the node for %s:%d with a reply from %s:%d to %s: not DNATed",
			vip, XB_SVC_PORT, sip, XB_DEFAULT_PORT, gw);
	if (p->id != XB_P_KUBEPROXY && p->id != XB_P_KUBEPROXY_HOST &&
	    p->id != XB_P_KP_NODEPORT)
		return 0;
	ret = xb_ipt_dnat_packets(e, p, &pkts);
	if (ret)
		return zh_errf(why, why_len, -EIO, "iptables -L %s: %s",
			       p->sep_chain, strerror(-ret));
	if (!pkts)
		return zh_errf(why, why_len, -EIO,
			       "the DNAT rule of %s counted no packet",
			       p->sep_chain);
	return 0;
}
