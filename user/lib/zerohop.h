/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zerohop.h - libzerohop, all of it: include what you use from its modules,
 * or this for the lot. Used by zerohopd, zerohopctl, xdpbench and the CNI
 * plugin. Functions return 0 or a negative errno (log.h: zh_errf()).
 *
 *   pin.h        the pin root and lock, the BPF objects, loading
 *   kfeatures.h  the kernel's features: probes, what each mode needs
 *   maps.h       endpoints, steering, counters, settings, latency
 *   attach.h     programs on interfaces
 *   netns.h      running code in another network namespace
 *   socklb.h     socket-level load balancing: cgroup programs, counters
 *   nl.h addr.h link.h  rtnetlink, addresses, link ioctls
 *   log.h        logging and the error convention
 *   params.h     command-line options and numbers (included on its own)
 */
#ifndef ZEROHOP_H
#define ZEROHOP_H

#include "zh_abi.h"
#include "zh_hist.h"
#include "log.h"
#include "addr.h"
#include "nl.h"
#include "link.h"
#include "kfeatures.h"
#include "pin.h"
#include "maps.h"
#include "attach.h"
#include "netns.h"
#include "socklb.h"
#include "netkit.h"

/* The CNI configuration zerohopd --kubernetes --cni-conf-dir writes (and
 * zerohopctl uninstall removes), and the directory kubelet reads. */
#define ZH_CNI_CONFLIST "10-zerohop.conflist"
#define ZH_CNI_CONF_DIR "/etc/cni/net.d"

#endif /* ZEROHOP_H */
