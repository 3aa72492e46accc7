/* SPDX-License-Identifier: Apache-2.0 */
/* link.h - a link's settings outside netlink (ioctl, ethtool). Both act on
 * the network namespace the calling thread is in. 0 or a negative errno. */
#ifndef ZH_LINK_H
#define ZH_LINK_H

/* MAC address of @ifindex in the current netns. */
int zh_link_mac(int ifindex, unsigned char mac[6]);
/* Turn the interface's TX checksum offload off (ethtool -K dev tx off). */
int zh_link_tx_csum_off(const char *ifname);

#endif /* ZH_LINK_H */
