/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nl.h - the few rtnetlink operations a pod needs. Each call opens its own
 * socket, so it acts on the network namespace the calling thread is in.
 * All return 0 or a negative errno (the kernel's, from the netlink ack).
 */
#ifndef ZH_NL_H
#define ZH_NL_H

#include <stdbool.h>
#include <netinet/in.h>

/* An address of either family, as netlink wants it (network byte order). */
struct zh_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		unsigned char raw[16];
	};
	int prefix;
};

/* Parse "10.0.0.1", "fd00::1/64", ... (@want_prefix: a prefix is required). */
int zh_addr_parse(const char *s, bool want_prefix, struct zh_addr *a);
/* Format as "ip" or "ip/prefix" into buf (>= 64 bytes). */
const char *zh_addr_str(const struct zh_addr *a, bool with_prefix, char *buf,
			size_t len);
int zh_addr_len(int family);

/* A veth pair: @host here, @peer created directly in netns @peer_netns_fd. */
int zh_nl_veth_add(const char *host, const char *peer, int peer_netns_fd,
		   unsigned int mtu);
/* The same with @queues TX and RX queues at each end (0: the default). */
int zh_nl_veth_add_queues(const char *host, const char *peer, int peer_netns_fd,
			  unsigned int mtu, unsigned int queues);
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

/* MAC address of @ifindex in the current netns. */
int zh_link_mac(int ifindex, unsigned char mac[6]);
/* Turn the interface's TX checksum offload off (ethtool -K dev tx off). */
int zh_link_tx_csum_off(const char *ifname);

#endif /* ZH_NL_H */
