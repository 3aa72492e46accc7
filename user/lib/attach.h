/* SPDX-License-Identifier: Apache-2.0 */
/* attach.h - putting pinned programs on interfaces (tcx or clsact, XDP
 * through libxdp) and checking they are there. */
#ifndef ZH_ATTACH_H
#define ZH_ATTACH_H

#include "kfeatures.h"

/* Attachment. The *_attached() checks return 1 when @prog_fd's program is
 * the one attached, 0 when another or none is, negative on error.
 * zh_tc_attach() uses tcx where @f has it, else a clsact filter. */
int zh_tc_attach(const struct zh_kfeat *f, int ifindex, int prog_fd);
int zh_tc_attached(int ifindex, int prog_fd);
int zh_xdp_attach(int ifindex, int prog_fd); /* native */
/* How XDP is attached to @ifindex, as the kernel reports it: 0 (none),
 * xsk_proto.h's ZH_XSK_XDP_NATIVE or ZH_XSK_XDP_GENERIC, or a negative
 * errno. */
int zh_xdp_mode(int ifindex);
int zh_xdp_attached(int ifindex, int prog_fd);

#endif /* ZH_ATTACH_H */
