# kaspr install helper (protocol v1). Runs with the python3 of the app image (3.8+), standard library only.
# Embedded in the shell script inside single quotes, so this file never contains that character.
# Only light modules at the top: the warm path (a hit) runs this twice per pod start, and ssl
# or urllib.request alone cost tens of milliseconds to import. The rest is imported where used.
import json
import os
import sys
import time

REPORT_MAX = 4096


def env(name, default=""):
    return os.environ.get(name, default)


def now_iso(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def say(text):
    sys.stderr.write("kaspr: %s\n" % text)


def lines(value):
    return [x.strip() for x in value.splitlines() if x.strip()]


# ---- files ---------------------------------------------------------------------------------

def rmtree(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def write_json(path, doc):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w") as f:
            json.dump(doc, f, separators=(",", ":"), sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path):
    """The JSON object at path, or None when it is missing, empty or corrupt."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


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

def abi_tag():
    """What makes a built env unusable elsewhere: interpreter, version, ABI flags, CPU and libc
    (e.g. cpython-311-x86_64-linux-gnu vs cpython-311-aarch64-linux-musl)."""
    import sysconfig
    tag = sysconfig.get_config_var("SOABI")
    if not tag:
        import platform
        libc = platform.libc_ver()[0] or "unknown-libc"
        tag = "%s%s-%s-%s" % (sys.implementation.cache_tag, getattr(sys, "abiflags", ""), platform.machine(), libc)
    return "".join(c if c.isalnum() or c in "._" else "-" for c in tag.lower())


def cmd_start():
    """Prints "<pytag> <abi tag> <image digest or -> <start time>"; on a hit, finishes the run
    right here and prints "hit", so the warm path costs one python3 start."""
    t0 = time.time()
    impl = {"cpython": "cp", "pypy": "pp"}.get(sys.implementation.name, sys.implementation.name)
    pytag = "%s%d%d" % (impl, sys.version_info[0], sys.version_info[1])
    abi = abi_tag()
    image = image_digest() if protecting() else "-"
    digest = env("PACKAGES_HASH")
    if digest and all(c in "0123456789abcdef" for c in digest):
        key = "%s-%s" % (digest, abi) + ("-" + image if image != "-" else "")
        if marker_of(os.path.join(env("KASPR_ROOT"), "envs", key)) is not None:
            os.environ.update({"KASPR_PYTAG": pytag, "KASPR_ABI": abi, "KASPR_KEY": key})
            cmd_finish("cached", "0", "0", "", "%.3f" % t0)
            print("hit")
            return 0
    print("%s %s %s %.3f" % (pytag, abi, image, t0))


def marker_of(env_dir):
    """The marker of the env, or None when it is missing, empty or corrupt (then the env counts as
    absent and is installed again, never as a permanent failure)."""
    marker = read_json(os.path.join(env_dir, ".kaspr-env.json"))
    if marker is None or marker.get("v") != 1:
        return None
    return marker


def cmd_published(env_dir):
    return 0 if marker_of(env_dir) is not None else 1


def cmd_writable(root, *dirs):
    """Checks that every packages directory takes a new file: a volume the image user cannot
    write is `permission` (naming the path), a full one `disk_full`."""
    for d in (root, *dirs):
        probe = os.path.join(d, ".kaspr-probe.%d" % os.getpid())
        try:
            os.makedirs(d, exist_ok=True)
            with open(probe, "w"):
                pass
            os.unlink(probe)
        except OSError as e:
            kind = errno_kind(e)
            who = "uid %d, gid %d" % (os.getuid(), os.getgid()) if hasattr(os, "getuid") else "this user"
            record_error(kind, "cannot write to %s as %s: %s" % (d, who, e.strerror))
            print(kind)
            return 1
    return 0


def cmd_prepare(staging, work):
    """A fresh staging dir and the requirements file, one requirement a line. The work dir is
    emptied too, but for what the GCS cache noted of this run (gcs.json)."""
    kept = read_json(os.path.join(work, "gcs.json"))
    for path in (staging, staging + ".tmp", work):
        rmtree(path)
        try:
            os.makedirs(path)
        except OSError as e:
            record_error(errno_kind(e), "cannot create %s: %s" % (path, e.strerror))
            return 1
    if kept is not None:
        write_json(os.path.join(work, "gcs.json"), kept)
    reqs = lines(env("PACKAGES"))
    for r in reqs:
        # The operator validated these; refuse anything pip would read as an option anyway.
        if r.startswith("-"):
            record_error("unknown", "refusing a requirement that looks like an option: %s" % r[:80])
            return 2
    with open(os.path.join(work, "requirements.txt"), "w") as f:
        f.write("\n".join(reqs) + "\n")
    if protecting():
        write_constraints(os.path.join(work, "constraints.txt"))
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
    """Writes the marker into staging, then renames staging to target in one step. On failure
    the staging dir is gone and the error recorded: nothing half-written stays behind."""
    duration = max(0.0, time.time() - float(started))
    marker = {"v": 1, "hash": env("PACKAGES_HASH"), "pythonTag": env("KASPR_PYTAG"), "abiTag": env("KASPR_ABI"),
              "installer": env("KASPR_INSTALLER"), "installedBy": env("POD_NAME"),
              "installedAt": now_iso(), "installDurationSeconds": round(duration, 2),
              "installed": distributions(staging), "envBytes": tree_bytes(staging),
              "packages": lines(env("PACKAGES"))}
    if not protecting():
        marker["shadows"] = shadow_warnings(staging)
    try:
        write_json(os.path.join(staging, ".kaspr-env.json"), marker)
        result = publish(staging, target)
    except OSError as e:
        rmtree(staging)
        record_error(errno_kind(e), "cannot publish the environment: %s" % e.strerror)
        return 1
    print(result)
    return 0


def publish(staging, target):
    try:
        os.rename(staging, target)
        return "published"
    except OSError:
        if marker_of(target) is not None:
            rmtree(staging)
            return "exists"
    # The target holds no valid marker (a crash of an older layout, or a corrupt marker): it
    # is not an env. Move it aside and publish ours.
    aside = "%s.corrupt.%d" % (staging, os.getpid())
    os.rename(target, aside)
    os.rename(staging, target)
    rmtree(aside)
    return "published"


def touch_used(root, key):
    """Stamps the env as used now (drives GC). Never fails the pod: a hit must always start."""
    used = os.path.join(root, ".used")
    try:
        os.makedirs(used, exist_ok=True)
        with open(os.path.join(used, key), "a"):
            os.utime(os.path.join(used, key), None)
    except OSError as e:
        say("cannot stamp last use of %s: %s" % (key, e))


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
              "abiTag": env("KASPR_ABI"), "envKey": env("KASPR_KEY"), "installer": env("KASPR_INSTALLER"),
              "pod": env("POD_NAME"), "cacheMode": env("KASPR_CACHE_MODE"),
              "startedAt": now_iso(float(t0)), "finishedAt": now_iso(finished),
              "durationSeconds": round(finished - float(t0), 3), "attempts": int(attempts), "warnings": []}
    if report["cacheMode"] == "gcs":
        # Before the work dir goes (a failed run removes it below).
        report["gcs"], gcs_warnings = gcs_report(work)
        report["warnings"].extend(gcs_warnings)
    if stale_recovered == "1":
        report["staleLockRecovered"] = True
        report["warnings"].append("Recovered a stale install lock left by a pod that died while installing.")
    marker = marker_of(target) if result != "failed" else None
    if marker is not None:
        link_site(target)
        touch_used(root, key)
        for field in ("installedBy", "installedAt", "installDurationSeconds", "installed", "envBytes"):
            report[field] = marker.get(field)
        report["warnings"].extend(w for w in marker.get("shadows") or [] if isinstance(w, str))
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
        if detail:
            report["error"] = detail
    usage = cache_usage(root)
    if usage:
        report["cache"] = usage
    text = fit(report)
    path = env("KASPR_REPORT")
    try:
        with open(path, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        say("cannot write the report to %s: %s" % (path, e))
    summary = report["result"] if report["result"] != "failed" else "failed (%s)" % report["errorType"]
    sys.stderr.write("kaspr: %s %s in %.2fs\n" % (summary, key, report["durationSeconds"]))
    return 3 if report["result"] == "failed" else 0
