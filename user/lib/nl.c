// SPDX-License-Identifier: Apache-2.0
/*
 * nl.c - a minimal rtnetlink client: build one request, send it, read the
 * ack (or walk a dump). Small enough that a static CNI binary needs no
 * netlink library.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <endian.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/lwtunnel.h>
#include <linux/neighbour.h>
#include <linux/pkt_sched.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "nl.h"

#define NL_BUF 8192

struct nl_req {
	struct nlmsghdr *nh;
	size_t cap;
	char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
};

static void *req_init(struct nl_req *r, int type, int flags, size_t hdr_len)
{
	/* A sequence number per request: replies to anything else are not
	 * ours. */
	static atomic_uint seq;

	memset(r->buf, 0, sizeof(r->buf));
	r->cap = sizeof(r->buf);
	r->nh = (struct nlmsghdr *)r->buf;
	r->nh->nlmsg_len = NLMSG_LENGTH(hdr_len);
	r->nh->nlmsg_type = type;
	r->nh->nlmsg_flags = NLM_F_REQUEST | flags;
	r->nh->nlmsg_seq = atomic_fetch_add(&seq, 1) + 1;
	return NLMSG_DATA(r->nh);
}

static struct rtattr *attr_put(struct nl_req *r, int type, const void *data,
			       size_t len)
{
	size_t off = NLMSG_ALIGN(r->nh->nlmsg_len);
	struct rtattr *rta = (struct rtattr *)(r->buf + off);

	/* Requests here are a few hundred bytes: overflow is a bug. */
	if (off + RTA_SPACE(len) > r->cap)
		abort();
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	r->nh->nlmsg_len = off + RTA_SPACE(len);
	return rta;
}

static struct rtattr *attr_nest(struct nl_req *r, int type)
{
	return attr_put(r, type, NULL, 0);
}

static void attr_nest_end(struct nl_req *r, struct rtattr *nest)
{
	nest->rta_len = r->buf + r->nh->nlmsg_len - (char *)nest;
}

static int kernel_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1;
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	/* Ask for the kernel's reason in extended acks; harmless if absent. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static ssize_t kernel_send(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, 0);
}

static ssize_t kernel_recv(int fd, void *buf, size_t len,
			   struct sockaddr_nl *from)
{
	socklen_t alen = sizeof(*from);

	return recvfrom(fd, buf, len, 0, (struct sockaddr *)from, &alen);
}

static void kernel_close(int fd)
{
	close(fd);
}

static const struct zh_nl_ops kernel_ops = {
	.open = kernel_open,
	.send = kernel_send,
	.recv = kernel_recv,
	.close = kernel_close,
};
static const struct zh_nl_ops *nl_ops = &kernel_ops;

void zh_nl_set_ops(const struct zh_nl_ops *ops)
{
	nl_ops = ops ? ops : &kernel_ops;
}

/*
 * One datagram of replies to @r: every message is checked whole before it
 * is read, and only the kernel's answers to this request count. Returns 1
 * when the exchange is over (NLMSG_DONE or an ack; *@ret its error, or
 * @cb's verdict), 0 to read on, or -EBADMSG for a malformed message.
 */
static int nl_datagram(const struct nl_req *r, const char *buf, size_t n,
		       int (*cb)(struct nlmsghdr *, void *), void *arg,
		       int *ret)
{
	while (n >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;
		size_t len = nh->nlmsg_len, step = NLMSG_ALIGN(len);

		if (len < sizeof(*nh) || len > n)
			return -EBADMSG;
		if (nh->nlmsg_seq != r->nh->nlmsg_seq)
			goto next; /* not an answer to this request */
		if (nh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(nh);

			if (len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			if (!*ret)
				*ret = e->error > 0 ? -EPROTO : e->error;
			return 1;
		}
		if (cb && !*ret) {
			int c = cb(nh, arg);

			if (c)
				*ret = c;
		}
next:
		if (step >= n)
			break;
		buf += step;
		n -= step;
	}
	return 0;
}

/*
 * Send @r and read replies. For a dump, @cb sees every message (whole, of
 * this request) and returns 0 to go on, >0 to stop with that value, <0 for
 * an error. Without a dump the ack's error is returned. Datagrams from
 * anyone but the kernel are ignored; a malformed reply is -EBADMSG.
 */
static int nl_talk(struct nl_req *r, int (*cb)(struct nlmsghdr *, void *),
		   void *arg)
{
	char rbuf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	int fd, ret = 0, end = 0;

	fd = nl_ops->open();
	if (fd < 0)
		return fd;
	if (nl_ops->send(fd, r->buf, r->nh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	while (!end) {
		struct sockaddr_nl from = { 0 };
		ssize_t n = nl_ops->recv(fd, rbuf, sizeof(rbuf), &from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* A netlink socket does not end: 0 is a broken one. */
			ret = n < 0 ? -errno : -EPROTO;
			break;
		}
		if (from.nl_family != AF_NETLINK || from.nl_pid)
			continue; /* not the kernel */
		end = nl_datagram(r, rbuf, (size_t)n, cb, arg, &ret);
		if (end < 0)
			ret = end;
	}
out:
	nl_ops->close(fd);
	return ret;
}

/* A new link @name of @mtu (RTM_NEWLINK, create, exclusive): its
 * attributes follow; link_kind() opens its kind's data. */
static void link_new(struct nl_req *r, const char *name, unsigned int mtu)
{
	struct ifinfomsg *ifi;

	ifi = req_init(r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
		       sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	attr_put(r, IFLA_IFNAME, name, strlen(name) + 1);
	attr_put(r, IFLA_MTU, &mtu, sizeof(mtu));
}

/* IFLA_LINKINFO with IFLA_INFO_KIND @kind, and its IFLA_INFO_DATA opened
 * in *@data; close both with attr_nest_end(), data first. */
static struct rtattr *link_kind(struct nl_req *r, const char *kind,
				struct rtattr **data)
{
	struct rtattr *linkinfo = attr_nest(r, IFLA_LINKINFO);

	attr_put(r, IFLA_INFO_KIND, kind, strlen(kind));
	*data = attr_nest(r, IFLA_INFO_DATA);
	return linkinfo;
}

/* A pair's peer (VETH_INFO_PEER, IFLA_NETKIT_PEER_INFO: @type), named
 * @peer, of @mtu: an ifinfomsg before its attributes. Close it with
 * attr_nest_end() after its own attributes (peer_netns()). */
static struct rtattr *peer_begin(struct nl_req *r, unsigned short type,
				 const char *peer, unsigned int mtu)
{
	struct rtattr *nest = attr_nest(r, type);
	struct ifinfomsg *peer_ifi;
	size_t off = NLMSG_ALIGN(r->nh->nlmsg_len);

	peer_ifi = (struct ifinfomsg *)(r->buf + off);
	memset(peer_ifi, 0, sizeof(*peer_ifi));
	r->nh->nlmsg_len = off + NLMSG_ALIGN(sizeof(*peer_ifi));
	attr_put(r, IFLA_IFNAME, peer, strlen(peer) + 1);
	attr_put(r, IFLA_MTU, &mtu, sizeof(mtu));
	return nest;
}

/* The peer into netns @fd (< 0: stays here). */
static void peer_netns(struct nl_req *r, int fd)
{
	if (fd >= 0)
		attr_put(r, IFLA_NET_NS_FD, &fd, sizeof(fd));
}

int zh_nl_veth_add(const char *host, const char *peer, int peer_netns_fd,
		   unsigned int mtu)
{
	return zh_nl_veth_add_queues(host, peer, peer_netns_fd, mtu, 0);
}

int zh_nl_veth_add_queues(const char *host, const char *peer, int peer_netns_fd,
			  unsigned int mtu, unsigned int queues)
{
	struct rtattr *linkinfo, *data, *peer_nest;
	struct nl_req r;

	link_new(&r, host, mtu);
	if (queues) {
		attr_put(&r, IFLA_NUM_TX_QUEUES, &queues, sizeof(queues));
		attr_put(&r, IFLA_NUM_RX_QUEUES, &queues, sizeof(queues));
	}
	linkinfo = link_kind(&r, "veth", &data);
	peer_nest = peer_begin(&r, VETH_INFO_PEER, peer, mtu);
	if (queues) {
		attr_put(&r, IFLA_NUM_TX_QUEUES, &queues, sizeof(queues));
		attr_put(&r, IFLA_NUM_RX_QUEUES, &queues, sizeof(queues));
	}
	peer_netns(&r, peer_netns_fd);
	attr_nest_end(&r, peer_nest);
	attr_nest_end(&r, data);
	attr_nest_end(&r, linkinfo);
	return nl_talk(&r, NULL, NULL);
}

/* uapi if_link.h since 6.7; Debian 12's headers predate netkit. */
#define ZH_IFLA_NETKIT_PEER_INFO 1
#define ZH_IFLA_NETKIT_POLICY 3
#define ZH_IFLA_NETKIT_PEER_POLICY 4
#define ZH_IFLA_NETKIT_MODE 5

int zh_nl_netkit_add(const char *host, const char *peer, int peer_netns_fd,
		     unsigned int mtu, int peer_policy)
{
	struct rtattr *linkinfo, *data, *peer_nest;
	__u32 mode = ZH_NETKIT_L2, pass = ZH_NETKIT_PASS;
	__u32 ppol = (__u32)peer_policy;
	struct nl_req r;

	link_new(&r, host, mtu);
	linkinfo = link_kind(&r, "netkit", &data);
	/* L2: the pod sees Ethernet as on a veth, and so do our programs
	 * (anti-spoofing by MAC, the gateway's MAC, the L2 rewrite). */
	attr_put(&r, ZH_IFLA_NETKIT_MODE, &mode, sizeof(mode));
	/* The primary's default while nothing is attached to it: what the
	 * host sends the pod goes in (the policy program sits on its tc
	 * egress, before this). */
	attr_put(&r, ZH_IFLA_NETKIT_POLICY, &pass, sizeof(pass));
	/* The peer's: what the pod sends while nothing is attached to it. */
	attr_put(&r, ZH_IFLA_NETKIT_PEER_POLICY, &ppol, sizeof(ppol));
	peer_nest = peer_begin(&r, ZH_IFLA_NETKIT_PEER_INFO, peer, mtu);
	peer_netns(&r, peer_netns_fd);
	attr_nest_end(&r, peer_nest);
	attr_nest_end(&r, data);
	attr_nest_end(&r, linkinfo);
	return nl_talk(&r, NULL, NULL);
}

/* One request about link @ifindex: @type with @flags set (and changed). */
static int link_request(int type, int ifindex, unsigned int flags)
{
	struct ifinfomsg *ifi;
	struct nl_req r;

	ifi = req_init(&r, type, NLM_F_ACK, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = flags;
	return nl_talk(&r, NULL, NULL);
}

int zh_nl_link_del(int ifindex)
{
	return link_request(RTM_DELLINK, ifindex, 0);
}

int zh_nl_link_up(int ifindex)
{
	return link_request(RTM_NEWLINK, ifindex, IFF_UP);
}

int zh_nl_addr_add(int ifindex, const struct zh_addr *a, unsigned int flags)
{
	struct ifaddrmsg *ifa;
	struct nl_req r;
	int alen = zh_addr_len(a->family);

	ifa = req_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
		       sizeof(*ifa));
	ifa->ifa_family = a->family;
	ifa->ifa_prefixlen = a->prefix;
	ifa->ifa_index = ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	attr_put(&r, IFA_LOCAL, a->raw, alen);
	attr_put(&r, IFA_ADDRESS, a->raw, alen);
	/* IFA_FLAGS holds the 32-bit flags (NOPREFIXROUTE does not fit u8). */
	attr_put(&r, IFA_FLAGS, &flags, sizeof(flags));
	return nl_talk(&r, NULL, NULL);
}

int zh_nl_route_add(int ifindex, const struct zh_addr *dst,
		    const struct zh_addr *gw)
{
	struct rtmsg *rtm;
	struct nl_req r;
	int alen = zh_addr_len(dst->family);

	rtm = req_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
		       sizeof(*rtm));
	rtm->rtm_family = dst->family;
	rtm->rtm_dst_len = dst->prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	if (dst->prefix)
		attr_put(&r, RTA_DST, dst->raw, alen);
	if (gw) {
		attr_put(&r, RTA_GATEWAY, gw->raw, alen);
		/* The gateway is a static neighbour, not on any subnet. */
		rtm->rtm_flags |= RTNH_F_ONLINK;
	}
	attr_put(&r, RTA_OIF, &ifindex, sizeof(ifindex));
	return nl_talk(&r, NULL, NULL);
}

int zh_nl_neigh_add(int ifindex, const struct zh_addr *ip,
		    const unsigned char mac[6])
{
	struct ndmsg *nd;
	struct nl_req r;

	nd = req_init(&r, RTM_NEWNEIGH,
		      NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, sizeof(*nd));
	nd->ndm_family = ip->family;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = NUD_PERMANENT;
	attr_put(&r, NDA_DST, ip->raw, zh_addr_len(ip->family));
	attr_put(&r, NDA_LLADDR, mac, 6);
	return nl_talk(&r, NULL, NULL);
}

static struct rtattr *attr_find(struct rtattr *rta, int len, int type)
{
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == type)
			return rta;
	return NULL;
}

static void route_msg(struct nl_req *r, int type, int flags,
		      const struct zh_nl_route *rt)
{
	int alen = zh_addr_len(rt->dst.family);
	struct rtmsg *rtm;

	rtm = req_init(r, type, flags | NLM_F_ACK, sizeof(*rtm));
	rtm->rtm_family = rt->dst.family;
	rtm->rtm_dst_len = rt->dst.prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = ZH_RTPROT;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_scope = rt->gw.family ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	if (rt->dst.prefix)
		attr_put(r, RTA_DST, rt->dst.raw, alen);
	if (type == RTM_DELROUTE)
		return;
	if (rt->gw.family) {
		attr_put(r, RTA_GATEWAY, rt->gw.raw, alen);
		/* Another node's address need not be on a subnet here. */
		rtm->rtm_flags |= RTNH_F_ONLINK;
	}
	attr_put(r, RTA_OIF, &rt->ifindex, sizeof(rt->ifindex));
	if (rt->encap_dst.family) {
		bool v4 = rt->encap_dst.family == AF_INET;
		__u16 type16 = v4 ? LWTUNNEL_ENCAP_IP : LWTUNNEL_ENCAP_IP6;
		__be64 id = htobe64(rt->encap_id);
		struct rtattr *nest;

		attr_put(r, RTA_ENCAP_TYPE, &type16, sizeof(type16));
		nest = attr_nest(r, RTA_ENCAP);
		attr_put(r, v4 ? LWTUNNEL_IP_ID : LWTUNNEL_IP6_ID, &id,
			 sizeof(id));
		attr_put(r, v4 ? LWTUNNEL_IP_DST : LWTUNNEL_IP6_DST,
			 rt->encap_dst.raw, zh_addr_len(rt->encap_dst.family));
		attr_nest_end(r, nest);
	}
}

int zh_nl_route_set(const struct zh_nl_route *rt)
{
	struct nl_req r;

	route_msg(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, rt);
	return nl_talk(&r, NULL, NULL);
}

int zh_nl_route_del(const struct zh_nl_route *rt)
{
	struct nl_req r;

	route_msg(&r, RTM_DELROUTE, 0, rt);
	return nl_talk(&r, NULL, NULL);
}

struct route_walk {
	int family;
	int (*cb)(const struct zh_nl_route *rt, void *arg);
	void *arg;
};

static int route_walk_cb(struct nlmsghdr *nh, void *arg)
{
	struct rtmsg *rtm = NLMSG_DATA(nh);
	struct route_walk *w = arg;
	int len = RTM_PAYLOAD(nh), alen = zh_addr_len(w->family);
	struct zh_nl_route rt = { 0 };
	struct rtattr *a;

	if (nh->nlmsg_type != RTM_NEWROUTE)
		return 0;
	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return -EBADMSG;
	if (rtm->rtm_family != w->family || rtm->rtm_table != RT_TABLE_MAIN ||
	    rtm->rtm_protocol != ZH_RTPROT)
		return 0;
	rt.dst.family = w->family;
	rt.dst.prefix = rtm->rtm_dst_len;
	a = attr_find(RTM_RTA(rtm), len, RTA_DST);
	if (a && RTA_PAYLOAD(a) == (unsigned int)alen)
		memcpy(rt.dst.raw, RTA_DATA(a), alen);
	a = attr_find(RTM_RTA(rtm), len, RTA_GATEWAY);
	if (a && RTA_PAYLOAD(a) == (unsigned int)alen) {
		rt.gw.family = w->family;
		rt.gw.prefix = alen * 8;
		memcpy(rt.gw.raw, RTA_DATA(a), alen);
	}
	a = attr_find(RTM_RTA(rtm), len, RTA_OIF);
	if (a && RTA_PAYLOAD(a) >= sizeof(int))
		memcpy(&rt.ifindex, RTA_DATA(a), sizeof(int));
	return w->cb(&rt, w->arg);
}

int zh_nl_route_dump(int family,
		     int (*cb)(const struct zh_nl_route *rt, void *arg),
		     void *arg)
{
	struct route_walk w = { .family = family, .cb = cb, .arg = arg };
	struct rtmsg *rtm;
	struct nl_req r;

	rtm = req_init(&r, RTM_GETROUTE, NLM_F_DUMP, sizeof(*rtm));
	rtm->rtm_family = family;
	return nl_talk(&r, route_walk_cb, &w);
}

int zh_nl_neigh_del(int ifindex, const struct zh_addr *ip)
{
	struct ndmsg *nd;
	struct nl_req r;

	nd = req_init(&r, RTM_DELNEIGH, NLM_F_ACK, sizeof(*nd));
	nd->ndm_family = ip->family;
	nd->ndm_ifindex = ifindex;
	attr_put(&r, NDA_DST, ip->raw, zh_addr_len(ip->family));
	return nl_talk(&r, NULL, NULL);
}

int zh_nl_vxlan_add(const char *name, unsigned int port, unsigned int mtu,
		    const unsigned char mac[6])
{
	struct rtattr *linkinfo, *data;
	__be16 nport = htons((__u16)port);
	__u8 one = 1, zero = 0;
	struct nl_req r;

	link_new(&r, name, mtu);
	attr_put(&r, IFLA_ADDRESS, mac, 6);
	linkinfo = link_kind(&r, "vxlan", &data);
	attr_put(&r, IFLA_VXLAN_COLLECT_METADATA, &one, sizeof(one));
	attr_put(&r, IFLA_VXLAN_LEARNING, &zero, sizeof(zero));
	attr_put(&r, IFLA_VXLAN_PORT, &nport, sizeof(nport));
	/* Checksummed outer UDP over IPv6 (a zero one is refused there). */
	attr_put(&r, IFLA_VXLAN_UDP_CSUM, &one, sizeof(one));
	attr_nest_end(&r, data);
	attr_nest_end(&r, linkinfo);
	return nl_talk(&r, NULL, NULL);
}

struct match {
	int ifindex;
	const struct zh_addr *a;
	const struct zh_addr *gw;
};

static int attr_eq(struct rtattr *rta, const void *want, int len)
{
	return rta && RTA_PAYLOAD(rta) == (unsigned int)len &&
	       !memcmp(RTA_DATA(rta), want, len);
}

static int addr_cb(struct nlmsghdr *nh, void *arg)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	struct match *m = arg;
	int alen = zh_addr_len(m->a->family);

	if (nh->nlmsg_type != RTM_NEWADDR)
		return 0;
	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return -EBADMSG;
	if (ifa->ifa_family != m->a->family ||
	    (int)ifa->ifa_index != m->ifindex ||
	    ifa->ifa_prefixlen != m->a->prefix)
		return 0;
	return attr_eq(attr_find(IFA_RTA(ifa), IFA_PAYLOAD(nh), IFA_ADDRESS),
		       m->a->raw, alen);
}

int zh_nl_addr_has(int ifindex, const struct zh_addr *a)
{
	struct match m = { .ifindex = ifindex, .a = a };
	struct ifaddrmsg *ifa;
	struct nl_req r;

	ifa = req_init(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));
	ifa->ifa_family = a->family;
	return nl_talk(&r, addr_cb, &m);
}

static int route_cb(struct nlmsghdr *nh, void *arg)
{
	struct rtmsg *rtm = NLMSG_DATA(nh);
	struct match *m = arg;
	int alen = zh_addr_len(m->a->family);
	int len = RTM_PAYLOAD(nh);
	struct rtattr *oif, *dst, *gw;
	int ifindex;

	if (nh->nlmsg_type != RTM_NEWROUTE)
		return 0;
	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return -EBADMSG;
	if (rtm->rtm_family != m->a->family ||
	    rtm->rtm_table != RT_TABLE_MAIN || rtm->rtm_dst_len != m->a->prefix)
		return 0;
	oif = attr_find(RTM_RTA(rtm), len, RTA_OIF);
	dst = attr_find(RTM_RTA(rtm), len, RTA_DST);
	gw = attr_find(RTM_RTA(rtm), len, RTA_GATEWAY);
	if (!oif || RTA_PAYLOAD(oif) < sizeof(ifindex))
		return 0;
	memcpy(&ifindex, RTA_DATA(oif), sizeof(ifindex));
	if (ifindex != m->ifindex)
		return 0;
	if (m->a->prefix && !attr_eq(dst, m->a->raw, alen))
		return 0;
	if (m->gw ? !attr_eq(gw, m->gw->raw, alen) : gw != NULL)
		return 0;
	return 1;
}

int zh_nl_route_has(int ifindex, const struct zh_addr *dst,
		    const struct zh_addr *gw)
{
	struct match m = { .ifindex = ifindex, .a = dst, .gw = gw };
	struct rtmsg *rtm;
	struct nl_req r;

	rtm = req_init(&r, RTM_GETROUTE, NLM_F_DUMP, sizeof(*rtm));
	rtm->rtm_family = dst->family;
	return nl_talk(&r, route_cb, &m);
}

static int qdisc_cb(struct nlmsghdr *nh, void *arg)
{
	struct tcmsg *tcm = NLMSG_DATA(nh);
	struct rtattr *kind;

	if (nh->nlmsg_type != RTM_NEWQDISC)
		return 0;
	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*tcm)))
		return -EBADMSG;
	if (tcm->tcm_ifindex != *(int *)arg)
		return 0;
	kind = attr_find(TCA_RTA(tcm), (int)TCA_PAYLOAD(nh), TCA_KIND);
	return attr_eq(kind, "clsact", sizeof("clsact"));
}

int zh_nl_clsact_has(int ifindex)
{
	struct tcmsg *tcm;
	struct nl_req r;

	tcm = req_init(&r, RTM_GETQDISC, NLM_F_DUMP, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	return nl_talk(&r, qdisc_cb, &ifindex);
}

int zh_nl_link_monitor_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
			NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int zh_nl_link_monitor_read(int fd)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	int gone = 0;

	/* Bounded: what is left waits for the next call. */
	for (int turn = 0; turn < 64; turn++) {
		struct sockaddr_nl from = { 0 };
		socklen_t alen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &alen);
		size_t left;
		char *p = buf;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: events were lost; a sweep finds out. */
			if (errno == ENOBUFS)
				return 1;
			return errno == EAGAIN ? gone : -errno;
		}
		if (from.nl_pid)
			continue; /* only the kernel's */
		for (left = (size_t)n; left >= sizeof(struct nlmsghdr);) {
			struct nlmsghdr *nh = (struct nlmsghdr *)p;
			size_t step = NLMSG_ALIGN(nh->nlmsg_len);

			if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > left)
				break;
			gone |= nh->nlmsg_type == RTM_DELLINK;
			if (step >= left)
				break;
			p += step;
			left -= step;
		}
	}
	return gone;
}
