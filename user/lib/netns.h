/* SPDX-License-Identifier: Apache-2.0 */
/* netns.h - network namespaces, entered with setns() (never `ip netns exec`,
 * which remounts /sys and hides the pins). */
#ifndef ZH_NETNS_H
#define ZH_NETNS_H

/*
 * Network namespaces. zh_netns_run() runs @fn(@arg) in the netns at @path
 * from the calling thread and brings the thread back: @fn's return value,
 * or a negative errno when the netns cannot be entered (@fn did not run).
 * @path NULL: @fn runs where the thread is and may move it
 * (unshare(CLONE_NEWNET)); the thread comes back all the same. A thread
 * that cannot come back aborts the process.
 */
int zh_netns_run(const char *path, int (*fn)(void *arg), void *arg);

#endif /* ZH_NETNS_H */
