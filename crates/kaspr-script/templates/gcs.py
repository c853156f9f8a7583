# kaspr install helper: the Google Cloud Storage cache (included after helper.py; used only
# under cache.type: gcs). The packages volume is then a per-pod emptyDir, and a built env travels
# between pods as one tar.gz archive in the bucket, named after its env key:
#   <prefix><app name>/<hash>-<abi tag>[-<image digest>].tar.gz
# The bucket is a cache and nothing more: whatever goes wrong with it (the key, the token, the
# network, a corrupt archive, an upload) is a warning in the report, and the pod installs from
# the package index as it would without it.
# Standard library plus the openssl CLI (it signs the service account JWT). The private key and
# the access token never reach a file, a command line, the environment, a log or the report.

GCS_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
GCS_ENDPOINT = "https://storage.googleapis.com"
GCS_TOKEN_URI = "https://oauth2.googleapis.com/token"
# Seconds per network operation (connect, or one read): a bucket that stops answering costs at
# most this before the pod installs from the index instead.
GCS_TIMEOUT = 60
GCS_CHUNK = 1 << 20
# Strings never to show: the private key (and each of its lines), the signed JWT, the token.
GCS_HIDDEN = []


class GcsError(Exception):
    """A failure of the bucket cache. kind: auth, denied, network, invalid or error."""

    def __init__(self, kind, text):
        Exception.__init__(self, text)
        self.kind = kind


def gcs_redact(text):
    for s in sorted(GCS_HIDDEN, key=len, reverse=True):
        if s:
            text = text.replace(s, "****")
    return redact(text, secrets())


def gcs_object():
    """The object name: <prefix><app name>/<env key>.tar.gz."""
    return "%s%s/%s.tar.gz" % (env("GCS_PREFIX"), env("KASPR_APP_NAME"), env("KASPR_KEY"))


def gcs_where():
    return "gs://%s/%s" % (env("GCS_BUCKET"), gcs_object())


# ---- state of this run (the report reads it) -------------------------------------------------

def gcs_state_path():
    work = env("KASPR_WORK")
    return os.path.join(work, "gcs.json") if work else ""


def gcs_state():
    path = gcs_state_path()
    return (read_json(path) if path else None) or {}


def gcs_note(warning=None, **fields):
    path = gcs_state_path()
    if not path:
        return
    state = gcs_state()
    state.update(fields)
    if warning:
        text = gcs_redact(warning)
        state.setdefault("warnings", []).append(text)
        say(text)
    try:
        write_json(path, state)
    except OSError as e:
        say("cannot keep the GCS cache state: %s" % e)


def gcs_report(work):
    """The report block of the GCS cache, and its warnings."""
    state = (read_json(os.path.join(work, "gcs.json")) if work else None) or {}
    block = {"object": gcs_object(), "fromBucket": bool(state.get("fromBucket")),
             "fetch": state.get("fetch") or "local"}
    for field in ("upload", "archiveBytes"):
        if state.get(field) is not None:
            block[field] = state[field]
    return block, [w for w in state.get("warnings") or [] if isinstance(w, str)]


# ---- HTTP and the access token -------------------------------------------------------------

def gcs_open(method, url, body=None, headers=None):
    """The response to one request (an error status is a response too). Redirects are not
    followed: the bearer token goes to the configured endpoint and nowhere else."""
    import http.client
    import socket
    import urllib.error
    import urllib.parse
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect())
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    host = urllib.parse.urlsplit(url).netloc
    try:
        return opener.open(request, timeout=GCS_TIMEOUT)
    except urllib.error.HTTPError as e:
        return e
    except urllib.error.URLError as e:
        raise GcsError("network", "cannot reach %s: %s" % (host, e.reason)) from None
    except (socket.timeout, OSError, http.client.HTTPException) as e:
        raise GcsError("network", "cannot reach %s: %s" % (host, e)) from None


def gcs_error_text(response):
    """A short detail from an error answer (Google puts it in JSON), never more than a line."""
    import http.client
    try:
        raw = response.read(4096).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""
    try:
        doc = json.loads(raw)
    except ValueError:
        return " ".join(raw.split())[:160]
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or "")[:160]
        if err:
            return ("%s: %s" % (err, doc.get("error_description") or "")).strip(": ")[:160]
    return ""


def b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def gcs_key():
    """The service account key file (JSON) the operator mounted from the Secret."""
    path = env("KASPR_GCS_KEY")
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        raise GcsError("auth", "cannot read the service account key %s (%s): check that the Secret of "
                               "cache.gcs.secretRef exists and holds the key it names"
                       % (path, e.strerror)) from None
    except ValueError:
        raise GcsError("auth", "the service account key %s is not JSON: cache.gcs.secretRef must "
                               "name a service account key file" % path) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("private_key"), str) \
            or not isinstance(doc.get("client_email"), str):
        raise GcsError("auth", "the service account key %s has no private_key or client_email: "
                               "cache.gcs.secretRef must name a service account key file" % path)
    pem = doc["private_key"]
    GCS_HIDDEN.append(pem)
    GCS_HIDDEN.extend(line.strip() for line in pem.splitlines() if len(line.strip()) > 16)
    return doc


def gcs_sign(data, pem):
    """RS256 of data with the PEM key, by openssl. The key reaches openssl through a pipe (never
    a file, never its command line)."""
    import subprocess
    blob = pem.encode()
    if len(blob) > 60000:
        raise GcsError("auth", "the private_key of the service account key is not an RSA key")
    r, w = os.pipe()
    try:
        os.write(w, blob)
    finally:
        os.close(w)
    try:
        done = subprocess.run(["openssl", "dgst", "-sha256", "-sign", "/dev/fd/%d" % r], input=data,
                              capture_output=True, pass_fds=(r,), timeout=30, check=False)
    except OSError as e:
        raise GcsError("auth", "cannot run openssl (%s): the GCS cache needs the openssl command "
                               "in the image to sign its token request" % e.strerror) from None
    except subprocess.TimeoutExpired:
        raise GcsError("auth", "openssl did not sign the token request within 30s") from None
    finally:
        os.close(r)
    if done.returncode != 0 or not done.stdout:
        err = [x for x in done.stderr.decode("utf-8", "replace").splitlines() if x.strip()]
        raise GcsError("auth", "openssl could not sign with the private_key of the service account "
                               "key (%s)" % (err[0][:160] if err else "exit %d" % done.returncode))
    return done.stdout


def gcs_token():
    """An access token for the bucket: a JWT signed with the service account key, exchanged at
    the key token_uri (OAuth 2.0 JWT bearer grant). Kept in memory only."""
    import urllib.parse
    key = gcs_key()
    uri = key.get("token_uri") or GCS_TOKEN_URI
    if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
        raise GcsError("auth", "the token_uri of the service account key is not an http(s) URL")
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT"}
    if isinstance(key.get("private_key_id"), str):
        header["kid"] = key["private_key_id"]
    claims = {"iss": key["client_email"], "scope": GCS_SCOPE, "aud": uri, "iat": now, "exp": now + 3600}
    signing_input = "%s.%s" % (b64url(json.dumps(header, separators=(",", ":")).encode()),
                               b64url(json.dumps(claims, separators=(",", ":")).encode()))
    assertion = "%s.%s" % (signing_input, b64url(gcs_sign(signing_input.encode(), key["private_key"])))
    GCS_HIDDEN.append(assertion)
    body = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                   "assertion": assertion}).encode()
    response = gcs_open("POST", uri, body, {"Content-Type": "application/x-www-form-urlencoded"})
    host = urllib.parse.urlsplit(uri).netloc
    if response.getcode() != 200:
        detail = gcs_error_text(response)
        raise GcsError("auth", "the token endpoint %s refused the service account key of %s (HTTP %d%s)"
                       % (host, key["client_email"], response.getcode(), ": " + detail if detail else ""))
    try:
        token = json.loads(response.read(65536).decode()).get("access_token")
    except (ValueError, AttributeError, OSError):
        token = None
    if not isinstance(token, str) or not token:
        raise GcsError("auth", "the token endpoint %s answered without an access_token" % host)
    GCS_HIDDEN.append(token)
    return token


def gcs_url(upload=False, extra=""):
    import urllib.parse
    endpoint = (env("KASPR_GCS_ENDPOINT") or GCS_ENDPOINT).rstrip("/")
    bucket = urllib.parse.quote(env("GCS_BUCKET"), safe="")
    name = urllib.parse.quote(gcs_object(), safe="")
    if upload:
        return "%s/upload/storage/v1/b/%s/o?uploadType=media&name=%s%s" % (endpoint, bucket, name, extra)
    return "%s/storage/v1/b/%s/o/%s?alt=media" % (endpoint, bucket, name)


def gcs_refused(code, detail, what):
    if code in (401, 403):
        return GcsError("denied", "the bucket refused to %s (HTTP %d%s): the service account needs "
                                  "roles/storage.objectUser on bucket %s"
                        % (what, code, ": " + detail if detail else "", env("GCS_BUCKET")))
    return GcsError("error", "the bucket could not %s (HTTP %d%s)" % (what, code, ": " + detail if detail else ""))


# ---- fetch: download, verify, unpack, publish ----------------------------------------------

def gcs_download(token, path):
    """Downloads the archive to path; its size, or None when the bucket has none (a miss). The
    length and the MD5 the bucket reports are checked (a truncated download is no archive)."""
    import hashlib
    response = gcs_open("GET", gcs_url(), None, {"Authorization": "Bearer " + token})
    code = response.getcode()
    if code == 404:
        return None
    if code != 200:
        raise gcs_refused(code, gcs_error_text(response), "read %s" % gcs_where())
    try:
        md5 = hashlib.md5(usedforsecurity=False)
    except TypeError:
        md5 = hashlib.md5()
    import http.client
    size = 0
    try:
        with open(path, "wb") as f:
            while True:
                chunk = response.read(GCS_CHUNK)
                if not chunk:
                    break
                f.write(chunk)
                md5.update(chunk)
                size += len(chunk)
    except OSError as e:
        if e.errno in FULL + DENIED:
            raise GcsError("error", "cannot store the archive: %s" % e.strerror) from None
        raise GcsError("network", "the download of %s broke off: %s" % (gcs_where(), e)) from None
    except http.client.HTTPException as e:
        raise GcsError("network", "the download of %s broke off: %r" % (gcs_where(), e)) from None
    expected = response.headers.get("Content-Length")
    if expected and expected.isdigit() and int(expected) != size:
        raise GcsError("invalid", "the download of %s is truncated (%d of %s bytes)" % (gcs_where(), size, expected))
    import base64
    for part in (response.headers.get("x-goog-hash") or "").split(","):
        kind, _, value = part.strip().partition("=")
        if kind == "md5" and value and base64.b64encode(md5.digest()).decode() != value:
            raise GcsError("invalid", "the download of %s does not match its MD5" % gcs_where())
    return size


def gcs_members(tar):
    """The members of an archive, refusing any that would land outside the target (absolute
    names, .., links out) or that are no file, directory or link."""
    for m in tar:
        parts = m.name.split("/")
        if m.name.startswith("/") or ".." in parts:
            raise GcsError("invalid", "the archive holds an unsafe path: %s" % m.name[:120])
        if m.issym() or m.islnk():
            base = os.path.dirname(m.name) if m.issym() else ""
            target = os.path.normpath(os.path.join(base, m.linkname))
            if m.linkname.startswith("/") or target == ".." or target.startswith("../"):
                raise GcsError("invalid", "the archive holds a link out of the env: %s" % m.name[:120])
        elif not (m.isfile() or m.isdir()):
            raise GcsError("invalid", "the archive holds a special file: %s" % m.name[:120])
        m.mode &= 0o755
        m.uid, m.gid, m.uname, m.gname = os.getuid(), os.getgid(), "", ""
        yield m


def gcs_unpack(archive, staging):
    """Unpacks the archive into a fresh staging dir and checks that it is the env this pod wants
    (its marker names this hash and abi tag). Anything else is invalid: a miss."""
    import tarfile
    import zlib
    rmtree(staging)
    os.makedirs(staging)
    options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(staging, members=gcs_members(tar), **options)
    except GcsError:
        raise
    except OSError as e:
        if getattr(e, "errno", None) in FULL + DENIED:
            raise GcsError("error", "cannot unpack the archive: %s" % e.strerror) from None
        raise GcsError("invalid", "the archive %s is corrupt: %s" % (gcs_where(), e)) from None
    except (tarfile.TarError, EOFError, zlib.error, ValueError) as e:
        raise GcsError("invalid", "the archive %s is corrupt or truncated: %s" % (gcs_where(), e)) from None
    marker = marker_of(staging)
    if marker is None:
        raise GcsError("invalid", "the archive %s holds no valid env marker" % gcs_where())
    if marker.get("hash") != env("PACKAGES_HASH") or marker.get("abiTag") != env("KASPR_ABI"):
        raise GcsError("invalid", "the archive %s holds another env (hash %s, abi %s)"
                       % (gcs_where(), marker.get("hash"), marker.get("abiTag")))


def cmd_gcs_fetch(target, staging):
    """Exit 0 when the env came from the bucket and is published at target; 1 when the pod must
    install (a miss, or any problem with the bucket: then a warning)."""
    t0 = time.time()
    archive = staging + ".tar.gz"
    gcs_note(fetch="miss", fromBucket=False)
    try:
        token = gcs_token()
        size = gcs_download(token, archive)
        if size is None:
            say("%s is not in the bucket yet: installing, then uploading it" % gcs_where())
            return 1
        gcs_unpack(archive, staging)
        publish(staging, target)
    except GcsError as e:
        rmtree(staging)
        fetch = "invalid" if e.kind == "invalid" else "error"
        gcs_note("GCS cache: %s; installing from the package index instead" % e, fetch=fetch,
                 authFailed=e.kind == "auth")
        return 1
    except OSError as e:
        rmtree(staging)
        gcs_note("GCS cache: cannot use %s: %s; installing from the package index instead"
                 % (gcs_where(), e.strerror or e), fetch="error")
        return 1
    finally:
        try:
            os.unlink(archive)
        except OSError:
            pass
    gcs_note(fetch="hit", fromBucket=True, archiveBytes=size)
    say("fetched %s from %s (%d bytes) in %.1fs" % (env("KASPR_KEY"), gcs_where(), size, time.time() - t0))
    return 0


# ---- upload: pack, check the size, send ----------------------------------------------------

def gcs_pack(env_dir, archive, limit):
    """Packs the env into archive; its size, or None as soon as it passes limit bytes."""
    import tarfile
    with open(archive, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
        for top, dirs, files in os.walk(env_dir):
            dirs.sort()
            rel = os.path.relpath(top, env_dir)
            for name in sorted(files + dirs):
                # A directory adds its own entry here (its content when the walk gets
                # there); a link, file or directory, is added as the link.
                path = os.path.join(top, name)
                tar.add(path, arcname=os.path.normpath(os.path.join(rel, name)), recursive=False)
                if raw.tell() > limit:
                    return None
    size = os.path.getsize(archive)
    return size if size <= limit else None


def cmd_gcs_upload(env_dir, archive):
    """Uploads the env this pod installed, for the next pods. Never fails the run: a problem is a
    warning and the next pod installs again."""
    state = gcs_state()
    if state.get("authFailed"):
        gcs_note(upload="skipped")
        return 0
    limit = env("GCS_MAX_ARCHIVE_BYTES")
    if not limit.isdigit():
        gcs_note("GCS cache: GCS_MAX_ARCHIVE_BYTES is not a number; nothing uploaded", upload="skipped")
        return 0
    t0 = time.time()
    try:
        try:
            size = gcs_pack(env_dir, archive, int(limit))
        except (OSError, ValueError) as e:
            gcs_note("GCS cache: cannot pack the env for upload: %s" % (getattr(e, "strerror", None) or e),
                     upload="failed")
            return 0
        if size is None:
            gcs_note("GCS cache: the packed env is larger than cache.gcs.maxArchiveSize (%s bytes), so it "
                     "was not uploaded and every pod installs it; raise maxArchiveSize to cache it" % limit,
                     upload="too_large")
            return 0
        # After a miss, only if the object is still absent (another pod may have uploaded the same
        # env meanwhile); after an invalid archive, over it.
        extra = "&ifGenerationMatch=0" if state.get("fetch") == "miss" else ""
        try:
            token = gcs_token()
            with open(archive, "rb") as f:
                response = gcs_open("POST", gcs_url(upload=True, extra=extra), f, {
                    "Authorization": "Bearer " + token, "Content-Type": "application/gzip",
                    "Content-Length": str(size)})
            code = response.getcode()
            if code == 412:
                gcs_note(upload="exists", archiveBytes=size)
                say("%s was uploaded by another pod meanwhile" % gcs_where())
                return 0
            if code != 200:
                raise gcs_refused(code, gcs_error_text(response), "store %s" % gcs_where())
        except GcsError as e:
            gcs_note("GCS cache: upload failed: %s; the next pod installs again" % e, upload="failed",
                     archiveBytes=size)
            return 0
        except OSError as e:
            gcs_note("GCS cache: upload failed: %s; the next pod installs again" % (e.strerror or e),
                     upload="failed", archiveBytes=size)
            return 0
    finally:
        try:
            os.unlink(archive)
        except OSError:
            pass
    gcs_note(upload="uploaded", archiveBytes=size)
    say("uploaded %s to %s (%d bytes) in %.1fs" % (env("KASPR_KEY"), gcs_where(), size, time.time() - t0))
    return 0


GCS_COMMANDS = {"gcs-fetch": cmd_gcs_fetch, "gcs-upload": cmd_gcs_upload}
