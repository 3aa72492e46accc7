// SPDX-License-Identifier: Apache-2.0
/*
 * xsk_sock.c - libzerohop-xsk: the AF_XDP socket of an unprivileged pod
 * process: UMEM, the four rings, bind, and the data path; zh_xsk_open()
 * ends by handing the socket to zerohopd (xsk_handoff.c). zh_xsk.h is the
 * contract, zh_xsk_proto.h the wire format. libc and UAPI headers only: the
 * rings are written here, not borrowed from libxdp.
 */
#define _GNU_SOURCE /* MSG_CMSG_CLOEXEC */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <linux/if_xdp.h>

#include "zh_xsk_int.h"

int xsk_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* "4 MiB", "96 KiB" or "1000 bytes", for messages about memory. */
static const char *xsk_size_str(char *buf, size_t len, unsigned long long n)
{
	if (n && !(n % (1024 * 1024)))
		snprintf(buf, len, "%llu MiB", n / (1024 * 1024));
	else if (n && !(n % 1024))
		snprintf(buf, len, "%llu KiB", n / 1024);
	else
		snprintf(buf, len, "%llu bytes", n);
	return buf;
}

static int xsk_is_pow2(__u32 v)
{
	return v && !(v & (v - 1));
}

/* ------------------------------------------------------------------ rings */

static __u32 xsk_prod_free(struct xsk_ring *r, __u32 want)
{
	__u32 free = r->size - (r->cached_prod - r->cached_cons);

	if (free < want) {
		r->cached_cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
		free = r->size - (r->cached_prod - r->cached_cons);
	}
	return free < want ? free : want;
}

static void xsk_prod_submit(struct xsk_ring *r, __u32 n)
{
	r->cached_prod += n;
	__atomic_store_n(r->producer, r->cached_prod, __ATOMIC_RELEASE);
}

static __u32 xsk_cons_avail(struct xsk_ring *r, __u32 want)
{
	__u32 avail = r->cached_prod - r->cached_cons;

	if (avail < want) {
		r->cached_prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
		avail = r->cached_prod - r->cached_cons;
	}
	return avail < want ? avail : want;
}

static void xsk_cons_release(struct xsk_ring *r, __u32 n)
{
	r->cached_cons += n;
	__atomic_store_n(r->consumer, r->cached_cons, __ATOMIC_RELEASE);
}

static int xsk_needs_wakeup(const struct xsk_ring *r)
{
	return __atomic_load_n(r->flags, __ATOMIC_RELAXED) &
	       XDP_RING_NEED_WAKEUP;
}

static __u64 *xsk_addr_slot(struct xsk_ring *r, __u32 idx)
{
	return (__u64 *)r->desc + (idx & r->mask);
}

static struct xdp_desc *xsk_desc_slot(struct xsk_ring *r, __u32 idx)
{
	return (struct xdp_desc *)r->desc + (idx & r->mask);
}

/* ------------------------------------------------------------ free frames */

/* Back to the free stack. The kernel hands back addresses with the data
 * offset in them (RX) or as we queued them (TX): keep the frame base. A
 * frame that is not ours, or one too many (a double release), is ignored
 * rather than allowed to overrun the stack. */
static void xsk_free_push(struct zh_xsk *x, __u64 addr)
{
	if (addr >= x->umem_len || x->nfree >= x->info.frames)
		return;
	x->free_addrs[x->nfree++] = addr & ~x->frame_mask;
}

/* TX completions back to the free stack. */
static void xsk_reap(struct zh_xsk *x)
{
	__u32 n, i;

	if (!x->tx_out)
		return;
	n = xsk_cons_avail(&x->comp, x->comp.size);
	for (i = 0; i < n; i++)
		xsk_free_push(x, *xsk_addr_slot(&x->comp,
						x->comp.cached_cons + i));
	if (n) {
		xsk_cons_release(&x->comp, n);
		x->tx_out -= n < x->tx_out ? n : x->tx_out;
	}
}

/* Top the fill ring up to fill_target from the free stack. */
static void xsk_refill(struct zh_xsk *x)
{
	__u32 want, n, i;

	if (x->fill_out >= x->fill_target)
		return;
	want = x->fill_target - x->fill_out;
	if (want > x->nfree)
		want = x->nfree;
	n = xsk_prod_free(&x->fill, want);
	for (i = 0; i < n; i++)
		*xsk_addr_slot(&x->fill, x->fill.cached_prod + i) =
			x->free_addrs[--x->nfree];
	if (n) {
		xsk_prod_submit(&x->fill, n);
		x->fill_out += n;
	}
}

/* ------------------------------------------------------------------- open */

static int xsk_opts_apply(struct zh_xsk_opts *o, char *err, size_t errlen)
{
	size_t n;

	if (!o->ifname)
		o->ifname = XSK_DEF_IFNAME;
	if (!o->frame_size)
		o->frame_size = XSK_DEF_FRAME_SIZE;
	if (!o->frames)
		o->frames = XSK_DEF_FRAMES;
	if (!o->ring_size)
		o->ring_size = XSK_DEF_RING;
	if (!o->timeout_ms)
		o->timeout_ms = XSK_DEF_TIMEOUT_MS;

	n = strnlen(o->ifname, ZH_XSK_IFNAMSIZ);
	if (n == 0 || n >= ZH_XSK_IFNAMSIZ)
		return xsk_fail(err, errlen, -EINVAL,
				"interface name must be 1 to %d characters",
				ZH_XSK_IFNAMSIZ - 1);
	if (o->queue >= ZH_XSK_QUEUE_MAX)
		return xsk_fail(err, errlen, -EINVAL,
				"queue %u out of range (max %u)", o->queue,
				ZH_XSK_QUEUE_MAX - 1);
	if (o->frame_size != 2048 && o->frame_size != 4096)
		return xsk_fail(err, errlen, -EINVAL,
				"frame_size %u: 2048 or 4096", o->frame_size);
	if (o->frames < 2)
		return xsk_fail(err, errlen, -EINVAL, "frames %u: at least 2",
				o->frames);
	if (!xsk_is_pow2(o->ring_size) || o->ring_size > XSK_RING_MAX)
		return xsk_fail(err, errlen, -EINVAL,
				"ring_size %u: a power of two up to %u",
				o->ring_size, XSK_RING_MAX);
	if (o->bind != ZH_XSK_BIND_AUTO && o->bind != ZH_XSK_BIND_COPY &&
	    o->bind != ZH_XSK_BIND_ZEROCOPY)
		return xsk_fail(err, errlen, -EINVAL, "unknown bind mode %d",
				(int)o->bind);
	if (o->busy_poll_us < 0 || o->busy_poll_budget < 0 || o->timeout_ms < 0)
		return xsk_fail(err, errlen, -EINVAL,
				"busy_poll_us, busy_poll_budget and timeout_ms "
				"must not be negative");
	return 0;
}

static const char *xsk_agent_path(const struct zh_xsk_opts *o)
{
	const char *env;

	if (o->agent_path)
		return o->agent_path;
	env = getenv(ZH_XSK_AGENT_ENV);
	return env && *env ? env : ZH_XSK_AGENT_PATH;
}

/* The default huge page size from /proc/meminfo; 2 MiB if unreadable. */
static size_t xsk_hugepage_size(void)
{
	unsigned long kb = 0;
	char line[128];
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return 2UL << 20;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb ? (size_t)kb << 10 : 2UL << 20;
}

static int xsk_umem_create(struct zh_xsk *x, const struct zh_xsk_opts *o,
			   char *err, size_t errlen)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	struct xdp_umem_reg mr;
	char sz[32], lim[32];
	struct rlimit rl;
	__u32 i;
	int rc;

	x->umem_len = (__u64)o->frames * o->frame_size;
	x->frame_mask = o->frame_size - 1;
	x->umem_map_len = (size_t)x->umem_len;
	if (o->hugepages) {
		size_t hp = xsk_hugepage_size();

		/* munmap() of a hugetlb mapping wants whole pages */
		x->umem_map_len = (x->umem_map_len + hp - 1) / hp * hp;
		flags |= MAP_HUGETLB;
	}
	x->umem = mmap(NULL, x->umem_map_len, PROT_READ | PROT_WRITE, flags, -1,
		       0);
	if (x->umem == MAP_FAILED) {
		rc = -errno;
		x->umem = NULL;
		return xsk_fail(err, errlen, rc, "UMEM of %s%s: mmap: %s",
				xsk_size_str(sz, sizeof(sz), x->umem_map_len),
				o->hugepages ? " on huge pages" : "",
				strerror(-rc));
	}

	/* memset, not an initialiser: newer kernels read the padding after
	 * flags as tx_metadata_len, which must be 0 */
	memset(&mr, 0, sizeof(mr));
	mr.addr = (__u64)(uintptr_t)x->umem;
	mr.len = x->umem_len;
	mr.chunk_size = o->frame_size;
	mr.headroom = 0;
	if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr))) {
		rc = -errno;
		if (getrlimit(RLIMIT_MEMLOCK, &rl))
			snprintf(lim, sizeof(lim), "unknown");
		else if (rl.rlim_cur == RLIM_INFINITY)
			snprintf(lim, sizeof(lim), "unlimited");
		else
			xsk_size_str(lim, sizeof(lim), rl.rlim_cur);
		return xsk_fail(err, errlen, rc,
				"register UMEM of %s (%u frames of %u): %s "
				"(RLIMIT_MEMLOCK is %s)",
				xsk_size_str(sz, sizeof(sz), x->umem_len),
				o->frames, o->frame_size, strerror(-rc), lim);
	}

	x->free_addrs = calloc(o->frames, sizeof(*x->free_addrs));
	if (!x->free_addrs)
		return xsk_fail(err, errlen, -ENOMEM, "out of memory");
	/* pushed from the top: the first frames out are the lowest */
	for (i = o->frames; i-- > 0;)
		x->free_addrs[x->nfree++] = (__u64)i * o->frame_size;
	return 0;
}

static int xsk_ring_map(struct zh_xsk *x, struct xsk_ring *r,
			const struct xdp_ring_offset *off, __u32 size,
			size_t entry, __u64 pgoff)
{
	char *m;

	r->map_len = off->desc + (size_t)size * entry;
	m = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_POPULATE, x->fd, (off_t)pgoff);
	if (m == MAP_FAILED)
		return -errno;
	r->map = m;
	r->producer = (__u32 *)(m + off->producer);
	r->consumer = (__u32 *)(m + off->consumer);
	r->flags = (__u32 *)(m + off->flags);
	r->desc = m + off->desc;
	r->size = size;
	r->mask = size - 1;
	r->cached_prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	r->cached_cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	return 0;
}

static int xsk_rings_create(struct zh_xsk *x, __u32 size, char *err,
			    size_t errlen)
{
	static const struct {
		int opt;
		const char *name;
	} rings[] = {
		{ XDP_UMEM_FILL_RING, "fill" },
		{ XDP_UMEM_COMPLETION_RING, "completion" },
		{ XDP_RX_RING, "RX" },
		{ XDP_TX_RING, "TX" },
	};
	struct xdp_mmap_offsets off;
	socklen_t optlen = sizeof(off);
	size_t i;
	int rc;

	for (i = 0; i < sizeof(rings) / sizeof(rings[0]); i++)
		if (setsockopt(x->fd, SOL_XDP, rings[i].opt, &size,
			       sizeof(size))) {
			rc = -errno;
			return xsk_fail(err, errlen, rc,
					"%s ring of %u entries: %s",
					rings[i].name, size, strerror(-rc));
		}

	if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &optlen)) {
		rc = -errno;
		return xsk_fail(err, errlen, rc, "XDP_MMAP_OFFSETS: %s",
				strerror(-rc));
	}
	/* kernels before 5.4 have no ring flags, so no need_wakeup */
	if (optlen != sizeof(off))
		return xsk_fail(err, errlen, -EPROTONOSUPPORT,
				"XDP_MMAP_OFFSETS without ring flags (kernel "
				"older than 5.4)");

	rc = xsk_ring_map(x, &x->fill, &off.fr, size, sizeof(__u64),
			  XDP_UMEM_PGOFF_FILL_RING);
	if (!rc)
		rc = xsk_ring_map(x, &x->comp, &off.cr, size, sizeof(__u64),
				  XDP_UMEM_PGOFF_COMPLETION_RING);
	if (!rc)
		rc = xsk_ring_map(x, &x->rx, &off.rx, size,
				  sizeof(struct xdp_desc), XDP_PGOFF_RX_RING);
	if (!rc)
		rc = xsk_ring_map(x, &x->tx, &off.tx, size,
				  sizeof(struct xdp_desc), XDP_PGOFF_TX_RING);
	if (rc)
		return xsk_fail(err, errlen, rc, "mmap of the rings: %s",
				strerror(-rc));
	return 0;
}

static int xsk_bind_flags(const struct zh_xsk *x, __u16 flags)
{
	struct sockaddr_xdp sxdp;

	memset(&sxdp, 0, sizeof(sxdp));
	sxdp.sxdp_family = AF_XDP;
	sxdp.sxdp_flags = flags | XDP_USE_NEED_WAKEUP;
	sxdp.sxdp_ifindex = x->info.ifindex;
	sxdp.sxdp_queue_id = x->info.queue;
	/* A socket that held the queue until just now is released a moment
	 * after its close (the kernel defers it): a process restarted at
	 * once would find the queue busy. Up to 1 s for that; a queue that
	 * someone really holds is busy after it too. */
	for (int ms = 1;; ms *= 2) {
		if (!bind(x->fd, (struct sockaddr *)&sxdp, sizeof(sxdp)))
			return 0;
		if (errno != EBUSY || ms > 512)
			return -errno;
		usleep(ms * 1000);
	}
}

static int xsk_bind(struct zh_xsk *x, enum zh_xsk_bind how, char *err,
		    size_t errlen)
{
	struct xdp_options xo;
	socklen_t len = sizeof(xo);
	__u16 flags = XDP_ZEROCOPY;
	int rc;

	if (how == ZH_XSK_BIND_COPY)
		flags = XDP_COPY;
	rc = xsk_bind_flags(x, flags);
	/*
	 * A driver without zero-copy (veth, lo, generic XDP) refuses with
	 * EOPNOTSUPP; older kernels said EINVAL or EPROTONOSUPPORT. A failed
	 * bind leaves the socket unbound with its UMEM and rings, so copy
	 * mode is tried on the same socket. A real EINVAL (no such queue)
	 * comes back from that bind too.
	 */
	if (how == ZH_XSK_BIND_AUTO &&
	    (rc == -EOPNOTSUPP || rc == -EINVAL || rc == -EPROTONOSUPPORT)) {
		flags = XDP_COPY;
		rc = xsk_bind_flags(x, flags);
	}
	if (rc)
		return xsk_fail(err, errlen, rc, "bind %s queue %u%s: %s",
				x->info.ifname, x->info.queue,
				how == ZH_XSK_BIND_ZEROCOPY ? " (zero-copy)" :
							      "",
				strerror(-rc));

	/* what the kernel says it got, else what we asked for */
	if (!getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &xo, &len) &&
	    len == sizeof(xo))
		x->info.mode = xo.flags & XDP_OPTIONS_ZEROCOPY ?
				       ZH_XSK_MODE_ZEROCOPY :
				       ZH_XSK_MODE_COPY;
	else
		x->info.mode = flags == XDP_ZEROCOPY ? ZH_XSK_MODE_ZEROCOPY :
						       ZH_XSK_MODE_COPY;
	return 0;
}

static int xsk_sockopt(int fd, int opt, int val)
{
	return setsockopt(fd, SOL_SOCKET, opt, &val, sizeof(val)) ? -errno : 1;
}

/* Attempted and recorded, never fatal (see zh_xsk.h). */
static void xsk_busy_poll(struct zh_xsk *x, const struct zh_xsk_opts *o)
{
	if (o->busy_poll_us <= 0)
		return;
	x->info.busy_poll = xsk_sockopt(x->fd, SO_BUSY_POLL, o->busy_poll_us);
	x->info.prefer_busy_poll = xsk_sockopt(x->fd, SO_PREFER_BUSY_POLL, 1);
	if (o->busy_poll_budget > 0)
		x->info.busy_poll_budget = xsk_sockopt(
			x->fd, SO_BUSY_POLL_BUDGET, o->busy_poll_budget);
}

int zh_xsk_open(const struct zh_xsk_opts *opts, struct zh_xsk **out, char *err,
		size_t errlen)
{
	static const struct zh_xsk_opts defaults;
	struct zh_xsk_opts o = opts ? *opts : defaults;
	struct zh_xsk_msg reply;
	struct zh_xsk *x;
	__u32 flags;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return xsk_fail(err, errlen, -EINVAL, "invalid arguments");
	*out = NULL;
	rc = xsk_opts_apply(&o, err, errlen);
	if (rc)
		return rc;

	/* zh_xsk_close() takes a half-built handle: it is the one error path,
	 * so what open makes and what close frees cannot drift apart */
	x = calloc(1, sizeof(*x));
	if (!x)
		return xsk_fail(err, errlen, -ENOMEM, "out of memory");
	x->fd = -1;
	x->conn_fd = -1;
	snprintf(x->info.ifname, sizeof(x->info.ifname), "%s", o.ifname);
	x->info.queue = o.queue;
	x->info.frame_size = o.frame_size;
	x->info.frames = o.frames;
	x->info.ring_size = o.ring_size;
	x->fill_target = o.frames / 2 < o.ring_size ? o.frames / 2 :
						      o.ring_size;

	x->info.ifindex = if_nametoindex(o.ifname);
	if (!x->info.ifindex) {
		rc = errno ? -errno : -ENODEV;
		xsk_fail(err, errlen, rc, "interface %s: %s", o.ifname,
			 strerror(-rc));
		goto err;
	}

	x->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (x->fd < 0) {
		rc = -errno;
		xsk_fail(err, errlen, rc, "socket(AF_XDP): %s%s", strerror(-rc),
			 rc == -EPERM	     ? " (needs CAP_NET_RAW)" :
			 rc == -EAFNOSUPPORT ? " (kernel without AF_XDP)" :
					       "");
		goto err;
	}
	rc = xsk_umem_create(x, &o, err, errlen);
	if (rc)
		goto err;
	rc = xsk_rings_create(x, o.ring_size, err, errlen);
	if (rc)
		goto err;
	rc = xsk_bind(x, o.bind, err, errlen);
	if (rc)
		goto err;
	xsk_refill(x);
	xsk_busy_poll(x, &o);

	flags = ZH_XSK_F_NEED_WAKEUP;
	if (o.bind == ZH_XSK_BIND_ZEROCOPY)
		flags |= ZH_XSK_F_ZEROCOPY_WANTED;
	rc = zh_xsk_handoff(xsk_agent_path(&o), x->fd, o.ifname, o.queue, flags,
			    o.timeout_ms, &x->conn_fd, &reply, err, errlen);
	if (rc)
		goto err;
	x->info.xdp_mode = reply.reply.xdp_mode;
	memcpy(x->info.addrs.mac, reply.reply.mac, sizeof(x->info.addrs.mac));
	memcpy(x->info.addrs.gw_mac, reply.reply.gw_mac,
	       sizeof(x->info.addrs.gw_mac));
	x->info.addrs.addr_flags = reply.reply.addr_flags;
	x->info.addrs.ipv4 = reply.reply.ipv4;
	memcpy(x->info.addrs.ipv6, reply.reply.ipv6,
	       sizeof(x->info.addrs.ipv6));
	memcpy(x->info.reason, reply.reply.reason, sizeof(x->info.reason));
	*out = x;
	return 0;

err:
	zh_xsk_close(x);
	return rc;
}

static void xsk_ring_unmap(struct xsk_ring *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	r->map = NULL;
}

void zh_xsk_close(struct zh_xsk *x)
{
	if (!x)
		return;
	/* the connection first: its end is what makes the agent drop the
	 * XSKMAP entry and its own descriptor of the socket */
	if (x->conn_fd >= 0)
		close(x->conn_fd);
	xsk_ring_unmap(&x->tx);
	xsk_ring_unmap(&x->rx);
	xsk_ring_unmap(&x->comp);
	xsk_ring_unmap(&x->fill);
	if (x->fd >= 0)
		close(x->fd);
	/* the kernel holds its own pin on the UMEM pages for as long as the
	 * socket lives (the agent's descriptor may keep it a moment longer):
	 * our mapping can go now */
	if (x->umem)
		munmap(x->umem, x->umem_map_len);
	free(x->free_addrs);
	free(x);
}

const struct zh_xsk_info *zh_xsk_info(const struct zh_xsk *x)
{
	return x ? &x->info : NULL;
}

int zh_xsk_fd(const struct zh_xsk *x)
{
	return x ? x->fd : -EINVAL;
}

int zh_xsk_agent_fd(const struct zh_xsk *x)
{
	return x ? x->conn_fd : -EINVAL;
}

/* -------------------------------------------------------------- data path */

unsigned zh_xsk_recv(struct zh_xsk *x, struct zh_xsk_frame *f, unsigned n)
{
	__u32 got, i;

	xsk_reap(x);
	got = xsk_cons_avail(&x->rx, n);
	for (i = 0; i < got; i++) {
		const struct xdp_desc *d =
			xsk_desc_slot(&x->rx, x->rx.cached_cons + i);

		f[i].addr = d->addr;
		f[i].len = d->len;
		f[i].data = (char *)x->umem + d->addr;
	}
	if (got) {
		xsk_cons_release(&x->rx, got);
		x->fill_out -= got < x->fill_out ? got : x->fill_out;
	}
	xsk_refill(x);
	/*
	 * Nothing there: a zero-copy driver that went to sleep wants a
	 * wakeup (need_wakeup on the fill ring), and a busy-polling socket
	 * polls in recvfrom(). Copy mode is fed by the stack's RX path and
	 * needs neither: no syscall in a spinning loop.
	 */
	if (!got && ((x->info.mode == ZH_XSK_MODE_ZEROCOPY &&
		      xsk_needs_wakeup(&x->fill)) ||
		     x->info.busy_poll == 1))
		recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	return got;
}

void zh_xsk_release(struct zh_xsk *x, const struct zh_xsk_frame *f, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		xsk_free_push(x, f[i].addr);
	xsk_refill(x);
}

int zh_xsk_alloc(struct zh_xsk *x, struct zh_xsk_frame *f)
{
	__u64 addr;

	if (!x->nfree)
		xsk_reap(x);
	if (!x->nfree)
		return -ENOBUFS;
	addr = x->free_addrs[--x->nfree];
	f->addr = addr;
	f->data = (char *)x->umem + addr;
	f->len = x->info.frame_size;
	return 0;
}

/* TX descriptors the kernel has not taken yet. */
static __u32 xsk_tx_pending(struct xsk_ring *tx)
{
	tx->cached_cons = __atomic_load_n(tx->consumer, __ATOMIC_ACQUIRE);
	return tx->cached_prod - tx->cached_cons;
}

/*
 * Make the kernel take the queued TX descriptors. Copy mode transmits
 * inside sendto(), 32 at a time, and always needs it (need_wakeup stays
 * set on a veth); zero-copy only when the driver asked. EAGAIN (batch
 * done, more left, or completion ring full), EBUSY and ENOBUFS are not
 * errors: kick again while the kernel makes progress.
 */
static int xsk_kick_tx(struct zh_xsk *x)
{
	__u32 before;
	int i;

	for (i = 0; i < XSK_KICK_MAX; i++) {
		before = xsk_tx_pending(&x->tx);
		if (!before)
			return 0;
		if (x->info.mode == ZH_XSK_MODE_ZEROCOPY &&
		    !xsk_needs_wakeup(&x->tx))
			return 0;
		if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EBUSY && errno != ENOBUFS &&
		    errno != EINTR)
			return -errno;
		/* room in the completion ring for the next batch */
		xsk_reap(x);
		if (xsk_tx_pending(&x->tx) == before)
			return 0;
	}
	return 0;
}

/* @f's packet lies inside one frame of this UMEM: the TX address (data may
 * have moved within the frame), or -1. */
static __s64 xsk_tx_addr(const struct zh_xsk *x, const struct zh_xsk_frame *f)
{
	uintptr_t base = (uintptr_t)x->umem, p = (uintptr_t)f->data;
	__u64 off;

	if (p < base || p - base >= x->umem_len || f->addr >= x->umem_len)
		return -1;
	off = p - base;
	if ((off & ~x->frame_mask) != (f->addr & ~x->frame_mask) ||
	    f->len == 0 || (off & x->frame_mask) + f->len > x->frame_mask + 1)
		return -1;
	return (__s64)off;
}

unsigned zh_xsk_send(struct zh_xsk *x, const struct zh_xsk_frame *f, unsigned n)
{
	__u32 room, i;

	xsk_reap(x);
	/* never more in flight than the completion ring can give back */
	room = x->tx_out < x->comp.size ? x->comp.size - x->tx_out : 0;
	room = xsk_prod_free(&x->tx, n < room ? n : room);
	for (i = 0; i < room; i++) {
		struct xdp_desc *d =
			xsk_desc_slot(&x->tx, x->tx.cached_prod + i);
		__s64 addr = xsk_tx_addr(x, &f[i]);

		if (addr < 0)
			break;
		d->addr = (__u64)addr;
		d->len = f[i].len;
		d->options = 0;
	}
	if (i) {
		xsk_prod_submit(&x->tx, i);
		x->tx_out += i;
	}
	xsk_kick_tx(x);
	return i;
}

long long xsk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int zh_xsk_flush(struct zh_xsk *x, int timeout_ms)
{
	long long deadline = xsk_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int rc;

	for (;;) {
		rc = xsk_kick_tx(x);
		if (rc)
			return rc;
		xsk_reap(x);
		if (!x->tx_out)
			return 0;
		if (xsk_now_ms() >= deadline)
			return -ETIMEDOUT;
		/* completions come from the driver's (or the peer's) context:
		 * give it a moment */
		usleep(100);
	}
}

int zh_xsk_wait(struct zh_xsk *x, int timeout_ms)
{
	struct pollfd pfd = { .fd = x->fd, .events = POLLIN };
	int rc;

	if (xsk_cons_avail(&x->rx, 1))
		return 1;
	/* leftovers of an earlier send; a failing kick is zh_xsk_flush()'s
	 * to report, not a reason to stop receiving */
	xsk_kick_tx(x);
	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return 0;
	if (pfd.revents & POLLIN)
		return 1;
	return pfd.revents & POLLNVAL ? -EBADF : -EIO;
}
