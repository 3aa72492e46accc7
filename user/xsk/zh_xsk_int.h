/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zh_xsk_int.h - libzerohop-xsk internals that the unit tests reach: the
 * agent handoff on its own. Not installed.
 */
#ifndef ZH_XSK_INT_H
#define ZH_XSK_INT_H

#include "zh_xsk.h"
#include "xsk_proto.h"

/*
 * Connect to the agent at @agent_path, send one REGISTER (@ifname, @queue,
 * ZH_XSK_F_* @flags) with @xsk_fd attached as SCM_RIGHTS, and wait up to
 * @timeout_ms (connect, send and reply together) for the REPLY, decoded
 * strictly: its type and seq must match. On success returns 0, the open
 * connection in *@conn_fd (close-on-exec; closing it ends the
 * registration) and the reply in *@reply. Otherwise *@conn_fd is -1, @err
 * (may be NULL) says why, and the return is:
 *   the agent's status    it refused ("agent refused: <reason> (<errno
 *                         text>)"); *@reply holds its reply
 *   -ENOENT, -ECONNREFUSED, ... connect failed (the message names the path)
 *   -ETIMEDOUT            no reply in time
 *   -ECONNRESET           the agent closed the connection without a reply
 *   the decoder's -errno  a malformed reply (EBADMSG, EPROTO, ...)
 *   -EPROTO               a valid message that is not our reply (type,
 *                         seq)
 *   -EMSGSIZE             a reply longer than ZH_XSK_MSG_MAX
 *   -EINVAL, -ENAMETOOLONG bad arguments
 */
int zh_xsk_handoff(const char *agent_path, int xsk_fd, const char *ifname,
		   __u32 queue, __u32 flags, int timeout_ms, int *conn_fd,
		   struct zh_xsk_msg *reply, char *err, size_t errlen);

#endif /* ZH_XSK_INT_H */
