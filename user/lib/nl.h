/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nl.h - the few rtnetlink operations a pod needs. Each call opens its own
 * socket, so it acts on the network namespace the calling thread is in.
 * All return 0 or a negative errno (the kernel's, from the netlink ack).
 */
#ifndef ZH_NL_H
#define ZH_NL_H

#include <sys/types.h>
#include <linux/netlink.h>

#include "addr.h"

/* A veth pair: @host here, @peer created directly in netns @peer_netns_fd. */
int zh_nl_veth_add(const char *host, const char *peer, int peer_netns_fd,
		   unsigned int mtu);
/* The same with @queues TX and RX queues at each end (0: the default). */
int zh_nl_veth_add_queues(const char *host, const char *peer, int peer_netns_fd,
			  unsigned int mtu, unsigned int queues);
/*
 * A netkit pair (kernel >= 6.7, CONFIG_NETKIT), in L2 mode: primary @host
 * here, peer @peer in netns @peer_netns_fd. The primary passes by default;
 * the peer (what the pod sends) does @peer_policy (ZH_NETKIT_PASS or
 * ZH_NETKIT_DROP) while no program is attached to it. -EOPNOTSUPP: this
 * kernel has no netkit.
 */
#define ZH_NETKIT_PASS 0
#define ZH_NETKIT_DROP 2
#define ZH_NETKIT_L2 0
int zh_nl_netkit_add(const char *host, const char *peer, int peer_netns_fd,
		     unsigned int mtu, int peer_policy);
int zh_nl_link_del(int ifindex);
int zh_nl_link_up(int ifindex);
/* Flags are IFA_F_* (e.g. IFA_F_NODAD | IFA_F_NOPREFIXROUTE). */
int zh_nl_addr_add(int ifindex, const struct zh_addr *a, unsigned int flags);
/* Route to @dst via @gw (NULL: on-link, scope link) out of @ifindex. */
int zh_nl_route_add(int ifindex, const struct zh_addr *dst,
		    const struct zh_addr *gw);
int zh_nl_neigh_add(int ifindex, const struct zh_addr *ip,
		    const unsigned char mac[6]);
/* 1 when present, 0 when not, negative errno on failure. */
int zh_nl_addr_has(int ifindex, const struct zh_addr *a);
int zh_nl_route_has(int ifindex, const struct zh_addr *dst,
		    const struct zh_addr *gw);

/*
 * Routes of the node table (nodes.h): tagged with their own protocol
 * number, so that a dump finds ours, and replaced in one step.
 */
#define ZH_RTPROT 0x7a /* "zerohop" in /etc/iproute2/rt_protos terms */

struct zh_nl_route {
	struct zh_addr dst; /* with its prefix */
	struct zh_addr gw; /* family 0: none (scope link) */
	int ifindex;
	/* A collect_md tunnel device's route (LWT IP encap): the tunnel id
	 * and the underlay destination; encap_dst.family 0: none. */
	struct zh_addr encap_dst;
	__u64 encap_id;
};

/* Add or replace (NLM_F_REPLACE) @rt in the main table, protocol
 * ZH_RTPROT, the gateway on-link. */
int zh_nl_route_set(const struct zh_nl_route *rt);
/* Delete the route to @rt->dst (family, prefix) of protocol ZH_RTPROT. */
int zh_nl_route_del(const struct zh_nl_route *rt);
/* Every main-table route of @family with protocol ZH_RTPROT to @cb (dst,
 * gw and ifindex filled; a non-zero return stops the walk). */
int zh_nl_route_dump(int family,
		     int (*cb)(const struct zh_nl_route *rt, void *arg),
		     void *arg);
int zh_nl_neigh_del(int ifindex, const struct zh_addr *ip);
/*
 * A VXLAN device in external (collect_md) mode: UDP @port, @mtu, MAC
 * @mac, no learning, down (zh_nl_link_up()). -EEXIST when @name is there.
 */
int zh_nl_vxlan_add(const char *name, unsigned int port, unsigned int mtu,
		    const unsigned char mac[6]);

/* 1 when @ifindex has a clsact qdisc, 0 when not, negative errno. */
int zh_nl_clsact_has(int ifindex);

/*
 * Link events of this network namespace: a non-blocking socket
 * subscribed to them, and a read of what has come (bounded). Returns 1
 * when a link went (RTM_DELLINK, or events were lost), 0 when not, or a
 * negative errno.
 */
int zh_nl_link_monitor_open(void);
int zh_nl_link_monitor_read(int fd);

/*
 * For tests: the socket the calls talk through. @recv fills @from with the
 * sender (the kernel is nl_pid 0). NULL restores the kernel's.
 */
struct zh_nl_ops {
	int (*open)(void);
	ssize_t (*send)(int fd, const void *buf, size_t len);
	ssize_t (*recv)(int fd, void *buf, size_t len,
			struct sockaddr_nl *from);
	void (*close)(int fd);
};
void zh_nl_set_ops(const struct zh_nl_ops *ops);

#endif /* ZH_NL_H */
