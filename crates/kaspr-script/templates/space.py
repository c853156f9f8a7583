# kaspr install helper: garbage collection and space (included after helper.py).
# Never an env that a pod uses: the operator lists their hashes (the live set); without that
# list no env is removed at all. Beyond it, keepEnvs is a preference that yields to space.

HEX = "0123456789abcdef"


def live_hashes():
    """(hashes, time written) of the operator list of hashes in use, or None when the list is
    missing, unreadable or empty (then garbage collection removes no env: fail safe)."""
    try:
        with open(env("KASPR_LIVE")) as f:
            text = f.read()
            written = os.fstat(f.fileno()).st_mtime
    except (OSError, ValueError):
        return None
    found = {h for h in lines(text) if len(h) == 16 and all(c in HEX for c in h)}
    return (found, written) if found else None


def removable_envs(root, key, live):
    """Envs that may go, most recently used first: not the current one, not in the live set,
    and not used since the list was written (the kubelet refreshes a mounted ConfigMap only
    now and then, so a newer env may belong to pods the list does not show yet)."""
    hashes, written = live
    envs_dir = os.path.join(root, "envs")
    found = []
    for name in os.listdir(envs_dir):
        if name == key or name.split("-", 1)[0] in hashes:
            continue
        try:
            last = os.stat(os.path.join(root, ".used", name)).st_mtime
        except OSError:
            try:
                last = os.stat(os.path.join(envs_dir, name)).st_mtime
            except OSError:
                continue
        if last >= written:
            continue
        found.append((last, name))
    found.sort(reverse=True)
    return [name for _last, name in found]


def discard(root, path):
    """Removes a directory: renamed out of sight in one step first, then deleted at leisure."""
    doomed = os.path.join(root, ".staging", "%s.gc.%d" % (os.path.basename(path), os.getpid()))
    try:
        os.rename(path, doomed)
    except OSError:
        return False
    rmtree(doomed)
    return True


def remove_env(root, name):
    if discard(root, os.path.join(root, "envs", name)):
        say("removed environment %s" % name)
        try:
            os.unlink(os.path.join(root, ".used", name))
        except OSError:
            pass


def free_bytes(root):
    usage = cache_usage(root)
    return usage["availableBytes"] if usage else 0


def room_wanted(root, total):
    """Free space an install should find: the largest env on the volume (from the markers),
    or a quarter of the volume when there is none."""
    largest = 0
    envs_dir = os.path.join(root, "envs")
    for name in os.listdir(envs_dir):
        marker = marker_of(os.path.join(envs_dir, name)) or {}
        size = marker.get("envBytes")
        if isinstance(size, int) and size > largest:
            largest = size
    return largest or total // 4


def trim_caches(root, limit):
    """Keeps the installer download caches under limit bytes, dropping the largest first.
    A whole installer cache goes at once: its inner layout is up to the installer."""
    base = os.path.join(root, ".cache")
    try:
        sized = [(tree_bytes(os.path.join(base, n)), n) for n in os.listdir(base)]
    except OSError:
        return
    total = sum(size for size, _name in sized)
    for size, name in sorted(sized, reverse=True):
        if total <= limit:
            break
        if discard(root, os.path.join(base, name)):
            say("removed the %s download cache (%d bytes)" % (name, size))
            total -= size


def remove_stale_staging(root, stale_after):
    horizon = time.time() - float(stale_after)
    staging_dir = os.path.join(root, ".staging")
    for name in os.listdir(staging_dir):
        path = os.path.join(staging_dir, name)
        try:
            if os.stat(path).st_mtime < horizon or ".gc." in name or ".corrupt." in name:
                rmtree(path) if os.path.isdir(path) else os.unlink(path)
        except OSError:
            pass


def cmd_gc(root, key, keep, stale_after, mode="keep"):
    """mode keep: after an install, keep the `keep` most recently used other envs.
    mode space: before an install, free room for one env if the volume is short of it.
    mode full: after running out of space, remove every env the live set does not hold."""
    remove_stale_staging(root, stale_after)
    total = (cache_usage(root) or {}).get("totalBytes", 0)
    live = live_hashes()
    if live is None:
        say("the live set (%s) is missing or empty: no environment is removed" % env("KASPR_LIVE"))
    candidates = removable_envs(root, key, live) if live is not None else []
    if mode == "keep":
        trim_caches(root, total // 4)
        for name in candidates[int(keep):]:
            remove_env(root, name)
        return 0
    want = room_wanted(root, total) if mode == "space" else total
    if free_bytes(root) >= want:
        return 0
    trim_caches(root, 0)
    while candidates and free_bytes(root) < want:
        remove_env(root, candidates.pop())
    return 0

