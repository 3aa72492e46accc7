/* SPDX-License-Identifier: Apache-2.0 */
/* addr.h - an IPv4 or IPv6 address with its prefix, as netlink wants it. */
#ifndef ZH_ADDR_H
#define ZH_ADDR_H

#include <stdbool.h>
#include <stddef.h>
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

/*
 * Parse "10.0.0.1", "fd00::1/64", ... (@want_prefix: a prefix is required;
 * it is decimal digits, without sign, space or leading zero).
 */
int zh_addr_parse(const char *s, bool want_prefix, struct zh_addr *a);
/* Format as "ip" or "ip/prefix" into buf (>= 64 bytes). */
const char *zh_addr_str(const struct zh_addr *a, bool with_prefix, char *buf,
			size_t len);
int zh_addr_len(int family);

#endif /* ZH_ADDR_H */
