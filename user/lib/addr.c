// SPDX-License-Identifier: Apache-2.0
/* addr.c - an IPv4 or IPv6 address with its prefix: parse and format. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "addr.h"

int zh_addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

int zh_addr_parse(const char *s, bool want_prefix, struct zh_addr *a)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	char *slash, *p;
	int prefix = 0;

	if (!s || strlen(s) >= sizeof(tmp))
		return -EINVAL;
	strcpy(tmp, s);
	memset(a, 0, sizeof(*a));
	slash = strchr(tmp, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, tmp, &a->v4) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, tmp, &a->v6) == 1)
		a->family = AF_INET6;
	else
		return -EINVAL;
	a->prefix = zh_addr_len(a->family) * 8;
	if (!slash)
		return want_prefix ? -EINVAL : 0;
	/* Decimal digits only, no leading zero, as Go's net.ParsePrefix and
	 * the CNI result's reader take it: strtol() would take "+24" and
	 * " 24", which an IPAM plugin refuses. */
	if (!*slash || strlen(slash) > 3 || (slash[0] == '0' && slash[1]))
		return -EINVAL;
	for (p = slash; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		prefix = prefix * 10 + (*p - '0');
	}
	if (prefix > a->prefix)
		return -EINVAL;
	a->prefix = prefix;
	return 0;
}

const char *zh_addr_str(const struct zh_addr *a, bool with_prefix, char *buf,
			size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(a->family, a->raw, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	if (with_prefix)
		snprintf(buf, len, "%s/%d", ip, a->prefix);
	else
		snprintf(buf, len, "%s", ip);
	return buf;
}
