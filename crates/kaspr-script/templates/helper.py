# kaspr install helper (protocol v1). Runs with the python3 of the app image (3.8+), standard library only.
# Embedded in the shell script inside single quotes, so this file never contains that character.
# Only light modules at the top: the warm path (a hit) runs this twice per pod start, and ssl
# or urllib.request alone cost tens of milliseconds to import. The rest is imported where used.
import json
import os
import sys
import time

REPORT_MAX = 4096
LOG_KEEP = 65536
PERMANENT = ("authentication", "package_not_found", "dependency_conflict", "hash_mismatch")
MESSAGES = {
    "network": "Cannot reach package index. Check network connectivity and firewall rules.",
    "timeout": "Installation timed out. Consider increasing installPolicy.timeout.",
    "authentication": "Authentication failed. Check credentials in referenced Secret.",
    "package_not_found": "Package not found in index. Verify package name and version.",
    "dependency_conflict": "Dependency conflict between requested packages. Relax or align the version constraints.",
    "hash_mismatch": "Package integrity check failed. The downloaded file does not match its expected hash.",
    "disk_full": "No space left for packages. Increase cache.size or lower cache.keepEnvs.",
    "lock_timeout": "Timed out waiting for another pod to finish installing. Check that pod and its install-packages logs.",
    "unknown": "Package installation failed. See the install-packages init container logs.",
}


def env(name, default=""):
    return os.environ.get(name, default)


def now_iso(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def lines(value):
    return [x.strip() for x in value.splitlines() if x.strip()]


# ---- credentials ---------------------------------------------------------------------------

def secrets():
    """The credential strings to hide, raw and percent-encoded."""
    import urllib.parse
    out = []
    for name in ("PYPI_PASSWORD", "PYPI_USERNAME"):
        value = env(name)
        if value:
            out.append(value)
            out.append(urllib.parse.quote(value, safe=""))
    return sorted(set(out), key=len, reverse=True)


def redact(text, hidden):
    import re
    for s in hidden:
        text = text.replace(s, "****")
    return re.sub(r"(://)[^/@\s]*@", r"\1****@", text)


def auth_url():
    """INDEX_URL with the Secret credentials percent-encoded into it, for the installer only."""
    import urllib.parse
    url = env("INDEX_URL")
    user, password = env("PYPI_USERNAME"), env("PYPI_PASSWORD")
    if not url or not (user or password):
        return url
    parts = urllib.parse.urlsplit(url)
    netloc = "%s:%s@%s" % (urllib.parse.quote(user, safe=""), urllib.parse.quote(password, safe=""), parts.netloc)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# ---- files ---------------------------------------------------------------------------------

def rmtree(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def write_json(path, doc):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"), sort_keys=True)
    os.replace(tmp, path)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def tree_bytes(path):
    total = 0
    for top, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                pass
    return total


def distributions(path):
    """name==version of every distribution installed in path, from its *.dist-info."""
    found = []
    try:
        names = os.listdir(path)
    except OSError:
        return found
    for entry in names:
        if not entry.endswith(".dist-info"):
            continue
        meta = {}
        try:
            with open(os.path.join(path, entry, "METADATA"), errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break
                    key, _, value = line.partition(":")
                    meta.setdefault(key.strip().lower(), value.strip())
        except OSError:
            continue
        if meta.get("name"):
            found.append("%s==%s" % (meta["name"], meta.get("version", "")))
    return sorted(found, key=str.lower)


def cache_usage(root):
    try:
        st = os.statvfs(root)
    except OSError:
        return None
    total = st.f_blocks * st.f_frsize
    return {"totalBytes": total, "usedBytes": (st.f_blocks - st.f_bfree) * st.f_frsize,
            "availableBytes": st.f_bavail * st.f_frsize}


# ---- commands ------------------------------------------------------------------------------

def cmd_start():
    """Prints "<pytag> <start time>"; on a hit, finishes the run right here and prints "hit", so
    the warm path costs one python3 start."""
    t0 = time.time()
    impl = {"cpython": "cp", "pypy": "pp"}.get(sys.implementation.name, sys.implementation.name)
    pytag = "%s%d%d" % (impl, sys.version_info[0], sys.version_info[1])
    digest = env("PACKAGES_HASH")
    if digest and all(c in "0123456789abcdef" for c in digest):
        key = "%s-%s" % (digest, pytag)
        if read_json(os.path.join(env("KASPR_ROOT"), "envs", key, ".kaspr-env.json")) is not None:
            os.environ.update({"KASPR_PYTAG": pytag, "KASPR_KEY": key})
            cmd_finish("cached", "0", "0", "", "%.3f" % t0)
            print("hit")
            return 0
    print("%s %.3f" % (pytag, t0))


def cmd_prepare(staging, work):
    """A fresh staging dir and the requirements file, one requirement a line."""
    for path in (staging, staging + ".tmp", work):
        rmtree(path)
        os.makedirs(path)
    reqs = lines(env("PACKAGES"))
    for r in reqs:
        # The operator validated these; refuse anything pip would read as an option anyway.
        if r.startswith("-"):
            sys.stderr.write("kaspr: refusing requirement that looks like an option: %s\n" % r[:80])
            return 2
    with open(os.path.join(work, "requirements.txt"), "w") as f:
        f.write("\n".join(reqs) + "\n")
    return 0


def cmd_filter(log_path):
    """Copies the installer output to stderr and to the log, credentials hidden."""
    hidden = secrets()
    kept = []
    size = 0
    stdin = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    for raw in stdin:
        line = redact(raw.decode("utf-8", "replace"), hidden)
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except OSError:
            pass
        kept.append(line)
        size += len(line)
        while size > LOG_KEEP and len(kept) > 1:
            size -= len(kept.pop(0))
    try:
        with open(log_path, "w") as f:
            f.write("".join(kept))
    except OSError as e:
        sys.stderr.write("kaspr: cannot keep the installer log: %s\n" % e)


def probe_index():
    """What the main index answers: authentication, network, or None when it serves."""
    import base64
    import socket
    import ssl
    import urllib.error
    import urllib.parse
    import urllib.request
    url = env("INDEX_URL")
    if not url:
        return None
    request = urllib.request.Request(url)
    user, password = env("PYPI_USERNAME"), env("PYPI_PASSWORD")
    if user or password:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        request.add_header("Authorization", "Basic " + token)
    host = urllib.parse.urlsplit(url).hostname or ""
    trusted = [h.split(":")[0].strip("[]").lower() for h in lines(env("TRUSTED_HOSTS"))]
    context = ssl._create_unverified_context() if host.lower() in trusted else None
    try:
        urllib.request.urlopen(request, timeout=10, context=context).close()
        return None
    except urllib.error.HTTPError as e:
        return "authentication" if e.code in (401, 403) else None
    except (urllib.error.URLError, socket.timeout, OSError):
        return "network"


RULES = (
    ("disk_full", ("No space left on device", "Errno 28", "Disk quota exceeded")),
    ("hash_mismatch", ("DO NOT MATCH THE HASHES", "Hash mismatch", "hash mismatch")),
    ("authentication", ("401 Client Error", "403 Client Error", "401 Unauthorized", "403 Forbidden",
                        "HTTP error 401", "HTTP error 403", "status code 401", "status code 403")),
    # uv words a missing package as an unsatisfiable resolution: check that before conflicts.
    ("package_not_found", ("was not found in the package registry", "not found in the provided package locations",
                           "there is no version of")),
    ("dependency_conflict", ("ResolutionImpossible", "conflicting dependencies", "are incompatible",
                             "we can conclude that")),
    ("network", ("Failed to establish a new connection", "Connection refused", "Name or service not known",
                 "Temporary failure in name resolution", "Network is unreachable", "dns error",
                 "tcp connect error", "Connection reset", "error sending request")),
    ("timeout", ("Read timed out", "operation timed out")),
    ("package_not_found", ("No matching distribution found", "Could not find a version that satisfies")),
)


def classify(text, rc):
    if rc in (124, 137):
        return "timeout"
    kind = "unknown"
    for name, needles in RULES:
        if any(n in text for n in needles):
            kind = name
            break
    # pip says "No matching distribution" for 401, 403 and 404 alike, and network noise may come
    # from an extra index only: ask the main index what it answers.
    if kind in ("package_not_found", "network", "unknown"):
        kind = probe_index() or kind
    return kind


def error_detail(text):
    picked = ""
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("ERROR:") or s.startswith("error:") or s.startswith("\u00d7") or "Error" in s[:40]:
            picked = s
    return picked[:300]


def cmd_classify(work, rc):
    try:
        with open(os.path.join(work, "install.log"), errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    kind = classify(text, int(rc) if rc.isdigit() else 1)
    write_json(os.path.join(work, "error.json"), {"type": kind, "detail": redact(error_detail(text), secrets())})
    print(kind)
    return 0


def cmd_sleep(seconds):
    time.sleep(float(seconds))


def cmd_heartbeat(lease, parent, interval):
    """Touches the lease heartbeat until the script that holds it is gone."""
    beat = os.path.join(lease, "heartbeat")
    while True:
        try:
            os.kill(int(parent), 0)
            with open(beat, "a"):
                os.utime(beat, None)
        except OSError:
            return
        time.sleep(float(interval))


def cmd_publish(staging, target, started):
    """Writes the marker into staging, then renames staging to target in one step."""
    duration = max(0.0, time.time() - float(started))
    marker = {"v": 1, "hash": env("PACKAGES_HASH"), "pythonTag": env("KASPR_PYTAG"),
              "installer": env("KASPR_INSTALLER"), "installedBy": env("POD_NAME"),
              "installedAt": now_iso(), "installDurationSeconds": round(duration, 2),
              "installed": distributions(staging), "envBytes": tree_bytes(staging),
              "packages": lines(env("PACKAGES"))}
    write_json(os.path.join(staging, ".kaspr-env.json"), marker)
    try:
        os.rename(staging, target)
    except OSError:
        if os.path.isfile(os.path.join(target, ".kaspr-env.json")):
            rmtree(staging)
            print("exists")
            return 0
        raise
    print("published")
    return 0


def cmd_gc(root, key, keep, stale_after):
    """Keeps the current env and the `keep` most recently used others; removes old staging."""
    envs_dir = os.path.join(root, "envs")
    used_dir = os.path.join(root, ".used")
    staging_dir = os.path.join(root, ".staging")
    candidates = []
    for name in os.listdir(envs_dir):
        if name == key:
            continue
        stamp = os.path.join(used_dir, name)
        try:
            last = os.stat(stamp).st_mtime
        except OSError:
            last = os.stat(os.path.join(envs_dir, name)).st_mtime
        candidates.append((last, name))
    candidates.sort(reverse=True)
    for _last, name in candidates[int(keep):]:
        # Rename first, so the env vanishes from envs/ in one step, then delete at leisure.
        doomed = os.path.join(staging_dir, "%s.gc.%d" % (name, os.getpid()))
        try:
            os.rename(os.path.join(envs_dir, name), doomed)
        except OSError:
            continue
        rmtree(doomed)
        try:
            os.unlink(os.path.join(used_dir, name))
        except OSError:
            pass
    horizon = time.time() - float(stale_after)
    for name in os.listdir(staging_dir):
        path = os.path.join(staging_dir, name)
        try:
            if os.stat(path).st_mtime < horizon:
                rmtree(path) if os.path.isdir(path) else os.unlink(path)
        except OSError:
            pass


def touch_used(root, key):
    """Stamps the env as used now (drives GC). Never fails the pod: a hit must always start."""
    used = os.path.join(root, ".used")
    try:
        os.makedirs(used, exist_ok=True)
        with open(os.path.join(used, key), "a"):
            os.utime(os.path.join(used, key), None)
    except OSError as e:
        sys.stderr.write("kaspr: cannot stamp last use of %s: %s\n" % (key, e))


def link_site(target):
    """Points the per-pod site link at target (or removes it), atomically."""
    link = env("KASPR_SITE_LINK")
    parent = os.path.dirname(link)
    os.makedirs(parent, exist_ok=True)
    if target is None:
        try:
            os.unlink(link)
        except OSError:
            pass
        return
    tmp = "%s.tmp.%d" % (link, os.getpid())
    os.symlink(target, tmp)
    os.replace(tmp, link)


def fit(report):
    """The report as JSON of at most REPORT_MAX bytes: shorten the error, then the lists."""
    def size():
        return len(json.dumps(report, separators=(",", ":")).encode())
    if size() > REPORT_MAX and report.get("error"):
        report["error"] = report["error"][:200]
    while size() > REPORT_MAX and report.get("installed"):
        report["installed"].pop()
        report["installedTruncated"] = True
    while size() > REPORT_MAX and report.get("warnings"):
        report["warnings"].pop()
    if size() > REPORT_MAX:
        report["error"] = (report.get("error") or "")[:80]
    return json.dumps(report, separators=(",", ":"))


def cmd_finish(result, attempts, stale_recovered, work, t0):
    root, key = env("KASPR_ROOT"), env("KASPR_KEY")
    target = os.path.join(root, "envs", key)
    finished = time.time()
    report = {"v": 1, "result": result, "hash": env("PACKAGES_HASH"), "pythonTag": env("KASPR_PYTAG"),
              "installer": env("KASPR_INSTALLER"), "pod": env("POD_NAME"), "cacheMode": env("KASPR_CACHE_MODE"),
              "startedAt": now_iso(float(t0)), "finishedAt": now_iso(finished),
              "durationSeconds": round(finished - float(t0), 3), "attempts": int(attempts), "warnings": []}
    if stale_recovered == "1":
        report["staleLockRecovered"] = True
        report["warnings"].append("Recovered a stale install lock left by a pod that died while installing.")
    marker = read_json(os.path.join(target, ".kaspr-env.json")) if result != "failed" else None
    if marker is not None:
        link_site(target)
        touch_used(root, key)
        for field in ("installedBy", "installedAt", "installDurationSeconds", "installed", "envBytes"):
            report[field] = marker.get(field)
    else:
        link_site(None)
        if result != "failed":
            report["result"] = "failed"
        error = read_json(os.path.join(work, "error.json")) if work else None
        if work:
            rmtree(work)
        kind = (error or {}).get("type") or env("KASPR_ERROR_TYPE") or "unknown"
        detail = (error or {}).get("detail") or ""
        report["errorType"] = kind
        report["error"] = MESSAGES.get(kind, MESSAGES["unknown"]) + ((" " + detail) if detail else "")
    usage = cache_usage(root)
    if usage:
        report["cache"] = usage
    text = fit(report)
    path = env("KASPR_REPORT")
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        sys.stderr.write("kaspr: cannot write the report to %s: %s\n" % (path, e))
    summary = report["result"] if report["result"] != "failed" else "failed (%s)" % report["errorType"]
    sys.stderr.write("kaspr: %s %s in %.2fs\n" % (summary, key, report["durationSeconds"]))
    return 3 if report["result"] == "failed" else 0


COMMANDS = {
    "start": cmd_start, "prepare": cmd_prepare, "filter": cmd_filter, "classify": cmd_classify,
    "sleep": cmd_sleep, "heartbeat": cmd_heartbeat, "publish": cmd_publish, "gc": cmd_gc,
    "finish": cmd_finish, "rmtree": rmtree,
    "auth-url": lambda: print(auth_url()),
}

if __name__ == "__main__":
    sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]) or 0)
