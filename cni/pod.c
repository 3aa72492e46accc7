// SPDX-License-Identifier: Apache-2.0
/*
 * pod.c - ADD, DEL and CHECK: wire a pod onto the fast path and take it off.
 *
 * The pod's gateway is link-local (169.254.1.1, fe80::1) and never answers
 * ARP or ND: the pod gets a permanent neighbour entry for it that names the
 * host-side veth's MAC, and its addresses carry no prefix route, so every
 * frame the pod sends goes to that MAC and through our program. The host
 * side mirrors it with a /32 (/128) route and a permanent neighbour for the
 * pod, so host<->pod traffic needs no ARP either.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_addr.h>

#include "cni.h"
#include "pod.h"
#include "podstate.h"
#include "zerohop.h"
#include "zh_xsk_proto.h"

#define ZH_GW4 "169.254.1.1"
#define ZH_GW6 "fe80::1"

void zh_host_ifname(const char *container_id, const char *ifname,
		    char out[IFNAMSIZ])
{
	/* FNV-1a over "<id>/<ifname>": 48 bits as 12 hex digits after "zh". */
	unsigned long long h = 0xcbf29ce484222325ULL;
	const char *parts[] = { container_id, "/", ifname };

	for (size_t i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	snprintf(out, IFNAMSIZ, "zh%012llx", h & 0xffffffffffffULL);
}

static void mac_str(const unsigned char m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

static int nl_fail(struct zh_cni_err *err, int ret, const char *what,
		   const char *obj)
{
	return zh_cni_err_set(err, ZH_CNI_ERR_LINK,
			      "failed to configure pod network", "%s %s: %s",
			      what, obj, strerror(-ret));
}

static unsigned int ipam_timeout(const struct zh_cni_env *env)
{
	return env->ipam_timeout_s ? env->ipam_timeout_s : ZH_IPAM_TIMEOUT_S;
}

/* Open the pinned objects (loading them if nobody has) under the lock. */
static int objs_take(const char *root, struct zh_objs *objs, unsigned int flags,
		     struct zh_cni_err *err)
{
	int lock, ret;

	lock = zh_pin_lock(root);
	if (lock == -ENOMEDIUM)
		return zh_cni_err_set(
			err, ZH_CNI_ERR_BPF, "/sys/fs/bpf is not a bpffs",
			"the plugin would load a private set of maps: mount bpffs on /sys/fs/bpf in the runtime's mount namespace (not under `ip netns exec`)");
	if (lock < 0)
		return zh_cni_err_set(err, ZH_CNI_ERR_BPF,
				      "cannot lock the BPF pin directory",
				      "%s: %s", root, strerror(-lock));
	ret = zh_objs_open(objs, root, flags, NULL);
	if (ret) {
		zh_pin_unlock(lock);
		if (ret == -ENOENT && !(flags & ZH_OBJS_LOAD))
			return -ENOENT;
		return zh_cni_err_set(err, ZH_CNI_ERR_BPF,
				      "cannot open or load the BPF objects",
				      "%s", objs->err);
	}
	return lock;
}

/* The addresses IPAM gave, split by family; zerohop takes one of each. */
struct pod_addrs {
	struct zh_addr v4, v6;
	bool has_v4, has_v6;
};

static int pick_addrs(const struct zh_result *ipam, struct pod_addrs *pa,
		      struct zh_cni_err *err)
{
	memset(pa, 0, sizeof(*pa));
	for (int i = 0; i < ipam->n_ips; i++) {
		struct zh_addr a;
		bool *has;

		if (zh_addr_parse(ipam->ips[i].address, true, &a))
			return zh_cni_err_set(
				err, ZH_CNI_ERR_IPAM,
				"IPAM returned an invalid address", "%s",
				ipam->ips[i].address);
		has = a.family == AF_INET ? &pa->has_v4 : &pa->has_v6;
		if (*has)
			return zh_cni_err_set(
				err, ZH_CNI_ERR_IPAM,
				"IPAM returned more than one address of a family",
				"zerohop gives a pod one IPv4 and at most one IPv6 address; extra: %s",
				ipam->ips[i].address);
		*has = true;
		*(a.family == AF_INET ? &pa->v4 : &pa->v6) = a;
	}
	if (!pa->has_v4)
		return zh_cni_err_set(
			err, ZH_CNI_ERR_IPAM, "IPAM returned no IPv4 address",
			"ipam result has %d address(es), none IPv4",
			ipam->n_ips);
	return 0;
}

static void gw_of(int family, struct zh_addr *gw)
{
	zh_addr_parse(family == AF_INET ? ZH_GW4 : ZH_GW6, false, gw);
}

/*
 * The pod's routes: those IPAM asked for, through our gateway, and a default
 * route for each family IPAM gave no route for.
 */
static int build_routes(const struct zh_result *ipam,
			const struct pod_addrs *pa, struct zh_result *res,
			struct zh_cni_err *err)
{
	bool routed[2] = { false, false };
	char buf[64];

	for (int i = 0; i < ipam->n_routes; i++) {
		struct zh_addr dst, gw;

		if (zh_addr_parse(ipam->routes[i].dst, true, &dst))
			return zh_cni_err_set(err, ZH_CNI_ERR_IPAM,
					      "IPAM returned an invalid route",
					      "%s", ipam->routes[i].dst);
		if (dst.family == AF_INET ? !pa->has_v4 : !pa->has_v6)
			continue; /* no address of that family to route from */
		routed[dst.family == AF_INET6] = true;
		gw_of(dst.family, &gw);
		snprintf(res->routes[res->n_routes].dst,
			 sizeof(res->routes[0].dst), "%s", ipam->routes[i].dst);
		zh_addr_str(&gw, false, res->routes[res->n_routes].gw,
			    sizeof(res->routes[0].gw));
		res->n_routes++;
	}
	for (int fam = 0; fam < 2; fam++) {
		struct zh_addr gw;

		if (routed[fam] || !(fam ? pa->has_v6 : pa->has_v4))
			continue;
		if (res->n_routes >= ZH_CNI_MAX_ROUTES)
			break;
		gw_of(fam ? AF_INET6 : AF_INET, &gw);
		snprintf(res->routes[res->n_routes].dst,
			 sizeof(res->routes[0].dst), "%s",
			 fam ? "::/0" : "0.0.0.0/0");
		snprintf(res->routes[res->n_routes].gw,
			 sizeof(res->routes[0].gw), "%s",
			 zh_addr_str(&gw, false, buf, sizeof(buf)));
		res->n_routes++;
	}
	return 0;
}

/* The pod-side program: AF_XDP pods steer in native XDP whatever the
 * mode; XDP mode needs it native too; tc mode times at tc. */
struct pod_prog {
	const char *name;
	int fd;
	bool xdp;
};

static struct pod_prog pod_prog(const struct zh_netconf *conf,
				const struct zh_objs *objs)
{
	if (conf->afxdp.queues)
		return (struct pod_prog){ ZH_PROG_XDP_POD_XSK,
					  objs->xdp_pod_xsk_fd, true };
	if (conf->datapath == ZH_DATAPATH_XDP)
		return (struct pod_prog){ ZH_PROG_XDP_POD, objs->xdp_pod_fd,
					  true };
	return (struct pod_prog){ ZH_PROG_TC_POD, objs->tc_pod_fd, false };
}

/* Can an XDP redirect reach the pod? Only if its veth runs XDP natively. */
static __u8 pod_xdp_native(const struct zh_netconf *conf)
{
	return conf->afxdp.queues || conf->datapath == ZH_DATAPATH_XDP;
}

/* What pod_side() works with, and what it finds. */
struct pod_side {
	const struct zh_cni_env *env;
	const struct zh_netconf *conf;
	const struct zh_objs *objs;
	const struct pod_addrs *pa;
	const struct zh_result *res;
	const unsigned char *gw_mac; /* the host side's */
	struct zh_cni_err *err;
	bool ran; /* in the netns: the netns could be entered */
	/* out */
	unsigned char pod_mac[6];
	int pod_ifindex, xdp_mode;
	__u64 netns_cookie; /* SO_NETNS_COOKIE */
	int cookie_err; /* 0: @netns_cookie is the pod's */
};

/* Inside the pod's netns (zh_netns_run()): the interface, its addresses,
 * gateway, routes. */
static int pod_side(void *arg)
{
	struct pod_side *ps = arg;
	const struct zh_cni_env *env = ps->env;
	const struct zh_netconf *conf = ps->conf;
	const struct zh_objs *objs = ps->objs;
	const struct pod_addrs *pa = ps->pa;
	const struct zh_result *res = ps->res;
	const unsigned char *gw_mac = ps->gw_mac;
	unsigned char *pod_mac = ps->pod_mac;
	int *pod_ifindex = &ps->pod_ifindex, *xdp_mode = &ps->xdp_mode;
	struct zh_cni_err *err = ps->err;
	struct pod_prog prog;
	struct zh_addr gw;
	int ifindex, ret;

	ps->ran = true;
	/* For socket-level LB: the pod's sockets are clients by its own
	 * address (zh_netns). Kernels before 5.14 cannot say. */
	ps->cookie_err = zh_netns_cookie(&ps->netns_cookie);

	ifindex = if_nametoindex(env->ifname);
	if (!ifindex)
		return nl_fail(err, -errno, "pod interface", env->ifname);
	*pod_ifindex = ifindex;
	ret = zh_link_mac(ifindex, pod_mac);
	if (ret)
		return nl_fail(err, ret, "read MAC of", env->ifname);
	if (conf->datapath == ZH_DATAPATH_XDP) {
		/* XDP_REDIRECT hands the frame over without the skb's
		 * CHECKSUM_PARTIAL state: the sender must finish L4 checksums. */
		ret = zh_link_tx_csum_off(env->ifname);
		if (ret)
			return nl_fail(err, ret,
				       "turn off tx checksum offload on",
				       env->ifname);
	}
	/* The pod-side program times arrivals (per-hop latency); in XDP mode
	 * it is also what lets veth take redirected frames, and for AF_XDP
	 * it steers frames into the pod's sockets. */
	prog = pod_prog(conf, objs);
	ret = prog.xdp ? zh_xdp_attach(ifindex, prog.fd) :
			 zh_tc_attach(&objs->feat, ifindex, prog.fd);
	if (ret)
		return zh_cni_err_set(err, ZH_CNI_ERR_BPF,
				      "cannot attach the pod-side program",
				      "%s on pod interface %s: %s", prog.name,
				      env->ifname, strerror(-ret));
	/* What the kernel says it runs, not what we asked for: reported
	 * (zerohopctl endpoints, the handoff's reply), and only native XDP
	 * sees the frames we redirect. */
	*xdp_mode = conf->afxdp.queues ? zh_xdp_mode(ifindex) : 0;
	if (conf->afxdp.queues && *xdp_mode != ZH_XSK_XDP_NATIVE)
		return zh_cni_err_set(
			err, ZH_CNI_ERR_BPF,
			"the pod-side program does not run as native XDP",
			"%s on %s: the kernel reports XDP mode %d, want native",
			ZH_PROG_XDP_POD_XSK, env->ifname, *xdp_mode);
	ret = zh_nl_link_up(ifindex);
	if (ret)
		return nl_fail(err, ret, "set up", env->ifname);
	for (int fam = 0; fam < 2; fam++) {
		const struct zh_addr *a = fam ? &pa->v6 : &pa->v4;
		char buf[64];

		if (!(fam ? pa->has_v6 : pa->has_v4))
			continue;
		ret = zh_nl_addr_add(ifindex, a,
				     IFA_F_NOPREFIXROUTE |
					     (fam ? IFA_F_NODAD : 0));
		if (ret)
			return nl_fail(err, ret, "add address",
				       zh_addr_str(a, true, buf, sizeof(buf)));
		gw_of(a->family, &gw);
		ret = zh_nl_neigh_add(ifindex, &gw, gw_mac);
		if (ret)
			return nl_fail(err, ret, "add gateway neighbour",
				       zh_addr_str(&gw, false, buf,
						   sizeof(buf)));
	}
	for (int i = 0; i < res->n_routes; i++) {
		struct zh_addr dst;

		zh_addr_parse(res->routes[i].dst, true, &dst);
		gw_of(dst.family, &gw);
		ret = zh_nl_route_add(ifindex, &dst, &gw);
		if (ret && ret != -EEXIST)
			return nl_fail(err, ret, "add route",
				       res->routes[i].dst);
	}
	return 0;
}

/*
 * In the host netns: routes and neighbours to the pod, on the host-side
 * veth (up already: zh_cmd_add()), which is made ready to send.
 */
static int host_side(int host_ifindex, const char *host,
		     const struct pod_addrs *pa, const unsigned char pod_mac[6],
		     struct zh_cni_err *err)
{
	char buf[64];
	int ret;

	for (int fam = 0; fam < 2; fam++) {
		struct zh_addr a = fam ? pa->v6 : pa->v4;

		if (!(fam ? pa->has_v6 : pa->has_v4))
			continue;
		a.prefix = zh_addr_len(a.family) * 8;
		ret = zh_nl_neigh_add(host_ifindex, &a, pod_mac);
		if (ret)
			return nl_fail(err, ret, "add pod neighbour",
				       zh_addr_str(&a, false, buf,
						   sizeof(buf)));
		ret = zh_nl_route_add(host_ifindex, &a, NULL);
		if (ret)
			return nl_fail(err, ret, "add host route to",
				       zh_addr_str(&a, true, buf, sizeof(buf)));
	}
	/* It came up before its peer: its carrier came on with the pod
	 * side, and until the link watch work has run for it, what the
	 * node sends the pod through it (and AF_XDP pods' frames, which
	 * it delivers) is dropped. Under RTNL contention (netns torn down
	 * meanwhile) that work came after ADD had returned. */
	ret = zh_link_settle(host);
	if (ret < 0 && ret != -EOPNOTSUPP)
		return nl_fail(err, ret, "read the link state of", host);
	return 0;
}

static int attach_host(const struct zh_netconf *conf,
		       const struct zh_objs *objs, int host_ifindex,
		       const char *host, bool netkit, struct zh_cni_err *err)
{
	int ret;

	/* netkit: the same program on the peer's hook, which runs in the
	 * pod's transmit path (the pod's packets need no backlog crossing
	 * to reach it); attached from here, by the primary, where the pod
	 * cannot detach it. Until it is, the peer's policy drops all that
	 * the pod sends. Not on the primary's tc ingress as well: what it
	 * passes enters there and would be judged twice. */
	if (netkit)
		ret = zh_netkit_attach(host_ifindex, objs->tc_from_pod_fd, 1);
	/* XDP mode has the tc entry too: what XDP cannot redirect (to a pod
	 * without XDP) it passes on, and the tc entry delivers. */
	else
		ret = zh_tc_attach(&objs->feat, host_ifindex,
				   objs->tc_from_pod_fd);
	if (!ret && conf->datapath == ZH_DATAPATH_XDP)
		ret = zh_xdp_attach(host_ifindex, objs->xdp_from_pod_fd);
	/* NetworkPolicy on what the kernel delivers into the pod: on every
	 * pod (it exits at once while the pod is unpolicied), in the host's
	 * netns where the pod cannot detach it. Where this kernel cannot
	 * run it, zerohopd refuses --network-policy on|audit. */
	if (!ret && objs->tc_to_pod_fd >= 0) {
		ret = zh_tc_attach_egress(&objs->feat, host_ifindex,
					  objs->tc_to_pod_fd);
		if (ret)
			return zh_cni_err_set(
				err, ZH_CNI_ERR_BPF,
				"cannot attach the policy program",
				"%s on %s egress: %s", ZH_PROG_TC_TO_POD, host,
				strerror(-ret));
	}
	if (ret)
		return zh_cni_err_set(err, ZH_CNI_ERR_BPF,
				      "cannot attach the fast-path program",
				      "%s on %s%s: %s",
				      conf->datapath == ZH_DATAPATH_XDP ?
					      ZH_PROG_XDP_FROM_POD :
					      ZH_PROG_TC_FROM_POD,
				      host, netkit ? " (netkit peer)" : "",
				      strerror(-ret));
	return 0;
}

static void fill_iface(struct zh_iface *iface, const struct zh_cni_env *env,
		       const struct zh_netconf *conf,
		       const struct pod_addrs *pa, const char *host,
		       const unsigned char host_mac[6],
		       const unsigned char pod_mac[6], int pod_ifindex,
		       bool netkit)
{
	memset(iface, 0, sizeof(*iface));
	memcpy(iface->mac, pod_mac, 6);
	memcpy(iface->gw_mac, host_mac, 6);
	iface->datapath = conf->datapath;
	if (netkit)
		iface->flags |= ZH_IFACE_F_NETKIT;
	if (pa->has_v4) {
		iface->flags |= ZH_IFACE_F_V4;
		iface->ipv4 = pa->v4.v4.s_addr;
	}
	if (pa->has_v6) {
		iface->flags |= ZH_IFACE_F_V6;
		memcpy(iface->ipv6, &pa->v6.v6, 16);
	}
	iface->pod_ifindex = pod_ifindex;
	snprintf(iface->host_ifname, sizeof(iface->host_ifname), "%s", host);
	snprintf(iface->pod_ifname, sizeof(iface->pod_ifname), "%s",
		 env->ifname);
	zh_container_id_key(env->container_id, iface->container_id);
	snprintf(iface->netns, sizeof(iface->netns), "%s", env->netns);
	snprintf(iface->network, sizeof(iface->network), "%s", conf->name);
	if (conf->afxdp.queues) {
		iface->xsk.queues = (__u8)conf->afxdp.queues;
		iface->xsk.nsteer = (__u8)conf->afxdp.nsteer;
		memcpy(iface->xsk.steer, conf->afxdp.steer,
		       sizeof(iface->xsk.steer));
	}
}

static void build_result(struct zh_result *res, const struct zh_cni_env *env,
			 const struct zh_netconf *conf,
			 const struct zh_result *ipam, const char *host,
			 const unsigned char host_mac[6],
			 const unsigned char pod_mac[6])
{
	snprintf(res->ifaces[0].name, sizeof(res->ifaces[0].name), "%s", host);
	mac_str(host_mac, res->ifaces[0].mac);
	snprintf(res->ifaces[1].name, sizeof(res->ifaces[1].name), "%s",
		 env->ifname);
	mac_str(pod_mac, res->ifaces[1].mac);
	snprintf(res->ifaces[1].sandbox, sizeof(res->ifaces[1].sandbox), "%s",
		 env->netns);
	/* Where the pod hands over its AF_XDP sockets (1.1.0 results). */
	if (conf->afxdp.queues)
		snprintf(res->ifaces[1].socket_path,
			 sizeof(res->ifaces[1].socket_path), "%s",
			 conf->afxdp.socket_path);
	res->n_ifaces = 2;
	for (int i = 0; i < ipam->n_ips; i++) {
		struct zh_addr a, gw;

		res->ips[i] = ipam->ips[i];
		zh_addr_parse(ipam->ips[i].address, true, &a);
		gw_of(a.family, &gw);
		zh_addr_str(&gw, false, res->ips[i].gateway,
			    sizeof(res->ips[i].gateway));
		res->ips[i].iface = 1;
	}
	res->n_ips = ipam->n_ips;
	if (ipam->dns)
		res->dns = json_incref(ipam->dns);
}

/* The VXLAN device's MTU (routing vxlan without "mtu"): the agent made it
 * the uplink's minus the encapsulation. */
static int vxlan_mtu(const struct zh_netconf *conf, unsigned int *mtu,
		     struct zh_cni_err *err)
{
	struct ifreq ifr = { 0 };
	int fd, rc;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", conf->vxlan_dev);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	rc = fd < 0 ? -1 : ioctl(fd, SIOCGIFMTU, &ifr);
	if (fd >= 0)
		close(fd);
	if (rc || ifr.ifr_mtu < ZH_NETCONF_MTU_MIN)
		return zh_cni_errf(
			err, ZH_CNI_ERR_TRY_AGAIN, NULL,
			"routing vxlan: no VXLAN device %s to take the MTU from (zerohopd --routing vxlan makes it; or give \"mtu\")",
			conf->vxlan_dev);
	*mtu = (unsigned int)ifr.ifr_mtu;
	return 0;
}

/*
 * Last of ADD: what a DEL would be given, for the agent to release the
 * lease of a pod that goes without one (podstate.h). Without it such a pod
 * would leak its addresses: the ADD fails instead.
 */
static int save_state(const struct zh_cni_env *env,
		      const struct zh_netconf *conf, const char *host,
		      int host_ifindex, struct zh_cni_err *err)
{
	struct zh_podstate st = {
		.container_id = (char *)env->container_id,
		.ifname = (char *)env->ifname,
		.cni_path = (char *)env->path,
		.cni_args = (char *)env->args,
		.host_ifname = (char *)host,
		.host_ifindex = (__u32)host_ifindex,
		.config = conf->raw,
	};
	const char *dir = zh_state_dir();
	int ret = zh_podstate_save(dir, &st);

	if (!ret)
		return 0;
	return zh_cni_err_set(
		err, ZH_CNI_ERR_IO, "cannot record the attachment",
		"%s (%s): %s", dir, ZH_STATE_DIR_ENV,
		ret == -EPERM ? "not a directory that only root may write" :
				strerror(-ret));
}

/*
 * The pod's netns -> its addresses (zh_netns): a socket of the pod that
 * socket-level LB balances has the pod's own address as its
 * sessionAffinity client, as its packets have on the per-packet path.
 * Removed with the endpoint entries (zh_ep_remove(), by @host_ifindex).
 * A kernel without SO_NETNS_COOKIE: nothing written, said on stderr (the
 * pod's sockets are clients by their netns then).
 */
static int netns_write(const struct zh_objs *objs, const struct pod_side *ps,
		       const struct pod_addrs *pa, int host_ifindex,
		       struct zh_cni_err *err)
{
	struct zh_netns n = { .ifindex = (__u32)host_ifindex };
	int ret;

	if (ps->cookie_err) {
		pr_info("the pod's netns cookie: %s: sessionAffinity from its sockets is by netns, not by its address\n",
			strerror(-ps->cookie_err));
		return 0;
	}
	if (pa->has_v4) {
		n.addr4 = pa->v4.v4.s_addr;
		n.flags |= ZH_NETNS_F_V4;
	}
	if (pa->has_v6) {
		memcpy(n.addr6, pa->v6.raw, sizeof(n.addr6));
		n.flags |= ZH_NETNS_F_V6;
	}
	ret = zh_netns_write(objs, ps->netns_cookie, &n);
	if (ret == -ENOENT) /* pins of a build without it */
		return 0;
	if (ret)
		return zh_cni_err_set(err, ZH_CNI_ERR_BPF,
				      "cannot write the pod's netns entry",
				      "%s: %s", ZH_MAP_NETNS, strerror(-ret));
	return 0;
}

int zh_pick_device(const struct zh_netconf *conf, int code, bool say,
		   bool *netkit, struct zh_cni_err *err)
{
	struct zh_netkit_probe p;
	char why[96];
	int ret;

	*netkit = false;
	if (conf->device == ZH_DEVICE_VETH)
		return 0;
	/* "netkit" with either was refused when the config was parsed. */
	if (conf->datapath == ZH_DATAPATH_XDP || conf->afxdp.queues) {
		if (say)
			pr_warn("device auto: a veth, as %s needs XDP, which netkit does not have\n",
				conf->afxdp.queues ? "an AF_XDP pod" :
						     "\"datapath\": \"xdp\"");
		return 0;
	}
	ret = zh_netkit_usable(zh_state_dir(), &p);
	if (ret) {
		p.ok = false;
		p.step = "probe";
		p.err = ret;
	}
	if (p.ok) {
		*netkit = true;
		return 0;
	}
	zh_netkit_probe_str(&p, why, sizeof(why));
	if (conf->device == ZH_DEVICE_NETKIT)
		return zh_cni_err_set(
			err, code,
			"\"device\": \"netkit\" cannot work on this node's kernel",
			"netkit pair: %s; netkit needs Linux >= 6.7 with CONFIG_NETKIT (\"device\": \"auto\" falls back to a veth)",
			why);
	if (say)
		pr_warn("device auto: a veth, as this kernel cannot give pods netkit: %s\n",
			why);
	return 0;
}

int zh_cmd_add(const struct zh_cni_env *env, const struct zh_netconf *conf,
	       json_t **out, struct zh_cni_err *err)
{
	struct zh_result ipam = {}, res = {};
	unsigned char host_mac[6];
	struct zh_endpoint ep = {};
	struct zh_iface iface;
	struct pod_addrs pa;
	char host[IFNAMSIZ];
	struct zh_objs objs;
	struct pod_side ps = {
		.env = env,
		.conf = conf,
		.objs = &objs,
		.pa = &pa,
		.res = &res,
		.gw_mac = host_mac,
		.err = err,
	};
	int lock = -1, ipam_lock, netns_fd, host_ifindex = 0, ret;
	unsigned int mtu = conf->mtu;
	bool netkit = false;

	zh_host_ifname(env->container_id, env->ifname, host);
	netns_fd = open(env->netns, O_RDONLY | O_CLOEXEC);
	if (netns_fd < 0)
		return zh_cni_err_set(err, ZH_CNI_ERR_UNKNOWN_CONTAINER,
				      "cannot open the pod's network namespace",
				      "CNI_NETNS %s: %s", env->netns,
				      strerror(errno));
	if (if_nametoindex(host)) {
		zh_cni_err_set(
			err, ZH_CNI_ERR_LINK, "host interface already exists",
			"%s is there for container %s ifname %s: ADD without DEL?",
			host, env->container_id, env->ifname);
		close(netns_fd);
		return -1;
	}
	/* An IPAM plugin of a killed command for this attachment may still
	 * run: wait for it, as long as an IPAM plugin may take. */
	ipam_lock = zh_ipam_lock(env, ipam_timeout(env));
	if (ipam_lock < 0) {
		zh_cni_err_set(
			err, ZH_CNI_ERR_TRY_AGAIN,
			"another command for this attachment is still running",
			"the IPAM lock of container %s ifname %s: %s",
			env->container_id, env->ifname, strerror(-ipam_lock));
		close(netns_fd);
		return -1;
	}
	/* IPAM before the node-wide lock, not under it: a slow or hung IPAM
	 * plugin (it has a deadline too) holds up this ADD alone, not the
	 * agent and every other pod. */
	ret = zh_ipam_delegate(env, ZH_CNI_ADD, conf, &ipam, err);
	if (ret) {
		/* The spec: a delegate that failed ADD gets a DEL. It may
		 * have reserved an address before it failed (or timed out,
		 * or answered what we cannot use), and nothing else would
		 * give it back unless the runtime sends DEL. */
		goto err_ipam;
	}
	lock = objs_take(env->pin_root, &objs, ZH_OBJS_LOAD, err);
	if (lock < 0)
		goto err_ipam;
	/* A mode this kernel cannot run is refused before anything else is
	 * made. */
	ret = zh_netconf_kernel_check(conf, &objs.feat,
				      ZH_CNI_ERR_UNSUPPORTED_FIELD, err);
	if (ret)
		goto err_ipam;
	ret = pick_addrs(&ipam, &pa, err);
	if (ret)
		goto err_ipam;
	ret = build_routes(&ipam, &pa, &res, err);
	if (ret)
		goto err_ipam;

	/* routing vxlan: the pod's MTU leaves room for the encapsulation,
	 * as the agent made the VXLAN device's. */
	if (conf->mtu_from_vxlan) {
		ret = vxlan_mtu(conf, &mtu, err);
		if (ret)
			goto err_ipam;
	}
	/* An AF_XDP pod's veth has exactly its queues: native XDP on veth
	 * takes a frame on the queue the sender's side picked, and a socket
	 * only sees its own queue. */
	ret = zh_pick_device(conf, ZH_CNI_ERR_UNSUPPORTED_FIELD, true, &netkit,
			     err);
	if (ret)
		goto err_ipam;
	/* netkit: the peer drops what the pod sends until our program is
	 * attached to it (attach_host()): isolated from its first packet. */
	ret = netkit ? zh_nl_netkit_add(host, env->ifname, netns_fd, mtu,
					ZH_NETKIT_DROP) :
		       zh_nl_veth_add_queues(host, env->ifname, netns_fd, mtu,
					     conf->afxdp.queues);
	if (ret) {
		nl_fail(err, ret,
			netkit ? "create netkit pair" : "create veth pair",
			ret == -EEXIST ? "(pod interface name taken)" : host);
		goto err_ipam;
	}
	host_ifindex = if_nametoindex(host);
	if (!host_ifindex || zh_link_mac(host_ifindex, host_mac)) {
		ret = nl_fail(err, -ENODEV, "look up", host);
		goto err_ipam; /* cannot find it to delete it either */
	}

	/*
	 * The host side up first: the pod side, set up next, then finds its
	 * peer up, so that its carrier is on when it opens and its queue is
	 * ready before ADD returns. The other way round, the pod's first
	 * packets went to a noop qdisc until the kernel's link watch work
	 * had run, which RTNL contention (a netns torn down meanwhile)
	 * delayed past the end of ADD (churn.sh: a pod's first ping lost).
	 */
	ret = zh_nl_link_up(host_ifindex);
	if (ret) {
		nl_fail(err, ret, "set up", host);
		goto err_veth;
	}
	ret = zh_netns_run(env->netns, pod_side, &ps);
	if (ret && !ps.ran)
		ret = nl_fail(err, ret, "enter netns", env->netns);
	if (ret)
		goto err_veth;

	ret = host_side(host_ifindex, host, &pa, ps.pod_mac, err);
	if (ret)
		goto err_veth;
	ret = attach_host(conf, &objs, host_ifindex, host, netkit, err);
	if (ret)
		goto err_veth;

	fill_iface(&iface, env, conf, &pa, host, host_mac, ps.pod_mac,
		   ps.pod_ifindex, netkit);
	if (conf->afxdp.queues) {
		iface.xsk.xdp_mode = (__u8)ps.xdp_mode;
		ret = zh_xsk_slot_alloc(&objs, conf->afxdp.queues,
					&iface.xsk.slot);
		if (ret) {
			zh_cni_err_set(err, ZH_CNI_ERR_BPF,
				       "no room for the pod's AF_XDP sockets",
				       "%u queue(s) wanted, %d slots in %s: %s",
				       conf->afxdp.queues, ZH_XSK_SLOTS,
				       ZH_MAP_XSKS, strerror(-ret));
			goto err_veth;
		}
	}
	ep.ifindex = host_ifindex;
	memcpy(ep.mac, ps.pod_mac, 6);
	memcpy(ep.gw_mac, host_mac, 6);
	ep.datapath = pod_xdp_native(conf) ? ZH_DATAPATH_XDP : ZH_DATAPATH_TC;
	if (conf->afxdp.queues)
		ep.flags = ZH_EP_F_VIA_RX;
	ret = zh_ep_write(&objs, host_ifindex, &iface, &ep);
	if (ret) {
		zh_cni_err_set(
			err, ZH_CNI_ERR_BPF, "cannot write the endpoint",
			"%s: %s", host,
			ret == -EEXIST ?
				"an address of this pod is already another pod's" :
				strerror(-ret));
		goto err_veth;
	}
	ret = netns_write(&objs, &ps, &pa, host_ifindex, err);
	if (!ret)
		ret = save_state(env, conf, host, host_ifindex, err);
	if (ret) {
		/* with the pod's zh_netns entry */
		zh_ep_remove(&objs, host_ifindex);
		goto err_veth;
	}

	build_result(&res, env, conf, &ipam, host, host_mac, ps.pod_mac);
	*out = zh_result_to_json(&res, conf->cni_version);
	zh_result_free(&res);
	zh_result_free(&ipam);
	zh_objs_close(&objs);
	zh_pin_unlock(lock);
	close(ipam_lock);
	close(netns_fd);
	return *out ? 0 :
		      zh_cni_err_set(err, ZH_CNI_ERR_INTERNAL,
				     "cannot encode the result", NULL);

err_veth:
	/* Deleting one end deletes the pair, its routes, neighbours and the
	 * programs attached to either end. */
	zh_nl_link_del(host_ifindex);
err_ipam:
	/* The lock goes first: IPAM runs outside it, here too. */
	if (lock >= 0) {
		zh_objs_close(&objs);
		zh_pin_unlock(lock);
	}
	{
		struct zh_cni_err ignore;

		if (zh_ipam_delegate(env, ZH_CNI_DEL, conf, NULL, &ignore))
			pr_warn("rollback: IPAM DEL failed: %s\n", ignore.msg);
	}
	zh_result_free(&ipam);
	zh_result_free(&res);
	close(ipam_lock);
	close(netns_fd);
	return -1;
}

int zh_pod_objs_take(const char *root, struct zh_objs *objs,
		     struct zh_cni_err *err)
{
	char dir[ZH_PIN_PATH_MAX];

	/* Nothing pinned, nothing to remove: and no pin root made either. */
	snprintf(dir, sizeof(dir), "%s/%s", root, ZH_PIN_VERSION);
	if (access(dir, F_OK))
		return -ENOENT;
	return objs_take(root, objs, 0, err);
}

int zh_pod_unwire(const struct zh_objs *objs, const char *host,
		  const char *container_id, const char *ifname,
		  struct zh_ep_flows *flows, struct zh_cni_err *err)
{
	int ifindex = if_nametoindex(host), ret;

	if (ifindex) {
		/* The veth may vanish under us (pod netns torn down): fine. */
		ret = zh_nl_link_del(ifindex);
		if (ret && ret != -ENODEV)
			return zh_cni_err_set(
				err, ZH_CNI_ERR_LINK,
				"cannot delete the host interface", "%s: %s",
				host, strerror(-ret));
	}
	/* The entries after the veth, which the pod sent through: with
	 * them go its Service flows (zh_ct), and a packet of the pod in
	 * between would have opened one again. The agent sweeps nothing
	 * meanwhile: it waits for the pin lock we hold. */
	if (objs && ifindex)
		zh_ep_remove_into(objs, ifindex, flows);
	/* Entries whose veth went away without a DEL. */
	if (objs)
		zh_ep_remove_owner(objs, container_id, ifname, flows);
	return 0;
}

int zh_cmd_del(const struct zh_cni_env *env, const struct zh_netconf *conf,
	       struct zh_cni_err *err)
{
	struct zh_ep_flows flows = { .n = 0 };
	struct zh_cni_err ignore;
	char host[IFNAMSIZ];
	struct zh_objs objs;
	int lock, ret;

	/* Best effort: without the maps (never loaded, bpffs gone) there is
	 * no entry to remove, and the veth and lease still go. */
	zh_host_ifname(env->container_id, env->ifname, host);
	lock = zh_pod_objs_take(env->pin_root, &objs, &ignore);
	ret = zh_pod_unwire(lock >= 0 ? &objs : NULL, host, env->container_id,
			    env->ifname, &flows, err);
	if (lock >= 0) {
		/* The pod's Service flows after the lock is let go: the walk
		 * of zh_ct grows with it (~120 ms for 200 000 entries here),
		 * and under the lock it held up every other pod's ADD and
		 * DEL. Before IPAM gives the address back: no pod has it
		 * yet. */
		zh_pin_unlock(lock);
		zh_ct_forget(&objs, &flows);
		zh_objs_close(&objs);
	}
	/* IPAM outside the lock, as in ADD. */
	if (!ret)
		ret = zh_ipam_release(env, conf, err);
	/* Done: nothing left for the agent to release. A failed DEL keeps
	 * the record, for the runtime's retry or the agent. */
	if (!ret)
		zh_podstate_remove(zh_state_dir(), env->container_id,
				   env->ifname);
	return ret ? -1 : 0;
}

/* CHECK collects every problem it finds into one message. */
struct problems {
	char buf[1024];
	size_t len;
	int n;
};

static void problem(struct problems *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct problems *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->len >= sizeof(p->buf) - 1)
		return;
	if (p->n++)
		p->len += snprintf(p->buf + p->len, sizeof(p->buf) - p->len,
				   "; ");
	if (p->len >= sizeof(p->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(p->buf + p->len, sizeof(p->buf) - p->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->len += n;
	if (p->len > sizeof(p->buf) - 1)
		p->len = sizeof(p->buf) - 1;
}

struct pod_check {
	const struct zh_cni_env *env;
	const struct zh_netconf *conf;
	const struct zh_objs *objs;
	const struct zh_result *prev;
	struct problems *p;
};

/* Inside the pod's netns (zh_netns_run()): what it finds wrong goes to
 * the problems; returns 0. */
static int check_pod_side(void *arg)
{
	const struct pod_check *pc = arg;
	const struct zh_cni_env *env = pc->env;
	const struct zh_netconf *conf = pc->conf;
	const struct zh_result *prev = pc->prev;
	struct problems *p = pc->p;
	struct pod_prog prog = pod_prog(conf, pc->objs);
	int ifindex = if_nametoindex(env->ifname);
	char buf[64];

	if (!ifindex) {
		problem(p, "pod interface %s missing in %s", env->ifname,
			env->netns);
		return 0;
	}
	for (int i = 0; i < prev->n_ips; i++) {
		struct zh_addr a;

		if (zh_addr_parse(prev->ips[i].address, true, &a))
			continue;
		if (zh_nl_addr_has(ifindex, &a) != 1)
			problem(p, "address %s missing on %s",
				prev->ips[i].address, env->ifname);
	}
	for (int i = 0; i < prev->n_routes; i++) {
		struct zh_addr dst, gw;
		bool has_gw = prev->routes[i].gw[0];

		if (zh_addr_parse(prev->routes[i].dst, true, &dst) ||
		    (has_gw && zh_addr_parse(prev->routes[i].gw, false, &gw)))
			continue;
		if (zh_nl_route_has(ifindex, &dst, has_gw ? &gw : NULL) != 1)
			problem(p, "route %s via %s missing",
				prev->routes[i].dst,
				has_gw ? zh_addr_str(&gw, false, buf,
						     sizeof(buf)) :
					 "link");
	}
	if (conf->afxdp.queues && zh_xdp_mode(ifindex) != ZH_XSK_XDP_NATIVE)
		problem(p, "XDP on pod interface %s is not native",
			env->ifname);
	if ((prog.xdp ? zh_xdp_attached(ifindex, prog.fd) :
			zh_tc_attached(ifindex, prog.fd)) != 1)
		problem(p, "%s not attached to pod interface %s", prog.name,
			env->ifname);
	return 0;
}

int zh_cmd_check(const struct zh_cni_env *env, const struct zh_netconf *conf,
		 struct zh_cni_err *err)
{
	struct problems p = {};
	struct zh_result prev = {};
	struct pod_check pc;
	struct zh_iface iface;
	struct zh_objs objs;
	char host[IFNAMSIZ];
	int ifindex, ret, attached;

	if (!conf->prev_result)
		return zh_cni_err_set(err, ZH_CNI_ERR_INVALID_CONFIG,
				      "CHECK needs prevResult", NULL);
	if (zh_result_parse(conf->prev_result, &prev, err))
		return -1;
	zh_host_ifname(env->container_id, env->ifname, host);

	ret = zh_objs_open(&objs, env->pin_root, 0, NULL);
	if (ret) {
		zh_result_free(&prev);
		return zh_cni_err_set(err, ZH_CNI_ERR_CHECK,
				      "BPF objects are not pinned", "%s",
				      objs.err);
	}
	/* A kernel that cannot run this mode: say that, not which of its
	 * pieces are missing. */
	if (zh_netconf_kernel_check(conf, &objs.feat,
				    ZH_CNI_ERR_UNSUPPORTED_FIELD, err)) {
		zh_objs_close(&objs);
		zh_result_free(&prev);
		return -1;
	}
	ifindex = if_nametoindex(host);
	if (!ifindex) {
		problem(&p, "host interface %s missing", host);
	} else {
		bool nk = !zh_iface_lookup(&objs, ifindex, &iface) &&
			  (iface.flags & ZH_IFACE_F_NETKIT);

		/* tc always (netkit: on the peer's hook); XDP mode has the
		 * XDP entry in front of it. */
		attached = nk ? zh_netkit_attached(ifindex, objs.tc_from_pod_fd,
						   1) :
				zh_tc_attached(ifindex, objs.tc_from_pod_fd);
		if (attached == 1 && conf->datapath == ZH_DATAPATH_XDP)
			attached =
				zh_xdp_attached(ifindex, objs.xdp_from_pod_fd);
		if (attached != 1)
			problem(&p, "fast-path program not attached to %s",
				host);
		if (zh_iface_lookup(&objs, ifindex, &iface) ||
		    !zh_container_id_is(iface.container_id, env->container_id))
			problem(&p, "no endpoint entry for %s", host);
		else if (conf->afxdp.queues &&
			 zh_steer_check(&objs, &iface) != 1)
			problem(&p, "AF_XDP steering rules of %s missing",
				host);
	}
	for (int i = 0; i < prev.n_ips; i++) {
		struct zh_endpoint ep;
		struct zh_ep_key key;
		struct zh_addr a;

		if (zh_addr_parse(prev.ips[i].address, true, &a))
			continue;
		if (a.family == AF_INET)
			zh_ep_key_v4(&key, a.v4.s_addr);
		else
			zh_ep_key_v6(&key, (const __u32 *)a.v6.s6_addr);
		if (zh_ep_lookup(&objs, &key, &ep) ||
		    (int)ep.ifindex != ifindex)
			problem(&p, "endpoint map has no entry for %s to %s",
				prev.ips[i].address, host);
	}

	pc = (struct pod_check){ env, conf, &objs, &prev, &p };
	ret = zh_netns_run(env->netns, check_pod_side, &pc);
	if (ret) /* check_pod_side() says its problems and returns 0 */
		problem(&p, "netns %s: %s", env->netns, strerror(-ret));
	zh_objs_close(&objs);
	zh_result_free(&prev);
	if (p.n)
		return zh_cni_err_set(err, ZH_CNI_ERR_CHECK,
				      "pod network does not match prevResult",
				      "%s", p.buf);
	return zh_ipam_delegate(env, ZH_CNI_CHECK, conf, NULL, err) ? -1 : 0;
}
