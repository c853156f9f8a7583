"""Test fixtures for the install-script tests: wheels and small servers. Standard library only.

  fixtures.py wheels DIR            build the test wheels (DIR/main and DIR/extra)
  fixtures.py htpasswd FILE         write FILE for user $HT_USER with password $HT_PASSWORD
  fixtures.py index DIR PORT LOG    a PEP 503 index on 127.0.0.2 that logs each request's
                                    Authorization header to LOG
  fixtures.py private DIR PORT LOG  like index, on 127.0.0.1, requiring Basic auth for user
                                    $IDX_USER / password $IDX_PASSWORD, with cacheable answers
                                    that vary on Authorization (what pip's HTTP cache stores)
  fixtures.py badhash DIR PORT LOG  like index, on 127.0.0.1, but every link carries a
                                    #sha256= fragment that does not match its file
  fixtures.py redirect PORT URL     answers every request with a 302 to URL
  fixtures.py hang PORT             accepts connections and never answers
"""
import base64
import hashlib
import http.server
import os
import socket
import sys
import zipfile


def wheel(directory, name, version, files, requires=()):
    dist = name.replace("-", "_")
    info = "%s-%s.dist-info" % (dist, version)
    meta = ["Metadata-Version: 2.1", "Name: %s" % name, "Version: %s" % version]
    meta += ["Requires-Dist: %s" % r for r in requires]
    content = dict(files)
    content[info + "/METADATA"] = ("\n".join(meta) + "\n").encode()
    content[info + "/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: kaspr-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, data in content.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    record.append(info + "/RECORD,,")
    content[info + "/RECORD"] = ("\n".join(record) + "\n").encode()
    path = os.path.join(directory, "%s-%s-py3-none-any.whl" % (dist, version))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name_, data in content.items():
            z.writestr(name_, data)


def module(name, version):
    return {"%s/__init__.py" % name: ("VERSION = %r\n" % version).encode()}


def build_wheels(out):
    main = os.path.join(out, "main")
    extra = os.path.join(out, "extra")
    os.makedirs(main, exist_ok=True)
    os.makedirs(extra, exist_ok=True)
    wheel(main, "kaspr-demo-dep", "1.0", module("kaspr_demo_dep", "1.0"))
    wheel(main, "kaspr-demo", "1.0", module("kaspr_demo", "1.0"), ["kaspr-demo-dep>=1.0"])
    wheel(main, "kaspr-demo", "2.0", module("kaspr_demo", "2.0"), ["kaspr-demo-dep>=1.0"])
    wheel(main, "kaspr-other", "1.0", module("kaspr_other", "1.0"))
    wheel(main, "kaspr-conflict", "1.0", module("kaspr_conflict", "1.0"), ["kaspr-demo==1.0"])
    # Large-ish and incompressible: for the full-disk test and a realistic copy.
    big = dict(module("kaspr_big", "1.0"))
    big["kaspr_big/blob.bin"] = os.urandom(6 * 1024 * 1024)
    wheel(main, "kaspr-big", "1.0", big)
    wheel(extra, "kaspr-extra-only", "1.0", module("kaspr_extra_only", "1.0"))
    # For image protection: the image has kaspr-img-dep 1.0; app 2.0 needs dep 2.0.
    wheel(main, "kaspr-img-dep", "1.0", module("kaspr_img_dep", "1.0"))
    wheel(main, "kaspr-img-dep", "2.0", module("kaspr_img_dep", "2.0"))
    wheel(main, "kaspr-img-app", "1.0", module("kaspr_img_app", "1.0"), ["kaspr-img-dep>=1.0"])
    wheel(main, "kaspr-img-app", "2.0", module("kaspr_img_app", "2.0"), ["kaspr-img-dep>=2.0"])
    # On both indexes at different versions: which one an installer takes shows its search order.
    wheel(main, "kaspr-shared", "1.0", module("kaspr_shared", "1.0"))
    wheel(extra, "kaspr-shared", "2.0", module("kaspr_shared", "2.0"))


class Index(http.server.BaseHTTPRequestHandler):
    root = ""
    log = ""
    token = None
    fragment = ""

    def do_GET(self):
        with open(self.log, "a") as f:
            f.write("%s %s\n" % (self.path, self.headers.get("Authorization", "-")))
        if self.token and self.headers.get("Authorization") != "Basic " + self.token:
            self.send_response(401)
            self.send_header("WWW-Authenticate", "Basic realm=kaspr")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if len(parts) == 2 and parts[0] == "simple":
            links = ""
            for name in sorted(os.listdir(self.root)):
                if name.replace("_", "-").lower().startswith(parts[1].lower() + "-"):
                    links += "<a href=\"/files/%s%s\">%s</a>\n" % (name, self.fragment, name)
            return self.reply(200, ("<html><body>%s</body></html>" % links).encode(), "text/html")
        if len(parts) == 1 and parts[0] == "simple":
            return self.reply(200, b"<html></html>", "text/html")
        if len(parts) == 2 and parts[0] == "files":
            path = os.path.join(self.root, os.path.basename(parts[1]))
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    return self.reply(200, f.read(), "application/octet-stream")
        self.reply(404, b"not found", "text/plain")

    def reply(self, code, body, kind):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        if self.token:
            self.send_header("Cache-Control", "max-age=3600")
            self.send_header("Vary", "Authorization")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # uv asks for a wheel's size before it downloads it.
    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def serve_index(root, port, log):
    Index.root, Index.log = root, log
    http.server.ThreadingHTTPServer(("127.0.0.2", int(port)), Index).serve_forever()


def serve_private(root, port, log):
    user, password = os.environ["IDX_USER"], os.environ["IDX_PASSWORD"]
    Index.root, Index.log = root, log
    Index.token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Index).serve_forever()


def serve_badhash(root, port, log):
    Index.root, Index.log, Index.fragment = root, log, "#sha256=" + "0" * 64
    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Index).serve_forever()


class Redirect(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", self.target + self.path.split("/simple/", 1)[-1])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def redirect(port, target):
    Redirect.target = target
    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Redirect).serve_forever()


def hang(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(port)))
    server.listen(64)
    held = []
    while True:
        conn, _ = server.accept()
        held.append(conn)


def htpasswd(path):
    from passlib.apache import HtpasswdFile
    ht = HtpasswdFile(path, new=True)
    ht.set_password(os.environ["HT_USER"], os.environ["HT_PASSWORD"])
    ht.save()


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"wheels": build_wheels, "index": serve_index, "private": serve_private, "badhash": serve_badhash,
     "redirect": redirect,
     "hang": hang, "htpasswd": htpasswd}[command](*args)
