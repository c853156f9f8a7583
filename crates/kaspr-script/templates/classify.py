# kaspr install helper: credentials, errors and what a failed installer run was (included after
# helper.py). The credentials reach the installer inside the index URL only, and are hidden in all
# it prints; a failure is recorded as a type and one detail line (the operator owns the message).

LOG_KEEP = 65536
# Errno values that say the volume refuses us, and those that say it is full.
DENIED = (1, 13, 30)  # EPERM, EACCES, EROFS
FULL = (28, 122)  # ENOSPC, EDQUOT


# ---- credentials ---------------------------------------------------------------------------

def quoted(value):
    """value percent-encoded for a URL; None when it cannot be encoded (e.g. a byte 0xff that
    the environment carried as a lone surrogate)."""
    import urllib.parse
    try:
        return urllib.parse.quote(value, safe="")
    except UnicodeError:
        return None


def secrets():
    """The credential strings to hide: raw, percent-encoded and as a Basic-auth token."""
    out = []
    for name in ("PYPI_PASSWORD", "PYPI_USERNAME"):
        value = env(name)
        if value:
            out.append(value)
            out.append(quoted(value) or value)
    token = basic_token()
    if token:
        out.append(token)
    return sorted(set(out), key=len, reverse=True)


def basic_token():
    import base64
    user, password = env("PYPI_USERNAME"), env("PYPI_PASSWORD")
    if not (user or password):
        return None
    try:
        return base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    except UnicodeError:
        return None


def redact(text, hidden):
    import re
    for s in hidden:
        text = text.replace(s, "****")
    return re.sub(r"(://)[^/@\s]*@", r"\1****@", text)


def auth_url():
    """INDEX_URL with the Secret credentials percent-encoded into it, for the installer only.
    Exits non-zero (after recording an authentication error) when they cannot be encoded: the
    installer must never run without the private index, or private names would go elsewhere."""
    url = env("INDEX_URL")
    userinfo = encoded_credentials()
    if userinfo is None:
        return 4
    print(with_credentials(url, userinfo) if url and userinfo else url)
    return 0


def auth_extra():
    """EXTRA_INDEX_URLS joined with spaces, with the credentials in each one on the origin
    (scheme, host and port) of INDEX_URL: the other repositories of a private server get them, as the
    Python operator sent them to every extra index, but no other host ever does."""
    userinfo = encoded_credentials()
    if userinfo is None:
        return 4
    index = env("INDEX_URL")
    out = []
    for url in lines(env("EXTRA_INDEX_URLS")):
        same_server = userinfo and index and origin(url) == origin(index)
        out.append(with_credentials(url, userinfo) if same_server else url)
    print(" ".join(out))
    return 0


def encoded_credentials():
    """(user, password) percent-encoded; () without credentials; None (an authentication error
    recorded) when they cannot be encoded."""
    user, password = env("PYPI_USERNAME"), env("PYPI_PASSWORD")
    if not (user or password):
        return ()
    q_user, q_password = quoted(user), quoted(password)
    if q_user is None or q_password is None:
        record_error("authentication", "the username or password in the credentials Secret is not UTF-8 text")
        return None
    return (q_user, q_password)


def with_credentials(url, userinfo):
    import urllib.parse
    parts = urllib.parse.urlsplit(url)
    netloc = "%s:%s@%s" % (userinfo[0], userinfo[1], parts.netloc)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def origin(url):
    """(scheme, host, port) of url, the port made explicit."""
    import urllib.parse
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    return (scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme))


def record_error(kind, detail):
    """Leaves the error for the report (type + one detail line; the operator owns the message)."""
    work = env("KASPR_WORK")
    if work:
        try:
            write_json(os.path.join(work, "error.json"), {"type": kind, "detail": redact(detail, secrets())})
        except OSError:
            pass


def errno_kind(error):
    if error.errno in FULL:
        return "disk_full"
    if error.errno in DENIED:
        return "permission"
    return "unknown"


# ---- installer output -----------------------------------------------------------------------

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
        say("cannot keep the installer log: %s" % e)


def probe_index():
    """What the main index answers: authentication, network, or None when it serves. The
    credentials go to the index host only: a redirect is not followed (it answers; that is all
    we need to know)."""
    import socket
    import ssl
    import urllib.error
    import urllib.parse
    import urllib.request
    url = env("INDEX_URL")
    if not url:
        return None

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    host = urllib.parse.urlsplit(url).hostname or ""
    trusted = [h.split(":")[0].strip("[]").lower() for h in lines(env("TRUSTED_HOSTS"))]
    context = ssl._create_unverified_context() if host.lower() in trusted else None
    opener = urllib.request.build_opener(NoRedirect(), urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url)
    token = basic_token()
    if token:
        request.add_header("Authorization", "Basic " + token)
    try:
        opener.open(request, timeout=10).close()
        return None
    except urllib.error.HTTPError as e:
        return "authentication" if e.code in (401, 403) else None
    except (urllib.error.URLError, socket.timeout, OSError):
        return "network"


RULES = (
    ("disk_full", ("No space left on device", "Errno 28", "Disk quota exceeded")),
    ("permission", ("Permission denied", "Errno 13", "Read-only file system")),
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


def killed(rc, elapsed, limit):
    """(type, detail) when the installer ended by a signal, else None. Only our own `timeout`
    makes a `timeout`: it fires at the limit (coreutils says 124; busybox and a -k kill say
    128 + signal). A SIGKILL before the limit is the kernel OOM killer in all likelihood."""
    if rc == 124 or (elapsed is not None and rc > 128 and elapsed >= limit - 1):
        return "timeout", ""
    if rc <= 128 or rc > 128 + 64:
        return None
    signal_number = rc - 128
    after = " after %ds" % elapsed if elapsed is not None else ""
    if signal_number == 9:
        return "out_of_memory", (
            "the installer was killed (SIGKILL)%s, before its timeout: most likely for the memory limit" % after
        )
    return "unknown", "the installer was killed by signal %d%s" % (signal_number, after)


def classify(text, rc, elapsed=None, limit=0):
    """(type, detail) of a failed installer run."""
    by_signal = killed(rc, elapsed, limit)
    if by_signal:
        return by_signal
    kind = "unknown"
    for name, needles in RULES:
        if any(n in text for n in needles):
            kind = name
            break
    # pip says "No matching distribution" for 401, 403 and 404 alike, and network noise may come
    # from an extra index only: ask the main index what it answers.
    if kind in ("package_not_found", "network", "unknown"):
        kind = probe_index() or kind
    if kind == "dependency_conflict" and protecting():
        return kind, conflict_detail(text) or error_detail(text)
    return kind, error_detail(text)


def error_detail(text):
    picked = ""
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(("ERROR:", "error:", "\u00d7")) or "Error" in s[:40]:
            picked = s
    return picked[:300]


def cmd_classify(work, rc, elapsed=None, limit="0"):
    try:
        with open(os.path.join(work, "install.log"), errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    code = int(rc) if rc.isdigit() else 1
    seconds = int(elapsed) if elapsed is not None and elapsed.isdigit() else None
    kind, detail = classify(text, code, seconds, int(limit))
    write_json(os.path.join(work, "error.json"), {"type": kind, "detail": redact(detail, secrets())})
    print(kind)
    return 0


def cmd_error_type(work):
    print((read_json(os.path.join(work, "error.json")) or {}).get("type") or "unknown")
