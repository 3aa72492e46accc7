// SPDX-License-Identifier: Apache-2.0
/*
 * test_masq.c - masquerade's configuration (user/lib/masq.h): the CIDR
 * lists and the port range zerohopd takes, and the nftables fallback's
 * ruleset, checked by `nft --check` where nft is installed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "masq.h"

static void test_parse_cidrs(void **state)
{
	struct zh_addr a[3];
	size_t n = 0;

	(void)state;
	assert_int_equal(zh_masq_parse_cidrs("10.244.0.0/16,fd00:10:244::/56",
					     a, 3, &n),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].family, AF_INET);
	assert_int_equal(a[0].prefix, 16);
	assert_int_equal(a[1].family, AF_INET6);
	assert_int_equal(a[1].prefix, 56);
	/* Appends: a second flag adds to the list. */
	assert_int_equal(zh_masq_parse_cidrs("172.18.0.0/16", a, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(zh_masq_parse_cidrs("10.0.0.0/8", a, 3, &n), -E2BIG);
	n = 0;
	assert_int_equal(zh_masq_parse_cidrs("10.0.0.1", a, 3, &n), -EINVAL);
	n = 0;
	assert_int_equal(zh_masq_parse_cidrs("", a, 3, &n), -EINVAL);
	n = 0;
	assert_int_equal(zh_masq_parse_cidrs("10.0.0.0/33", a, 3, &n), -EINVAL);
}

static void test_parse_ports(void **state)
{
	unsigned int lo, hi;

	(void)state;
	assert_int_equal(zh_masq_parse_ports("61000-65535", &lo, &hi), 0);
	assert_int_equal(lo, 61000);
	assert_int_equal(hi, 65535);
	assert_int_equal(zh_masq_parse_ports("1024-1024", &lo, &hi), 0);
	assert_int_equal(zh_masq_parse_ports("1023-2000", &lo, &hi), -EINVAL);
	assert_int_equal(zh_masq_parse_ports("3000-2000", &lo, &hi), -EINVAL);
	assert_int_equal(zh_masq_parse_ports("3000", &lo, &hi), -EINVAL);
	assert_int_equal(zh_masq_parse_ports("3000-70000", &lo, &hi), -EINVAL);
}

static struct zh_masq_conf conf(bool on)
{
	struct zh_masq_conf c = { .on = on,
				  .port_min = 61000,
				  .port_max = 65535 };

	assert_int_equal(zh_masq_parse_cidrs("10.244.0.0/16,fd00:10:244::/56",
					     c.cluster, ZH_MASQ_MAX_CIDRS,
					     &c.n_cluster),
			 0);
	assert_int_equal(zh_masq_parse_cidrs("172.18.0.0/16", c.keep,
					     ZH_MASQ_MAX_CIDRS, &c.n_keep),
			 0);
	return c;
}

/* nft parses it (--check: nothing is changed), when nft is there. */
static void nft_check(const char *rules)
{
	char path[] = "/tmp/test_masq.XXXXXX", cmd[128];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, rules, strlen(rules)), (int)strlen(rules));
	close(fd);
	if (system("nft --version >/dev/null 2>&1") || geteuid()) {
		print_message("[  INFO    ] nft --check skipped: %s\n",
			      geteuid() ? "not root" : "no nft");
	} else {
		snprintf(cmd, sizeof(cmd), "nft --check -f %s", path);
		if (system(cmd))
			fail_msg("nft --check refused:\n%s", rules);
	}
	unlink(path);
}

/* No --cluster-cidr: the node table's pod CIDRs are the sources, and its
 * pod CIDRs and node addresses are kept as they are. */
static void test_nft_node_table(void **state)
{
	struct zh_masq_conf c = { .on = true,
				  .port_min = 61000,
				  .port_max = 65535 };
	struct zh_addr cidrs[3], addrs[2];
	size_t nc = 0, na = 0;
	char buf[4096];

	(void)state;
	assert_int_equal(
		zh_masq_parse_cidrs("10.244.1.0/24,10.244.2.0/24,fd44:1::/64",
				    cidrs, 3, &nc),
		0);
	assert_int_equal(zh_masq_parse_cidrs("192.168.50.1/32,192.168.50.2/32",
					     addrs, 2, &na),
			 0);
	c.node_cidrs = cidrs;
	c.n_node_cidrs = nc;
	c.node_addrs = addrs;
	c.n_node_addrs = na;
	assert_true(zh_masq_nft_ruleset(&c, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(
		buf,
		"set pods4 {\n\t\ttype ipv4_addr; flags interval; auto-merge\n\t\telements = { 10.244.1.0/24, 10.244.2.0/24 }"));
	assert_non_null(strstr(
		buf,
		"set keep4 {\n\t\ttype ipv4_addr; flags interval; auto-merge\n\t\telements = { 10.244.1.0/24, 10.244.2.0/24, 192.168.50.1/32, 192.168.50.2/32 }"));
	assert_non_null(strstr(buf, "elements = { fd44:1::/64 }"));
	assert_non_null(strstr(
		buf,
		"ip6 saddr @pods6 ip6 daddr != @keep6 counter masquerade fully-random"));
	nft_check(buf);
}

static void test_nft_ruleset(void **state)
{
	struct zh_masq_conf c = conf(true);
	char buf[4096];
	int n;

	(void)state;
	n = zh_masq_nft_ruleset(&c, buf, sizeof(buf));
	assert_true(n > 0);
	/* The cluster's sources, to what is not inside; TCP and UDP below
	 * BPF's ports, the rest as the kernel picks. */
	assert_non_null(strstr(buf, "elements = { 10.244.0.0/16 }"));
	assert_non_null(
		strstr(buf, "elements = { 10.244.0.0/16, 172.18.0.0/16 }"));
	assert_non_null(strstr(
		buf,
		"ip saddr @pods4 ip daddr != @keep4 meta l4proto { tcp, udp } counter masquerade to :1024-60999 fully-random"));
	assert_non_null(strstr(
		buf,
		"ip saddr @pods4 ip daddr != @keep4 counter masquerade fully-random"));
	assert_non_null(strstr(
		buf,
		"ip6 saddr @pods6 ip6 daddr != @keep6 counter masquerade fully-random"));
	nft_check(buf);
	/* Off: the table goes, nothing else. */
	c.on = false;
	n = zh_masq_nft_ruleset(&c, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(
		buf,
		"table inet zerohop_masq\ndelete table inet zerohop_masq\n");
	nft_check(buf);
	/* Too small a buffer: said, not cut. */
	c.on = true;
	assert_int_equal(zh_masq_nft_ruleset(&c, buf, 64), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_cidrs),
		cmocka_unit_test(test_parse_ports),
		cmocka_unit_test(test_nft_ruleset),
		cmocka_unit_test(test_nft_node_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
