#!/usr/bin/env python3
"""load1000: create N KasprApps through apistandin and measure the operator.

Standard library only. Creates N KasprApps (server-side apply) spread over a few namespaces, half
of them with `pythonPackages` (one package), watches them until every one is reconciled, and
prints one JSON object:

- seconds from the first create to every app reconciled, and apps/s;
- the operator's RSS (VmRSS, VmHWM from /proc/PID/status, every 0.5 s): idle before the
  creates, peak while reconciling, steady after;
- requests the stand-in saw during the run, by `verb resource` and by resource (the load's own
  requests left out), and, with --metrics, the operator's reconcile counters;
- signs of trouble: apps that showed Ready reason ReadFailed, status writes per app, status
  writes after everything was reconciled, requests in the steady window (after a settle time
  for the tail of reconciles): a loop shows there.

An app counts as reconciled when its status.observedGeneration equals metadata.generation and
its Ready condition (for that generation) has a reason other than ReadFailed; with --want ready,
only when Ready is True (needs apistandin --simulate).

    python3 load1000.py --url http://127.0.0.1:PORT --pid OPERATOR_PID \
        [-n 1000] [--namespaces 4] [--metrics http://127.0.0.1:8080/metrics] [--want ready]
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse

AGENT = "load1000"
GROUP_PATH = "/apis/kaspr.io/v1alpha1"
BENCH_LABEL = "kaspr.io/load-bench"


class Client:
    """A keep-alive JSON client for one thread."""

    def __init__(self, base, timeout=60):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout
        self.conn = None

    def request(self, method, path, body=None, ctype="application/json", raw=False):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"User-Agent": f"{AGENT}/1", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = ctype
        for attempt in range(3):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.will_close:
                    self.conn.close()
                    self.conn = None
                if raw:
                    return resp.status, payload
                return resp.status, json.loads(payload) if payload else None
            except (http.client.HTTPException, OSError):
                if self.conn:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)


def app_doc(name, ns, with_packages, run_id):
    spec = {"bootstrapServers": "kafka:9092", "replicas": 1}
    if with_packages:
        spec["pythonPackages"] = {"packages": ["requests==2.31.0"]}
    return {"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
            "metadata": {"name": name, "namespace": ns, "labels": {BENCH_LABEL: run_id}},
            "spec": spec}


class RssSampler(threading.Thread):
    def __init__(self, pid, interval=0.5):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples = []  # (monotonic, rss_kib, hwm_kib)
        self.stop_event = threading.Event()
        self.error = None

    def read(self):
        rss = hwm = None
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        return rss, hwm

    def run(self):
        while not self.stop_event.is_set():
            try:
                rss, hwm = self.read()
                self.samples.append((time.monotonic(), rss, hwm))
            except OSError as e:
                self.error = f"/proc/{self.pid}/status: {e}"
                return
            self.stop_event.wait(self.interval)

    def window(self, t0, t1):
        return [s for s in self.samples if t0 <= s[0] <= t1]


def mib(kib):
    return None if kib is None else round(kib / 1024, 1)


def rss_stats(samples):
    if not samples:
        return None
    rss = [s[1] for s in samples]
    return {"samples": len(samples), "min_mib": mib(min(rss)), "max_mib": mib(max(rss)),
            "mean_mib": mib(sum(rss) / len(rss)), "last_mib": mib(rss[-1]),
            "hwm_mib": mib(samples[-1][2])}


def without_times(status):
    """The status without the conditions' lastTransitionTime."""
    s = dict(status or {})
    s["conditions"] = [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                       for c in s.get("conditions", [])]
    return s


class Tracker(threading.Thread):
    """Watches the run's KasprApps and notes when each is reconciled."""

    def __init__(self, base, run_id, want):
        super().__init__(daemon=True)
        self.base, self.run_id, self.want = base, run_id, want
        self.lock = threading.Condition()
        self.done_at = {}       # key -> monotonic time first reconciled
        self.status_writes = {}  # key -> status changes seen
        self.last_status = {}
        self.read_failed = {}   # key -> message
        self.ready_reasons = {}  # key -> (status, reason) of Ready now
        self.writes_after = 0   # status changes after `quiet_from`
        self.time_only_writes = 0  # status changes in condition times only
        self.quiet_from = None
        self.errors = []
        self.stop_event = threading.Event()

    def reconciled(self, app):
        meta, status = app.get("metadata", {}), app.get("status") or {}
        gen = meta.get("generation")
        if status.get("observedGeneration") != gen:
            return False
        ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), None)
        if ready is None or ready.get("reason") == "ReadFailed":
            return False
        if ready.get("observedGeneration") not in (None, gen):
            return False
        return ready.get("status") == "True" if self.want == "ready" else True

    def see(self, app):
        meta = app["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        status = app.get("status")
        now = time.monotonic()
        with self.lock:
            previous = self.last_status.get(key)
            if status is not None and status != previous:
                self.status_writes[key] = self.status_writes.get(key, 0) + 1
                if previous is not None and without_times(status) == without_times(previous):
                    self.time_only_writes += 1
                if self.quiet_from is not None and now >= self.quiet_from:
                    self.writes_after += 1
            self.last_status[key] = status
            ready = next((c for c in (status or {}).get("conditions", [])
                          if c.get("type") == "Ready"), None)
            if ready:
                self.ready_reasons[key] = (ready.get("status"), ready.get("reason"))
                if ready.get("reason") == "ReadFailed":
                    self.read_failed.setdefault(key, ready.get("message"))
            if key not in self.done_at and self.reconciled(app):
                self.done_at[key] = now
                self.lock.notify_all()

    def run(self):
        client = Client(self.base, timeout=400)
        sel = urllib.parse.quote(f"{BENCH_LABEL}={self.run_id}")
        while not self.stop_event.is_set():
            try:
                code, doc = client.request("GET", f"{GROUP_PATH}/kasprapps?labelSelector={sel}")
                if code != 200:
                    raise RuntimeError(f"list kasprapps: {code} {doc}")
                for app in doc.get("items", []):
                    self.see(app)
                rv = doc["metadata"]["resourceVersion"]
                self.stream(sel, rv)
            except Exception as e:  # relist after any failure
                self.errors.append(repr(e))
                time.sleep(1)

    def stream(self, sel, rv):
        u = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=400)
        try:
            conn.request("GET", f"{GROUP_PATH}/kasprapps?watch=true&labelSelector={sel}"
                         f"&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=300",
                         headers={"User-Agent": f"{AGENT}/1", "Accept": "application/json"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise RuntimeError(f"watch kasprapps: {resp.status} {resp.read()[:300]!r}")
            buf = b""
            while not self.stop_event.is_set():
                data = resp.read1(65536)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        self.see(ev["object"])
                    elif ev["type"] == "ERROR":
                        raise RuntimeError(f"watch error: {ev['object'].get('message')}")
        finally:
            conn.close()

    def wait_all(self, keys, deadline):
        with self.lock:
            while not all(k in self.done_at for k in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(min(left, 1.0))
            return True


def calls(base):
    code, doc = Client(base).request("GET", "/_standin/calls")
    return doc if code == 200 else None


def diff_calls(before, after):
    """Requests between the two summaries, without the load's own, by summary and by resource."""
    def agents(doc):
        return {a: v["by_summary"] for a, v in (doc or {}).get("by_agent", {}).items()
                if a != AGENT}
    b, a = agents(before), agents(after)
    by_summary, by_agent = {}, {}
    for agent, summ in a.items():
        for k, n in summ.items():
            d = n - b.get(agent, {}).get(k, 0)
            if d:
                by_summary[k] = by_summary.get(k, 0) + d
                by_agent.setdefault(agent, {})[k] = d
    by_resource = {}
    for k, n in by_summary.items():
        verb, _, resource = k.partition(" ")
        r = by_resource.setdefault(resource, {})
        r[verb] = r.get(verb, 0) + n
    return {"total": sum(by_summary.values()), "by_summary": dict(sorted(by_summary.items())),
            "by_resource": dict(sorted(by_resource.items())),
            "by_agent": {k: dict(sorted(v.items())) for k, v in by_agent.items()}}


def scrape(url):
    """Sum of kasprop_reconcile_total and kasprop_reconcile_errors_total (by kind) from the
    operator's /metrics."""
    if not url:
        return None
    u = urllib.parse.urlsplit(url)
    try:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
        conn.request("GET", u.path or "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
    except OSError as e:
        return {"error": str(e)}
    out = {"reconciles": 0, "reconcile_errors": 0, "errors_by_kind": {}, "series": 0,
           "bytes": len(text)}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        out["series"] += 1
        name = line.split("{", 1)[0].split(" ", 1)[0]
        try:
            value = float(line.rsplit(" ", 1)[1])
        except (IndexError, ValueError):
            continue
        if name == "kasprop_reconcile_total":
            out["reconciles"] += value
        elif name == "kasprop_reconcile_errors_total":
            out["reconcile_errors"] += value
            kind = "?"
            if 'kind="' in line:
                kind = line.split('kind="', 1)[1].split('"', 1)[0]
            out["errors_by_kind"][kind] = out["errors_by_kind"].get(kind, 0) + value
    return out


def sub_metrics(after, before):
    if not after or "error" in after or not before or "error" in before:
        return after
    return {"reconciles": after["reconciles"] - before["reconciles"],
            "reconcile_errors": after["reconcile_errors"] - before["reconcile_errors"],
            "errors_by_kind": {k: v - before["errors_by_kind"].get(k, 0)
                               for k, v in after["errors_by_kind"].items()
                               if v - before["errors_by_kind"].get(k, 0)},
            "series_after": after["series"], "metrics_bytes_after": after["bytes"]}


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="apistandin, e.g. http://127.0.0.1:PORT")
    ap.add_argument("-n", "--count", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=4)
    ap.add_argument("--prefix", default="load")
    ap.add_argument("--pid", type=int, help="the operator's pid (for RSS)")
    ap.add_argument("--metrics", help="the operator's /metrics URL, for reconcile counts")
    ap.add_argument("--want", choices=("reconciled", "ready"), default="reconciled")
    ap.add_argument("--concurrency", type=int, default=4, help="parallel creates")
    ap.add_argument("--idle-seconds", type=float, default=5)
    ap.add_argument("--settle-seconds", type=float, default=10,
                    help="after all are reconciled, let the tail of reconciles pass")
    ap.add_argument("--steady-seconds", type=float, default=15,
                    help="then measure for this long: requests here mean reconciles repeat")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--delete", action="store_true", help="delete the apps at the end")
    args = ap.parse_args()
    base = args.url.rstrip("/")
    run_id = f"{args.prefix}-{int(time.time())}"

    sampler = RssSampler(args.pid) if args.pid else None
    if sampler:
        sampler.start()
    tracker = Tracker(base, run_id, args.want)
    tracker.start()

    t_idle = time.monotonic()
    time.sleep(args.idle_seconds)
    calls_before = calls(base)
    metrics_before = scrape(args.metrics)

    apps = []
    for i in range(args.count):
        ns = f"{args.prefix}-{i % args.namespaces}"
        # every namespace gets both kinds, whatever the namespace count
        apps.append(app_doc(f"{args.prefix}-{i:04d}", ns, (i // args.namespaces) % 2 == 1,
                            run_id))
    keys = [f"{a['metadata']['namespace']}/{a['metadata']['name']}" for a in apps]
    failures = []

    def create(chunk):
        client = Client(base)
        for app in chunk:
            m = app["metadata"]
            path = (f"{GROUP_PATH}/namespaces/{m['namespace']}/kasprapps/{m['name']}"
                    f"?fieldManager={AGENT}&force=true")
            code, doc = client.request("PATCH", path, app, ctype="application/apply-patch+yaml")
            if code not in (200, 201):
                failures.append((m["name"], code, (doc or {}).get("message")))

    t0 = time.monotonic()
    threads = [threading.Thread(target=create, args=(apps[i::args.concurrency],))
               for i in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_created = time.monotonic()
    if failures:
        print(json.dumps({"error": "creates failed", "failures": failures[:20],
                          "failed": len(failures)}), flush=True)
        return 1
    ok = tracker.wait_all(keys, t0 + args.timeout)
    t_done = time.monotonic()
    with tracker.lock:
        tracker.quiet_from = t_done
    calls_done = calls(base)
    metrics_done = scrape(args.metrics)
    time.sleep(args.settle_seconds)
    t_settled = time.monotonic()
    calls_settled = calls(base)
    metrics_settled = scrape(args.metrics)
    time.sleep(args.steady_seconds)
    t_end = time.monotonic()
    calls_after = calls(base)
    metrics_after = scrape(args.metrics)
    if sampler:
        sampler.stop_event.set()
        sampler.join()

    with tracker.lock:
        latencies = [tracker.done_at[k] - t0 for k in keys if k in tracker.done_at]
        writes = [tracker.status_writes.get(k, 0) for k in keys]
        read_failed = {k: v for k, v in tracker.read_failed.items() if k in set(keys)}
        reasons = {}
        for k in keys:
            r = tracker.ready_reasons.get(k)
            label = f"{r[0]}/{r[1]}" if r else "none"
            reasons[label] = reasons.get(label, 0) + 1
        writes_after = tracker.writes_after
        time_only = tracker.time_only_writes
    elapsed = t_done - t0
    result = {
        "apps": args.count, "namespaces": args.namespaces,
        "with_python_packages": sum(1 for a in apps if "pythonPackages" in a["spec"]),
        "want": args.want, "all_reconciled": ok,
        "reconciled": len(latencies),
        "seconds_to_create": round(t_created - t0, 3),
        "seconds_to_reconcile_all": round(elapsed, 3) if ok else None,
        "apps_per_second": round(args.count / elapsed, 2) if ok and elapsed > 0 else None,
        "latency_seconds": {"p50": round(percentile(latencies, 50) or 0, 3),
                            "p90": round(percentile(latencies, 90) or 0, 3),
                            "max": round(max(latencies) if latencies else 0, 3)},
        "ready_condition": reasons,
        "apps_that_showed_read_failed": len(read_failed),
        "read_failed_examples": dict(list(read_failed.items())[:3]),
        "status_writes_per_app": {"min": min(writes) if writes else 0,
                                  "max": max(writes) if writes else 0,
                                  "mean": round(sum(writes) / len(writes), 2) if writes else 0},
        "status_writes_changing_only_condition_times": time_only,
        "status_writes_after_all_reconciled": writes_after,
        "steady_seconds": args.steady_seconds,
        "settle_seconds": args.settle_seconds,
        "requests": {"until_reconciled": diff_calls(calls_before, calls_done),
                     "settle": diff_calls(calls_done, calls_settled),
                     "steady": diff_calls(calls_settled, calls_after)},
        "tracker_errors": tracker.errors[:5],
    }
    if args.metrics:
        result["operator_metrics"] = {
            "until_reconciled": sub_metrics(metrics_done, metrics_before),
            "settle": sub_metrics(metrics_settled, metrics_done),
            "steady": sub_metrics(metrics_after, metrics_settled)}
    if sampler:
        result["rss"] = {
            "idle": rss_stats(sampler.window(t_idle, t0)),
            "during": rss_stats(sampler.window(t0, t_done)),
            "settle": rss_stats(sampler.window(t_done, t_settled)),
            "steady": rss_stats(sampler.window(t_settled, t_end)),
            "peak_mib": mib(max((s[1] for s in sampler.samples), default=None)),
            "hwm_mib": mib(sampler.samples[-1][2]) if sampler.samples else None,
            "error": sampler.error,
        }
    if args.delete:
        client = Client(base)
        for a in apps:
            m = a["metadata"]
            client.request("DELETE", f"{GROUP_PATH}/namespaces/{m['namespace']}/kasprapps/"
                           f"{m['name']}")
    tracker.stop_event.set()
    print(json.dumps(result, indent=1), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
