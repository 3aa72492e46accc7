// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_sock.c - socket-level load balancing (bpf/lib/sock.h) in the
 * kernel, with real sockets: the objects loaded and pinned as the agent
 * loads them (under a pin root of the test's own), Services applied with
 * zh_svc_apply(), the zh_sock_* programs attached with zh_socklb_attach()
 * to a child cgroup the test makes (never the root), the process in a
 * network namespace of its own whose loopback holds the backends' and the
 * clients' addresses, and no route to the Service CIDR (a VIP only
 * answers when translated):
 *
 *  - TCP connect() to a ClusterIP reaches the backend, getpeername() is the
 *    VIP, data goes both ways (connect4, getpeername4 counted);
 *  - unconnected UDP sendto() the VIP reaches the backend, recvfrom()
 *    reads the reply as from the VIP (sendmsg4, recvmsg4 counted);
 *  - a Service without endpoints: connect() and sendto() fail at once
 *    with ECONNREFUSED (EPERM without bpf_set_retval()), counted;
 *  - a socket made outside the cgroup is not translated;
 *  - sessionAffinity: a netns recorded in zh_netns is its address's
 *    client (the per-packet path's key), its entry read back.
 *  - connect() records the socket in its zh_sock_conn slot and writes no
 *    zh_sock_rev entry. With zh_sock_release attached
 *    (ZH_CFG_F_SOCK_RELEASE): getpeername()/recvmsg() read the slot and
 *    copy nothing, close() empties it, and a live socket whose slot a
 *    colliding socket's connect() takes (a real one: sockets opened
 *    until a cookie shares the slot) has its record moved to zh_sock_rev
 *    and keeps its VIP. Without (the flag cleared): the first read copies
 *    the record to zh_sock_rev, and the socket keeps its VIP once
 *    another socket takes the slot; a socket whose slot was taken before
 *    it read its peer sees the backend. A UDP socket connected again to
 *    another Service leaves its first record to zh_sock_rev; connected
 *    UDP reads replies as from the VIP.
 *
 * Exit 77 (skipped) when not root, without a cgroup v2 hierarchy, or on a
 * kernel without the socket-level LB hooks.
 */
#define _GNU_SOURCE /* unshare() */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/sysinfo.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "zerohop.h"
#include "kfeatures.h"
#include "socklb.h"
#include "svc_maps.h"

#define SKIP 77
#define BACKEND "10.0.0.2"
#define VIP "10.96.0.10"
#define VIP_EMPTY "10.96.0.13"
#define VIP_STICKY "10.96.0.12"
#define VIP_DNS2 "10.96.0.14"

static const char services[] =
	"{\"services\": ["
	" {\"name\": \"web\", \"vip\": \"" VIP "\", \"port\": 80,"
	"  \"backends\": [{\"ip\": \"" BACKEND "\", \"port\": 8080}]},"
	" {\"name\": \"dns\", \"vip\": \"" VIP
	"\", \"port\": 53, \"proto\": \"udp\","
	"  \"backends\": [{\"ip\": \"" BACKEND "\", \"port\": 5353}]},"
	" {\"name\": \"empty\", \"vip\": \"" VIP_EMPTY
	"\", \"port\": 80, \"backends\": []},"
	" {\"name\": \"dns2\", \"vip\": \"" VIP_DNS2
	"\", \"port\": 53, \"proto\": \"udp\","
	"  \"backends\": [{\"ip\": \"" BACKEND "\", \"port\": 5354}]},"
	" {\"name\": \"emptyu\", \"vip\": \"" VIP_EMPTY "\", \"port\": 53,"
	"  \"proto\": \"udp\", \"backends\": []},"
	" {\"name\": \"sticky\", \"vip\": \"" VIP_STICKY "\", \"port\": 80,"
	"  \"affinity\": {\"clientIP\": 600},"
	"  \"backends\": [{\"ip\": \"" BACKEND "\", \"port\": 8080}]}"
	"]}";

static const struct zh_load_opts small = {
	.maglev_slots = 4096,
	.services_max = 64,
	.backends_max = 64,
	.ct_max = 1024,
	.affinity_max = 64,
};

static struct zh_objs objs;
static char root[64], cg[4200], home[8200];
static int tcp_srv = -1, udp_srv = -1;
static bool opened; /* objs */

/* --- the process's cgroup ----------------------------------------------- */

static int cg_move(const char *dir)
{
	char path[8300], pid[24];
	int fd, n, err = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, pid, (size_t)n) != n)
		err = -errno;
	close(fd);
	return err;
}

/* Where this process is in the hierarchy under @croot ("0::" line). */
static int cg_home(const char *croot)
{
	char line[4096];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(home, sizeof(home), "%s%s", croot,
			 strcmp(line + 3, "/") ? line + 3 : "");
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

/* --- sockets ------------------------------------------------------------ */

static void sin_set(struct sockaddr_in *s, const char *addr, int port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, addr, &s->sin_addr), 1);
}

static void timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 2 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int server(int type, int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	sin_set(&a, BACKEND, port);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    (type == SOCK_STREAM && listen(fd, 16))) {
		close(fd);
		return -1;
	}
	timeouts(fd);
	return fd;
}

static __u64 stat_of(int stat)
{
	__u64 st[ZH_SOCK_STAT_MAX];

	assert_int_equal(zh_sock_stats_read(&objs, st, false), 0);
	return st[stat];
}

/* A client socket made inside the cgroup (@in) or outside. */
static int client(int type, bool in)
{
	int fd;

	if (in)
		assert_int_equal(cg_move(cg), 0);
	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	assert_int_equal(cg_move(home), 0);
	assert_true(fd >= 0);
	timeouts(fd);
	return fd;
}

/* connect() to @vip:80 and one line each way; the accepted socket's local
 * address out in @local. */
static void tcp_exchange(int fd, const char *vip, struct sockaddr_in *local)
{
	struct sockaddr_in dst, peer;
	socklen_t len = sizeof(peer);
	char buf[16] = "";
	int afd;

	sin_set(&dst, vip, 80);
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	assert_int_equal(getpeername(fd, (struct sockaddr *)&peer, &len), 0);
	assert_int_equal(peer.sin_addr.s_addr, dst.sin_addr.s_addr);
	assert_int_equal(peer.sin_port, htons(80));
	afd = accept(tcp_srv, NULL, NULL);
	assert_true(afd >= 0);
	len = sizeof(*local);
	assert_int_equal(getsockname(afd, (struct sockaddr *)local, &len), 0);
	assert_int_equal(send(fd, "ping", 4, 0), 4);
	assert_int_equal(recv(afd, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(send(afd, "pong", 4, 0), 4);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "pong", 4);
	close(afd);
}

/* --- the cases ------------------------------------------------------------ */

static void test_tcp_clusterip(void **state)
{
	struct sockaddr_in local;
	__u64 c0 = stat_of(ZH_SOCK_STAT_CONNECT4),
	      p0 = stat_of(ZH_SOCK_STAT_GETPEERNAME4);
	int fd = client(SOCK_STREAM, true);

	(void)state;
	tcp_exchange(fd, VIP, &local);
	close(fd);
	/* The connection the backend accepted is to itself, not the VIP. */
	assert_int_equal(local.sin_addr.s_addr, inet_addr(BACKEND));
	assert_int_equal(local.sin_port, htons(8080));
	assert_int_equal(stat_of(ZH_SOCK_STAT_CONNECT4), c0 + 1);
	assert_int_equal(stat_of(ZH_SOCK_STAT_GETPEERNAME4), p0 + 1);
}

static void test_udp_vip(void **state)
{
	struct sockaddr_in dst, from;
	socklen_t len = sizeof(from);
	__u64 s0 = stat_of(ZH_SOCK_STAT_SENDMSG4),
	      r0 = stat_of(ZH_SOCK_STAT_RECVMSG4);
	int fd = client(SOCK_DGRAM, true);
	char buf[16];

	(void)state;
	sin_set(&dst, VIP, 53);
	assert_int_equal(
		sendto(fd, "q", 1, 0, (struct sockaddr *)&dst, sizeof(dst)), 1);
	/* The backend got it, from the client's own address. */
	assert_int_equal(recvfrom(udp_srv, buf, sizeof(buf), 0,
				  (struct sockaddr *)&from, &len),
			 1);
	assert_int_equal(
		sendto(udp_srv, "a", 1, 0, (struct sockaddr *)&from, len), 1);
	len = sizeof(from);
	assert_int_equal(recvfrom(fd, buf, sizeof(buf), 0,
				  (struct sockaddr *)&from, &len),
			 1);
	/* ... and the reply reads as from the VIP. */
	assert_int_equal(from.sin_addr.s_addr, dst.sin_addr.s_addr);
	assert_int_equal(from.sin_port, htons(53));
	close(fd);
	assert_int_equal(stat_of(ZH_SOCK_STAT_SENDMSG4), s0 + 1);
	assert_int_equal(stat_of(ZH_SOCK_STAT_RECVMSG4), r0 + 1);
}

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

static __u64 cookie_of(int fd)
{
	__u64 c = 0;
	socklen_t len = sizeof(c);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len), 0);
	assert_true(c != 0);
	return c;
}

static __u32 conn_slot(__u64 cookie)
{
	return (__u32)cookie & (ZH_SOCK_CONN_MAX - 1);
}

static void conn_read(__u64 cookie, struct zh_sock_conn *c)
{
	__u32 slot = conn_slot(cookie);

	assert_int_equal(bpf_map_lookup_elem(objs.sock_conn_fd, &slot, c), 0);
}

/* zh_sock_rev's entry for @cookie and the backend at @port: 1 with @out
 * filled, 0 when there is none. */
static int rev_read(__u64 cookie, int port, struct zh_sock_rev *out)
{
	struct zh_sock_rev_key k = { .cookie = cookie,
				     .family = ZH_AF_INET,
				     .port = htons((__u16)port) };

	k.addr[0] = inet_addr(BACKEND);
	return !bpf_map_lookup_elem(objs.sock_rev_fd, &k, out);
}

static void peer_is(int fd, const char *addr, int port)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);

	assert_int_equal(getpeername(fd, (struct sockaddr *)&peer, &len), 0);
	assert_int_equal(peer.sin_addr.s_addr, inet_addr(addr));
	assert_int_equal(peer.sin_port, htons((__u16)port));
}

static bool release_on(void)
{
	struct zh_config cfg;

	assert_int_equal(zh_config_get(&objs, &cfg), 0);
	return cfg.flags & ZH_CFG_F_SOCK_RELEASE;
}

/* A TCP socket in the cgroup connected to VIP:80, accepted. */
static int tcp_connected(__u64 *ck)
{
	struct sockaddr_in dst;
	int fd = client(SOCK_STREAM, true), afd;

	*ck = cookie_of(fd);
	sin_set(&dst, VIP, 80);
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	afd = accept(tcp_srv, NULL, NULL);
	assert_true(afd >= 0);
	close(afd);
	return fd;
}

/* What connect() records, where, and when it moves on to zh_sock_rev,
 * without zh_sock_release (ZH_CFG_F_SOCK_RELEASE clear, as on a kernel
 * that does not load it): the record copied at the first read. */
static void test_conn_record_copy(void **state)
{
	struct zh_sock_conn c, other = { .key = { .cookie = 1 } };
	struct zh_sock_rev rv;
	bool was = release_on();
	int fd, fd2;
	__u64 ck;
	__u32 slot;

	(void)state;
	assert_int_equal(zh_svc_sock_release(&objs, false), 0);
	fd = tcp_connected(&ck);
	/* In the socket's slot, and nowhere else yet. */
	conn_read(ck, &c);
	assert_true(c.key.cookie == ck);
	assert_int_equal(c.key.addr[0], inet_addr(BACKEND));
	assert_int_equal(c.key.port, htons(8080));
	assert_int_equal(c.key.family, ZH_AF_INET);
	assert_int_equal(c.rev.vip[0], inet_addr(VIP));
	assert_int_equal(c.rev.vport, htons(80));
	assert_int_equal(rev_read(ck, 8080, &rv), 0);
	/* Read once: copied into zh_sock_rev... */
	peer_is(fd, VIP, 80);
	assert_int_equal(rev_read(ck, 8080, &rv), 1);
	assert_int_equal(rv.vip[0], inet_addr(VIP));
	assert_int_equal(rv.vport, htons(80));
	/* ... where it stays once another socket has the slot. */
	slot = conn_slot(ck);
	other.key.cookie = ck + ZH_SOCK_CONN_MAX;
	assert_int_equal(bpf_map_update_elem(objs.sock_conn_fd, &slot, &other,
					     BPF_ANY),
			 0);
	peer_is(fd, VIP, 80);
	close(fd);

	/* The slot taken before the socket read its peer: the peer reads
	 * as the backend (as an LRU entry aged out would leave it). */
	fd2 = tcp_connected(&ck);
	slot = conn_slot(ck);
	other.key.cookie = ck + ZH_SOCK_CONN_MAX;
	assert_int_equal(bpf_map_update_elem(objs.sock_conn_fd, &slot, &other,
					     BPF_ANY),
			 0);
	peer_is(fd2, BACKEND, 8080);
	close(fd2);
	assert_int_equal(zh_svc_sock_release(&objs, was), 0);
}

static void need_release(void)
{
	if (objs.sock_release_fd < 0 || !release_on()) {
		print_message("zh_sock_release not attached here: skipped\n");
		skip();
	}
}

/* With zh_sock_release: the slot read in place, emptied at close(). */
static void test_conn_record_release(void **state)
{
	struct zh_sock_conn c;
	struct zh_sock_rev rv;
	__u64 r0 = stat_of(ZH_SOCK_STAT_GETPEERNAME4), ck;
	int fd;

	(void)state;
	need_release();
	fd = tcp_connected(&ck);
	conn_read(ck, &c);
	assert_true(c.key.cookie == ck);
	assert_int_equal(c.key.port, htons(8080));
	peer_is(fd, VIP, 80);
	peer_is(fd, VIP, 80);
	assert_int_equal(stat_of(ZH_SOCK_STAT_GETPEERNAME4), r0 + 2);
	/* Read from the slot: no zh_sock_rev entry. */
	assert_int_equal(rev_read(ck, 8080, &rv), 0);
	conn_read(ck, &c);
	assert_true(c.key.cookie == ck);
	close(fd);
	/* The slot freed by the socket's close. */
	conn_read(ck, &c);
	assert_true(c.key.cookie == 0);
}

/*
 * A UDP socket made in the cgroup whose cookie shares @ck's slot, or -1:
 * sockets opened (and closed) until one does. Cookies come in increasing
 * order, in batches per CPU: on one CPU, one in ZH_SOCK_CONN_MAX lands
 * there, give or take the batches other CPUs take meanwhile.
 */
static int collider(__u64 ck)
{
	cpu_set_t one, was;
	int fd = -1, cpu = sched_getcpu();

	sched_getaffinity(0, sizeof(was), &was);
	CPU_ZERO(&one);
	CPU_SET(cpu < 0 ? 0 : cpu, &one);
	sched_setaffinity(0, sizeof(one), &one);
	assert_int_equal(cg_move(cg), 0);
	for (long i = 0; i < 64L * ZH_SOCK_CONN_MAX; i++) {
		__u64 c;

		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		c = cookie_of(fd);
		if (c != ck && conn_slot(c) == conn_slot(ck))
			break;
		close(fd);
		fd = -1;
	}
	assert_int_equal(cg_move(home), 0);
	sched_setaffinity(0, sizeof(was), &was);
	if (fd >= 0)
		timeouts(fd);
	return fd;
}

/* Two live sockets on one slot: the holder's record moves to zh_sock_rev
 * when the other connects, and both see their VIPs. */
static void test_conn_collide(void **state)
{
	struct sockaddr_in dst;
	struct zh_sock_conn c;
	struct zh_sock_rev rv;
	__u64 ck, ck2;
	int fd, fd2;

	(void)state;
	need_release();
	fd = tcp_connected(&ck);
	/* Not read yet: nothing of it in zh_sock_rev. */
	assert_int_equal(rev_read(ck, 8080, &rv), 0);
	fd2 = collider(ck);
	if (fd2 < 0) {
		close(fd);
		print_message("no cookie landed on slot %u: skipped\n",
			      conn_slot(ck));
		skip();
	}
	ck2 = cookie_of(fd2);
	sin_set(&dst, VIP, 53);
	assert_int_equal(connect(fd2, (struct sockaddr *)&dst, sizeof(dst)), 0);
	/* The slot is the newcomer's, the holder's record in zh_sock_rev. */
	conn_read(ck, &c);
	assert_true(c.key.cookie == ck2);
	assert_int_equal(c.key.port, htons(5353));
	assert_int_equal(rev_read(ck, 8080, &rv), 1);
	assert_int_equal(rv.vip[0], inet_addr(VIP));
	assert_int_equal(rv.vport, htons(80));
	peer_is(fd, VIP, 80);
	peer_is(fd2, VIP, 53);
	/* The holder's close leaves the newcomer's slot alone; the
	 * newcomer's frees it. */
	close(fd);
	conn_read(ck2, &c);
	assert_true(c.key.cookie == ck2);
	peer_is(fd2, VIP, 53);
	close(fd2);
	conn_read(ck2, &c);
	assert_true(c.key.cookie == 0);
}

/* Connected UDP: replies as from the VIP; connected again to another
 * Service, the first record moves on to zh_sock_rev. */
static void test_udp_connected(void **state)
{
	struct sockaddr_in dst, from;
	socklen_t len = sizeof(from);
	struct zh_sock_conn c;
	struct zh_sock_rev rv;
	int fd = client(SOCK_DGRAM, true);
	__u64 ck = cookie_of(fd);
	char buf[16];

	(void)state;
	sin_set(&dst, VIP, 53);
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	assert_int_equal(send(fd, "q", 1, 0), 1);
	assert_int_equal(recvfrom(udp_srv, buf, sizeof(buf), 0,
				  (struct sockaddr *)&from, &len),
			 1);
	assert_int_equal(
		sendto(udp_srv, "a", 1, 0, (struct sockaddr *)&from, len), 1);
	len = sizeof(from);
	assert_int_equal(recvfrom(fd, buf, sizeof(buf), 0,
				  (struct sockaddr *)&from, &len),
			 1);
	assert_int_equal(from.sin_addr.s_addr, inet_addr(VIP));
	assert_int_equal(from.sin_port, htons(53));
	peer_is(fd, VIP, 53);

	/* Again, to dns2 (BACKEND:5354): its record in the slot, the
	 * first one's in zh_sock_rev (without zh_sock_release the reads
	 * above copied it there already: taken out to see the move). */
	if (release_on()) {
		assert_int_equal(rev_read(ck, 5353, &rv), 0);
	} else {
		struct zh_sock_rev_key k = { .cookie = ck,
					     .family = ZH_AF_INET,
					     .port = htons(5353) };

		assert_int_equal(rev_read(ck, 5353, &rv), 1);
		k.addr[0] = inet_addr(BACKEND);
		assert_int_equal(bpf_map_delete_elem(objs.sock_rev_fd, &k), 0);
	}
	sin_set(&dst, VIP_DNS2, 53);
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	conn_read(ck, &c);
	assert_true(c.key.cookie == ck);
	assert_int_equal(c.key.port, htons(5354));
	assert_int_equal(c.rev.vip[0], inet_addr(VIP_DNS2));
	assert_int_equal(rev_read(ck, 5353, &rv), 1);
	assert_int_equal(rv.vip[0], inet_addr(VIP));
	assert_int_equal(rv.vport, htons(53));
	peer_is(fd, VIP_DNS2, 53);
	close(fd);
}

static void test_no_endpoints(void **state)
{
	int want = zh_kfeat_has(&objs.feat, ZH_FEAT_SOCK_SET_RETVAL) ?
			   ECONNREFUSED :
			   EPERM;
	__u64 n0 = stat_of(ZH_SOCK_STAT_REFUSED);
	struct sockaddr_in dst;
	int fd = client(SOCK_STREAM, true);

	(void)state;
	sin_set(&dst, VIP_EMPTY, 80);
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), -1);
	assert_int_equal(errno, want);
	close(fd);
	fd = client(SOCK_DGRAM, true);
	sin_set(&dst, VIP_EMPTY, 53);
	assert_int_equal(sendto(fd, "q", 1, 0, (struct sockaddr *)&dst,
				sizeof(dst)),
			 -1);
	assert_int_equal(errno, want);
	close(fd);
	assert_int_equal(stat_of(ZH_SOCK_STAT_REFUSED), n0 + 2);
}

static void test_outside_cgroup(void **state)
{
	__u64 c0 = stat_of(ZH_SOCK_STAT_CONNECT4);
	struct sockaddr_in dst;
	int fd = client(SOCK_STREAM, false);

	(void)state;
	/* No route to the Service CIDR here: only a translation reaches. */
	sin_set(&dst, VIP, 80);
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), -1);
	assert_int_equal(errno, ENETUNREACH);
	close(fd);
	assert_int_equal(stat_of(ZH_SOCK_STAT_CONNECT4), c0);
}

/* zh_cgroup2_is_root(): the test's cgroup is not the hierarchy's root
 * (agent: no ZH_CFG_F_SOCK_PODS for hooks there); the root, where it
 * has no cgroup.type (not a cgroup namespace's root), is. */
static void test_cgroup_root(void **state)
{
	char croot[4096], type[4200];

	(void)state;
	assert_false(zh_cgroup2_is_root(cg));
	assert_int_equal(zh_cgroup2_root(croot, sizeof(croot)), 0);
	snprintf(type, sizeof(type), "%s/cgroup.type", croot);
	if (!access(type, F_OK)) {
		print_message("%s is a cgroup namespace's root: not checked\n",
			      croot);
		return;
	}
	assert_true(zh_cgroup2_is_root(NULL));
	assert_true(zh_cgroup2_is_root(croot));
}

/* A netns recorded in zh_netns is a client by its address, as the
 * per-packet path keys it: the affinity entry names that address. */
static void test_affinity_netns(void **state)
{
	struct zh_netns n = { .flags = ZH_NETNS_F_V4, .ifindex = 99 };
	struct zh_affinity_key k, next, *prev = NULL;
	struct zh_affinity v;
	struct sockaddr_in local;
	__u64 cookie;
	bool found = false;
	int fd, ret;

	(void)state;
	ret = zh_netns_cookie(&cookie);
	if (ret == -ENOPROTOOPT)
		skip(); /* no SO_NETNS_COOKIE: kernel < 5.14 */
	assert_int_equal(ret, 0);
	n.addr4 = inet_addr("10.0.0.77");
	assert_int_equal(zh_netns_write(&objs, cookie, &n), 0);
	fd = client(SOCK_STREAM, true);
	tcp_exchange(fd, VIP_STICKY, &local);
	close(fd);
	while (!bpf_map_get_next_key(objs.affinity_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(objs.affinity_fd, &k, &v) &&
		    k.family == ZH_AF_INET && k.client[0] == n.addr4 &&
		    !k.client[1] && !k.client[2] && !k.client[3])
			found = true;
	}
	assert_true(found);
	/* Gone with the pod's endpoint entries (by its host ifindex). */
	assert_int_equal(zh_netns_forget(&objs, 99), 1);
	assert_int_equal(zh_netns_forget(&objs, 99), 0);
}

/* --- the setup ------------------------------------------------------------ */

static int setup(void)
{
	struct zh_svc_apply_result r;
	struct zh_svc_set set;
	char croot[4096], why[320], err[256];
	int lock, ret, missing;

	if (unshare(CLONE_NEWNET) || zh_nl_link_up(1))
		return -errno;
	{
		struct zh_addr a;

		zh_addr_parse(BACKEND "/32", true, &a);
		if (zh_nl_addr_add(1, &a, 0))
			return -EIO;
	}
	if (zh_cgroup2_root(croot, sizeof(croot)) || cg_home(croot)) {
		print_message("no cgroup v2 hierarchy: skipped\n");
		return SKIP;
	}
	snprintf(root, sizeof(root), "/sys/fs/bpf/zhts%d", getpid());
	lock = zh_pin_lock(root);
	if (lock < 0)
		return lock;
	ret = zh_objs_open(&objs, root, ZH_OBJS_LOAD, &small);
	zh_pin_unlock(lock);
	opened = !ret;
	if (ret) {
		print_message("zh_objs_open: %s\n", objs.err);
		return -EIO;
	}
	missing = zh_use_missing(&objs.feat, ZH_USE_SOCKLB);
	if (missing >= 0) {
		print_message("this kernel lacks %s: skipped\n",
			      zh_feat_name(missing));
		return SKIP;
	}
	ret = zh_svc_parse(services, sizeof(services) - 1, &set, err,
			   sizeof(err));
	if (ret) {
		print_message("services: %s\n", err);
		return ret;
	}
	ret = zh_svc_apply(&objs, &set, &r);
	zh_svc_set_free(&set);
	if (ret) {
		print_message("zh_svc_apply: %s\n", r.err);
		return ret;
	}
	snprintf(cg, sizeof(cg), "%s/zhts%d", croot, getpid());
	if (mkdir(cg, 0755))
		return -errno;
	ret = zh_socklb_attach(&objs, cg, why, sizeof(why));
	if (ret < 0) {
		print_message("zh_socklb_attach: %s\n", why);
		return ret;
	}
	tcp_srv = server(SOCK_STREAM, 8080);
	udp_srv = server(SOCK_DGRAM, 5353);
	return tcp_srv < 0 || udp_srv < 0 ? -EIO : 0;
}

static void cleanup(void)
{
	char cmd[128];

	if (tcp_srv >= 0)
		close(tcp_srv);
	if (udp_srv >= 0)
		close(udp_srv);
	if (home[0])
		cg_move(home);
	if (opened) {
		zh_socklb_detach(&objs);
		zh_objs_close(&objs);
	}
	if (root[0]) {
		zh_objs_unpin(root);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", root);
	}
	if (cg[0] && rmdir(cg))
		fprintf(stderr, "rmdir %s: %s\n", cg, strerror(errno));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_clusterip),
		cmocka_unit_test(test_udp_vip),
		cmocka_unit_test(test_conn_record_copy),
		cmocka_unit_test(test_conn_record_release),
		cmocka_unit_test(test_conn_collide),
		cmocka_unit_test(test_udp_connected),
		cmocka_unit_test(test_no_endpoints),
		cmocka_unit_test(test_outside_cgroup),
		cmocka_unit_test(test_affinity_netns),
		cmocka_unit_test(test_cgroup_root),
	};
	int ret;

	if (geteuid()) {
		fprintf(stderr, "test_bpf_sock: needs root: skipped\n");
		return SKIP;
	}
	memset(&objs, -1, sizeof(objs));
	zh_bpffs_allow_mount();
	ret = setup();
	if (ret) {
		cleanup();
		if (ret != SKIP)
			fprintf(stderr, "test_bpf_sock: setup: %s\n",
				strerror(-ret));
		return ret == SKIP ? SKIP : 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	cleanup();
	return ret;
}
