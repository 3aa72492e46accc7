/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cni.h - the CNI protocol side of the zerohop plugin: environment, network
 * configuration, results and errors (CNI spec 1.1.0, with the result formats
 * of 0.3.0, 0.3.1, 0.4.0 and 1.0.0), and delegation to an IPAM plugin.
 *
 * Functions taking a struct zh_cni_err return 0 on success and -1 with the
 * error filled in on failure; main() turns that into the error JSON on
 * stdout and a non-zero exit code.
 */
#ifndef ZH_CNI_H
#define ZH_CNI_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "json.h"
#include "zh_abi.h"

/*
 * Newest version we speak. (The brief called this ZH_CNI_VERSION, which
 * collides with the enum zh_cni_cmd constant of that name.)
 */
#define ZH_CNI_SPEC_VERSION "1.1.0"

/* Error codes: 1-99 are the spec's well-known ones, 100+ are ours. */
enum zh_cni_code {
	ZH_CNI_ERR_INCOMPATIBLE = 1,
	ZH_CNI_ERR_UNSUPPORTED_FIELD = 2,
	ZH_CNI_ERR_UNKNOWN_CONTAINER = 3,
	ZH_CNI_ERR_INVALID_ENV = 4,
	ZH_CNI_ERR_IO = 5,
	ZH_CNI_ERR_DECODE = 6,
	ZH_CNI_ERR_INVALID_CONFIG = 7,
	ZH_CNI_ERR_TRY_AGAIN = 11,
	ZH_CNI_ERR_NOT_AVAILABLE = 50, /* STATUS: cannot serve ADD */
	ZH_CNI_ERR_INTERNAL = 100,
	ZH_CNI_ERR_LINK = 101,
	ZH_CNI_ERR_BPF = 102,
	ZH_CNI_ERR_IPAM = 103,
	ZH_CNI_ERR_CHECK = 104,
};

struct zh_cni_err {
	int code;
	char msg[256];
	char details[1024];
};

/* Fill err (printf-style details, may be NULL) and return -1. */
int zh_cni_err_set(struct zh_cni_err *err, int code, const char *msg,
		   const char *details_fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * zh_cni_err_set() whose msg is formatted (it names a field: "ips[0].gw
 * is not a valid IP address"), with plain @details (NULL: none). -1.
 */
int zh_cni_errf(struct zh_cni_err *err, int code, const char *details,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * A JSON accessor's refusal (json.h) as @code, in the plugin's words:
 * "<path> is missing", "<path> must be <want>", "<path> must not be
 * empty", "unknown key "<key>" in <path>". -1.
 */
int zh_cni_json_err(struct zh_cni_err *err, int code,
		    const struct zh_json_err *je);
/*
 * {"cniVersion","code","msg","details"} (details omitted when empty);
 * malloc'd, caller frees. cni_version NULL -> ZH_CNI_SPEC_VERSION.
 * NULL with errno set on allocation failure.
 */
char *zh_cni_err_to_json(const struct zh_cni_err *err, const char *cni_version);
/*
 * The VERSION answer:
 * {"cniVersion": v,
 *  "supportedVersions": ["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]};
 * malloc'd, caller frees. cni_version NULL -> ZH_CNI_SPEC_VERSION.
 */
char *zh_cni_version_json(const char *cni_version);
bool zh_cni_version_supported(const char *v);
/* "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0": for messages. */
const char *zh_cni_versions_list(void);

enum zh_cni_cmd {
	ZH_CNI_ADD,
	ZH_CNI_DEL,
	ZH_CNI_CHECK,
	ZH_CNI_VERSION,
	ZH_CNI_STATUS, /* 1.1.0 */
	ZH_CNI_GC, /* 1.1.0 */
};

/* "ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"; NULL for anything else. */
const char *zh_cni_cmd_name(enum zh_cni_cmd cmd);

struct zh_cni_env {
	enum zh_cni_cmd cmd;
	/* borrowed from getenv; NULL when unset or empty */
	const char *container_id, *netns, *ifname, *args, *path;
	/* ZEROHOP_PIN_ROOT, else ZH_PIN_ROOT: where the objects are pinned */
	const char *pin_root;
	/* ZEROHOP_IPAM_TIMEOUT (seconds, 1..600), else ZH_IPAM_TIMEOUT_S: how
	 * long the IPAM plugin may take before it is killed (error 11) */
	unsigned int ipam_timeout_s;
};

#define ZH_IPAM_TIMEOUT_S 30

/*
 * get is the seam for tests (pass a fake); production passes a wrapper
 * of getenv() (main.c). An empty variable counts as unset, as in the reference
 * implementation. Every missing variable is reported at once. ADD and CHECK
 * need CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME and CNI_PATH; DEL all but
 * CNI_NETNS; GC only CNI_PATH; STATUS and VERSION nothing (the attachment
 * variables are not checked for them even when set).
 */
int zh_cni_env_parse(struct zh_cni_env *env,
		     const char *(*get)(const char *name),
		     struct zh_cni_err *err);
/* The spec's rule for container IDs and network names:
 * [a-zA-Z0-9][a-zA-Z0-9_.-]*
 */
bool zh_cni_name_valid(const char *s);
/* Validators used by zh_cni_env_parse(); 0 or -1 with err filled (code 4). */
int zh_cni_validate_container_id(const char *id, struct zh_cni_err *err);
int zh_cni_validate_ifname(const char *ifname, struct zh_cni_err *err);

/*
 * "afxdp": AF_XDP for the pods of this network (or, in "args": {"cni":
 * {"afxdp": ...}}, for one pod; false there opts a pod out).
 */
#define ZH_AFXDP_SOCKET_LEN 108 /* sun_path */
/* Queues one pod may ask for in args.cni.afxdp unless "afxdpPods" says. */
#define ZH_AFXDP_POD_QUEUES 4

struct zh_afxdp_conf {
	unsigned int queues; /* 0: no AF_XDP; else 1..ZH_XSK_MAX_QUEUES */
	unsigned int nsteer;
	struct zh_steer_rule steer[ZH_XSK_MAX_STEER];
	char socket_path[ZH_AFXDP_SOCKET_LEN];
};

/* "device": the pod's link. netkit (kernel >= 6.7) lets the program on
 * the pod's side run in the pod's own transmit path; auto takes it where
 * the kernel can, else a veth. */
enum zh_device {
	ZH_DEVICE_VETH,
	ZH_DEVICE_NETKIT,
	ZH_DEVICE_AUTO,
};

struct zh_netconf {
	json_t *root; /* owns the parsed document */
	const char *cni_version, *name, *type; /* borrowed from root */
	unsigned int mtu; /* default 1500 */
	/* "routing": "vxlan" without "mtu": the pods take the VXLAN device's
	 * MTU (zerohopd made it the uplink's minus the encapsulation). */
	bool mtu_from_vxlan;
	char vxlan_dev[16]; /* "vxlanDevice", default zh-vxlan */
	enum zh_datapath datapath; /* "tc" (default) or "xdp" */
	enum zh_device device; /* "veth" (default), "netkit" or "auto" */
	struct zh_afxdp_conf afxdp;
	const char *ipam_type; /* ipam.type */
	json_t *prev_result; /* borrowed, NULL when absent */
	char *raw; /* copy of stdin (NUL-terminated), handed verbatim to IPAM */
	size_t raw_len;
};

#define ZH_NETCONF_MTU_DEFAULT 1500
#define ZH_NETCONF_MTU_MIN 68
#define ZH_NETCONF_MTU_MAX 65535

/*
 * Parse the network configuration read from stdin. On failure conf is left
 * empty (zh_netconf_free() on it is harmless). Optional keys that are JSON
 * null count as absent.
 */
int zh_netconf_parse(const char *buf, size_t len, struct zh_netconf *conf,
		     struct zh_cni_err *err);
void zh_netconf_free(struct zh_netconf *conf);

/*
 * Can a kernel with features @f (kfeatures.h) serve @conf's datapath and
 * AF_XDP? 0, or -1 with @err: @code (ADD and CHECK: the spec's 2, an
 * unsupported field; STATUS: 50) and a message naming the first missing
 * feature.
 */
struct zh_kfeat;
int zh_netconf_kernel_check(const struct zh_netconf *conf,
			    const struct zh_kfeat *f, int code,
			    struct zh_cni_err *err);
/*
 * STATUS and GC came with CNI 1.1.0: for them a configuration of an older
 * version is ZH_CNI_ERR_INCOMPATIBLE, as in the reference implementation
 * (pkg/skel). 0 for every other command.
 */
int zh_netconf_allows(const struct zh_netconf *conf, enum zh_cni_cmd cmd,
		      struct zh_cni_err *err);

/* GC's "cni.dev/valid-attachments": the attachments to keep. */
struct zh_attachment {
	const char *container_id, *ifname; /* borrowed from conf->root */
};

struct zh_attachments {
	struct zh_attachment *v; /* malloc'd, n entries (NULL when n is 0) */
	size_t n;
};

/*
 * Read "cni.dev/valid-attachments" from conf: an array of objects with
 * non-empty string "containerID" and "ifname" (other keys ignored). Absent
 * or null is the empty list. When it is absent, "cni.dev/attachments" (the
 * name the spec-v1.1.0 text used; libcni sends both) is read instead.
 * Anything else is ZH_CNI_ERR_INVALID_CONFIG and *out is left empty.
 */
int zh_netconf_attachments(const struct zh_netconf *conf,
			   struct zh_attachments *out, struct zh_cni_err *err);
void zh_attachments_free(struct zh_attachments *a);

struct zh_cni_iface {
	char name[16];
	char mac[18];
	char sandbox[256];
	/* 1.1.0 "socketPath"; as big as sockaddr_un's sun_path, "" none */
	char socket_path[108];
};

struct zh_cni_ip {
	int family; /* 4 or 6 */
	char address[64]; /* CIDR */
	char gateway[48]; /* "" none */
	int iface; /* -1 none */
};

struct zh_cni_route {
	char dst[64];
	char gw[48]; /* "" none */
};

#define ZH_CNI_MAX_IFACES 4
#define ZH_CNI_MAX_IPS 8
#define ZH_CNI_MAX_ROUTES 16

struct zh_result {
	struct zh_cni_iface ifaces[ZH_CNI_MAX_IFACES];
	int n_ifaces;
	struct zh_cni_ip ips[ZH_CNI_MAX_IPS];
	int n_ips;
	struct zh_cni_route routes[ZH_CNI_MAX_ROUTES];
	int n_routes;
	json_t *dns; /* owned reference or NULL */
};

/*
 * Parse a result of any supported version (IPAM's answer, prevResult).
 * interfaces[].socketPath is taken whatever the version says.
 * res is initialised here; on failure it is left empty.
 */
int zh_result_parse(json_t *j, struct zh_result *res, struct zh_cni_err *err);
/*
 * New reference: the result shaped for cni_version
 * (NULL -> ZH_CNI_SPEC_VERSION).
 * 0.3.x/0.4.0: ips[].version "4"/"6"; 1.0.0 and 1.1.0: no version field.
 * interfaces[].socketPath only in 1.1.0 (and only when set). "cniVersion"
 * set; empty arrays and an absent or empty dns omitted; interface index
 * emitted when >= 0; mac/sandbox omitted when empty. dns is deep-copied.
 * NULL with errno EINVAL for an unsupported version, ENOMEM on allocation
 * failure.
 */
json_t *zh_result_to_json(const struct zh_result *res, const char *cni_version);
void zh_result_free(struct zh_result *res);

/* Largest IPAM stdout we accept. */
#define ZH_IPAM_STDOUT_MAX (1024 * 1024)

/*
 * What an IPAM plugin printed on stdout (@len bytes at @buf), read as
 * zh_ipam_exec() and zh_ipam_speaks() read it; no process involved.
 * The answer to ADD: a result of any supported version into *res (left
 * empty on failure), as ZH_CNI_ERR_DECODE naming plugin @type when it is
 * not JSON; 0 or -1.
 */
int zh_ipam_result_decode(const char *type, const char *buf, size_t len,
			  struct zh_result *res, struct zh_cni_err *err);
/*
 * A failed plugin's CNI error ({"code": 1.., "msg": string, "details"})
 * into err: 0, or -1 (err untouched) when the output is none.
 */
int zh_ipam_error_decode(const char *buf, size_t len, struct zh_cni_err *err);
/* Whether a VERSION answer's "supportedVersions" lists @version. */
bool zh_ipam_versions_has(const char *buf, size_t len, const char *version);

/*
 * The IPAM plugin `type` in the colon-separated search path (first regular
 * executable file wins) into out; 0, or -1 when there is none.
 */
int zh_ipam_find(const char *type, const char *path, char *out, size_t size);

/*
 * Delegate to the IPAM plugin `type`, searched in env->path (colon separated
 * dirs, first executable regular file wins), as the CNI spec describes: our
 * environment with CNI_COMMAND set for cmd (and the other CNI_* variables
 * taken from env), the network config (raw, len) on its stdin, its stdout
 * captured (cap ZH_IPAM_STDOUT_MAX), its stderr inherited.
 * ADD: parse its result into *res (pass res=NULL for DEL/CHECK).
 * Non-zero exit: if its stdout is a CNI error JSON, copy code/msg/details into
 * err; otherwise ZH_CNI_ERR_IPAM with the exit status. Plugin not found or
 * type containing '/' -> ZH_CNI_ERR_IPAM naming the type and the search path.
 * Returns 0 or -1. No shell: fork + execve.
 */
int zh_ipam_exec(const struct zh_cni_env *env, enum zh_cni_cmd cmd,
		 const char *type, const char *raw, size_t len,
		 struct zh_result *res, struct zh_cni_err *err);

/*
 * Whether the IPAM plugin `type` lists `version` in its VERSION answer
 * (asked with {"cniVersion": version} on stdin). Asked once per process
 * and plugin: the answer is kept. 1 yes; 0 no, also when the plugin fails
 * VERSION or answers something we cannot read; -1 with err filled (as
 * zh_ipam_exec() fills it) when it cannot be found or run.
 */
int zh_ipam_speaks(const struct zh_cni_env *env, const char *type,
		   const char *version, struct zh_cni_err *err);

/*
 * zh_ipam_exec() for conf's IPAM plugin with conf on its stdin. A 1.1.0
 * configuration goes to a plugin that does not speak 1.1.0 (Debian's
 * host-local 1.1.1 speaks up to 1.0.0) as a copy with cniVersion, and
 * prevResult's cniVersion, set to "1.0.0": ips, routes and dns read the
 * same in both. ADD, DEL and CHECK go through here.
 */
int zh_ipam_delegate(const struct zh_cni_env *env, enum zh_cni_cmd cmd,
		     const struct zh_netconf *conf, struct zh_result *res,
		     struct zh_cni_err *err);

/*
 * The IPAM lock of the attachment env->container_id/env->ifname (and
 * env->pin_root), waited for up to @wait_s seconds: an fd to close (or
 * exit) to let go, -ETIMEDOUT, or another negative errno. The IPAM plugins
 * we run inherit it, so that it is held until the last of them is done,
 * even when we are not any more: a runtime that SIGKILLs an ADD (its
 * timeout) sends DEL next, and DEL must wait for an IPAM plugin the killed
 * ADD left running (queued on its store's lock), or that plugin reserves
 * an address after DEL gave the attachment's back. Killing it with us
 * instead would cut host-local short between creating a reservation's file
 * and writing the owner into it: an address no DEL can give back.
 */
int zh_ipam_lock(const struct zh_cni_env *env, unsigned int wait_s);

/*
 * IPAM DEL of conf's plugin for the attachment, once no IPAM plugin of an
 * earlier command for it runs any more (zh_ipam_lock(), waited for as
 * long as an IPAM plugin may take; after that, DEL goes on). 0 or -1 with
 * err.
 */
int zh_ipam_release(const struct zh_cni_env *env, const struct zh_netconf *conf,
		    struct zh_cni_err *err);

#endif /* ZH_CNI_H */
