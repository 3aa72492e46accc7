/* SPDX-License-Identifier: Apache-2.0 */
/* link.h - a link's settings outside netlink (ioctl, ethtool). Both act on
 * the network namespace the calling thread is in. 0 or a negative errno. */
#ifndef ZH_LINK_H
#define ZH_LINK_H

/* MAC address of @ifindex in the current netns. */
int zh_link_mac(int ifindex, unsigned char mac[6]);
/* Turn the interface's TX checksum offload off (ethtool -K dev tx off). */
int zh_link_tx_csum_off(const char *ifname);
/*
 * Make a carrier that just came on usable now: until the kernel's link
 * watch work has run for the device (a work item, which waits behind
 * anyone holding RTNL, such as a netns being torn down), an interface
 * opened without carrier keeps its noop qdisc and drops what is sent
 * through it. Asking for the link state (ethtool's GLINK) runs that work
 * for the device. Returns 1 (carrier on), 0 (off) or a negative errno.
 */
int zh_link_settle(const char *ifname);
/* Is @ifname a veth (its driver, as ethtool says)? 1, 0, or a negative
 * errno when it cannot tell. */
int zh_link_is_veth(const char *ifname);

#endif /* ZH_LINK_H */
