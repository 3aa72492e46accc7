/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpbench.h - shared by the xdpbench commands: samples and percentiles
 * (samples.c), the request/response engines (rr.c), the measured paths and
 * what they need on the machine (paths.c, spawn.c), kube-proxy-style Service
 * rules (svc.c), the run command (run.c), its report (report.c) and plot
 * (plot.c), and the AF_XDP path: its pod processes (xsk.c) and the node's
 * side, the socket handoff and the processes' lifetimes (afxdp.c).
 * Functions return 0 or a negative errno unless they say otherwise.
 */
#ifndef XDPBENCH_H
#define XDPBENCH_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#define XB_EXIT_OK 0
#define XB_EXIT_FAIL 1
#define XB_EXIT_USAGE 2

#define XB_DEFAULT_PORT 7777
#define XB_DEFAULT_SIZE 64
#define XB_MIN_SIZE 16 /* sizeof(struct zh_probe) */
#define XB_MAX_SIZE 65507 /* largest UDP payload over IPv4 */
#define XB_BUF_SIZE 65536
#define XB_DEFAULT_WARMUP 100

/* Set by SIGINT/SIGTERM: every loop of every thread checks it. */
extern volatile sig_atomic_t xb_stop;
int xb_signals_install(void);
uint64_t xb_now_ns(void);
/* Start @fn in a thread that does not take SIGINT/SIGTERM/SIGHUP: they go
 * to the main thread, which sets xb_stop. */
int xb_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* --- samples.c: exact nearest-rank percentiles over kept samples --------- */

struct xb_samples {
	uint64_t *ns;
	size_t n, cap;
	/*
	 * 0: keep every sample. Otherwise at most @limit are kept: past it a
	 * uniform reservoir (algorithm R) over all of them, so percentiles
	 * stay unbiased but are no longer exact. min, max, mean and count are
	 * exact either way.
	 */
	size_t limit;
	uint64_t seen, lost;
	uint64_t min, max;
	long double sum;
	uint64_t rng;
};

struct xb_summary {
	uint64_t count, lost;
	bool exact; /* every sample was kept */
	double min, p50, p90, p99, p999, max, mean; /* microseconds */
};

int xb_samples_add(struct xb_samples *s, uint64_t ns);
void xb_samples_free(struct xb_samples *s);
/* Nearest rank over @n sorted samples: the smallest sample with at least
 * p% of the samples <= it. In microseconds. */
double xb_rank_us(const uint64_t *sorted, size_t n, double p);
/* Sorts the kept samples in place. */
void xb_summarise(struct xb_samples *s, struct xb_summary *out);
int xb_samples_write(const struct xb_samples *s, const char *label,
		     const char *path);
int xb_samples_read(struct xb_samples *s, const char *path);

/* --- rr.c: request/response over UDP and TCP ------------------------------ */

enum xb_workload {
	XB_WL_UDP_RR,
	XB_WL_UDP_NEWFLOW,
	XB_WL_TCP_RR,
	XB_WL_TCP_CRR,
	XB_WL_UDP_CRR,
	XB_WL_MAX,
};

extern const char *const xb_workload_names[XB_WL_MAX];
bool xb_workload_is_tcp(enum xb_workload wl);

/*
 * An echo server in a thread of its own, in network namespace @netns (a
 * path; NULL: the caller's). xb_server_start() returns once the socket is
 * bound (and listening) with @port filled in, or with the error.
 */
struct xb_server {
	const char *netns;
	bool tcp, busy_poll;
	int cpu; /* -1: any */
	struct sockaddr_storage addr; /* port 0: the kernel picks one */
	socklen_t addr_len;
	/* out */
	uint16_t port;
	uint64_t echoed;
	struct sockaddr_storage last_peer;
	char err[160];
	/* private */
	int fd, stop, state;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

int xb_server_start(struct xb_server *s);
/* Stop and join; returns the thread's error, if it had one. */
int xb_server_stop(struct xb_server *s);
/* The UDP echo loop, on a bound socket: until xb_stop or *@stop. */
int xb_udp_echo(int fd, bool busy_poll, const int *stop, uint64_t *echoed,
		struct sockaddr_storage *last_peer);

/*
 * A client: @warmup unmeasured requests, then measured ones for @duration
 * seconds (or @count requests when @duration is 0), into @samples.
 */
struct xb_client {
	const char *netns;
	enum xb_workload wl;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	size_t size;
	bool busy_poll;
	int cpu;
	uint64_t warmup, count;
	double duration;
	uint64_t udp_timeout_ns, tcp_timeout_ns;
	/* udp-newflow: bind source ports first..last in turn (0: the kernel's
	 * choice), so that a 4-tuple comes back only after a full cycle. */
	uint16_t port_first, port_last;
	uint16_t port_next; /* in and out: where the cycle goes on */
	struct xb_samples *samples;
	/* out */
	char err[320];
};

/* Run the client in the calling thread, or in a thread of its own (needed
 * with a netns or a CPU: both are per thread) and wait for it. */
int xb_client_run(struct xb_client *c);
int xb_client_run_thread(struct xb_client *c);
/*
 * The warmup, then the measured requests of @c (for c->duration, or
 * c->count of them), each one made by @once: 1 with a sample in *@rtt, 0
 * when lost (or cut short: xb_stop), a negative errno (said in c->err) to
 * stop. Samples and losses go to c->samples. Every client's loop.
 */
int xb_client_loop(struct xb_client *c, int (*once)(void *arg, uint64_t *rtt),
		   void *arg);
/* Every request starts with a probe (struct zh_probe): @seq, @tx_ns. */
void xb_probe_fill(char *buf, uint32_t seq, uint64_t tx_ns);
/* Does the @len-byte payload @buf answer request @seq of @size bytes? */
bool xb_payload_is_reply(const void *buf, size_t len, size_t size,
			 uint32_t seq);

/* Parse "ADDR" with @port into a socket address of its family. */
int xb_resolve(const char *host, uint16_t port, bool passive,
	       struct sockaddr_storage *ss, socklen_t *len);
/* Same family, address and port? */
bool xb_sockaddr_eq(const struct sockaddr_storage *a,
		    const struct sockaddr_storage *b);
const char *xb_sockaddr_str(const struct sockaddr_storage *ss, char *buf,
			    size_t len);

/* --- xsk.c: the AF_XDP path's pod processes --------------------------------- */

struct xb_xsk_opts {
	const char *ifname; /* NULL: eth0 */
	const char *agent_path; /* NULL: $ZEROHOP_XSK_SOCKET, else the default */
	/* udp-rr's source port; 0: the destination port, the one port both
	 * pods of zerohop-afxdp steer (a reply goes to the request's source
	 * port, and the steering rules match destination ports) */
	uint16_t sport;
};

/*
 * The client of c->wl (udp-rr or udp-newflow) over an AF_XDP socket on the
 * pod's interface, to c->dst (IPv4), spinning; the calling process's main
 * thread must be in the pod's netns. Otherwise as xb_client_run().
 */
int xb_xsk_client_run(struct xb_client *c, const struct xb_xsk_opts *xo);
/* Echo every UDP datagram to @port over an AF_XDP socket, spinning, until
 * xb_stop; on failure to start, a reason in @err. */
int xb_xsk_echo(const struct xb_xsk_opts *xo, uint16_t port, uint64_t *echoed,
		char *err, size_t errlen);
/* Frame helpers (Ethernet + IPv4/IPv6 + UDP, zh_xsk_udp_payload()'s rules):
 * the destination port, or -EINVAL when the frame is not that; is it the
 * reply to request @seq of a @size-byte payload? */
int xb_xsk_dport(void *frame, uint32_t len);
bool xb_xsk_is_reply(void *frame, uint32_t len, size_t size, uint32_t seq);

/* --- the run command -------------------------------------------------------- */

enum xb_path_id {
	XB_P_HOST,
	XB_P_VETH,
	XB_P_BRIDGE,
	XB_P_KUBEPROXY,
	XB_P_NFTABLES,
	XB_P_ZH_TC,
	XB_P_ZH_XDP,
	XB_P_ZH_SVC,
	XB_P_ZH_AFXDP,
	XB_P_ZH_SOCK, /* socket-LB: a pod's client, balanced at connect() */
	XB_P_HOST_SVC, /* socket-LB: a client in the node netns */
	XB_P_KUBEPROXY_HOST, /* kubeproxy's rules, a client in the node netns */
	/* Across two nodes: opt-in (-P), not in the default set. A
	 * NodePort to another node's pod (paths.c), */
	XB_P_KP_NODEPORT,
	XB_P_ZH_NODEPORT,
	/* pod to pod (and the nodes themselves, the floor). */
	XB_P_NODE,
	XB_P_ZH_NATIVE,
	XB_P_ZH_VXLAN,
	XB_P_BRIDGE_ROUTES,
	XB_P_VXLAN_BRIDGE,
	/* zerohop-tc with a NetworkPolicy on the server pod that allows the
	 * client (policy.c): opt-in (-P), like the two-node paths. */
	XB_P_ZH_POLICY,
	/* zerohop-vxlan with the tunnel left to the kernel's device */
	XB_P_ZH_VXLAN_DEV,
	/* zerohop-native with the pods on netkit pairs ("device": "netkit") */
	XB_P_ZH_NETKIT,
	/* zerohop-sock's node, the client to the server pod's own address:
	 * what a pod IP costs where socket-LB's hooks run (opt-in, -P) */
	XB_P_ZH_SOCK_POD,
	/* zerohop-nodeport's fabric with both nodes in DSR mode (zerohopd
	 * --nodeport-mode dsr): the reply leaves node B straight to the
	 * client (opt-in, -P) */
	XB_P_ZH_NODEPORT_DSR,
	XB_P_MAX,
};
/* The paths a run takes without -P: those within one node. */
#define XB_P_DEFAULT_MAX XB_P_KP_NODEPORT

extern const char *const xb_path_names[XB_P_MAX];

/* Why @path cannot carry @wl at all (not a failure: the cell is marked
 * and the run's exit status stays 0), or NULL. */
const char *xb_path_wl_skip(int path, enum xb_workload wl);

#define XB_DEFAULT_SERVICES 1000
#define XB_MAX_SERVICES 200000
#define XB_DEFAULT_ROUNDS 5
#define XB_DEFAULT_CNI_PATH "/usr/lib/cni:/opt/cni/bin"

struct xb_run_opts {
	int paths[XB_P_MAX], n_paths; /* in the order asked for */
	int wls[XB_WL_MAX], n_wls;
	uint64_t services; /* 0 when no path uses Services */
	uint64_t conntrack; /* zh_ct's entries on zerohop's paths; 0: default */
	const char *plugin; /* NULL: the default search */
	const char *cni_path;
	bool busy_poll;
	size_t size;
	int cpu_client, cpu_server; /* -1: any */
	uint64_t rounds, warmup;
	double duration;
	int baseline; /* path id */
	bool json, quiet, verbose;
	const char *json_file, *plot_file;
};

/* 0: run; 1: help was asked for; -EINVAL: a usage error was printed.
 * The options are libzerohop's params (params.h). */
int xb_run_parse(int argc, char **argv, struct xb_run_opts *o);
int cmd_run(int argc, char **argv);
/* The command line, shell-quoted, for the report. */
extern const char *xb_command;
void xb_run_usage(FILE *f);

/* --- spawn.c: commands (plugins, iptables-restore, nft) -------------------- */

struct xb_cmd {
	const char *const *argv;
	const char *netns; /* path of the netns to run in; NULL: ours */
	const char *const *env; /* NAME=VALUE added to (or replacing) ours */
	const char *in, *out, *err; /* files; NULL: /dev/null */
	bool killable; /* SIGTERM it when xb_stop is set while it runs */
};

/* The exit status (0..255, 128+N for a signal), or a negative errno when it
 * could not run at all. */
int xb_cmd_run(const struct xb_cmd *c);
/* Start @c and return at once: its pid, or a negative errno. Every pid
 * started must be waited for (xb_cmd_wait() or xb_cmd_stop()). */
pid_t xb_cmd_start(const struct xb_cmd *c);
/* Wait for @pid; SIGTERM it once if xb_stop is set and @killable. The exit
 * status as xb_cmd_run() gives it. */
int xb_cmd_wait(pid_t pid, bool killable);
/* Without blocking: 1 (with *@status) when @pid has exited and was reaped,
 * 0 while it runs, or a negative errno. */
int xb_cmd_exited(pid_t pid, int *status);
/* SIGTERM @pid and wait for it: its exit status. */
int xb_cmd_stop(pid_t pid);

/* --- paths.c: network namespaces and the measured paths ---------------------- */

#define XB_NAME_MAX 64
struct zh_objs;
struct xb_xsk_agent;
#define XB_MAX_NETNS 64
#define XB_MAX_ADDS 32

struct xb_cni_add {
	char node[XB_NAME_MAX], pod[XB_NAME_MAX];
	char conf[512], plugin[256], cni_path[1024];
	char pin_root[128]; /* "": none */
};

/* Everything a run makes, so that one place removes it on every exit. */
struct xb_env {
	char prefix[24]; /* "xb<pid>" */
	char tmp[256]; /* "" until made */
	char pin_root[64]; /* "" until made */
	/* The maps a path loaded itself (zerohop-svc, zerohop-sock,
	 * host-svc), open until cleanup. */
	struct zh_objs *zh_objs[XB_P_MAX];
	/* Socket-LB paths: the cgroup v2 directories made for their clients
	 * (never the root), and the one this process came from. */
	char cgroups[XB_P_MAX][XB_NAME_MAX + 64];
	char cg_home[4096];
	struct zh_objs *zh_np; /* zerohop-nodeport's node A, likewise */
	/* zerohop-nodeport-dsr's node B (node A's are its zh_objs[]) */
	struct zh_objs *zh_dsr_b;
	struct xb_xsk_agent *xsk; /* zerohop-afxdp's agent, until cleanup */
	char netns[XB_MAX_NETNS][XB_NAME_MAX];
	int n_netns;
	struct xb_cni_add adds[XB_MAX_ADDS];
	int n_adds;
	int seq; /* file names in tmp */
};

int xb_env_init(struct xb_env *e);
/* Undo everything recorded, newest first; safe to call more than once. */
void xb_env_cleanup(struct xb_env *e);

/* What setting a path up cost, for the report (Service paths only). */
struct xb_setup_info {
	bool set;
	uint32_t services; /* Services programmed */
	double programming_s; /* loading the rules, or zh_svc_apply() */
	uint64_t maglev_slots; /* zerohop-svc: Maglev slots in use */
	uint64_t maglev_bytes; /* ... and their kernel memory, 8 bytes each */
	uint64_t maglev_map_bytes; /* zh_maglev as allocated */
};

struct xb_path {
	enum xb_path_id id;
	/* netns names ("": the root netns) */
	char cli_ns[XB_NAME_MAX], srv_ns[XB_NAME_MAX], node_ns[XB_NAME_MAX];
	char node2_ns[XB_NAME_MAX]; /* across nodes: the server's node */
	struct sockaddr_in srv_bind; /* port 0: the kernel's choice (host) */
	struct sockaddr_in target; /* where the client sends */
	struct in_addr srv_ip, gw; /* the server pod and its gateway */
	struct in_addr cli_ip; /* the client pod (pod paths) */
	char sep_chain[64]; /* kubeproxy: the target's KUBE-SEP chain */
	bool cycle_ports; /* the client netns is ours: any source port */
	uint16_t port_next; /* udp-newflow's cycle, across slices */
	struct xb_xsk_agent *xsk; /* zerohop-afxdp: the agent (xb_env's) */
	/* Socket-LB paths: the cgroup the client's sockets are made in
	 * (the process moves there for the client and back; the server's
	 * socket stays outside). "": none. */
	const char *cgroup;
	struct xb_setup_info info;
	/* zerohop-policy: a third pod of the node, which the policy does
	 * not allow (its netns and address). */
	char other_ns[XB_NAME_MAX];
	struct in_addr other_ip;
};

struct xb_setup_opts {
	const char *plugin; /* NULL: zerohop paths cannot be set up */
	const char *cni_path;
	uint64_t services;
	uint32_t conntrack; /* zh_ct's max_entries where a path loads it; 0: default */
	bool quiet;
};

/* Set @p up; on failure @why says what went wrong. */
int xb_path_setup(struct xb_env *e, struct xb_path *p,
		  const struct xb_setup_opts *o, char *why, size_t why_len);
/* After traffic went through it: did the Service rules really NAT it? */
int xb_path_verify_nat(struct xb_env *e, const struct xb_path *p,
		       const struct xb_server *srv, char *why, size_t why_len);
/* Node A's uplink (the node netns' eth0) on the NodePort paths: packets
 * received and sent so far. -ENOENT on a path without one. */
int xb_path_uplink_packets(const struct xb_path *p, uint64_t *rx, uint64_t *tx);
/* Before a slice: forget the flows the path's own conntrack (zerohop-svc's
 * zh_ct) keeps, so that every udp-newflow request is a new flow again. */
int xb_path_slice_reset(struct xb_env *e, const struct xb_path *p);
/*
 * The zerohop plugin's network config @name: "datapath" @datapath, pods
 * from @subnet (host-local, state in @ipam_dir); with @xsk_sock, AF_XDP
 * ("afxdp") steering UDP to XB_DEFAULT_PORT (@xsk_every_port: every UDP
 * port too) to the handoff socket @xsk_sock, cniVersion 1.1.0. Text with
 * a newline, to free(); NULL with errno.
 */
char *xb_zh_conf(const char *name, const char *datapath, const char *subnet,
		 const char *ipam_dir, const char *xsk_sock,
		 bool xsk_every_port);
/* Does the path send to a Service VIP? */
bool xb_path_has_services(int id);
/* Is the path's client balanced by socket-level LB (its own cgroup)? */
bool xb_path_is_socklb(int id);
/* Move this whole process into the cgroup v2 directory @dir (NULL: back
 * to where it was): sockets made from then on are that cgroup's. */
int xb_cgroup_enter(struct xb_env *e, const char *dir);
/* "/run/netns/NAME", or NULL for the root netns (""). */
const char *xb_netns_path(const char *name, char *buf, size_t len);

/* --- policy.c: zerohop-policy's NetworkPolicy ------------------------------- */

/* The namespace, labels and policy zerohop-policy compiles. */
#define XB_POL_NS "xdpbench"
#define XB_POL_NAME "server-from-client"
#define XB_POL_NODE "xdpbench-node"

/* zh_pol_state.mode on in @objs (pins @pin): from now on the plugin's ADD
 * makes a new pod pending, as on a node whose agent enforces policy. */
int xb_policy_mode_on(struct zh_objs *objs, const char *pin, char *why,
		      size_t why_len);
/*
 * The path's three pods (client, server, other) and NetworkPolicy
 * XB_POL_NS/XB_POL_NAME (the server's ingress: from app=client, UDP and
 * TCP to XB_DEFAULT_PORT) as the API server would return them, compiled
 * and written into @objs by zerohopd's own code (zh_pol_compile(),
 * zh_pol_diff(), zh_pol_maps_apply(), zh_pol_maps_sweep()); then the
 * maps asked what they decide for client -> server (allowed) and other ->
 * server (drop_policy_ingress). A summary in @info_buf.
 */
int xb_policy_apply(struct zh_objs *objs, const char *pin,
		    const struct xb_path *p, char *info_buf, size_t info_len,
		    char *why, size_t why_len);
/* Flows in @objs' zh_pol_ct (both directions count), or a negative errno. */
long xb_policy_ct_count(const struct zh_objs *objs);
/* Forget them (outside the measured time: every udp-newflow request a new
 * flow, judged again). */
int xb_policy_ct_flush(const struct zh_objs *objs);

/* --- afxdp.c: zerohop-afxdp's agent and slices ------------------------------ */

/*
 * The AF_XDP socket handoff on @sock, over the pins under @pin_root, in a
 * thread of its own; pod processes' files go to @dir. *@out is set at once
 * and must go to xb_xsk_agent_stop() whatever this returns.
 */
int xb_xsk_agent_start(struct xb_xsk_agent **out, const char *pin_root,
		       const char *sock, const char *dir, char *why,
		       size_t why_len);
/* Join the thread, close the handoff (removing its socket), put
 * ZEROHOP_PIN_ROOT back, free @a. NULL is fine. */
void xb_xsk_agent_stop(struct xb_xsk_agent *a);
/*
 * One slice of zerohop-afxdp: the AF_XDP server process in @srv_ns, the
 * client process in @cli_ns, as @c says (dst, size, warmup, count or
 * duration, timeout, cpu, udp-newflow's port_next in and out); the samples
 * into c->samples. 0 also when interrupted (xb_stop).
 */
int xb_afxdp_measure(struct xb_xsk_agent *a, const char *cli_ns,
		     const char *srv_ns, struct xb_client *c, int cpu_server,
		     char *why, size_t why_len);
/* How the pod processes' sockets were bound, as they said. */
const char *xb_xsk_describe_path(const struct xb_xsk_agent *a, char *buf,
				 size_t len);

/* --- svc.c: Services, as kube-proxy would program them ---------------------- */

#define XB_SVC_PORT 80
#define XB_SVC_DUMMY_EPS 2 /* endpoints of the other Services */

struct xb_svc_cfg {
	uint32_t n; /* Services; the last one is the target */
	struct in_addr target_ip; /* its one endpoint: the server pod */
	uint16_t target_port;
};

/* The ClusterIP of Service @i (10.96.0.0/12). */
struct in_addr xb_svc_vip(uint32_t i);
/* kube-proxy's chain names: PREFIX + 16 base32 characters of a hash. */
void xb_svc_chain(char *buf, size_t len, const char *prefix, uint32_t svc,
		  int proto, int ep);
/* iptables-restore --noflush input for the nat table. */
int xb_svc_iptables(FILE *f, const struct xb_svc_cfg *c);
/* nft -f input: one table with a verdict map. */
int xb_svc_nft(FILE *f, const struct xb_svc_cfg *c);
/* The same Services for zh_svc_apply() (zerohop-svc), each of the others
 * with one endpoint; free with xb_svc_zh_free(). */
struct zh_svc_set;
int xb_svc_zh_set(const struct xb_svc_cfg *c, struct zh_svc_set *set);
void xb_svc_zh_free(struct zh_svc_set *set);

/* --- report.c and plot.c ---------------------------------------------------- */

struct xb_cell {
	struct xb_samples s;
	struct xb_summary sm;
	char *skip; /* why this workload has no result on this path */
	/* Each round's p50 in µs (NAN where unknown: a reservoir had to
	 * drop samples), @n_rounds of them: the report's spread of the p50
	 * ratio from round to round, the run's own measure of its noise. */
	double *round_p50;
	size_t n_rounds;
};

struct xb_result_set {
	const struct xb_run_opts *o;
	const char *command;
	const int *paths; /* path ids in order */
	int n_paths;
	const char *const *path_skip; /* per index in @paths: reason or NULL */
	const struct xb_setup_info *const *info; /* per index; NULL: none */
	struct xb_cell (*cells)[XB_P_MAX]; /* [workload][path id] */
};

int xb_report_table(FILE *f, const struct xb_result_set *r);
int xb_report_json(FILE *f, const struct xb_result_set *r);
int xb_plot_svg(FILE *f, const struct xb_result_set *r);

/* Helpers for the above */
const char *xb_kernel_release(void);
int xb_nproc(void);

#endif /* XDPBENCH_H */
