/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xsk_agent.h - a fake zerohopd for libzerohop-xsk's handoff: it listens
 * on a real SOCK_SEQPACKET socket, serves one connection from a thread,
 * answers as told (enum agent_mode) and records what it got. The unit
 * tier's handoff tests (test_xsk.c) and the kernel tier's AF_XDP socket
 * on lo (tests/bpf/test_bpf_xsk_socket.c) both use it; like them it links
 * with libzerohop-xsk alone.
 */
#ifndef ZH_TEST_XSK_AGENT_H
#define ZH_TEST_XSK_AGENT_H

#include <pthread.h>
#include <sys/stat.h>

#include "zh_xsk.h"
#include "zh_xsk_int.h"

/* The pod the agent registers by default: what AG_OK answers, and where
 * the unit tests' frames come from. */
extern const struct zh_xsk_addrs self_addrs;
extern const __u8 self4[4], self6[16];
struct zh_xsk_addrs self(void);

enum agent_mode {
	AG_OK,
	AG_REFUSE,
	AG_GARBAGE,
	AG_WRONG_SEQ,
	AG_WRONG_TYPE,
	AG_SILENT,
	AG_HANGUP,
	AG_OVERSIZE,
};

struct agent {
	enum agent_mode mode;
	struct zh_xsk_addrs addrs; /* what AG_OK answers */
	char path[108];
	int lfd;
	pthread_t th;
	/* what it saw; read after the join */
	int failed; /* the agent itself could not do its part */
	int decode_rc;
	struct zh_xsk_msg req;
	int nfds;
	struct stat st; /* of the descriptor that came */
	int domain; /* its SO_DOMAIN, -1 if not a socket */
	int saw_close; /* the client closed the connection */
};

/* The directory the agents listen in: made by agent_dir_setup() and
 * removed, empty, by agent_dir_teardown() (a cmocka group's fixtures). */
extern char agent_dir[64];
int agent_dir_setup(void **state);
int agent_dir_teardown(void **state);

/* Listen at a fresh path in agent_dir and serve one connection in a
 * thread; AG_OK answers with @addrs (NULL: self()). 0 or -errno: it also
 * runs in forked children, where cmocka's asserts must not. */
int agent_start(struct agent *a, enum agent_mode mode,
		const struct zh_xsk_addrs *addrs);
/* Wait for the thread; what it saw is then in @a. */
void agent_stop(struct agent *a);

#endif /* ZH_TEST_XSK_AGENT_H */
