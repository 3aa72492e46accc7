// SPDX-License-Identifier: Apache-2.0
/*
 * test_afxdp_conf.c - the "afxdp" network configuration (cni/conf.c): what
 * it turns into, and every way of getting it wrong, each refused with the
 * spec's code 7 and a message that names the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "cni.h"
#include "util.h"
#include "xsk_srv.h"

#define BASE                                                            \
	"\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"zerohop\"," \
	"\"ipam\":{\"type\":\"host-local\"}"

static int parse(const char *extra, struct zh_netconf *conf,
		 struct zh_cni_err *err)
{
	char doc[2048];

	snprintf(doc, sizeof(doc), "{" BASE "%s%s}", extra[0] ? "," : "",
		 extra);
	memset(err, 0, sizeof(*err));
	return zh_netconf_parse(doc, strlen(doc), conf, err);
}

static void test_off_by_default(void **state)
{
	struct zh_netconf conf;
	struct zh_cni_err err;

	(void)state;
	assert_int_equal(parse("", &conf, &err), 0);
	assert_int_equal(conf.afxdp.queues, 0);
	zh_netconf_free(&conf);
	assert_int_equal(parse("\"afxdp\":false", &conf, &err), 0);
	assert_int_equal(conf.afxdp.queues, 0);
	zh_netconf_free(&conf);
	assert_int_equal(parse("\"afxdp\":null", &conf, &err), 0);
	assert_int_equal(conf.afxdp.queues, 0);
	zh_netconf_free(&conf);
}

static void test_defaults(void **state)
{
	struct zh_netconf conf;
	struct zh_cni_err err;

	(void)state;
	unsetenv(ZH_XSK_SOCKET_ENV);
	assert_int_equal(parse("\"afxdp\":{\"steer\":[{\"proto\":\"udp\","
			       "\"port\":9000}]}",
			       &conf, &err),
			 0);
	assert_int_equal(conf.afxdp.queues, 1);
	assert_string_equal(conf.afxdp.socket_path, ZH_XSK_SOCKET_DEFAULT);
	assert_int_equal(conf.afxdp.nsteer, 1);
	assert_int_equal(conf.afxdp.steer[0].proto, IPPROTO_UDP);
	assert_int_equal(ntohs(conf.afxdp.steer[0].port), 9000);
	zh_netconf_free(&conf);

	/* The environment's socket (tests) stands in for the default. */
	setenv(ZH_XSK_SOCKET_ENV, "/tmp/x.sock", 1);
	assert_int_equal(parse("\"afxdp\":{\"steer\":[{\"proto\":\"tcp\"}]}",
			       &conf, &err),
			 0);
	assert_string_equal(conf.afxdp.socket_path, "/tmp/x.sock");
	assert_int_equal(conf.afxdp.steer[0].proto, IPPROTO_TCP);
	assert_int_equal(conf.afxdp.steer[0].port, 0); /* every port */
	zh_netconf_free(&conf);
	unsetenv(ZH_XSK_SOCKET_ENV);
}

static void test_everything(void **state)
{
	struct zh_netconf conf;
	struct zh_cni_err err;

	(void)state;
	assert_int_equal(parse("\"afxdp\":{\"queues\":4,\"xdpMode\":\"native\","
			       "\"socketPath\":\"/run/x/y.sock\",\"steer\":["
			       "{\"proto\":\"udp\",\"port\":1},"
			       "{\"proto\":\"udp\",\"port\":65535},"
			       "{\"proto\":\"tcp\",\"port\":7000}]}",
			       &conf, &err),
			 0);
	assert_int_equal(conf.afxdp.queues, 4);
	assert_string_equal(conf.afxdp.socket_path, "/run/x/y.sock");
	assert_int_equal(conf.afxdp.nsteer, 3);
	assert_int_equal(ntohs(conf.afxdp.steer[1].port), 65535);
	assert_int_equal(conf.afxdp.steer[2].proto, IPPROTO_TCP);
	zh_netconf_free(&conf);
}

/* args.cni.afxdp is one pod's say: it wins over the network's. */
static void test_per_pod(void **state)
{
	struct zh_netconf conf;
	struct zh_cni_err err;

	(void)state;
	assert_int_equal(
		parse("\"args\":{\"cni\":{\"afxdp\":{\"queues\":2,\"steer\":"
		      "[{\"proto\":\"udp\",\"port\":53}]}}}",
		      &conf, &err),
		0);
	assert_int_equal(conf.afxdp.queues, 2);
	assert_int_equal(ntohs(conf.afxdp.steer[0].port), 53);
	zh_netconf_free(&conf);
	assert_int_equal(
		parse("\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":1}]},"
		      "\"args\":{\"cni\":{\"afxdp\":false}}",
		      &conf, &err),
		0);
	assert_int_equal(conf.afxdp.queues, 0);
	zh_netconf_free(&conf);
	/* Other args are none of ours. */
	assert_int_equal(
		parse("\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":1}]},"
		      "\"args\":{\"cni\":{\"ips\":[\"10.0.0.1\"]}}",
		      &conf, &err),
		0);
	assert_int_equal(conf.afxdp.queues, 1);
	zh_netconf_free(&conf);
}

/* What a pod may ask for is the network's to say (afxdpPods). */
static void test_pod_policy(void **state)
{
	struct zh_netconf conf;
	struct zh_cni_err err;

	(void)state;
	/* By default up to 4 queues. */
	assert_int_equal(
		parse("\"args\":{\"cni\":{\"afxdp\":{\"queues\":4,\"steer\":"
		      "[{\"proto\":\"udp\"}]}}}",
		      &conf, &err),
		0);
	assert_int_equal(conf.afxdp.queues, 4);
	zh_netconf_free(&conf);
	assert_int_equal(
		parse("\"args\":{\"cni\":{\"afxdp\":{\"queues\":5,\"steer\":"
		      "[{\"proto\":\"udp\"}]}}}",
		      &conf, &err),
		-1);
	assert_int_equal(err.code, ZH_CNI_ERR_INVALID_CONFIG);
	assert_contains(err.msg, "args.cni.afxdp.queues is 5");
	assert_contains(err.msg, "at most 4");
	/* The network's own afxdp may take more. */
	assert_int_equal(
		parse("\"afxdp\":{\"queues\":16,\"steer\":[{\"proto\":\"udp\"}]}",
		      &conf, &err),
		0);
	zh_netconf_free(&conf);
	/* A cap of its own. */
	assert_int_equal(
		parse("\"afxdpPods\":{\"maxQueues\":1},\"args\":{\"cni\":{"
		      "\"afxdp\":{\"queues\":2,\"steer\":[{\"proto\":\"udp\"}]}}}",
		      &conf, &err),
		-1);
	assert_contains(err.msg, "at most 1");
	/* Forbidden: asking is refused, opting out is not. */
	assert_int_equal(
		parse("\"afxdpPods\":{\"allow\":false},\"args\":{\"cni\":{"
		      "\"afxdp\":{\"steer\":[{\"proto\":\"udp\"}]}}}",
		      &conf, &err),
		-1);
	assert_contains(err.msg, "afxdpPods.allow is false");
	assert_int_equal(parse("\"afxdpPods\":{\"allow\":false},"
			       "\"afxdp\":{\"steer\":[{\"proto\":\"udp\"}]},"
			       "\"args\":{\"cni\":{\"afxdp\":false}}",
			       &conf, &err),
			 0);
	assert_int_equal(conf.afxdp.queues, 0);
	zh_netconf_free(&conf);
}

static const struct bad {
	const char *extra;
	const char *msg; /* in err.msg */
} bads[] = {
	{ "\"afxdp\":true", "afxdp is true" },
	{ "\"afxdp\":[]", "afxdp is []" },
	{ "\"afxdp\":{}", "afxdp.steer is missing" },
	{ "\"afxdp\":{\"steer\":[]}", "afxdp.steer is []" },
	{ "\"afxdp\":{\"steer\":{\"proto\":\"udp\"}}", "afxdp.steer is" },
	{ "\"afxdp\":{\"steer\":[{\"port\":1}]}",
	  "afxdp.steer[0].proto is missing" },
	{ "\"afxdp\":{\"steer\":[{\"proto\":\"sctp\",\"port\":1}]}",
	  "afxdp.steer[0].proto is \"sctp\"" },
	{ "\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":0}]}",
	  "afxdp.steer[0].port is 0" },
	{ "\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":65536}]}",
	  "afxdp.steer[0].port is 65536" },
	{ "\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":\"53\"}]}",
	  "afxdp.steer[0].port is \"53\"" },
	{ "\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":1,\"x\":1}]}",
	  "afxdp.steer[0] is" },
	{ "\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":5},"
	  "{\"proto\":\"udp\",\"port\":5}]}",
	  "afxdp.steer[1] is" },
	{ "\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":1},"
	  "{\"proto\":\"udp\",\"port\":2},{\"proto\":\"udp\",\"port\":3},"
	  "{\"proto\":\"udp\",\"port\":4},{\"proto\":\"udp\",\"port\":5},"
	  "{\"proto\":\"udp\",\"port\":6},{\"proto\":\"udp\",\"port\":7},"
	  "{\"proto\":\"udp\",\"port\":8},{\"proto\":\"udp\",\"port\":9}]}",
	  "afxdp.steer is" },
	{ "\"afxdp\":{\"queues\":0,\"steer\":[{\"proto\":\"udp\"}]}",
	  "afxdp.queues is 0" },
	{ "\"afxdp\":{\"queues\":17,\"steer\":[{\"proto\":\"udp\"}]}",
	  "afxdp.queues is 17" },
	{ "\"afxdp\":{\"queues\":\"1\",\"steer\":[{\"proto\":\"udp\"}]}",
	  "afxdp.queues is \"1\"" },
	{ "\"afxdp\":{\"xdpMode\":\"skb\",\"steer\":[{\"proto\":\"udp\"}]}",
	  "afxdp.xdpMode is \"skb\"" },
	{ "\"afxdp\":{\"xdpMode\":\"generic\",\"steer\":[{\"proto\":\"udp\"}]}",
	  "afxdp.xdpMode is \"generic\": unsupported" },
	{ "\"afxdp\":{\"socketPath\":\"x.sock\",\"steer\":[{\"proto\":\"udp\"}]}",
	  "afxdp.socketPath is \"x.sock\"" },
	{ "\"afxdp\":{\"socketPath\":\"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaa\",\"steer\":[{\"proto\":\"udp\"}]}",
	  "afxdp.socketPath is" },
	{ "\"afxdp\":{\"steer\":[{\"proto\":\"udp\"}],\"zerocopy\":true}",
	  "unknown key \"zerocopy\" in afxdp" },
	{ "\"args\":{\"cni\":{\"afxdp\":{\"queues\":3}}}",
	  "args.cni.afxdp.steer is missing" },
	{ "\"afxdpPods\":true", "afxdpPods is true" },
	{ "\"afxdpPods\":{\"allow\":1}", "afxdpPods.allow is 1" },
	{ "\"afxdpPods\":{\"maxQueues\":0}", "afxdpPods.maxQueues is 0" },
	{ "\"afxdpPods\":{\"maxQueues\":17}", "afxdpPods.maxQueues is 17" },
	{ "\"afxdpPods\":{\"limit\":1}", "unknown key \"limit\" in afxdpPods" },
};

static void test_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bads); i++) {
		struct zh_netconf conf;
		struct zh_cni_err err;

		if (parse(bads[i].extra, &conf, &err) == 0)
			fail_msg("accepted: %s", bads[i].extra);
		if (err.code != ZH_CNI_ERR_INVALID_CONFIG)
			fail_msg("%s: code %d, want %d", bads[i].extra,
				 err.code, ZH_CNI_ERR_INVALID_CONFIG);
		assert_contains(err.msg, bads[i].msg);
		zh_netconf_free(&conf); /* harmless on a failed parse */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_by_default),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_everything),
		cmocka_unit_test(test_per_pod),
		cmocka_unit_test(test_pod_policy),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
