"""The Google Cloud Storage side of the install-script tests. Standard library and openssl only.

  gcs_fixtures.py front PORT UPSTREAM LOG PUBKEY
      On 127.0.0.1:PORT, both ends a pod talks to under cache.type: gcs:
      - POST /token, an OAuth 2.0 token endpoint (JWT bearer grant): the assertion must be an
        RS256 JWT that the public key PUBKEY verifies (openssl dgst -verify), for the audience
        http://127.0.0.1:PORT/token and the devstorage.read_write scope, not expired. It answers
        with the access token $GCS_TOKEN; with $TOKEN_REFUSE=1 it answers 401 to every request.
      - everything else, the Cloud Storage JSON API: requests that carry
        "Authorization: Bearer $GCS_TOKEN" are passed to the emulator at UPSTREAM, others get
        401. With $DENY_UPLOADS=1 uploads get 403. An upload with ifGenerationMatch=0 gets 412
        when the object exists (real Cloud Storage does that; the emulator does not).
      LOG gets one line per request: "token ok ISS", "token refused WHY", "METHOD PATH bearer".
  gcs_fixtures.py get UPSTREAM BUCKET NAME OUT    an object of the emulator into OUT (exit 1: none)
  gcs_fixtures.py put UPSTREAM BUCKET NAME FILE   FILE as that object
  gcs_fixtures.py list UPSTREAM BUCKET            the object names, one a line
  gcs_fixtures.py archive OUT KIND                a hostile archive: KIND escape or link
"""
import base64
import http.client
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse

SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def upstream_request(upstream, method, path, body=None, headers=None):
    parts = urllib.parse.urlsplit(upstream)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.getheaders(), response.read()


class Front(http.server.BaseHTTPRequestHandler):
    port = 0
    upstream = ""
    log_path = ""
    pubkey = ""
    token = ""

    def log(self, line):
        with open(self.log_path, "a") as f:
            f.write(line + "\n")

    def reply(self, code, doc, headers=()):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def do_POST(self):
        if self.path.split("?")[0] == "/token":
            return self.token_grant()
        return self.proxy()

    def do_GET(self):
        return self.proxy()

    do_PUT = do_DELETE = do_PATCH = do_GET

    def token_grant(self):
        form = urllib.parse.parse_qs((self.body() or b"").decode())
        if os.environ.get("TOKEN_REFUSE") == "1":
            self.log("token refused by configuration")
            return self.reply(401, {"error": "unauthorized_client", "error_description": "Unauthorized"})
        why, iss = self.verify(form)
        if why:
            self.log("token refused %s" % why)
            return self.reply(400, {"error": "invalid_grant", "error_description": why})
        self.log("token ok %s" % iss)
        return self.reply(200, {"access_token": self.token, "expires_in": 3599, "token_type": "Bearer"})

    def verify(self, form):
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return "wrong grant_type", None
        parts = (form.get("assertion") or [""])[0].split(".")
        if len(parts) != 3:
            return "the assertion is not a JWT", None
        try:
            header, claims, signature = json.loads(b64d(parts[0])), json.loads(b64d(parts[1])), b64d(parts[2])
        except ValueError:
            return "the assertion is not a JWT", None
        if header.get("alg") != "RS256":
            return "not RS256", None
        with tempfile.NamedTemporaryFile() as f:
            f.write(signature)
            f.flush()
            done = subprocess.run(["openssl", "dgst", "-sha256", "-verify", self.pubkey, "-signature", f.name],
                                  input=("%s.%s" % (parts[0], parts[1])).encode(), capture_output=True, check=False)
        if done.returncode != 0:
            return "Invalid JWT Signature.", None
        if claims.get("aud") != "http://127.0.0.1:%d/token" % self.port:
            return "wrong audience %s" % claims.get("aud"), None
        if claims.get("scope") != SCOPE:
            return "wrong scope %s" % claims.get("scope"), None
        now = time.time()
        if not (claims.get("iat", 0) <= now + 60 and claims.get("exp", 0) > now):
            return "expired", None
        return None, claims.get("iss")

    def proxy(self):
        body = self.body()
        bearer = self.headers.get("Authorization") == "Bearer " + self.token
        self.log("%s %s %s" % (self.command, self.path, "bearer" if bearer else "anonymous"))
        if not bearer:
            return self.reply(401, {"error": {"code": 401, "message": "Anonymous caller does not have access"}})
        split = urllib.parse.urlsplit(self.path)
        if split.path.startswith("/upload/"):
            if os.environ.get("DENY_UPLOADS") == "1":
                return self.reply(403, {"error": {"code": 403, "message": "does not have storage.objects.create"}})
            query = urllib.parse.parse_qs(split.query)
            if query.get("ifGenerationMatch") == ["0"]:
                bucket = split.path.split("/")[5]
                name = urllib.parse.quote(query["name"][0], safe="")
                status, _, _ = upstream_request(self.upstream, "GET", "/storage/v1/b/%s/o/%s" % (bucket, name))
                if status == 200:
                    return self.reply(412, {"error": {"code": 412, "message": "Precondition Failed"}})
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization", "connection")}
        status, answer_headers, data = upstream_request(self.upstream, self.command, self.path, body, headers)
        self.send_response(status)
        for k, v in answer_headers:
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def front(port, upstream, log, pubkey):
    Front.port, Front.upstream, Front.log_path, Front.pubkey = int(port), upstream, log, pubkey
    Front.token = os.environ["GCS_TOKEN"]
    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Front).serve_forever()


def get(upstream, bucket, name, out):
    path = "/download/storage/v1/b/%s/o/%s?alt=media" % (bucket, urllib.parse.quote(name, safe=""))
    status, _, data = upstream_request(upstream, "GET", path)
    if status != 200:
        return 1
    with open(out, "wb") as f:
        f.write(data)
    return 0


def put(upstream, bucket, name, path):
    with open(path, "rb") as f:
        data = f.read()
    target = "/upload/storage/v1/b/%s/o?uploadType=media&name=%s" % (bucket, urllib.parse.quote(name, safe=""))
    status, _, _ = upstream_request(upstream, "POST", target, data, {"Content-Type": "application/gzip"})
    return 0 if status == 200 else 1


def listing(upstream, bucket):
    status, _, data = upstream_request(upstream, "GET", "/storage/v1/b/%s/o" % bucket)
    if status != 200:
        return 1
    for item in json.loads(data).get("items") or []:
        print(item["name"])
    return 0


def archive(out, kind):
    """A tar.gz that would write outside the env: a ../ path, or a link to /etc."""
    with tarfile.open(out, "w:gz") as tar:
        if kind == "escape":
            data = b"escaped\n"
            info = tarfile.TarInfo("../../kaspr-escaped")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        else:
            info = tarfile.TarInfo("kaspr_demo")
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc"
            tar.addfile(info)
    return 0


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    sys.exit({"front": front, "get": get, "put": put, "list": listing, "archive": archive}[command](*args) or 0)
