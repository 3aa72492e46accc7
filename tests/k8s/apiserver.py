#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""apiserver.py - a scripted Kubernetes API server for tests.

Speaks the real protocol (HTTPS, bearer token, discovery, list, watch,
Table printing) for three resources: Services (v1), EndpointSlices
(discovery.k8s.io/v1) and Nodes (v1), read-only. Tests drive it through
a second, plain-HTTP control listener: create, change and delete objects
(watchers see the events), compact the history, expire or cut watches,
send bookmarks, split events across chunks, read counters. Python 3.10
or later, standard library only.

CLI
  apiserver.py --cert server.crt --key server.key --token-file TOKEN
               [--port 0] [--port-file FILE] [--control-port 0]
               [--control-port-file FILE] [--objects FILE.json]...
               [--gen-services N] [--gen-nodes N] [--bookmark-every SECS]
               [--history N] [--watch-timeout-max S] [--split] [--max-conns 64]
               [--server-version v1.30.0] [-v]

  --port/--port-file   the API listener on 127.0.0.1 (0: any free port; the
                       port is written to the file once both listeners are
                       up, so a test waits for the file). Without --cert and
                       --key it speaks plain HTTP.
  --token-file FILE    every API request needs "Authorization: Bearer
                       <the file's content, stripped>"; the file is re-read
                       on every request (a test rotates the token by
                       rewriting it). Without it, every request passes.
  --control-port...    the control listener, plain HTTP on 127.0.0.1.
  --objects FILE       load a JSON object, array or List (kubectl's
                       `get -o json` output) of Services, EndpointSlices
                       and Nodes at start; repeatable. A List with a
                       metadata.resourceVersion (`dump`'s) restarts the
                       server where it was: versions go on from it, and
                       watches from before get the 410.
  --gen-services N     N ClusterIP Services in namespace "gen" (svc-00000,
                       10.100.0.1 up, port 80 -> 8080), each with one
                       EndpointSlice of 2 ready endpoints (10.244.x.y on
                       gen-node-0/1); --gen-nodes N makes N Nodes gen-node-I.
  --bookmark-every S   also send a BOOKMARK every S seconds on watches that
                       allow them.
  --watch-timeout-max S  end every watch cleanly after at most S seconds,
                       whatever its timeoutSeconds asked (a real server's
                       own limit); 0 (default): none.
  --history N          keep at most N events; older ones are compacted
                       (default: keep all until `compact`).
  --split              start with split mode on (see `split`).
  --max-conns N        connections served at once on each listener; more
                       are closed at once (counted as "refused").

API (every request, discovery included, needs the token; 401 otherwise,
with a Status body, reason Unauthorized)
  /version /api /apis /api/v1 /apis/discovery.k8s.io[/v1]   discovery
  /api/v1/services, /api/v1/namespaces/NS/services[/NAME]
  /apis/discovery.k8s.io/v1/endpointslices, .../namespaces/NS/endpointslices[/NAME]
  /api/v1/nodes[/NAME]
  /api/v1/pods, /api/v1/namespaces/NS/pods[/NAME]
  /apis/networking.k8s.io/v1/networkpolicies, .../namespaces/NS/networkpolicies[/NAME]
  /api/v1/namespaces   Namespaces applied (list, watch)
  /api/v1/watch/...    the old watch paths, same as ?watch=true
  /api/v1/namespaces/NS  that Namespace if applied, else one made up while
                       objects live in NS (kubectl asks after a NotFound);
                       /healthz /readyz /livez
  Read-only: other methods get 405 (Status MethodNotAllowed); so does a
  watch of one object's path (use fieldSelector=metadata.name=NAME).
  Query: labelSelector (key, !key, key=v, key==v, key!=v, key in (a,b),
  key notin (a,b); comma = AND), fieldSelector (metadata.name,
  metadata.namespace with =, ==, !=), resourceVersion,
  resourceVersionMatch, limit + continue (pages in name order, with
  remainingItemCount), watch=1|true, allowWatchBookmarks, timeoutSeconds.

  List: {"kind":"ServiceList","apiVersion":"v1","metadata":
  {"resourceVersion":"N"},"items":[...]}; as a real server does, items
  carry no kind/apiVersion. A list with resourceVersion older than the
  compaction point (other than "" and "0", any resourceVersionMatch), or a
  continue token from before it, gets HTTP 410 (Status, reason Expired).
  Otherwise a list always serves the current state (also for
  resourceVersionMatch=Exact: no older snapshots). Bodies over 4 KiB go
  out chunked, over 128 KiB gzipped if the client accepts gzip.
  "Accept: application/json;as=Table;v=v1;g=meta.k8s.io" gets a
  meta.k8s.io/v1 Table (kubectl's columns), lists and watches alike.

  Watch: 200, chunked, one event per line: {"type":"ADDED|MODIFIED|
  DELETED|BOOKMARK|ERROR","object":{...}}. From resourceVersion N the
  history after N is replayed, then live events; from "" or "0" every
  current object comes as ADDED first. An object that starts or stops
  matching the watch's selectors comes as ADDED or DELETED. N older than
  the compaction point: one ERROR event (Status, code 410, reason
  Expired, "too old resource version: N (M)"), then the stream ends.
  BOOKMARK: {"type":"BOOKMARK","object":{"kind":"Service","apiVersion":
  "v1","metadata":{"resourceVersion":"N"}}}, only with
  allowWatchBookmarks=true. timeoutSeconds ends the stream cleanly (the
  terminating chunk). SIGTERM ends every watch cleanly, then exits 0.

CONTROL (POST http://127.0.0.1:CPORT/COMMAND with a JSON body, which may
be empty; no token; the answer is JSON with "ok": true, or "ok": false and
"error" with status 400/404/408)
  apply           body: an object, an array or a List of objects.
                  Creates or replaces each by kind/namespace/name
                  (namespace "default" if missing for Services and
                  EndpointSlices). Sets metadata.resourceVersion (one
                  global counter), uid and creationTimestamp (kept on a
                  replace). Emits ADDED or MODIFIED. Objects before a bad
                  one in the body stay applied.
                  -> {"ok":true,"resourceVersion":"N","applied":[{"kind",
                     "namespace","name","type":"ADDED","resourceVersion",
                     "uid"}]}
  delete          body: {"kind":"Service","namespace":"shop","name":"web"}
                  (or an array of them, or objects). Emits DELETED with
                  the last object at a new resourceVersion. 404 if absent.
                  -> {"ok":true,"resourceVersion":"N","deleted":[...]}
  compact         forget the history up to now: watches from an older
                  resourceVersion get the in-stream 410, lists HTTP 410.
                  -> {"ok":true,"compacted":"N"}
  expire-watches  {"kind":K}? : send the in-stream 410 ERROR to every open
                  watch (of kind K), end them cleanly. -> {"ok":true,"count":n}
  disconnect      {"kind":K}? : close every open watch's connection with no
                  terminating chunk (and no TLS close_notify). -> {"count":n}
  bookmark        {"kind":K}? : a BOOKMARK now on every watch that allows
                  them. -> {"ok":true,"count":n,"resourceVersion":"N"}
  split           {"enabled":true|false} (or "on"/"off"): each event line
                  then goes out as 2 or 3 chunks 20 ms apart, one break
                  mid-JSON and one inside the first multi-byte UTF-8
                  character, if any.
  fail            {"status":500,"count":1,"path":"/api/v1/services",
                  "retryAfter":1}: the next `count` API requests whose path
                  starts with `path` (default: any) get that status with a
                  Status body (and Retry-After if given); 429 and 5xx test
                  a client's backoff. "count": 0 clears it.
  stats           (GET works too) -> {"ok":true,"resourceVersion":"N",
                  "compacted":"M","split":false,"objects":{"Service":n,...},
                  "lists":{"Service":n,...}, "gets":{...},
                  "watches":{"Service":n,...}   (opened, ever),
                  "expired":{"Service":n,...}   (in-stream 410s sent),
                  "gone":n (HTTP 410 lists), "unauthorized":n,
                  "failed":n (by `fail`), "refused":n,
                  "openWatches":[{"id","kind","namespace","resourceVersion",
                    "labelSelector","fieldSelector","allowWatchBookmarks",
                    "timeoutSeconds","table","events","lastResourceVersion"}],
                  "requests":[{"method","path","query":{...},"status",
                    "watch"}]   (the last 500 API requests, oldest first)}
  reset-stats     zero the counters and the request log.
  wait-watches    {"count":n,"kind":K?,"timeout":5}: answer once at least
                  n watches (of kind K) are open; 408 on timeout.
  dump            (GET works too) -> {"kind":"List","apiVersion":"v1",
                  "metadata":{"resourceVersion":"N"},"items":[...]}

From bash, tests/k8s/lib.sh: k8s_api_start DIR [ARGS...] makes the
certificates (mkcerts.sh), a token and a kubeconfig in DIR, starts this
server and waits for it; k8s_ctl COMMAND [JSON] posts to the control port.
"""

import argparse
import base64
import bisect
import collections
import datetime
import gzip
import hmac
import ipaddress
import itertools
import json
import os
import queue
import re
import select
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# --- resources -------------------------------------------------------------


class Resource:
    def __init__(self, group, version, plural, kind, namespaced, short=()):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short = list(short)
        self.api_version = f"{group}/{version}" if group else version


RESOURCES = [
    Resource("", "v1", "services", "Service", True, ["svc"]),
    Resource("", "v1", "nodes", "Node", False, ["no"]),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    Resource("", "v1", "pods", "Pod", True, ["po"]),
    Resource("", "v1", "namespaces", "Namespace", False, ["ns"]),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
]
BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND = {r.kind: r for r in RESOURCES}
KINDS = [r.kind for r in RESOURCES]

GZIP_MIN = 128 * 1024  # the real server compresses responses above this
CHUNKED_MIN = 4096  # Go's net/http sends bigger bodies chunked
MAX_CONTROL_BODY = 256 << 20
MAX_API_BODY = 1 << 20
TABLE_CTYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def now_ts():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(obj):
    # Compact and raw UTF-8, like Go's encoding/json.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def status_obj(code, reason, message, details=None):
    s = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        s["details"] = details
    return s


class APIError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.status = status_obj(code, reason, message, details)


def bad_request(msg):
    return APIError(400, "BadRequest", msg)


# --- selectors ---------------------------------------------------------------

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?" + _NAME + "$")
_VALUE_RE = re.compile(r"^(" + _NAME + ")?$")


def _split_terms(s):
    """Split on the commas outside parentheses (those of `in (a,b)`)."""
    terms, depth, cur = [], 0, ""
    for c in s:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += c
    terms.append(cur)
    return terms


def parse_label_selector(s):
    reqs = []
    if not s or not s.strip():
        return reqs
    for term in _split_terms(s):
        term = term.strip()
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s*\((.*)\)", term)
        if m:
            key, op = m.group(1), m.group(2)
            vals = {v.strip() for v in m.group(3).split(",")}
        elif term.startswith("!"):
            key, op, vals = term[1:].strip(), "!", None
        elif "!=" in term:
            key, v = term.split("!=", 1)
            op, vals = "!=", v.strip()
        elif "==" in term:
            key, v = term.split("==", 1)
            op, vals = "=", v.strip()
        elif "=" in term:
            key, v = term.split("=", 1)
            op, vals = "=", v.strip()
        else:
            key, op, vals = term, "exists", None
        key = key.strip()
        if not _KEY_RE.match(key) or len(key.split("/")[-1]) > 63:
            raise bad_request(f'unable to parse requirement: invalid label key "{key}"')
        for v in vals if isinstance(vals, set) else [vals] if vals is not None else []:
            if not _VALUE_RE.match(v) or len(v) > 63:
                raise bad_request(f'unable to parse requirement: invalid label value: "{v}"')
        reqs.append((key, op, vals))
    return reqs


def labels_match(reqs, obj):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for key, op, vals in reqs:
        has = key in labels
        val = labels.get(key)
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
        if op == "=" and (not has or val != vals):
            return False
        if op == "!=" and has and val == vals:
            return False
        if op == "in" and (not has or val not in vals):
            return False
        if op == "notin" and has and val in vals:
            return False
    return True


FIELDS = ("metadata.name", "metadata.namespace")


def parse_field_selector(s):
    reqs = []
    if not s or not s.strip():
        return reqs
    for term in s.split(","):
        for op in ("!=", "==", "="):
            if op in term:
                field, val = term.split(op, 1)
                break
        else:
            raise bad_request(f'invalid field selector: "{term}"')
        field = field.strip()
        if field not in FIELDS:
            raise bad_request(f'field label not supported: {field}')
        reqs.append((field, op != "!=", val.strip()))
    return reqs


def fields_match(reqs, obj):
    md = obj.get("metadata") or {}
    for field, eq, val in reqs:
        have = md.get(field.split(".", 1)[1], "")
        if (have == val) != eq:
            return False
    return True


# --- Table printing (kubectl's columns) ---------------------------------------


def human_age(ts):
    try:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return "<unknown>"
    t = t.replace(tzinfo=datetime.timezone.utc)
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    if s < -1:
        return "<invalid>"
    s = max(s, 0)
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 192:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 730:
        return f"{d}d"
    if d < 2920:
        return f"{d // 365}y{d % 365}d" if d % 365 else f"{d // 365}y"
    return f"{d // 365}y"


def _col(name, desc, priority=0, fmt=""):
    return {"name": name, "type": "string", "format": fmt, "description": desc,
            "priority": priority}


COLUMNS = {
    "Service": [
        _col("Name", "Name of the object.", fmt="name"),
        _col("Type", "How the Service is exposed."),
        _col("Cluster-IP", "The Service's cluster IP address."),
        _col("External-IP", "External addresses of the Service."),
        _col("Port(s)", "The ports the Service exposes."),
        _col("Age", "Time since creation."),
        _col("Selector", "The labels of the Service's pods.", 1),
    ],
    "EndpointSlice": [
        _col("Name", "Name of the object.", fmt="name"),
        _col("AddressType", "The type of the slice's addresses."),
        _col("Ports", "The slice's port numbers."),
        _col("Endpoints", "The slice's first addresses."),
        _col("Age", "Time since creation."),
    ],
    "Pod": [
        _col("Name", "Name of the object.", fmt="name"),
        _col("Ready", "Containers ready of all."),
        _col("Status", "The pod's phase."),
        _col("Restarts", "Container restarts."),
        _col("Age", "Time since creation."),
        _col("IP", "The pod's address.", 1),
        _col("Node", "The node the pod is on.", 1),
    ],
    "Namespace": [
        _col("Name", "Name of the object.", fmt="name"),
        _col("Status", "The namespace's phase."),
        _col("Age", "Time since creation."),
    ],
    "NetworkPolicy": [
        _col("Name", "Name of the object.", fmt="name"),
        _col("Pod-Selector", "The pods the policy selects."),
        _col("Age", "Time since creation."),
    ],
    "Node": [
        _col("Name", "Name of the object.", fmt="name"),
        _col("Status", "The node's Ready condition."),
        _col("Roles", "The node's roles."),
        _col("Age", "Time since creation."),
        _col("Version", "The kubelet's version."),
        _col("Internal-IP", "The node's internal address.", 1),
        _col("External-IP", "The node's external address.", 1),
        _col("OS-Image", "The node's OS image.", 1),
        _col("Kernel-Version", "The node's kernel version.", 1),
        _col("Container-Runtime", "The node's container runtime.", 1),
    ],
}


def _service_cells(o):
    spec = o.get("spec") or {}
    typ = spec.get("type", "ClusterIP")
    cip = spec.get("clusterIP") or "<none>"
    ext = list(spec.get("externalIPs") or [])
    if typ == "LoadBalancer":
        ing = ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        ext += [i.get("ip") or i.get("hostname") for i in ing if i.get("ip") or i.get("hostname")]
        exts = ",".join(ext) if ext else "<pending>"
    elif typ == "ExternalName":
        exts = spec.get("externalName") or "<none>"
    else:
        exts = ",".join(ext) if ext else "<none>"
    ports = []
    for p in spec.get("ports") or []:
        proto = p.get("protocol", "TCP")
        if p.get("nodePort"):
            ports.append(f"{p.get('port')}:{p['nodePort']}/{proto}")
        else:
            ports.append(f"{p.get('port')}/{proto}")
    sel = spec.get("selector") or {}
    sels = ",".join(f"{k}={v}" for k, v in sorted(sel.items())) or "<none>"
    return [typ, cip, exts, ",".join(ports) or "<none>", human_age(
        o["metadata"].get("creationTimestamp")), sels]


def _slice_cells(o):
    ports = [str(p["port"]) for p in o.get("ports") or [] if "port" in p]
    addrs = [a for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
    eps = ",".join(addrs[:3])
    if len(addrs) > 3:
        eps += f" + {len(addrs) - 3} more..."
    return [o.get("addressType", ""), ",".join(ports) or "<unset>", eps or "<unset>",
            human_age(o["metadata"].get("creationTimestamp"))]


def _node_cells(o):
    st = o.get("status") or {}
    ready = "Unknown"
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready":
            ready = "Ready" if c.get("status") == "True" else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    labels = o["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels
                   if k.startswith("node-role.kubernetes.io/") and "/" in k)
    addr = {}
    for a in st.get("addresses") or []:
        addr.setdefault(a.get("type"), a.get("address"))
    info = st.get("nodeInfo") or {}
    return [ready, ",".join(roles) or "<none>",
            human_age(o["metadata"].get("creationTimestamp")),
            info.get("kubeletVersion", ""), addr.get("InternalIP", "<none>"),
            addr.get("ExternalIP", "<none>"), info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>")]


def _pod_cells(o):
    spec = o.get("spec") or {}
    st = o.get("status") or {}
    n = len(spec.get("containers") or [])
    return [f"{n}/{n}", st.get("phase", "Pending"), "0",
            human_age(o["metadata"].get("creationTimestamp")),
            st.get("podIP") or "<none>", spec.get("nodeName") or "<none>"]


def _namespace_cells(o):
    return [((o.get("status") or {}).get("phase")) or "Active",
            human_age(o["metadata"].get("creationTimestamp"))]


def _selector_text(sel):
    sel = sel or {}
    terms = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        vals = ",".join(e.get("values") or [])
        op = e.get("operator", "")
        if op == "Exists":
            terms.append(e.get("key", ""))
        elif op == "DoesNotExist":
            terms.append("!" + e.get("key", ""))
        else:
            terms.append(f"{e.get('key', '')} {op.lower()} ({vals})")
    return ",".join(terms)


def _netpol_cells(o):
    sel = _selector_text((o.get("spec") or {}).get("podSelector"))
    return [sel or "<none>", human_age(o["metadata"].get("creationTimestamp"))]


CELLS = {"Service": _service_cells, "EndpointSlice": _slice_cells, "Node": _node_cells,
         "Pod": _pod_cells, "Namespace": _namespace_cells, "NetworkPolicy": _netpol_cells}


def table_row(kind, obj, include):
    row = {"cells": [obj["metadata"]["name"]] + CELLS[kind](obj)}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj["metadata"]}
    return row


def table(kind, objs, include, metadata, columns=True):
    # A watch's events after the first leave the columns out, as the real
    # server's do: kubectl keeps those of the first.
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": COLUMNS[kind] if columns else None,
            "rows": [table_row(kind, o, include) for o in objs]}


# --- the store -----------------------------------------------------------------


class Event:
    __slots__ = ("rv", "kind", "type", "obj", "prev")

    def __init__(self, rv, kind, typ, obj, prev=None):
        self.rv, self.kind, self.type, self.obj, self.prev = rv, kind, typ, obj, prev


def obj_key(obj):
    md = obj["metadata"]
    return (md.get("namespace", ""), md["name"])


class Store:
    """Objects, the event history and the open watches, under one lock.
    Stored objects are never changed in place (apply stores a new dict), so
    a list can serialise what it took outside the lock."""

    def __init__(self, history_max=0):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.rv = 0
        self.compacted = 0
        self.history = []
        self.history_max = history_max
        self.objects = {k: {} for k in KINDS}
        self.watches = set()
        self.split = False
        self.fail = None  # {"status","count","path","retryAfter"}
        self.reset_stats()

    def reset_stats(self):
        self.stats = {
            "lists": dict.fromkeys(KINDS, 0), "gets": dict.fromkeys(KINDS, 0),
            "watches": dict.fromkeys(KINDS, 0), "expired": dict.fromkeys(KINDS, 0),
            "gone": 0, "unauthorized": 0, "failed": 0, "refused": 0,
        }
        self.requests = collections.deque(maxlen=500)

    def count(self, what, kind=None):
        with self.lock:
            if kind is None:
                self.stats[what] += 1
            else:
                self.stats[what][kind] += 1

    def _record(self, kind, typ, obj, prev=None):
        ev = Event(self.rv, kind, typ, obj, prev)
        self.history.append(ev)
        if self.history_max and len(self.history) > self.history_max:
            drop = len(self.history) - self.history_max
            self.compacted = self.history[drop - 1].rv
            del self.history[:drop]
        for w in self.watches:
            w.offer(ev)

    def apply(self, obj):
        """Create or replace one object; returns what the control answers."""
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
            raise ValueError("an object needs metadata")
        kind = obj.get("kind")
        res = BY_KIND.get(kind)
        if res is None:
            raise ValueError(f"unsupported kind {kind!r} (want one of {', '.join(KINDS)})")
        name = obj["metadata"].get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{kind} without metadata.name")
        new = dict(obj)
        new["apiVersion"] = res.api_version
        md = dict(obj["metadata"])
        if res.namespaced:
            md["namespace"] = md.get("namespace") or "default"
        else:
            md.pop("namespace", None)
        new["metadata"] = md
        key = obj_key(new)
        with self.lock:
            old = self.objects[kind].get(key)
            self.rv += 1
            md["resourceVersion"] = str(self.rv)
            if old is not None:
                md["uid"] = old["metadata"]["uid"]
                md["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            else:
                md["uid"] = str(uuid.uuid4())
                md["creationTimestamp"] = now_ts()
            self.objects[kind][key] = new
            typ = "MODIFIED" if old is not None else "ADDED"
            self._record(kind, typ, new, old)
            return {"kind": kind, "namespace": md.get("namespace"), "name": name,
                    "type": typ, "resourceVersion": md["resourceVersion"], "uid": md["uid"]}

    def delete(self, kind, namespace, name):
        res = BY_KIND.get(kind)
        if res is None:
            raise ValueError(f"unsupported kind {kind!r}")
        key = ((namespace or "default") if res.namespaced else "", name)
        with self.lock:
            old = self.objects[kind].pop(key, None)
            if old is None:
                raise KeyError(f"{kind} {'/'.join(k for k in key if k)} not found")
            self.rv += 1
            last = dict(old)
            last["metadata"] = dict(old["metadata"], resourceVersion=str(self.rv))
            self._record(kind, "DELETED", last)
            return {"kind": kind, "namespace": key[0] or None, "name": name,
                    "type": "DELETED", "resourceVersion": str(self.rv)}

    def compact(self):
        with self.lock:
            self.compacted = self.rv
            self.history.clear()
            return self.rv

    def snapshot(self, kind, match):
        """(resourceVersion, matching objects in key order) now."""
        with self.lock:
            objs = self.objects[kind]
            return self.rv, [objs[k] for k in sorted(objs) if match(objs[k])]

    def open_watch(self, w):
        """Register w with its first events queued; or return the 410 text."""
        with self.lock:
            if w.rv in ("", "0"):
                objs = self.objects[w.kind]
                for k in sorted(objs):
                    if w.matches(objs[k]):
                        w.q.put(("event", "ADDED", objs[k]))
            else:
                n = int(w.rv)
                if n < self.compacted:
                    return f"too old resource version: {n} ({self.compacted})"
                start = bisect.bisect_right(self.history, n, key=lambda e: e.rv)
                for ev in self.history[start:]:
                    w.offer(ev)
            self.watches.add(w)
            self.stats["watches"][w.kind] += 1
            self.cond.notify_all()
            return None

    def close_watch(self, w):
        with self.lock:
            self.watches.discard(w)
            self.cond.notify_all()

    def to_watches(self, msg, kind=None, only_bookmarks=False):
        with self.lock:
            n = 0
            for w in self.watches:
                if kind and w.kind != kind:
                    continue
                if only_bookmarks and not w.bookmarks:
                    continue
                w.q.put(("ctl", msg, self.rv))
                n += 1
            return n, self.rv


class Watch:
    ids = itertools.count(1)

    def __init__(self, res, namespace, q, table_mode, include):
        self.id = next(Watch.ids)
        self.kind = res.kind
        self.res = res
        self.namespace = namespace
        self.rv = q.get("resourceVersion", "")
        self.label_raw = q.get("labelSelector", "")
        self.field_raw = q.get("fieldSelector", "")
        self.labels = parse_label_selector(self.label_raw)
        self.fields = parse_field_selector(self.field_raw)
        self.bookmarks = q.get("allowWatchBookmarks", "") in ("1", "true", "True")
        t = q.get("timeoutSeconds")
        try:
            self.timeout = int(t) if t not in (None, "") else None
        except ValueError:
            raise bad_request(f"invalid timeoutSeconds: {t!r}") from None
        if self.rv not in ("", "0"):
            try:
                int(self.rv)
            except ValueError:
                raise bad_request(f"invalid resourceVersion: {self.rv!r}") from None
        self.table = table_mode
        self.include = include
        self.q = queue.Queue()
        self.events = 0
        self.last_rv = self.rv

    def matches(self, obj):
        if obj is None:
            return False
        if self.namespace and obj["metadata"].get("namespace") != self.namespace:
            return False
        return labels_match(self.labels, obj) and fields_match(self.fields, obj)

    def offer(self, ev):
        """Queue what this watch sees of ev (store lock held)."""
        if ev.kind != self.kind:
            return
        now = self.matches(ev.obj)
        if ev.type == "MODIFIED":
            before = self.matches(ev.prev)
            if now:
                self.q.put(("event", "MODIFIED" if before else "ADDED", ev.obj))
            elif before:
                gone = dict(ev.prev)
                gone["metadata"] = dict(ev.prev["metadata"], resourceVersion=str(ev.rv))
                self.q.put(("event", "DELETED", gone))
        elif now:
            self.q.put(("event", ev.type, ev.obj))

    def describe(self):
        return {"id": self.id, "kind": self.kind, "namespace": self.namespace,
                "resourceVersion": self.rv, "labelSelector": self.label_raw,
                "fieldSelector": self.field_raw, "allowWatchBookmarks": self.bookmarks,
                "timeoutSeconds": self.timeout, "table": self.table,
                "events": self.events, "lastResourceVersion": self.last_rv}


# --- the API listener ------------------------------------------------------------


class Abort(Exception):
    """Drop the connection now, mid-response."""


class BoundedServer(ThreadingHTTPServer):
    """At most max_conns connections served at once; the TLS handshake in
    the connection's thread, so a slow client does not stall accept()."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, handler, app, ssl_ctx, max_conns):
        self.app = app
        self.ssl_ctx = ssl_ctx
        self.slots = threading.BoundedSemaphore(max_conns)
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.app.store.count("refused")
            self.shutdown_request(request)
            return
        t = threading.Thread(target=self._serve, args=(request, client_address), daemon=True)
        t.start()

    def _serve(self, request, client_address):
        try:
            self.process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def finish_request(self, request, client_address):
        # Headers, body and every watch event leave at once: with Nagle,
        # the second small write waits for the peer's delayed ACK (40 ms).
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.ssl_ctx is None:
            self.RequestHandlerClass(request, client_address, self)
            return
        request.settimeout(10)
        try:
            conn = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.app.log(f"TLS handshake with {client_address[0]}: {e}")
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # A client gone mid-response is no news; anything else is a bug.
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, Abort)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "zerohop-test-apiserver"
    sys_version = ""
    timeout = 300

    # -- plumbing

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            self.server.app.log(f"{self.address_string()} {fmt % args}")

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def send_body(self, code, body, ctype="application/json", headers=None):
        gz = False
        if (len(body) > GZIP_MIN and "gzip" in self.headers.get("Accept-Encoding", "")):
            body = gzip.compress(body, 1)
            gz = True
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if gz:
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        if len(body) <= CHUNKED_MIN:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(body), 32768):
            self.write_chunk(body[i:i + 32768])
        self.wfile.write(b"0\r\n\r\n")

    def send_json(self, code, obj, ctype="application/json", headers=None):
        self.send_body(code, (dumps(obj) + "\n").encode(), ctype, headers)

    def record(self, code, query, watch=False):
        app = self.server.app
        with app.store.lock:
            app.store.requests.append({"method": self.command, "path": self.url.path,
                                       "query": query, "status": code, "watch": watch})

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_API_BODY:
            self.close_connection = True
            raise APIError(413, "RequestEntityTooLarge", "request body too large")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
        return self.rfile.read(n) if n > 0 else b""

    # -- requests

    def do_GET(self):
        self.url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(self.url.query, keep_blank_values=True).items()}
        try:
            self.read_body()
            self.authenticate()
            self.injected_failure()
            res, ns, name, watch = self.route()
            table_mode, include = self.wants_table(query)
            if res is None:
                pass  # answered by route()
            elif watch:
                self.serve_watch(res, ns, query, table_mode, include)
                return  # recorded when it opened
            elif name is not None:
                self.serve_get(res, ns, name, table_mode, include)
            else:
                self.serve_list(res, ns, query, table_mode, include)
            self.record(200, query)
        except APIError as e:
            headers = {}
            if e.code == 429 or e.code >= 500:
                ra = (self.server.app.store.fail or {}).get("retryAfter")
                if ra:
                    headers["Retry-After"] = str(ra)
            self.send_json(e.code, e.status, headers=headers)
            self.record(e.code, query)
        except Abort:
            self.close_connection = True

    def not_allowed(self):
        self.close_connection = True
        try:
            self.authenticate()
            raise APIError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource")
        except APIError as e:
            self.send_json(e.code, e.status)

    do_POST = do_PUT = do_PATCH = do_DELETE = not_allowed

    def authenticate(self):
        app = self.server.app
        if app.token_file is None:
            return
        try:
            with open(app.token_file) as f:
                want = f.read().strip()
        except OSError:
            want = None
        got = self.headers.get("Authorization", "")
        if want and got.startswith("Bearer ") and hmac.compare_digest(
                got[7:].strip().encode(), want.encode()):
            return
        app.store.count("unauthorized")
        raise APIError(401, "Unauthorized", "Unauthorized")

    def injected_failure(self):
        store = self.server.app.store
        with store.lock:
            f = store.fail
            if not f or f["count"] <= 0 or not self.url.path.startswith(f.get("path", "/")):
                return
            f["count"] -= 1
            store.stats["failed"] += 1
        code = f["status"]
        reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                  504: "Timeout", 403: "Forbidden", 404: "NotFound"}.get(code, "InternalError")
        raise APIError(code, reason, f"injected failure ({code})")

    def wants_table(self, query):
        accept = self.headers.get("Accept", "")
        table_mode = any("as=Table" in a and "g=meta.k8s.io" in a and "v=v1" in a
                         for a in accept.split(","))
        return table_mode, query.get("includeObject", "Metadata")

    def route(self):
        """(resource, namespace, name, watch) for a resource path; discovery
        and errors are answered here (resource None)."""
        app = self.server.app
        path = self.url.path.rstrip("/") or "/"
        disc = app.discovery.get(path)
        if disc is not None:
            self.send_json(200, disc)
            return None, None, None, False
        if path in ("/healthz", "/readyz", "/livez"):
            self.send_body(200, b"ok", "text/plain; charset=utf-8")
            return None, None, None, False
        seg = path.strip("/").split("/")
        if len(seg) == 4 and seg[:3] == ["api", "v1", "namespaces"]:
            self.serve_namespace(seg[3])
            return None, None, None, False
        if seg[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", seg[2:]
        elif seg[0] == "apis" and len(seg) >= 3:
            group, version, rest = seg[1], seg[2], seg[3:]
        else:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        watch = False
        if rest[:1] == ["watch"]:
            watch, rest = True, rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        res = BY_PATH.get((group, version, rest[0] if rest else ""))
        if (res is None or len(rest) > 2 or (ns is not None and not res.namespaced)):
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) == 2 else None
        if name is not None and res.namespaced and ns is None:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        q = parse_qs(self.url.query)
        if q.get("watch", [""])[-1] in ("1", "true", "True"):
            watch = True
        if watch and name is not None:
            raise APIError(405, "MethodNotAllowed", "watch of a single object: use a fieldSelector")
        return res, ns, name, watch

    def serve_namespace(self, name):
        """A Namespace exists while objects live in it (and the usual four
        always): kubectl asks, to tell a missing object from a missing
        namespace."""
        store = self.server.app.store
        with store.lock:
            stored = store.objects["Namespace"].get(("", name))
            seen = name in ("default", "kube-system", "kube-public", "kube-node-lease") or any(
                k[0] == name for objs in store.objects.values() for k in objs)
        if stored is not None:
            self.send_json(200, stored)
            return
        if not seen:
            raise APIError(404, "NotFound", f'namespaces "{name}" not found',
                           {"name": name, "kind": "namespaces"})
        self.send_json(200, {"kind": "Namespace", "apiVersion": "v1",
                             "metadata": {"name": name, "labels": {
                                 "kubernetes.io/metadata.name": name}},
                             "spec": {"finalizers": ["kubernetes"]},
                             "status": {"phase": "Active"}})

    def serve_get(self, res, ns, name, table_mode, include):
        store = self.server.app.store
        store.count("gets", res.kind)
        with store.lock:
            obj = store.objects[res.kind].get((ns or "", name))
            rv = store.rv
        if obj is None:
            what = f"{res.plural}.{res.group}" if res.group else res.plural
            details = {"name": name, "kind": res.plural}
            if res.group:
                details["group"] = res.group
            raise APIError(404, "NotFound", f'{what} "{name}" not found', details)
        if table_mode:
            self.send_json(200, table(res.kind, [obj], include, {"resourceVersion": str(rv)}),
                           TABLE_CTYPE)
        else:
            self.send_json(200, obj)

    def serve_list(self, res, ns, q, table_mode, include):
        store = self.server.app.store
        store.count("lists", res.kind)
        labels = parse_label_selector(q.get("labelSelector"))
        fields = parse_field_selector(q.get("fieldSelector"))
        rv = q.get("resourceVersion", "")
        match = q.get("resourceVersionMatch", "")
        if match not in ("", "Exact", "NotOlderThan"):
            raise bad_request(f"resourceVersionMatch: unsupported value {match!r}")
        if match and rv == "":
            raise bad_request("resourceVersionMatch is forbidden unless resourceVersion "
                              "is provided")
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise bad_request("invalid limit") from None
        start = None
        cont = q.get("continue", "")
        if cont:
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                list_rv, start = int(tok["rv"]), tuple(tok["start"])
            except (ValueError, KeyError, TypeError):
                raise bad_request("continue key is not valid") from None
            if list_rv < store.compacted:
                store.count("gone")
                raise APIError(410, "Expired",
                               "The provided continue parameter is too old to display a "
                               "consistent list result. You can start a new list without "
                               "the continue parameter.")
        elif rv not in ("", "0"):
            try:
                n = int(rv)
            except ValueError:
                raise bad_request(f"invalid resourceVersion: {rv!r}") from None
            if n < store.compacted:
                store.count("gone")
                raise APIError(410, "Expired",
                               f"The resourceVersion for the provided list is too old: "
                               f"{n} ({store.compacted})")

        def want(o):
            return ((not ns or o["metadata"].get("namespace") == ns)
                    and labels_match(labels, o) and fields_match(fields, o))

        cur_rv, objs = store.snapshot(res.kind, want)
        if not cont:
            list_rv = cur_rv
        if start is not None:
            objs = [o for o in objs if obj_key(o) > start]
        md = {"resourceVersion": str(list_rv)}
        if limit > 0 and len(objs) > limit:
            last = obj_key(objs[limit - 1])
            md["continue"] = base64.urlsafe_b64encode(
                dumps({"rv": list_rv, "start": list(last)}).encode()).decode().rstrip("=")
            md["remainingItemCount"] = len(objs) - limit
            objs = objs[:limit]
        if table_mode:
            self.send_json(200, table(res.kind, objs, include, md), TABLE_CTYPE)
            return
        items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in objs]
        self.send_json(200, {"kind": res.kind + "List", "apiVersion": res.api_version,
                             "metadata": md, "items": items})

    # -- watch

    def serve_watch(self, res, ns, q, table_mode, include):
        app = self.server.app
        store = app.store
        w = Watch(res, ns, q, table_mode, include)
        # A real server ends watches on its own clock too.
        if app.watch_timeout_max and (w.timeout is None or
                                      w.timeout > app.watch_timeout_max):
            w.timeout = app.watch_timeout_max
        too_old = store.open_watch(w)
        self.record(200, q, True)
        self.send_response(200)
        self.send_header("Content-Type", TABLE_CTYPE if table_mode else "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if too_old:
            store.count("expired", res.kind)
            self.send_event("ERROR", status_obj(410, "Expired", too_old), w)
            self.wfile.write(b"0\r\n\r\n")
            return
        try:
            self.watch_loop(w)
        finally:
            store.close_watch(w)

    def watch_loop(self, w):
        app = self.server.app
        deadline = time.monotonic() + w.timeout if w.timeout else None
        every = app.bookmark_every if w.bookmarks else None
        next_bm = time.monotonic() + every if every else None
        first = True
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self.wfile.write(b"0\r\n\r\n")
                return
            if next_bm is not None and now >= next_bm:
                with app.store.lock:
                    # Only with nothing queued: a bookmark promises that
                    # everything up to its version was sent.
                    if w.q.empty():
                        w.q.put(("ctl", "bookmark", app.store.rv))
                next_bm = now + every
            wait = 0.2
            if deadline is not None:
                wait = min(wait, max(deadline - now, 0))
            try:
                item = w.q.get(timeout=wait)
            except queue.Empty:
                self.check_peer()
                continue
            if item[0] == "event":
                _, typ, obj = item
                if w.table:
                    obj = table(w.kind, [obj], w.include,
                                {"resourceVersion": obj["metadata"]["resourceVersion"]},
                                columns=first)
                    first = False
                self.send_event(typ, obj, w)
                w.last_rv = item[2]["metadata"]["resourceVersion"]
                continue
            msg, rv = item[1], item[2]
            if msg == "bookmark" and w.bookmarks:
                self.send_event("BOOKMARK", {"kind": w.kind, "apiVersion": w.res.api_version,
                                             "metadata": {"resourceVersion": str(rv)}}, w)
                w.last_rv = str(rv)
            elif msg == "expire":
                app.store.count("expired", w.kind)
                self.send_event("ERROR", status_obj(
                    410, "Expired", f"too old resource version: {w.last_rv or w.rv} ({rv})"), w)
                self.wfile.write(b"0\r\n\r\n")
                return
            elif msg == "disconnect":
                self.drop()
            elif msg == "stop":
                self.wfile.write(b"0\r\n\r\n")
                self.close_connection = True
                return

    def send_event(self, typ, obj, w):
        line = (dumps({"type": typ, "object": obj}) + "\n").encode()
        w.events += 1
        if not self.server.app.store.split:
            self.write_chunk(line)
            return
        cuts = {len(line) // 2}
        for i, b in enumerate(line):
            if b >= 0xC0:  # the lead byte of a multi-byte character
                cuts.add(i + 1)
                break
        prev = 0
        for c in sorted(c for c in cuts if 0 < c < len(line)) + [len(line)]:
            self.write_chunk(line[prev:c])
            prev = c
            if c < len(line):
                time.sleep(0.02)

    def check_peer(self):
        """A client that went away ends its watch now, not at the next event:
        the open watches in the stats stay true. A watching client sends
        nothing, so readable means closed."""
        sock = self.connection
        try:
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                r = [sock]
            else:
                r, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            raise Abort() from None
        if not r:
            return
        prev = sock.gettimeout()
        sock.settimeout(0)
        try:
            data = sock.recv(1)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return
        except OSError:
            raise Abort() from None
        finally:
            try:
                sock.settimeout(prev)
            except OSError:
                pass
        if not data:
            raise Abort()

    def drop(self):
        """Close the connection mid-stream: no terminating chunk, no TLS
        close_notify (shutdown() on an SSLSocket skips it)."""
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise Abort()


# --- the control listener --------------------------------------------------------


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "zerohop-test-apiserver-control"
    sys_version = ""
    timeout = 60

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            self.server.app.log(f"control: {fmt % args}")

    def answer(self, code, obj):
        body = (json.dumps(obj, ensure_ascii=False) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.do_POST(get=True)

    def do_POST(self, get=False):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_CONTROL_BODY or self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self.answer(413, {"ok": False, "error": "body too large (or chunked)"})
            return
        raw = self.rfile.read(n) if n > 0 else b""
        cmd = urlsplit(self.path).path.strip("/")
        fn = self.server.app.commands.get(cmd)
        if fn is None or (get and cmd not in ("stats", "dump")):
            self.answer(404, {"ok": False, "error": f"no command {cmd!r}; commands: "
                              + ", ".join(sorted(self.server.app.commands))})
            return
        try:
            body = json.loads(raw) if raw.strip() else {}
            code, out = fn(body)
        except (ValueError, TypeError, AttributeError) as e:
            code, out = 400, {"ok": False, "error": str(e)}
        except KeyError as e:
            code, out = 404, {"ok": False, "error": str(e.args[0]) if e.args else "not found"}
        self.answer(code, out)


def objects_of(body):
    """An object, an array of them or a List, as a list."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get("items"), list) and \
            str(body.get("kind", "List")).endswith("List"):
        return body["items"]
    return [body]


class App:
    def __init__(self, args):
        self.verbose = args.verbose
        self.token_file = args.token_file
        self.bookmark_every = args.bookmark_every
        self.watch_timeout_max = args.watch_timeout_max
        self.store = Store(args.history)
        self.store.split = args.split
        self.discovery = {}
        self.commands = {
            "apply": self.c_apply, "delete": self.c_delete, "compact": self.c_compact,
            "expire-watches": self.c_expire, "disconnect": self.c_disconnect,
            "bookmark": self.c_bookmark, "split": self.c_split, "fail": self.c_fail,
            "stats": self.c_stats, "reset-stats": self.c_reset_stats,
            "wait-watches": self.c_wait_watches, "dump": self.c_dump,
        }
        self.server_version = args.server_version

    def log(self, msg):
        print(f"apiserver: {msg}", file=sys.stderr, flush=True)

    def make_discovery(self, port):
        m = re.match(r"v(\d+)\.(\d+)", self.server_version)
        major, minor = (m.group(1), m.group(2)) if m else ("1", "30")

        def resources(group, version):
            return [{"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                     "kind": r.kind, "verbs": ["get", "list", "watch"],
                     **({"shortNames": r.short} if r.short else {}),
                     **({"categories": ["all"]} if r.kind == "Service" else {})}
                    for r in RESOURCES if (r.group, r.version) == (group, version)]

        groups = sorted({(r.group, r.version) for r in RESOURCES if r.group})
        gobjs = []
        for g, v in groups:
            gv = {"groupVersion": f"{g}/{v}", "version": v}
            gobj = {"name": g, "versions": [gv], "preferredVersion": gv}
            gobjs.append(gobj)
            self.discovery[f"/apis/{g}"] = dict(kind="APIGroup", apiVersion="v1", **gobj)
            self.discovery[f"/apis/{g}/{v}"] = {
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{g}/{v}",
                "resources": resources(g, v)}
        self.discovery["/apis"] = {"kind": "APIGroupList", "apiVersion": "v1", "groups": gobjs}
        self.discovery["/api"] = {
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": f"127.0.0.1:{port}"}]}
        self.discovery["/api/v1"] = {"kind": "APIResourceList", "apiVersion": "v1",
                                     "groupVersion": "v1",
                                     "resources": resources("", "v1")}
        self.discovery["/version"] = {
            "major": major, "minor": minor, "gitVersion": self.server_version,
            "gitCommit": "0" * 40, "gitTreeState": "clean",
            "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.22.0",
            "compiler": "gc", "platform": "linux/amd64"}

    # -- control commands: (HTTP status, answer)

    def c_apply(self, body):
        objs = objects_of(body)
        out = [self.store.apply(o) for o in objs]
        return 200, {"ok": True, "resourceVersion": str(self.store.rv), "applied": out}

    def c_delete(self, body):
        out = []
        for o in objects_of(body):
            if not isinstance(o, dict):
                raise ValueError("delete wants {kind, namespace, name} or objects")
            md = o.get("metadata") or {}
            out.append(self.store.delete(o.get("kind"), o.get("namespace", md.get("namespace")),
                                         o.get("name", md.get("name"))))
        return 200, {"ok": True, "resourceVersion": str(self.store.rv), "deleted": out}

    def c_compact(self, body):
        return 200, {"ok": True, "compacted": str(self.store.compact())}

    def _kind(self, body):
        k = body.get("kind") if isinstance(body, dict) else None
        if k is not None and k not in BY_KIND:
            raise ValueError(f"unsupported kind {k!r}")
        return k

    def c_expire(self, body):
        n, _ = self.store.to_watches("expire", self._kind(body))
        return 200, {"ok": True, "count": n}

    def c_disconnect(self, body):
        n, _ = self.store.to_watches("disconnect", self._kind(body))
        return 200, {"ok": True, "count": n}

    def c_bookmark(self, body):
        n, rv = self.store.to_watches("bookmark", self._kind(body), only_bookmarks=True)
        return 200, {"ok": True, "count": n, "resourceVersion": str(rv)}

    def c_split(self, body):
        on = body.get("enabled") if isinstance(body, dict) else body in ("on", True)
        if not isinstance(on, bool):
            raise ValueError('split wants {"enabled": true|false}')
        self.store.split = on
        return 200, {"ok": True, "split": on}

    def c_fail(self, body):
        st = body.get("status")
        if not isinstance(st, int) or not 400 <= st <= 599:
            raise ValueError("fail wants a status 400..599")
        with self.store.lock:
            self.store.fail = {"status": st, "count": int(body.get("count", 1)),
                               "path": body.get("path", "/"), "retryAfter": body.get("retryAfter")}
        return 200, {"ok": True}

    def c_stats(self, body):
        s = self.store
        with s.lock:
            out = {"ok": True, "resourceVersion": str(s.rv), "compacted": str(s.compacted),
                   "split": s.split, "objects": {k: len(v) for k, v in s.objects.items()}}
            out.update(json.loads(json.dumps(s.stats)))
            out["openWatches"] = sorted((w.describe() for w in s.watches), key=lambda d: d["id"])
            out["requests"] = list(s.requests)
        return 200, out

    def c_reset_stats(self, body):
        with self.store.lock:
            self.store.reset_stats()
        return 200, {"ok": True}

    def c_wait_watches(self, body):
        want = int(body.get("count", 1))
        kind = self._kind(body)
        end = time.monotonic() + float(body.get("timeout", 5))
        s = self.store
        with s.cond:
            while True:
                n = sum(1 for w in s.watches if not kind or w.kind == kind)
                left = end - time.monotonic()
                if n >= want:
                    return 200, {"ok": True, "open": n}
                if left <= 0:
                    return 408, {"ok": False, "open": n,
                                 "error": f"{n} watches open, wanted {want}"}
                s.cond.wait(left)

    def c_dump(self, body):
        s = self.store
        with s.lock:
            items = [o for k in KINDS for _, o in sorted(s.objects[k].items())]
            rv = s.rv
        return 200, {"kind": "List", "apiVersion": "v1",
                     "metadata": {"resourceVersion": str(rv)}, "items": items}


# --- seed data ---------------------------------------------------------------------


def gen_nodes(store, n):
    for i in range(n):
        name = f"gen-node-{i}"
        store.apply({
            "kind": "Node", "apiVersion": "v1",
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64"}},
            "spec": {"podCIDR": f"10.244.{i}.0/24", "podCIDRs": [f"10.244.{i}.0/24"]},
            "status": {
                "addresses": [{"type": "InternalIP", "address": f"172.18.{i // 250}.{i % 250 + 2}"},
                              {"type": "Hostname", "address": name}],
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                "nodeInfo": {"kubeletVersion": "v1.30.0", "osImage": "Debian GNU/Linux 12",
                             "kernelVersion": "6.1.0",
                             "containerRuntimeVersion": "containerd://1.7"}},
        })


def gen_services(store, n):
    base_svc = ipaddress.IPv4Address("10.100.0.0")
    base_pod = ipaddress.IPv4Address("10.244.0.0")
    for i in range(n):
        name = f"svc-{i:05d}"
        svc_ip = str(base_svc + i + 1)
        r = store.apply({
            "kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "gen", "labels": {"app": name}},
            "spec": {"type": "ClusterIP", "clusterIP": svc_ip, "clusterIPs": [svc_ip],
                     "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "internalTrafficPolicy": "Cluster", "sessionAffinity": "None",
                     "selector": {"app": name},
                     "ports": [{"name": "http", "protocol": "TCP", "port": 80,
                                "targetPort": 8080}]},
            "status": {"loadBalancer": {}},
        })
        suffix = format(i * 2654435761 % 36 ** 5, "05x")[-5:]
        eps = []
        for j in range(2):
            eps.append({
                "addresses": [str(base_pod + 2 * i + j + 2)],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "nodeName": f"gen-node-{j}",
                "targetRef": {"kind": "Pod", "namespace": "gen", "name": f"{name}-pod-{j}",
                              "uid": str(uuid.uuid4())}})
        store.apply({
            "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {
                "name": f"{name}-{suffix}", "namespace": "gen", "generateName": f"{name}-",
                "generation": 1,
                "labels": {"kubernetes.io/service-name": name,
                           "endpointslice.kubernetes.io/managed-by":
                               "endpointslice-controller.k8s.io"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                                     "uid": r["uid"], "controller": True,
                                     "blockOwnerDeletion": True}]},
            "addressType": "IPv4", "endpoints": eps,
            "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
        })


# --- main -------------------------------------------------------------------------


def write_port(path, port):
    # Whole or not at all: a test polls for the file.
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.rename(tmp, path)


def main():
    p = argparse.ArgumentParser(description="A scripted Kubernetes API server for tests "
                                "(see the header of this file).")
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--control-port-file")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--token-file")
    p.add_argument("--objects", action="append", default=[])
    p.add_argument("--gen-services", type=int, default=0)
    p.add_argument("--gen-nodes", type=int, default=0)
    p.add_argument("--bookmark-every", type=float, default=0)
    p.add_argument("--history", type=int, default=0)
    p.add_argument("--watch-timeout-max", type=int, default=0)
    p.add_argument("--split", action="store_true")
    p.add_argument("--max-conns", type=int, default=64)
    p.add_argument("--server-version", default="v1.30.0")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")

    app = App(args)
    try:
        for path in args.objects:
            with open(path) as f:
                doc = json.load(f)
            # A `dump` of an earlier run, loaded by a server restarted on
            # it: its versions go on from there, and its history starts
            # now, as a real API server's watch cache does after a
            # restart (watches from before get the 410).
            rv = (doc.get("metadata") or {}).get("resourceVersion") \
                if isinstance(doc, dict) else None
            if rv and str(rv).isdigit():
                app.store.rv = max(app.store.rv, int(rv))
            for o in objects_of(doc):
                app.store.apply(o)
            if rv and str(rv).isdigit():
                app.store.compacted = app.store.rv
        gen_nodes(app.store, args.gen_nodes)
        gen_services(app.store, args.gen_services)
    except (OSError, ValueError) as e:
        p.error(f"loading objects: {e}")

    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.load_cert_chain(args.cert, args.key)
    api = BoundedServer((args.address, args.port), Handler, app, ctx, args.max_conns)
    ctl = BoundedServer(("127.0.0.1", args.control_port), ControlHandler, app, None, 16)
    port, cport = api.server_address[1], ctl.server_address[1]
    app.make_discovery(port)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                                daemon=True) for s in (api, ctl)]
    for t in threads:
        t.start()
    if args.control_port_file:
        write_port(args.control_port_file, cport)
    if args.port_file:
        write_port(args.port_file, port)
    app.log(f"{'https' if ctx else 'http'}://{args.address}:{port}, control "
            f"http://127.0.0.1:{cport}, " + ", ".join(
                f"{len(v)} {k}s" for k, v in app.store.objects.items())
            + f", resourceVersion {app.store.rv}")
    while not stop.wait(0.2):
        pass
    # Watches end cleanly (terminating chunk), then the listeners.
    app.store.to_watches("stop")
    end = time.monotonic() + 2
    while app.store.watches and time.monotonic() < end:
        time.sleep(0.05)
    for s in (api, ctl):
        s.shutdown()
        s.server_close()
    app.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
