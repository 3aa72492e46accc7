// SPDX-License-Identifier: Apache-2.0
/* link.c - what a link needs besides netlink: its MAC, and ethtool. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include "link.h"

int zh_link_mac(int ifindex, unsigned char mac[6])
{
	struct ifreq ifr = {};
	int fd, ret = 0;

	if (!if_indextoname(ifindex, ifr.ifr_name))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		ret = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return ret;
}

/* One SIOCETHTOOL request @cmd on @ifname: 0 or -errno. */
static int ethtool(const char *ifname, void *cmd)
{
	struct ifreq ifr = {};
	int fd, ret = 0;

	if (strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	strcpy(ifr.ifr_name, ifname);
	ifr.ifr_data = cmd;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int zh_link_tx_csum_off(const char *ifname)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = 0 };

	return ethtool(ifname, &ev);
}

int zh_link_settle(const char *ifname)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GLINK };
	/* ethtool_op_get_link() runs the device's pending link watch event
	 * (linkwatch_sync_dev()) before it answers. */
	int ret = ethtool(ifname, &ev);

	return ret ? ret : !!ev.data;
}

int zh_link_is_veth(const char *ifname)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;
	int fd, ret;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
	ifr.ifr_data = (char *)&info;
	ret = ioctl(fd, SIOCETHTOOL, &ifr) ? -errno :
					     !strcmp(info.driver, "veth");
	close(fd);
	return ret;
}
