#!/usr/bin/env python3
"""apistandin: a Kubernetes API server stand-in for running kaspr-operator without a cluster.

Standard library only. Plain HTTP on 127.0.0.1. It

- forwards custom resources, events, leases, CRDs, /version and the rest to crdserver (a real
  apiextensions-apiserver; https, read from its kubeconfig), streaming chunked responses (watches)
  chunk by chunk;
- serves itself, from memory, the core, apps and autoscaling kinds the operator uses: apps/v1
  StatefulSet, autoscaling/v2 HorizontalPodAutoscaler and v1 Service, ServiceAccount, ConfigMap,
  PersistentVolumeClaim, Pod, Secret: list, watch (with bookmarks, label/field selectors,
  timeoutSeconds, 410 for a too old resourceVersion), get, create, replace, server-side apply
  (one owner: top-level fields are replaced), merge patch, delete (with uid/resourceVersion
  preconditions), the status subresource, and metadata-only (PartialObjectMetadata) lists and
  watches;
- with --simulate, plays the StatefulSet controller and the kubelet: a StatefulSet whose spec
  changes gets its pods (Running, Ready, with an install report on the install-packages init
  container) and a rolled-out status after --sim-delay seconds; deleting it deletes its pods;
- records every request (user agent, method, path template, RBAC verb/group/resource) and dumps a
  summary as JSON on SIGTERM/SIGINT (to --calls-file) or at GET /_standin/calls
  (POST /_standin/calls/reset clears it).

    python3 apistandin.py --crd-kubeconfig target/standin-crdserver/kubeconfig \
        --port 0 --port-file target/standin.port --kubeconfig-out target/standin.kubeconfig \
        --calls-file target/standin-calls.json [--simulate]

Not a real API server: no admission, no defaulting, no garbage collection by ownerReferences
(except pods of a deleted StatefulSet under --simulate), apply does not track field ownership
(one manager is assumed), strategic merge patches are treated as JSON merge patches.
"""

import argparse
import base64
import bisect
import copy
import hashlib
import heapq
import http.client
import http.server
import json
import os
import queue
import re
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

# ---------------------------------------------------------------------------------------------
# The kinds served from memory.

# (group, resource) -> kind, namespaced, has status subresource, keeps generation
LOCAL = {
    ("", "services"): ("Service", True, True, False),
    ("", "serviceaccounts"): ("ServiceAccount", True, False, False),
    ("", "configmaps"): ("ConfigMap", True, False, False),
    ("", "persistentvolumeclaims"): ("PersistentVolumeClaim", True, True, False),
    ("", "pods"): ("Pod", True, True, True),
    ("", "secrets"): ("Secret", True, False, False),
    ("apps", "statefulsets"): ("StatefulSet", True, True, True),
    ("autoscaling", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", True, True, False),
    ("storage.k8s.io", "storageclasses"): ("StorageClass", False, False, False),
}
SHORT = {"services": ["svc"], "serviceaccounts": ["sa"], "configmaps": ["cm"],
         "persistentvolumeclaims": ["pvc"], "pods": ["po"], "statefulsets": ["sts"],
         "horizontalpodautoscalers": ["hpa"], "storageclasses": ["sc"]}
# The version served of each group served from memory.
VERSIONS = {"": "v1", "apps": "v1", "autoscaling": "v2", "storage.k8s.io": "v1"}
# Discovery paths answered here: /apis/<group> and /apis/<group>/<version> of those groups.
LOCAL_GROUP_PATHS = {f"/apis/{g}" for g in VERSIONS if g} | \
    {f"/apis/{g}/{v}" for g, v in VERSIONS.items() if g}
HISTORY_MAX = 500_000
META_ACCEPT = re.compile(r"as=PartialObjectMetadata(List)?\b")
SIM_AGENT = "apistandin-simulator"


def api_version(group):
    return f"{group}/{VERSIONS[group]}" if group else VERSIONS[group]


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def status_doc(code, reason, message, details=None):
    doc = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code}
    if details:
        doc["details"] = details
    return doc


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.doc = status_doc(code, reason, message, details)
        self.code = code


def not_found(group, resource, name):
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found',
                    {"name": name, "group": group, "kind": resource})


# ---------------------------------------------------------------------------------------------
# Selectors.

_SET_TERM = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def split_terms(selector):
    """Splits on commas outside parentheses."""
    terms, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        terms.append(cur)
    return [t.strip() for t in terms if t.strip()]


def parse_label_selector(selector):
    """A predicate on a labels dict; raises ApiError on a selector it cannot read."""
    checks = []
    for term in split_terms(selector or ""):
        m = _SET_TERM.match(term)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in":
                checks.append(lambda l, k=key, vs=values: l.get(k) in vs)
            else:
                checks.append(lambda l, k=key, vs=values: l.get(k) not in vs)
        elif "!=" in term:
            k, v = (x.strip() for x in term.split("!=", 1))
            checks.append(lambda l, k=k, v=v: l.get(k) != v)
        elif "==" in term or "=" in term:
            k, v = (x.strip() for x in re.split("==?", term, maxsplit=1))
            checks.append(lambda l, k=k, v=v: l.get(k) == v)
        elif term.startswith("!"):
            checks.append(lambda l, k=term[1:].strip(): k not in l)
        elif re.fullmatch(r"[A-Za-z0-9._/-]+", term):
            checks.append(lambda l, k=term: k in l)
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
    return lambda labels: all(c(labels or {}) for c in checks)


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return None if cur is None else str(cur)


def parse_field_selector(selector):
    checks = []
    for term in split_terms(selector or ""):
        if "!=" in term:
            k, v = term.split("!=", 1)
            checks.append(lambda o, k=k.strip(), v=v.strip(): field_value(o, k) != v)
        elif "=" in term:
            k, v = re.split("==?", term, maxsplit=1)
            checks.append(lambda o, k=k.strip(), v=v.strip(): (field_value(o, k) or "") == v)
        else:
            raise ApiError(400, "BadRequest", f"invalid field selector: {term!r}")
    return lambda obj: all(c(obj) for c in checks)


# ---------------------------------------------------------------------------------------------
# Merging.

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def comparable(obj):
    """The object without what the server changes on every write."""
    o = dict(obj)
    meta = dict(o.get("metadata") or {})
    for k in ("resourceVersion", "managedFields", "generation"):
        meta.pop(k, None)
    o["metadata"] = meta
    return o


def spec_part(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


# ---------------------------------------------------------------------------------------------
# The in-memory store with a change history for watches.

class Store:
    def __init__(self):
        self.lock = threading.Condition(threading.RLock())
        self.objects = {}  # (group, resource) -> {(ns, name): obj}
        for key in LOCAL:
            self.objects[key] = {}
        self.rv = 1000
        # history: parallel lists; events are (rv, (group, resource), type, old, new)
        self.hist = []
        self.hist_rvs = []
        self.hist_base = 0  # absolute index of hist[0]
        self.oldest_rv = self.rv  # a watch from an rv below this is too old
        self.listeners = []  # called (key, type, old, new) under the lock

    def next_rv(self):
        self.rv += 1
        return self.rv

    def _record(self, key, etype, old, new):
        rv = int((new or old)["metadata"]["resourceVersion"])
        self.hist.append((rv, key, etype, old, new))
        self.hist_rvs.append(rv)
        if len(self.hist) > HISTORY_MAX:
            drop = len(self.hist) - HISTORY_MAX + HISTORY_MAX // 10
            self.oldest_rv = self.hist_rvs[drop - 1]
            del self.hist[:drop]
            del self.hist_rvs[:drop]
            self.hist_base += drop
        for listener in self.listeners:
            listener(key, etype, old, new)
        self.lock.notify_all()

    def get(self, key, ns, name):
        with self.lock:
            return self.objects[key].get((ns, name))

    def list(self, key, ns=None):
        with self.lock:
            items = [o for (ons, _), o in self.objects[key].items() if ns is None or ons == ns]
            return items, str(self.rv)

    def write(self, key, ns, name, new, manager, operation, subresource=None, expect_rv=None):
        """Stores `new` (a full object) as (ns, name). Returns (obj, created). A write that
        changes nothing keeps the object and its resourceVersion and records no event."""
        group, resource = key
        kind, _namespaced, _has_status, keeps_generation = LOCAL[key]
        with self.lock:
            old = self.objects[key].get((ns, name))
            if expect_rv and old is not None and old["metadata"].get("resourceVersion") != expect_rv:
                raise ApiError(409, "Conflict",
                               f'Operation cannot be fulfilled on {resource} "{name}": the object '
                               "has been modified; please apply your changes to the latest version "
                               "and try again", {"name": name, "group": group, "kind": resource})
            obj = copy.deepcopy(new)
            obj["apiVersion"] = api_version(group)
            obj["kind"] = kind
            meta = obj.setdefault("metadata", {})
            meta["name"] = name
            meta["namespace"] = ns
            if old is None:
                meta["uid"] = str(uuid.uuid4())
                meta["creationTimestamp"] = now_iso()
                if keeps_generation:
                    meta["generation"] = 1
            else:
                om = old["metadata"]
                for k in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                    if k in om:
                        meta[k] = om[k]
                    else:
                        meta.pop(k, None)
                if comparable(obj) == comparable(old):
                    return old, False
                if keeps_generation and spec_part(obj) != spec_part(old):
                    meta["generation"] = int(om.get("generation", 1)) + 1
            fields = {"manager": manager, "operation": operation, "apiVersion": api_version(group),
                      "time": now_iso(), "fieldsType": "FieldsV1", "fieldsV1": {}}
            if subresource:
                fields["subresource"] = subresource
            managed = [m for m in (old or {}).get("metadata", {}).get("managedFields", [])
                       if not (m.get("manager") == manager and m.get("subresource") == subresource)]
            meta["managedFields"] = managed + [fields]
            meta["resourceVersion"] = str(self.next_rv())
            self.objects[key][(ns, name)] = obj
            self._record(key, "ADDED" if old is None else "MODIFIED", old, obj)
            return obj, old is None

    def delete(self, key, ns, name, uid=None, rv=None):
        group, resource = key
        with self.lock:
            old = self.objects[key].get((ns, name))
            if old is None:
                raise not_found(group, resource, name)
            if uid and old["metadata"].get("uid") != uid:
                raise ApiError(409, "Conflict",
                               f"Precondition failed: UID in precondition: {uid}, UID in object "
                               f"meta: {old['metadata'].get('uid')}",
                               {"name": name, "group": group, "kind": resource})
            if rv and old["metadata"].get("resourceVersion") != rv:
                raise ApiError(409, "Conflict",
                               f"Precondition failed: ResourceVersion in precondition: {rv}, "
                               f"ResourceVersion in object meta: "
                               f"{old['metadata'].get('resourceVersion')}",
                               {"name": name, "group": group, "kind": resource})
            del self.objects[key][(ns, name)]
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self.next_rv())
            gone["metadata"]["deletionTimestamp"] = now_iso()
            self._record(key, "DELETED", old, gone)
            return gone

    def position(self, rv):
        """Absolute history index of the first event after rv, or None when rv is too old."""
        if rv < self.oldest_rv:
            return None
        return self.hist_base + bisect.bisect_right(self.hist_rvs, rv)

    def events_from(self, pos):
        start = max(pos - self.hist_base, 0)
        return self.hist[start:], self.hist_base + len(self.hist)


# ---------------------------------------------------------------------------------------------
# Request log.

class Calls:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.started = time.time()
            self.counts = {}  # (agent, method, route, verb, group, resource, sub, namespaced) -> n

    def add(self, agent, method, route, verb, group, resource, sub, namespaced):
        key = (agent, method, route, verb, group, resource, sub, namespaced)
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def summary(self):
        with self.lock:
            counts = dict(self.counts)
            started = self.started
        by_agent, by_summary, routes, rbac, total = {}, {}, {}, {}, 0
        for (agent, method, route, verb, group, resource, sub, namespaced), n in counts.items():
            total += n
            name = resource + (f"/{sub}" if sub else "")
            summary = f"{verb} {name}"
            by_summary[summary] = by_summary.get(summary, 0) + n
            a = by_agent.setdefault(agent, {"total": 0, "by_summary": {}})
            a["total"] += n
            a["by_summary"][summary] = a["by_summary"].get(summary, 0) + n
            r = f"{method} {route}"
            routes[r] = routes.get(r, 0) + n
            rk = (verb, group, name, namespaced)
            entry = rbac.setdefault(rk, {"verb": verb, "apiGroup": group, "resource": resource,
                                         "subresource": sub, "namespaced": namespaced,
                                         "count": 0, "agents": {}})
            entry["count"] += n
            entry["agents"][agent] = entry["agents"].get(agent, 0) + n
        return {
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "seconds": round(time.time() - started, 3),
            "total": total,
            "by_summary": dict(sorted(by_summary.items())),
            "by_agent": {a: {"total": v["total"], "by_summary": dict(sorted(v["by_summary"].items()))}
                         for a, v in sorted(by_agent.items())},
            "routes": dict(sorted(routes.items())),
            "rbac": sorted(rbac.values(), key=lambda e: (e["apiGroup"], e["resource"],
                                                         e["subresource"] or "", e["verb"])),
        }


def classify(method, path, query):
    """(route template, RBAC verb, group, resource, subresource, namespaced) of a request."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest, prefix = "", parts[2:], "/api/" + parts[1]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest, prefix = parts[1], parts[3:], f"/apis/{parts[1]}/{parts[2]}"
    else:
        return path, method.lower(), "", path, None, False
    if not rest:
        return path, method.lower(), "", path, None, False
    watch_path = rest[0] == "watch"
    if watch_path:
        rest = rest[1:]
    namespaced = False
    route = [prefix] + (["watch"] if watch_path else [])
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespaced = True
        route += ["namespaces", "{namespace}"]
        rest = rest[2:]
    if not rest:  # a namespace itself
        return "/".join(route[:-2] + ["namespaces", "{name}"]), verb_of(method, True, query), \
            group, "namespaces", None, False
    resource, name, sub = rest[0], rest[1] if len(rest) > 1 else None, \
        "/".join(rest[2:]) or None
    route.append(resource)
    if name:
        route.append("{name}")
    if sub:
        route.append(sub)
    verb = "watch" if watch_path else verb_of(method, name is not None, query)
    return "/".join(route), verb, group, resource, sub, namespaced


def verb_of(method, named, query):
    if method == "GET":
        if query.get("watch", [""])[0] in ("true", "1"):
            return "watch"
        return "get" if named else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete" if named else "deletecollection"}.get(method, method.lower())


# ---------------------------------------------------------------------------------------------
# The upstream (crdserver).

def read_kubeconfig(path):
    """Server, TLS and token of the current context of a kubeconfig; tolerant of flow style.
    Takes the first cluster and user (crdserver writes one of each)."""
    text = open(path).read()

    def field(name):
        m = re.search(r"(?<![\w-])" + re.escape(name) + r"\s*:\s*\"?([^\",}\s]+)\"?", text)
        return m.group(1) if m else None

    base = os.path.dirname(os.path.abspath(path))

    def file_field(name):
        v = field(name)
        return v if v is None or os.path.isabs(v) else os.path.join(base, v)

    return {
        "server": field("server"),
        "insecure": (field("insecure-skip-tls-verify") or "").lower() == "true",
        "ca_data": field("certificate-authority-data"),
        "ca_file": file_field("certificate-authority"),
        "cert_data": field("client-certificate-data"),
        "cert_file": file_field("client-certificate"),
        "key_data": field("client-key-data"),
        "key_file": file_field("client-key"),
        "token": field("token"),
    }


class Upstream:
    HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
           "trailers", "transfer-encoding", "upgrade", "host", "content-length",
           "accept-encoding"}

    def __init__(self, kubeconfig):
        cfg = read_kubeconfig(kubeconfig)
        if not cfg["server"]:
            raise SystemExit(f"no server in {kubeconfig}")
        url = urllib.parse.urlsplit(cfg["server"])
        self.https = url.scheme == "https"
        self.host, self.port = url.hostname, url.port or (443 if self.https else 80)
        self.token = cfg["token"]
        self.ctx = None
        if self.https:
            ctx = ssl.create_default_context()
            if cfg["insecure"]:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif cfg["ca_data"]:
                ctx.load_verify_locations(cadata=base64.b64decode(cfg["ca_data"]).decode())
            elif cfg["ca_file"]:
                ctx.load_verify_locations(cafile=cfg["ca_file"])
            cert, key = cfg["cert_file"], cfg["key_file"]
            tmp = []
            if cfg["cert_data"]:
                for data in (cfg["cert_data"], cfg["key_data"]):
                    f = tempfile.NamedTemporaryFile("wb", delete=False, suffix=".pem")
                    f.write(base64.b64decode(data))
                    f.close()
                    tmp.append(f.name)
                cert, key = tmp
            if cert:
                ctx.load_cert_chain(cert, key)
            for name in tmp:
                os.unlink(name)
            self.ctx = ctx
        self.pool = queue.LifoQueue()

    def connect(self, timeout=None):
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                               timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def headers(self, incoming):
        out = {k: v for k, v in incoming.items() if k.lower() not in self.HOP}
        if self.token and "authorization" not in {k.lower() for k in out}:
            out["Authorization"] = f"Bearer {self.token}"
        return out

    def open(self, method, target, body, headers, streaming):
        """Sends the request; returns (connection, response, pooled)."""
        for attempt in range(2):
            pooled = False
            if streaming:
                conn = self.connect()
            else:
                try:
                    conn, pooled = self.pool.get_nowait(), True
                except queue.Empty:
                    conn = self.connect(timeout=120)
            try:
                conn.request(method, target, body=body, headers=headers)
                return conn, conn.getresponse(), pooled
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest):
                conn.close()
                if not pooled or attempt:
                    raise

    def release(self, conn, resp):
        if resp.will_close or resp.isclosed() is False:
            conn.close()
        else:
            self.pool.put(conn)


# ---------------------------------------------------------------------------------------------
# The simulator: StatefulSet controller and kubelet.

class Simulator:
    def __init__(self, store, delay):
        self.store = store
        self.delay = delay
        self.heap = []
        self.seq = 0
        self.cond = threading.Condition()
        store.listeners.append(self.on_change)
        threading.Thread(target=self.loop, name="simulator", daemon=True).start()

    def on_change(self, key, etype, old, new):
        if key != ("apps", "statefulsets"):
            return
        ns, name = new["metadata"]["namespace"], new["metadata"]["name"]
        if etype == "DELETED":
            self.schedule(0, ("delete", ns, name))
        elif old is None or spec_part(old) != spec_part(new):
            self.schedule(self.delay, ("rollout", ns, name))

    def schedule(self, delay, job):
        with self.cond:
            self.seq += 1
            heapq.heappush(self.heap, (time.monotonic() + delay, self.seq, job))
            self.cond.notify()

    def loop(self):
        while True:
            with self.cond:
                while not self.heap or self.heap[0][0] > time.monotonic():
                    self.cond.wait(None if not self.heap else self.heap[0][0] - time.monotonic())
                _, _, job = heapq.heappop(self.heap)
            try:
                if job[0] == "rollout":
                    self.rollout(job[1], job[2])
                else:
                    self.delete_pods(job[1], job[2], keep=0)
            except Exception as e:  # a simulator bug must not stop the server
                print(f"apistandin: simulator: {job}: {e!r}", file=sys.stderr, flush=True)

    def pods_of(self, ns, name):
        items, _ = self.store.list(("", "pods"), ns)
        owned = []
        for p in items:
            for ref in p["metadata"].get("ownerReferences", []):
                if ref.get("kind") == "StatefulSet" and ref.get("name") == name:
                    owned.append(p)
        return owned

    def delete_pods(self, ns, name, keep):
        for p in self.pods_of(ns, name):
            pname = p["metadata"]["name"]
            idx = pname.rsplit("-", 1)[-1]
            if not idx.isdigit() or int(idx) >= keep:
                try:
                    self.store.delete(("", "pods"), ns, pname)
                except ApiError:
                    pass

    def rollout(self, ns, name):
        key = ("apps", "statefulsets")
        sts = self.store.get(key, ns, name)
        if sts is None:
            return
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        revision = f"{name}-" + hashlib.sha256(
            json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        for i in range(replicas):
            pod_name = f"{name}-{i}"
            current = self.store.get(("", "pods"), ns, pod_name)
            if current and current["metadata"].get("labels", {}).get(
                    "controller-revision-hash") == revision:
                continue
            pod = self.make_pod(sts, template, pod_name, revision)
            if current is not None:  # a real rollout deletes the old pod and creates a new one
                try:
                    self.store.delete(("", "pods"), ns, pod_name)
                except ApiError:
                    pass
            self.store.write(("", "pods"), ns, pod_name, pod, "kube-controller-manager", "Update")
        self.delete_pods(ns, name, keep=replicas)
        with self.store.lock:  # no write may come between this read and the status write
            latest = self.store.get(key, ns, name)
            if latest is None or spec_part(latest) != spec_part(sts):
                return  # changed meanwhile: its own rollout is scheduled
            obj = copy.deepcopy(latest)
            obj["status"] = {
                "observedGeneration": sts["metadata"].get("generation", 1),
                "replicas": replicas, "readyReplicas": replicas, "currentReplicas": replicas,
                "updatedReplicas": replicas, "availableReplicas": replicas,
                "currentRevision": revision, "updateRevision": revision, "collisionCount": 0,
            }
            self.store.write(key, ns, name, obj, "kube-controller-manager", "Update", "status")

    @staticmethod
    def make_pod(sts, template, pod_name, revision):
        tmeta = template.get("metadata") or {}
        pspec = copy.deepcopy(template.get("spec") or {})
        pspec.setdefault("nodeName", "standin-node")
        pspec.setdefault("hostname", pod_name)
        pspec.setdefault("subdomain", (sts.get("spec") or {}).get("serviceName", ""))
        labels = dict(tmeta.get("labels") or {})
        labels.update({"controller-revision-hash": revision,
                       "statefulset.kubernetes.io/pod-name": pod_name,
                       "apps.kubernetes.io/pod-index": pod_name.rsplit("-", 1)[-1]})
        t = now_iso()
        init_statuses = []
        for c in pspec.get("initContainers", []):
            env = {e.get("name"): e.get("value") for e in c.get("env", []) if "value" in e}
            terminated = {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}
            if c.get("name") == "install-packages":
                packages = [p.strip() for p in (env.get("PACKAGES") or "").splitlines() if p.strip()]
                first = pod_name.endswith("-0")
                report = {
                    "v": 1, "result": "installed" if first else "cached",
                    "hash": env.get("PACKAGES_HASH", ""), "pythonTag": "cp311",
                    "abiTag": "cpython-311-x86_64-linux-gnu", "installer": "pip",
                    "pod": pod_name, "startedAt": t, "finishedAt": t,
                    "durationSeconds": 1.0 if first else 0.01, "attempts": 1 if first else 0,
                    "installedBy": pod_name.rsplit("-", 1)[0] + "-0", "installedAt": t,
                    "installDurationSeconds": 1.0, "installed": packages,
                    "envBytes": 1048576,
                    "cache": {"totalBytes": 1073741824, "usedBytes": 1048576,
                              "availableBytes": 1072693248},
                    "warnings": [],
                }
                terminated["message"] = json.dumps(report, separators=(",", ":"))
            init_statuses.append({"name": c.get("name"), "image": c.get("image", ""),
                                  "imageID": "", "ready": True, "restartCount": 0,
                                  "started": False, "state": {"terminated": terminated}})
        statuses = [{"name": c.get("name"), "image": c.get("image", ""), "imageID": "",
                     "ready": True, "restartCount": 0, "started": True,
                     "state": {"running": {"startedAt": t}}}
                    for c in pspec.get("containers", [])]
        pod = {
            "metadata": {
                "name": pod_name, "labels": labels,
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                     "name": sts["metadata"]["name"],
                                     "uid": sts["metadata"]["uid"], "controller": True,
                                     "blockOwnerDeletion": True}],
            },
            "spec": pspec,
            "status": {
                "phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.1.0.1", "startTime": t,
                "qosClass": "BestEffort",
                "conditions": [{"type": k, "status": "True", "lastTransitionTime": t}
                               for k in ("PodScheduled", "Initialized", "ContainersReady",
                                         "Ready")],
                "initContainerStatuses": init_statuses,
                "containerStatuses": statuses,
            },
        }
        if not init_statuses:
            del pod["status"]["initContainerStatuses"]
        return pod


# ---------------------------------------------------------------------------------------------
# HTTP.

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body in one write; flushed after each request and chunk
    server_version = "apistandin"
    store: Store = None
    calls: Calls = None
    upstream: Upstream = None
    bookmark_interval = 15.0
    verbose = False
    write_delay = 0.0
    watch_delay = 0.0

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("apistandin: %s %s\n" % (self.address_string(), fmt % args))

    # --- plumbing ---

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_json(self, code, doc, extra_headers=None):
        body = json.dumps(doc, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def start_chunked(self, code=200, content_type="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def send_response(self, code, message=None):
        self._responded = True
        super().send_response(code, message)

    def agent(self):
        ua = (self.headers.get("User-Agent") or "").strip()  # kube-rs sends none
        return (ua.split()[0].split("/")[0] if ua else "") or "no-user-agent"

    # --- dispatch ---

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        self._body = self.read_body()
        self._responded = False
        try:
            if path.startswith("/_standin"):
                return self.internal(path)
            route, verb, group, resource, sub, namespaced = classify(self.command, path, query)
            self.calls.add(self.agent(), self.command, route, verb, group, resource, sub,
                           namespaced)
            if self.write_delay and self.command not in ("GET", "HEAD"):
                time.sleep(self.write_delay)
            local = self.local_target(path)
            if local is not None:
                return self.serve_local(local, query)
            if path in ("/api", "/apis", "/api/v1") or path in LOCAL_GROUP_PATHS:
                return self.discovery(path)
            if path.startswith("/api/") or any(path.startswith(f"/apis/{g}/")
                                               for g in VERSIONS if g):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self.forward(url)
        except ApiError as e:
            if self._responded:  # mid-stream: nothing else can be said
                self.close_connection = True
            else:
                self.send_json(e.code, e.doc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:
            import traceback
            traceback.print_exc()
            if self._responded:
                self.close_connection = True
                return
            try:
                self.send_json(500, status_doc(500, "InternalError", f"apistandin: {e!r}"))
            except OSError:
                self.close_connection = True

    def body(self):
        return self._body

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def internal(self, path):
        if path == "/_standin/calls" and self.command == "GET":
            return self.send_json(200, self.calls.summary())
        if path == "/_standin/calls/reset" and self.command == "POST":
            doc = self.calls.summary()
            self.calls.reset()
            return self.send_json(200, doc)
        if path == "/_standin/healthz":
            return self.send_json(200, {"ok": True, "resourceVersion": self.store.rv})
        if path == "/_standin/objects" and self.command == "GET":
            with self.store.lock:
                counts = {f"{g}/{r}" if g else r: len(v) for (g, r), v in self.store.objects.items()}
            return self.send_json(200, counts)
        raise ApiError(404, "NotFound", f"no {path}")

    # --- discovery ---

    def discovery(self, path):
        if path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [
                                            {"clientCIDR": "0.0.0.0/0",
                                             "serverAddress": "127.0.0.1"}]})
        if path == "/api/v1" or path.count("/") == 3:  # /api/v1, /apis/<group>/<version>
            group = "" if path == "/api/v1" else path.split("/")[2]
            resources = []
            for (g, r), (kind, namespaced, has_status, _) in LOCAL.items():
                if g != group:
                    continue
                verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
                resources.append({"name": r, "singularName": kind.lower(),
                                  "namespaced": namespaced, "kind": kind, "verbs": verbs,
                                  "shortNames": SHORT.get(r, [])})
                if has_status:
                    resources.append({"name": f"{r}/status", "singularName": "",
                                      "namespaced": namespaced, "kind": kind,
                                      "verbs": ["get", "patch", "update"]})
            return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                        "groupVersion": api_version(group),
                                        "resources": resources})
        local = [{"name": g, "versions": [{"groupVersion": api_version(g), "version": v}],
                  "preferredVersion": {"groupVersion": api_version(g), "version": v}}
                 for g, v in VERSIONS.items() if g]
        if path in LOCAL_GROUP_PATHS:  # /apis/<group>
            group = next(g for g in local if g["name"] == path.split("/")[2])
            return self.send_json(200, dict(kind="APIGroup", apiVersion="v1", **group))
        # /apis: crdserver's groups plus the local ones, in the legacy (not aggregated) format.
        conn, resp, _ = self.upstream.open("GET", "/apis", None,
                                           self.upstream.headers({"Accept": "application/json"}),
                                           False)
        data = resp.read()
        self.upstream.release(conn, resp)
        doc = json.loads(data) if resp.status == 200 else {"kind": "APIGroupList", "groups": []}
        doc.setdefault("apiVersion", "v1")
        names = {g["name"] for g in local}
        groups = local + [g for g in doc.get("groups", []) if g.get("name") not in names]
        # apiextensions-apiserver alone (no aggregator) leaves the CRDs' groups out of /apis.
        conn, resp, _ = self.upstream.open(
            "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", None,
            self.upstream.headers({"Accept": "application/json"}), False)
        data = resp.read()
        self.upstream.release(conn, resp)
        crds = json.loads(data).get("items", []) if resp.status == 200 else []
        known = {g["name"]: g for g in groups}
        for crd in crds:
            spec = crd.get("spec") or {}
            versions = [v["name"] for v in spec.get("versions", []) if v.get("served")]
            group = spec.get("group")
            if not group or not versions:
                continue
            g = known.get(group)
            if g is None:
                g = known[group] = {"name": group, "versions": []}
                groups.append(g)
            for v in versions:
                gv = {"groupVersion": f"{group}/{v}", "version": v}
                if gv not in g["versions"]:
                    g["versions"].append(gv)
            g.setdefault("preferredVersion", g["versions"][0])
        doc["groups"] = groups
        return self.send_json(200, doc)

    # --- forwarding ---

    def forward(self, url):
        body = self.body() or None
        target = url.path + (f"?{url.query}" if url.query else "")
        query = urllib.parse.parse_qs(url.query)
        streaming = query.get("watch", [""])[0] in ("true", "1") or "/watch/" in url.path
        headers = self.upstream.headers(self.headers)
        if body is not None:
            headers["Content-Length"] = str(len(body))
        try:
            conn, resp, _ = self.upstream.open(self.command, target, body, headers, streaming)
        except OSError as e:
            raise ApiError(503, "ServiceUnavailable", f"apistandin: crdserver unreachable: {e}")
        try:
            self.send_response(resp.status, resp.reason)
            chunked = resp.getheader("Transfer-Encoding", "").lower() == "chunked" or (
                resp.getheader("Content-Length") is None and self.command != "HEAD"
                and resp.status not in (204, 304))
            for k, v in resp.getheaders():
                if k.lower() not in Upstream.HOP and k.lower() not in ("date", "server"):
                    self.send_header(k, v)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                for data in self.upstream_chunks(resp, streaming):
                    self.write_chunk(data)
                self.end_chunked()
                conn.close() if streaming else self.upstream.release(conn, resp)
            else:
                data = resp.read()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                self.upstream.release(conn, resp)
        except BaseException:
            conn.close()
            raise

    def upstream_chunks(self, resp, streaming):
        """The response's data as it arrives; a watch's held back by --watch-delay."""
        if not (streaming and self.watch_delay):
            while True:
                data = resp.read1(65536)
                if not data:
                    return
                yield data
        pending = queue.Queue()

        def read():
            try:
                while True:
                    data = resp.read1(65536)
                    pending.put((time.monotonic() + self.watch_delay, data))
                    if not data:
                        return
            except OSError:
                pending.put((0, b""))

        threading.Thread(target=read, daemon=True).start()
        while True:
            due, data = pending.get()
            time.sleep(max(0.0, due - time.monotonic()))
            if not data:
                return
            yield data

    # --- local kinds ---

    def local_target(self, path):
        """(key, namespace, name, subresource, watch_path) for a path served locally."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, rest = "", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis" and parts[1] and \
                VERSIONS.get(parts[1]) == parts[2]:
            group, rest = parts[1], parts[3:]
        else:
            return None
        watch_path = bool(rest) and rest[0] == "watch"
        if watch_path:
            rest = rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or (group, rest[0]) not in LOCAL or len(rest) > 3:
            return None
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub not in (None, "status"):
            return None
        return (group, rest[0]), ns, name, sub, watch_path

    def serve_local(self, target, query):
        key, ns, name, sub, watch_path = target
        group, resource = key
        method = self.command
        q = {k: v[0] for k, v in query.items()}
        metadata_only = bool(META_ACCEPT.search(self.headers.get("Accept", "")))
        if sub == "status" and not LOCAL[key][2]:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if name is None:
            if method == "GET" and (watch_path or q.get("watch") in ("true", "1")):
                return self.watch(key, ns, q, metadata_only)
            if method == "GET":
                return self.list(key, ns, q, metadata_only)
            if method == "POST":
                if ns is None:
                    raise ApiError(405, "MethodNotAllowed", "create needs a namespace")
                obj = self.json_body()
                obj_name = (obj.get("metadata") or {}).get("name")
                if not obj_name and (obj.get("metadata") or {}).get("generateName"):
                    obj_name = obj["metadata"]["generateName"] + uuid.uuid4().hex[:5]
                if not obj_name:
                    raise ApiError(422, "Invalid", "metadata.name: Required value")
                if self.store.get(key, ns, obj_name) is not None:
                    raise ApiError(409, "AlreadyExists",
                                   f'{resource} "{obj_name}" already exists',
                                   {"name": obj_name, "group": group, "kind": resource})
                if q.get("dryRun"):
                    return self.send_json(201, obj)
                obj = self.strip_status(key, obj)
                stored, _ = self.store.write(key, ns, obj_name, obj,
                                             q.get("fieldManager") or self.agent(), "Update")
                return self.send_json(201, self.shape(stored, metadata_only))
            raise ApiError(405, "MethodNotAllowed", f"{method} on a collection is not supported")
        if ns is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method == "GET":
            obj = self.store.get(key, ns, name)
            if obj is None:
                raise not_found(group, resource, name)
            return self.send_json(200, self.shape(obj, metadata_only))
        if method == "DELETE":
            opts = self.json_body(allow_empty=True)
            pre = opts.get("preconditions") or {}
            gone = self.store.delete(key, ns, name, pre.get("uid"), pre.get("resourceVersion"))
            return self.send_json(200, self.shape(gone, metadata_only))
        if method in ("PUT", "PATCH"):
            return self.write(key, ns, name, sub, q, metadata_only)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")

    def json_body(self, allow_empty=False):
        raw = self.body()
        if not raw.strip():
            if allow_empty:
                return {}
            raise ApiError(400, "BadRequest", "empty body")
        try:
            doc = json.loads(raw)
        except ValueError:
            raise ApiError(415, "UnsupportedMediaType",
                           "apistandin reads JSON bodies only (YAML is not supported)")
        if not isinstance(doc, dict):
            raise ApiError(400, "BadRequest", "the body is not an object")
        return doc

    @staticmethod
    def strip_status(key, obj):
        if LOCAL[key][2]:
            obj = dict(obj)
            obj.pop("status", None)
        return obj

    def write(self, key, ns, name, sub, q, metadata_only):
        # Read, combine and store under the store's lock: a write between the read and the store
        # (the simulator's status) would otherwise be lost.
        with self.store.lock:
            code, doc = self.combine_and_store(key, ns, name, sub, q, metadata_only)
        return self.send_json(code, doc)

    def combine_and_store(self, key, ns, name, sub, q, metadata_only):
        """(code, response object) of a PUT or PATCH."""
        group, resource = key
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        body = self.json_body()
        manager = q.get("fieldManager") or self.agent()
        old = self.store.get(key, ns, name)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise ApiError(400, "BadRequest",
                           f"the name of the object ({body_name}) does not match the name on the "
                           f"URL ({name})")
        expect_rv = None
        if self.command == "PUT":
            operation = "Update"
            if old is None and sub:
                raise not_found(group, resource, name)
            expect_rv = (body.get("metadata") or {}).get("resourceVersion")
            new = self.combine(key, old, body, sub, replace=True)
        elif ctype == "application/apply-patch+yaml":
            operation = "Apply"
            if not q.get("fieldManager"):
                raise ApiError(400, "BadRequest", "PATCH with apply needs a fieldManager")
            if old is None and sub:
                raise not_found(group, resource, name)
            if old is not None and old["metadata"].get("managedFields") and \
                    q.get("force") not in ("true", "1"):
                owners = {m.get("manager") for m in old["metadata"]["managedFields"]
                          if m.get("operation") == "Apply" and m.get("subresource") == sub}
                if owners - {manager}:
                    raise ApiError(409, "Conflict",
                                   f"Apply failed with conflicts with {sorted(owners)} "
                                   "(apistandin: use force=true)")
            new = self.combine(key, old, body, sub, replace=False)
        elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            operation = "Update"
            if old is None:
                raise not_found(group, resource, name)
            if sub:
                new = copy.deepcopy(old)
                new["status"] = merge_patch(old.get("status"), body.get("status") or {})
            else:
                new = merge_patch(old, {k: v for k, v in body.items()
                                        if not (k == "status" and LOCAL[key][2])})
            expect_rv = (body.get("metadata") or {}).get("resourceVersion")
        else:
            raise ApiError(415, "UnsupportedMediaType",
                           f"apistandin: unsupported patch type {ctype!r}")
        if q.get("dryRun"):
            return 200, self.shape(new, metadata_only)
        stored, created = self.store.write(key, ns, name, new, manager, operation, sub, expect_rv)
        return 201 if created else 200, self.shape(stored, metadata_only)

    @staticmethod
    def combine(key, old, body, sub, replace):
        """The new object: for the status subresource, the old one with the body's status; else
        the body's fields (labels, annotations, ownerReferences, finalizers and every top-level
        field but status) over the old object (apply), or the body itself with the old status
        (replace)."""
        has_status = LOCAL[key][2]
        if sub == "status":
            new = copy.deepcopy(old)
            new["status"] = copy.deepcopy(body.get("status") or {})
            return new
        if replace or old is None:
            new = copy.deepcopy(body)
            if has_status:
                new.pop("status", None)
                if old is not None and "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
            return new
        new = copy.deepcopy(old)
        for k, v in body.items():
            if k in ("apiVersion", "kind"):
                continue
            if k == "metadata":
                meta = new.setdefault("metadata", {})
                for mk in ("labels", "annotations", "ownerReferences", "finalizers"):
                    if mk in v:
                        meta[mk] = copy.deepcopy(v[mk])
                continue
            if k == "status" and has_status:
                continue
            new[k] = copy.deepcopy(v)
        return new

    @staticmethod
    def shape(obj, metadata_only):
        if not metadata_only:
            return obj
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"]}

    def selectors(self, q):
        labels = parse_label_selector(q.get("labelSelector"))
        fields = parse_field_selector(q.get("fieldSelector"))
        return lambda obj: labels(obj["metadata"].get("labels")) and fields(obj)

    def list(self, key, ns, q, metadata_only):
        match = self.selectors(q)
        items, rv = self.store.list(key, ns)
        items = sorted((o for o in items if match(o)),
                       key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
        kind = LOCAL[key][0]
        if metadata_only:
            doc = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                   "metadata": {"resourceVersion": rv},
                   "items": [self.shape(o, True) for o in items]}
        else:
            doc = {"kind": f"{kind}List", "apiVersion": api_version(key[0]),
                   "metadata": {"resourceVersion": rv}, "items": items}
        self.send_json(200, doc)

    def watch(self, key, ns, q, metadata_only):
        match = self.selectors(q)
        timeout = float(q.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        initial = q.get("sendInitialEvents") in ("true", "1")
        rv_param = q.get("resourceVersion") or ""
        kind = LOCAL[key][0]
        bm_kind, bm_version = (("PartialObjectMetadata", "meta.k8s.io/v1") if metadata_only
                               else (kind, api_version(key[0])))

        def line(etype, obj):
            return json.dumps({"type": etype, "object": self.shape(obj, metadata_only)},
                              separators=(",", ":")).encode() + b"\n"

        def bookmark(rv, annotations=None):
            meta = {"resourceVersion": str(rv)}
            if annotations:
                meta["annotations"] = annotations
            return json.dumps({"type": "BOOKMARK", "object": {
                "kind": bm_kind, "apiVersion": bm_version, "metadata": meta}},
                separators=(",", ":")).encode() + b"\n"

        out = []
        with self.store.lock:
            if rv_param in ("", "0") or initial:
                items, _ = self.store.list(key, ns)
                for o in sorted(items, key=lambda o: (o["metadata"]["namespace"],
                                                      o["metadata"]["name"])):
                    if match(o):
                        out.append(line("ADDED", o))
                start_rv = self.store.rv
                if initial and bookmarks:
                    out.append(bookmark(start_rv, {"k8s.io/initial-events-end": "true"}))
            else:
                try:
                    start_rv = int(rv_param)
                except ValueError:
                    raise ApiError(400, "BadRequest", f"invalid resourceVersion {rv_param!r}")
            pos = self.store.position(start_rv)
        self.start_chunked()
        if pos is None:
            self.write_chunk(json.dumps({"type": "ERROR", "object": status_doc(
                410, "Expired", f"too old resource version: {start_rv} "
                f"({self.store.oldest_rv})")}).encode() + b"\n")
            return self.end_chunked()
        if out:
            self.write_chunk(b"".join(out))
        next_bookmark = time.monotonic() + self.bookmark_interval
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            with self.store.lock:
                events, end = self.store.events_from(pos)
                if pos == end:
                    wait = min(deadline, next_bookmark if bookmarks else deadline) - now
                    self.store.lock.wait(max(wait, 0.01))
                    events, end = self.store.events_from(pos)
                current_rv = self.store.rv
            pos = end
            out = []
            for rv, ekey, etype, old, new in events:
                if ekey != key:
                    continue
                obj = new
                if ns is not None and obj["metadata"]["namespace"] != ns:
                    continue
                now_match = etype != "DELETED" and match(new)
                was_match = old is not None and match(old)
                if etype == "DELETED":
                    if was_match:
                        out.append(line("DELETED", new))
                elif now_match and was_match:
                    out.append(line("MODIFIED", new))
                elif now_match:
                    out.append(line("ADDED", new))
                elif was_match:  # left the selection
                    out.append(line("DELETED", new))
            if out:
                self.write_chunk(b"".join(out))
            if bookmarks and time.monotonic() >= next_bookmark:
                self.write_chunk(bookmark(current_rv))
                next_bookmark = time.monotonic() + self.bookmark_interval
        self.end_chunked()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client went away (a watch it dropped, a timeout)
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crd-kubeconfig", required=True,
                    help="kubeconfig of crdserver (what `crdserver/start DIR` printed)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: any free port")
    ap.add_argument("--port-file", help="write the chosen port here")
    ap.add_argument("--kubeconfig-out", help="write a kubeconfig for this stand-in here")
    ap.add_argument("--calls-file", help="dump the request summary here on SIGTERM/SIGINT")
    ap.add_argument("--simulate", action="store_true",
                    help="play the StatefulSet controller and kubelet (pods, rolled-out status)")
    ap.add_argument("--sim-delay", type=float, default=0.5,
                    help="seconds from a StatefulSet change to its pods and status")
    ap.add_argument("--bookmark-interval", type=float, default=15.0)
    ap.add_argument("--write-delay", type=float, default=0.0,
                    help="seconds to hold every write (POST/PUT/PATCH/DELETE) before serving it: "
                         "a slow API server")
    ap.add_argument("--watch-delay", type=float, default=0.0,
                    help="seconds by which forwarded watch events (KasprApps, ...) reach the "
                         "client late: a watch lagging behind the writes")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = ap.parse_args()

    store = Store()
    calls = Calls()
    Handler.store, Handler.calls = store, calls
    Handler.upstream = Upstream(args.crd_kubeconfig)
    Handler.bookmark_interval = args.bookmark_interval
    Handler.verbose = args.verbose
    Handler.write_delay = args.write_delay
    Handler.watch_delay = args.watch_delay
    if args.simulate:
        Simulator(store, args.sim_delay)
    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]
    if args.kubeconfig_out:
        write_atomic(args.kubeconfig_out, kubeconfig_text(args.host, port))
    if args.port_file:
        write_atomic(args.port_file, f"{port}\n")
    print(f"apistandin listening on http://{args.host}:{port}", flush=True)

    def stop(signum, _frame):
        if args.calls_file:
            write_atomic(args.calls_file, json.dumps(calls.summary(), indent=1) + "\n")
        print(f"apistandin: signal {signum}, stopping", file=sys.stderr, flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    import faulthandler
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1: thread stacks to stderr
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # open watches are daemon threads; do not wait for them


def kubeconfig_text(host, port):
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: standin\n  cluster:\n    server: http://{host}:{port}\n"
        "users:\n- name: standin\n  user: {}\n"
        "contexts:\n- name: standin\n  context:\n    cluster: standin\n    user: standin\n"
        "    namespace: default\n"
        "current-context: standin\n")


def write_atomic(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
