#!/usr/bin/env python3
"""Record the Kubernetes objects that the upstream Python kaspr-operator builds.

This is a *recorder*, not a port: it imports upstream's own modules from an
extracted checkout (``--src``) and drives upstream's own kopf handlers
(``on_create``, the component ``reconciliation`` handlers and the
``monitor_related_resources`` daemon) against an in-memory fake of the
Kubernetes API.  Only I/O is stubbed:

* ``kubernetes_asyncio.client.rest.RESTClientObject`` (the HTTP transport) is
  replaced by an in-memory API server that stores what it is sent, answers
  GETs from that store (404 otherwise) and lists with label selectors.  Every
  request body is therefore captured *exactly as upstream serialises it*
  (``ApiClient.sanitize_for_serialization``: camelCase keys, ``None`` dropped).
* kopf's handler context (the ``cause_var`` that ``kopf.adopt`` reads the
  owner from, and the event-posting queue behind ``kopf.warn``/``kopf.event``)
  is provided by the recorder, as kopf's reactor would.
* ``BaseResource.compute_hash`` is wrapped (called through unchanged) only to
  log its canonical input next to its output, for ``_hashes.json``.

Before a manifest reaches upstream's handler it goes through a small model of
what the API server does on ``kubectl apply`` with upstream's CRDs (from the
same checkout): structural pruning, then defaulting, then a light validation.
That part is the recorder's own code and its result is written to
``_input.json`` next to the fixtures.

Usage: record.py --src <extracted upstream checkout> --out <fixtures dir>
"""

import argparse
import asyncio
import contextlib
import copy
import io
import json
import logging
import os
import re
import shutil
import sys
from urllib.parse import urlsplit

import yaml

FIXED_UID = "00000000-0000-4000-8000-000000000000"
FIXED_TIME = "1970-01-01T00:00:00+00:00"
DEFAULT_NAMESPACE = "default"

# Operator settings read from the environment at import time by upstream's
# kaspr/types/settings.py; cleared so the recording uses upstream's defaults.
OPERATOR_ENV = [
    "INITIAL_MAX_REPLICAS",
    "HPA_SCALE_UP_POLICY_PODS_PER_STEP",
    "HPA_SCALE_UP_POLICY_PERIOD_SECONDS",
    "STATEFULSET_DELETION_TIMEOUT_SECONDS",
    "CLIENT_STATUS_CHECK_ENABLED",
    "CLIENT_STATUS_CHECK_TIMEOUT_SECONDS",
    "KASPR_IMAGE_REGISTRY",
    "AUTO_REBALANCE_ENABLED",
    "HUNG_MEMBER_DETECTION_ENABLED",
    "HUNG_REBALANCING_THRESHOLD_SECONDS",
]

# Example sets whose components are recorded, and the app example files.
COMPONENT_SETS = [
    "analytics-api",
    "analytics-counter",
    "notification-router",
    "user-enrichment",
    "user-event-processor",
    "join",
]
COMPONENT_KINDS = ["KasprAgent", "KasprWebView", "KasprTable", "KasprTask", "KasprJoin"]

# The python-packages examples omit fields upstream's KasprAppSpecSchema
# requires.  Besides recording upstream's error for the file as it is, a
# "supplemented/" variant adds exactly these values where missing.
SUPPLEMENT = {
    "authentication": {"type": "plain"},
    "storage": {"type": "persistent-claim", "class": "standard", "size": "1Gi"},
}

log = logging.getLogger("recorder")


# --------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------

def dump_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def fix_times(data):
    """Replace wall-clock timestamps that upstream writes with FIXED_TIME."""
    if isinstance(data, dict):
        return {
            k: (FIXED_TIME if k == "lastTransitionTime" and isinstance(v, str) else fix_times(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [fix_times(v) for v in data]
    return data


def plain(data):
    """Convert kopf views / tuples into plain JSON data."""
    return json.loads(json.dumps(data, default=lambda o: dict(o) if hasattr(o, "items") else list(o)))


# --------------------------------------------------------------------------
# API server model: structural pruning, defaulting, light validation
# --------------------------------------------------------------------------

class Admission:
    def __init__(self, crd_dir):
        self.schemas = {}  # (group, version, kind) -> openAPIV3Schema
        self._keep_maps = False
        self.kinds = {}  # kind -> list of served (group, version)
        for fn in sorted(os.listdir(crd_dir)):
            if not fn.endswith(".yaml"):
                continue
            with open(os.path.join(crd_dir, fn), encoding="utf-8") as fh:
                for crd in yaml.safe_load_all(fh):
                    if not crd or crd.get("kind") != "CustomResourceDefinition":
                        continue
                    group = crd["spec"]["group"]
                    kind = crd["spec"]["names"]["kind"]
                    for ver in crd["spec"]["versions"]:
                        if not ver.get("served", True):
                            continue
                        self.schemas[(group, ver["name"], kind)] = ver["schema"]["openAPIV3Schema"]
                        self.kinds.setdefault(kind, []).append(f"{group}/{ver['name']}")

    def admit(self, obj, keep_free_form_maps=False):
        """Return (admitted_object, report) or (None, report) when rejected.

        keep_free_form_maps: treat ``type: object`` nodes that declare neither
        properties nor additionalProperties as if they carried
        ``x-kubernetes-preserve-unknown-fields: true`` (they are pruned to {}
        otherwise); used only by component edge cases named ``maps-kept-*``.
        """
        report = {"pruned": [], "defaulted": [], "validationErrors": []}
        if keep_free_form_maps:
            report["keptFreeFormMaps"] = []
        self._keep_maps = keep_free_form_maps
        api_version = obj.get("apiVersion", "")
        kind = obj.get("kind", "")
        if "/" in api_version:
            group, version = api_version.split("/", 1)
        else:
            group, version = "", api_version
        schema = self.schemas.get((group, version, kind))
        if schema is None:
            report["rejected"] = (
                f'no matches for kind "{kind}" in version "{api_version}" '
                f"(upstream CRDs serve {kind} only as {', '.join(self.kinds.get(kind, [])) or 'nothing'})"
            )
            return None, report
        out = copy.deepcopy(obj)
        meta = out.setdefault("metadata", {})
        meta.setdefault("namespace", DEFAULT_NAMESPACE)
        # Root: apiVersion, kind and metadata are always kept.
        props = schema.get("properties", {})
        for key in list(out):
            if key in ("apiVersion", "kind", "metadata"):
                continue
            if key not in props:
                report["pruned"].append(key)
                del out[key]
            else:
                out[key] = self._prune(out[key], props[key], key, report)
        for key in list(out):
            if key in props:
                self._default(out[key], props[key], key, report)
        for key, sub in props.items():
            if key in out:
                self._validate(out[key], sub, key, report)
        if report["validationErrors"]:
            report["rejected"] = (
                f'{kind}.{group} "{meta.get("name")}" is invalid: ' + "; ".join(report["validationErrors"])
            )
        return out, report

    def _prune(self, value, schema, path, report):
        if isinstance(value, dict):
            preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
            props = schema.get("properties") or {}
            addl = schema.get("additionalProperties")
            if (self._keep_maps and not preserve and not props and addl is None
                    and schema.get("type") == "object" and value):
                report["keptFreeFormMaps"].append(path)
                preserve = True
            for key in list(value):
                sub_path = f"{path}.{key}"
                if key in props:
                    if value[key] is None and not props[key].get("nullable", False):
                        report["pruned"].append(sub_path + " (null)")
                        del value[key]
                        continue
                    value[key] = self._prune(value[key], props[key], sub_path, report)
                elif isinstance(addl, dict):
                    value[key] = self._prune(value[key], addl, sub_path, report)
                elif addl is True or preserve:
                    continue
                else:
                    report["pruned"].append(sub_path)
                    del value[key]
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, dict):
                return [self._prune(v, items, f"{path}[{i}]", report) for i, v in enumerate(value)]
        return value

    def _default(self, value, schema, path, report):
        if isinstance(value, dict):
            props = schema.get("properties") or {}
            for key, sub in props.items():
                if key not in value and "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
                    report["defaulted"].append(f"{path}.{key}={json.dumps(sub['default'])}")
            for key in list(value):
                if key in props:
                    self._default(value[key], props[key], f"{path}.{key}", report)
                elif isinstance(schema.get("additionalProperties"), dict):
                    self._default(value[key], schema["additionalProperties"], f"{path}.{key}", report)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, v in enumerate(value):
                self._default(v, schema["items"], f"{path}[{i}]", report)

    def _validate(self, value, schema, path, report):
        errs = report["validationErrors"]
        typ = schema.get("type")
        if schema.get("x-kubernetes-int-or-string"):
            if not isinstance(value, (int, str)) or isinstance(value, bool):
                errs.append(f"{path}: must be an integer or a string")
            return
        checks = {
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
        }
        if value is None:
            if not schema.get("nullable", False):
                errs.append(f"{path}: must not be null")
            return
        if typ in checks and not checks[typ](value):
            errs.append(f"{path}: Invalid value: {json.dumps(value)}: must be of type {typ}")
            return
        if "enum" in schema and value not in schema["enum"]:
            errs.append(f"{path}: Unsupported value: {json.dumps(value)}: supported values: {schema['enum']}")
        if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
            errs.append(f"{path}: Invalid value: {value}: should be greater than or equal to {schema['minimum']}")
        if isinstance(value, dict):
            for req in schema.get("required", []):
                if req not in value:
                    errs.append(f"{path}.{req}: Required value")
            props = schema.get("properties") or {}
            for key, v in value.items():
                if key in props:
                    self._validate(v, props[key], f"{path}.{key}", report)
                elif isinstance(schema.get("additionalProperties"), dict):
                    self._validate(v, schema["additionalProperties"], f"{path}.{key}", report)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, v in enumerate(value):
                self._validate(v, schema["items"], f"{path}[{i}]", report)


# --------------------------------------------------------------------------
# In-memory Kubernetes API (replaces the HTTP transport only)
# --------------------------------------------------------------------------

PATH_RE = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$"
)

PLURAL_KIND = {
    "services": "Service",
    "serviceaccounts": "ServiceAccount",
    "configmaps": "ConfigMap",
    "secrets": "Secret",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "statefulsets": "StatefulSet",
    "horizontalpodautoscalers": "HorizontalPodAutoscaler",
    "storageclasses": "StorageClass",
    "pods": "Pod",
    "kasprapps": "KasprApp",
    "kaspragents": "KasprAgent",
    "kasprwebviews": "KasprWebView",
    "kasprtables": "KasprTable",
    "kasprtasks": "KasprTask",
    "kasprjoins": "KasprJoin",
}
KIND_PLURAL = {v: k for k, v in PLURAL_KIND.items()}


class FakeResponse:
    def __init__(self, status, data, reason="OK"):
        self.status = status
        self.reason = reason
        self.data = json.dumps(data).encode("utf-8")

    def getheaders(self):
        return {"Content-Type": "application/json"}

    def getheader(self, name, default=None):
        return self.getheaders().get(name, default)


def json_patch_apply(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        target = doc
        for p in parts[:-1]:
            target = target[int(p)] if isinstance(target, list) else target.setdefault(p, {})
        last = parts[-1]
        if op["op"] in ("replace", "add"):
            if isinstance(target, list):
                idx = len(target) if last == "-" else int(last)
                if op["op"] == "add":
                    target.insert(idx, op["value"])
                else:
                    target[idx] = op["value"]
            else:
                target[last] = op["value"]
        elif op["op"] == "remove":
            if isinstance(target, list):
                del target[int(last)]
            else:
                target.pop(last, None)
        else:
            raise ValueError(f"unsupported json-patch op {op['op']}")
    return doc


def merge_patch(doc, patch):
    if not isinstance(patch, dict):
        return patch
    doc = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = merge_patch(doc.get(k), v)
    return doc


class FakeCluster:
    """A tiny API server: a store keyed by (api prefix, namespace, plural, name)."""

    def __init__(self):
        self.store = {}
        self.requests = []

    def seed(self, obj):
        api_version = obj["apiVersion"]
        prefix = "api/v1" if api_version == "v1" else f"apis/{api_version}"
        plural = KIND_PLURAL[obj["kind"]]
        key = (prefix, obj["metadata"].get("namespace"), plural, obj["metadata"]["name"])
        self.store[key] = copy.deepcopy(obj)

    def created(self):
        return [r for r in self.requests if r["method"] == "POST"]

    async def request(self, method, url, query_params=None, headers=None, body=None,
                      post_params=None, _preload_content=True, _request_timeout=None):
        from kubernetes_asyncio.client.exceptions import ApiException

        path = urlsplit(url).path
        query = dict(query_params or [])
        m = PATH_RE.match(path)
        if not m:
            raise RuntimeError(f"recorder: unroutable request {method} {path}")
        prefix = "api/v1" if m.group("core") else f"apis/{m.group('group')}/{m.group('version')}"
        ns, plural, name = m.group("ns"), m.group("plural"), m.group("name")
        # rest.RESTClientObject.request defaults the header the same way.
        content_type = (headers or {}).get("Content-Type") or "application/json"
        entry = {"method": method, "path": path}
        if query:
            entry["query"] = {k: str(v) for k, v in sorted(query.items())}
        if body is not None:
            entry["contentType"] = content_type
            entry["body"] = copy.deepcopy(body)
            entry["kind"] = PLURAL_KIND.get(plural, plural)
        self.requests.append(entry)

        def not_found():
            exc = ApiException(status=404, reason="Not Found")
            exc.body = json.dumps({
                "kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": f'{plural} "{name}" not found', "reason": "NotFound", "code": 404,
            }).encode("utf-8")
            return exc

        key = (prefix, ns, plural, name)
        if method == "GET" and name is None:
            selector = query.get("labelSelector") or query.get("label_selector")
            wanted = {}
            if selector:
                for part in selector.split(","):
                    k, _, v = part.partition("=")
                    wanted[k] = v
            items = [
                copy.deepcopy(obj)
                for (p, n, pl, nm), obj in sorted(self.store.items(), key=lambda kv: kv[0][3])
                if p == prefix and pl == plural and (ns is None or n == ns)
                and all((obj.get("metadata", {}).get("labels") or {}).get(k) == v for k, v in wanted.items())
            ]
            return FakeResponse(200, {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items})
        if method == "GET":
            if key in self.store:
                return FakeResponse(200, self.store[key])
            raise not_found()
        if method == "POST":
            obj = copy.deepcopy(body)
            obj_name = obj["metadata"]["name"]
            self.store[(prefix, ns, plural, obj_name)] = obj
            return FakeResponse(201, obj, "Created")
        if method == "PATCH":
            if key not in self.store:
                raise not_found()
            if content_type == "application/json-patch+json":
                self.store[key] = json_patch_apply(self.store[key], body)
            else:
                self.store[key] = merge_patch(self.store[key], body)
            return FakeResponse(200, self.store[key])
        if method == "PUT":
            self.store[key] = copy.deepcopy(body)
            return FakeResponse(200, self.store[key])
        if method == "DELETE":
            self.store.pop(key, None)
            return FakeResponse(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
        raise RuntimeError(f"recorder: unsupported method {method}")


CLUSTER = None  # the FakeCluster the patched transport talks to
HASH_LOG = []  # (canonical input, result) pairs logged by the compute_hash wrapper


def install_transport_stub():
    from kubernetes_asyncio.client import rest

    def __init__(self, configuration, pools_size=4, maxsize=None):
        self.configuration = configuration

    async def request(self, method, url, **kwargs):
        return await CLUSTER.request(method, url, **kwargs)

    async def close(self):
        return None

    rest.RESTClientObject.__init__ = __init__
    rest.RESTClientObject.request = request
    rest.RESTClientObject.close = close


def install_hash_logger():
    import mmh3
    from kaspr.resources.base import BaseResource
    from kaspr.utils.helpers import canonicalize_dict

    original = BaseResource.compute_hash

    def compute_hash(self, data):
        result = original(self, data)
        if isinstance(data, dict):
            canonical = canonicalize_dict(data)
            kind = "dict"
        else:
            canonical = data
            kind = type(data).__name__
        HASH_LOG.append({
            "result": result,
            "inputType": kind,
            "canonicalInput": canonical,
            "mmh3Hash128": str(mmh3.hash128(canonical)),
        })
        return result

    BaseResource.compute_hash = compute_hash


# --------------------------------------------------------------------------
# kopf handler context
# --------------------------------------------------------------------------

class Events:
    def __init__(self):
        self.queue = None

    def drain(self):
        out = []
        while self.queue is not None and not self.queue.empty():
            ev = self.queue.get_nowait()
            out.append({"type": ev.type, "reason": ev.reason, "message": ev.message,
                        "involvedObject": dict(ev.ref)})
        return out


EVENTS = Events()


@contextlib.contextmanager
def handler_context(raw_body):
    """Set what kopf's reactor sets around a handler call."""
    import kopf
    from kopf._core.actions import execution
    from kopf._core.engines import posting
    from kopf._core.intents import causes
    from kopf._cogs.structs import bodies, ephemera, patches, references

    settings = kopf.OperatorSettings()
    # As kaspr/app.py's startup handler configures them.
    settings.batching.worker_limit = 2
    settings.posting.enabled = True
    settings.posting.level = logging.WARNING

    body = bodies.Body(raw_body)
    patch = patches.Patch(body=raw_body)
    api_version = raw_body["apiVersion"]
    group, _, version = api_version.partition("/")
    resource = references.Resource(
        group=group, version=version, plural=KIND_PLURAL[raw_body["kind"]],
        kind=raw_body["kind"], namespaced=True,
    )
    cause = causes.ResourceCause(
        logger=logging.getLogger("recorder.handler"),
        indices={},
        memo=ephemera.Memo(),
        resource=resource,
        patch=patch,
        body=body,
    )
    EVENTS.queue = asyncio.Queue()
    tokens = [
        (execution.cause_var, execution.cause_var.set(cause)),
        (posting.settings_var, posting.settings_var.set(settings)),
        (posting.event_queue_var, posting.event_queue_var.set(EVENTS.queue)),
        (posting.event_queue_loop_var, posting.event_queue_loop_var.set(asyncio.get_running_loop())),
    ]
    try:
        yield body, patch
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def handler_kwargs(body, patch, logger):
    meta = body.metadata
    return dict(
        body=body,
        spec=body.spec,
        meta=meta,
        status=body.status,
        name=meta.name,
        namespace=meta.namespace,
        labels=meta.labels,
        annotations=meta.annotations,
        uid=meta.uid,
        patch=patch,
        logger=logger,
    )


def describe_error(exc):
    return {"type": f"{type(exc).__module__}.{type(exc).__qualname__}", "message": str(exc)}


# --------------------------------------------------------------------------
# Example loading
# --------------------------------------------------------------------------

def load_docs(path):
    with open(path, encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def to_body(admitted):
    body = copy.deepcopy(admitted)
    meta = body["metadata"]
    meta["uid"] = FIXED_UID
    meta.setdefault("generation", 1)
    return body


def object_file_name(entry):
    body = entry["body"]
    kind = body.get("kind") or entry["kind"]
    return f"{kind}-{body['metadata']['name']}.json"


# --------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------

class Recorder:
    def __init__(self, src, out):
        self.src = src
        self.out = out
        self.examples = os.path.join(src, "examples")
        self.admission = Admission(os.path.join(src, "crds"))
        self.summary = {"apps": {}, "components": {}}
        self.logger = logging.getLogger("kaspr.recorded")

    # ---- examples -------------------------------------------------------
    def copy_examples(self):
        dest = os.path.join(self.out, "examples")
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        for root, _dirs, files in os.walk(self.examples):
            for fn in sorted(files):
                src = os.path.join(root, fn)
                rel = os.path.relpath(src, self.examples)
                os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                shutil.copyfile(src, os.path.join(dest, rel))

    def app_example_files(self):
        files = []
        for sub in ("app", "python-packages"):
            d = os.path.join(self.examples, sub)
            files += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".yaml")]
        for s in COMPONENT_SETS:
            d = os.path.join(self.examples, s)
            files += [os.path.join(d, f) for f in sorted(os.listdir(d))
                      if f.endswith(".yaml") and (f.startswith("app-") or s == "join")]
        return files

    def set_documents(self, set_dir):
        docs = []
        for fn in sorted(os.listdir(set_dir)):
            if fn.endswith(".yaml"):
                for d in load_docs(os.path.join(set_dir, fn)):
                    docs.append((fn, d))
        return docs

    # ---- apps ---------------------------------------------------------------
    async def record_apps(self):
        apps_dir = os.path.join(self.out, "apps")
        if os.path.isdir(apps_dir):
            shutil.rmtree(apps_dir)
        for path in self.app_example_files():
            stem = os.path.splitext(os.path.basename(path))[0]
            set_dir = os.path.dirname(path)
            set_name = os.path.basename(set_dir)
            docs = [d for d in load_docs(path) if d.get("kind") == "KasprApp"]
            if not docs:
                self.summary["apps"][os.path.relpath(path, self.examples)] = "no KasprApp in file"
                continue
            if len(docs) != 1:
                raise RuntimeError(f"{path}: expected one KasprApp")
            raw = docs[0]
            out_dir = os.path.join(apps_dir, stem)
            seeds = []
            if set_name in COMPONENT_SETS:
                for _fn, d in self.set_documents(set_dir):
                    admitted, _ = self.admission.admit(d)
                    if admitted is not None:
                        seeds.append(to_body(admitted))
            source = "examples/" + os.path.relpath(path, self.examples)
            result = await self.record_app(raw, out_dir, seeds, source)
            entry = {"objects": result}
            if result is None and set_name == "python-packages":
                spec = raw.get("spec") or {}
                missing = {k: v for k, v in SUPPLEMENT.items() if k not in spec}
                if missing:
                    supplemented = copy.deepcopy(raw)
                    supplemented["spec"].update(copy.deepcopy(missing))
                    res2 = await self.record_app(
                        supplemented, os.path.join(out_dir, "supplemented"), [],
                        source, supplemented_with=missing,
                    )
                    entry["supplemented"] = res2
            self.summary["apps"][os.path.relpath(path, self.examples)] = entry

    async def record_app(self, raw, out_dir, seeds, source, supplemented_with=None):
        global CLUSTER
        from kaspr.handlers import kasprapp as app_handlers

        admitted, report = self.admission.admit(raw)
        input_doc = {"source": source, "admission": report}
        if supplemented_with:
            input_doc["supplementedWith"] = supplemented_with
        if "rejected" in report:
            # The API server would refuse the manifest; still record what
            # upstream's handler does if handed the spec anyway.
            input_doc["note"] = ("Rejected by the API server (see admission.rejected); what follows is "
                                 "what upstream's handler does if given this object anyway.")
        if admitted is None:
            admitted = copy.deepcopy(raw)
            admitted["apiVersion"] = "kaspr.io/v1alpha1"
            admitted.setdefault("metadata", {}).setdefault("namespace", DEFAULT_NAMESPACE)
        body_raw = to_body(admitted)
        input_doc["object"] = body_raw
        dump_json(os.path.join(out_dir, "_input.json"), input_doc)

        CLUSTER = FakeCluster()
        for s in seeds:
            CLUSTER.seed(s)
        CLUSTER.seed(body_raw)
        HASH_LOG.clear()
        error = None
        with handler_context(body_raw) as (body, patch):
            try:
                await app_handlers.on_create(**handler_kwargs(body, patch, self.logger))
            except Exception as exc:  # upstream raises after writing status
                error = describe_error(exc)
                error["statusPatch"] = fix_times(plain(patch))
            events = EVENTS.drain()
        created = CLUSTER.created()
        for entry in created:
            dump_json(os.path.join(out_dir, object_file_name(entry)), entry["body"])
        self.write_requests(out_dir, CLUSTER.requests, events)
        self.write_hashes(out_dir)
        if error:
            dump_json(os.path.join(out_dir, "_error.json"), error)
            return None if not created else sorted(object_file_name(e) for e in created)

        # Components of the same example set, attached the way upstream
        # attaches them: the monitor_related_resources daemon lists them by
        # the kaspr.io/app label and JSON-patches the StatefulSet.
        name = body_raw["metadata"]["name"]
        mine = [s for s in seeds if s["kind"] in COMPONENT_KINDS
                and (s["metadata"].get("labels") or {}).get("kaspr.io/app") == name]
        if mine:
            await self.record_with_components(body_raw, out_dir, created, mine)
        return sorted(object_file_name(e) for e in created)

    async def record_with_components(self, body_raw, out_dir, created, components):
        from kaspr.handlers import kasprapp as app_handlers

        wc_dir = os.path.join(out_dir, "with-components")
        first_request = len(CLUSTER.requests)
        HASH_LOG.clear()

        class Stopped:
            def __init__(self):
                self.flag = False

            def __bool__(self):
                return self.flag

            async def wait(self, timeout=None):
                self.flag = True

        with handler_context(body_raw) as (body, patch):
            kwargs = handler_kwargs(body, patch, self.logger)
            await app_handlers.monitor_related_resources(stopped=Stopped(), **kwargs)
            events = EVENTS.drain()
        requests = CLUSTER.requests[first_request:]
        patches = [r for r in requests if r["method"] == "PATCH"]
        if len(patches) != 1:
            raise RuntimeError(f"expected one StatefulSet patch, got {patches}")
        sts_patch = patches[0]
        sts_name = sts_patch["path"].rsplit("/", 1)[1]
        for entry in created:
            body_out = entry["body"]
            if entry["kind"] == "StatefulSet":
                key = ("apis/apps/v1", body_raw["metadata"]["namespace"], "statefulsets", sts_name)
                body_out = CLUSTER.store[key]
            dump_json(os.path.join(wc_dir, object_file_name(entry)), body_out)
        dump_json(os.path.join(wc_dir, f"_patch-StatefulSet-{sts_name}.json"), {
            "method": "PATCH",
            "path": sts_patch["path"],
            "contentType": sts_patch["contentType"],
            "body": sts_patch["body"],
        })
        dump_json(os.path.join(wc_dir, "_components.json"), [
            {"kind": c["kind"], "name": c["metadata"]["name"]} for c in
            sorted(components, key=lambda c: (COMPONENT_KINDS.index(c["kind"]), c["metadata"]["name"]))
        ])
        self.write_requests(wc_dir, requests, events)
        self.write_hashes(wc_dir)

    def write_requests(self, out_dir, requests, events):
        log_entries = []
        for r in requests:
            e = {k: v for k, v in r.items() if k not in ("body", "kind")}
            if r["method"] == "POST":
                e["file"] = object_file_name(r)
            elif r["method"] == "PATCH":
                e["file"] = f"_patch-{r['kind']}-{r['path'].rsplit('/', 1)[1]}.json"
            log_entries.append(e)
        dump_json(os.path.join(out_dir, "_requests.json"), {"requests": log_entries, "events": events})

    def write_hashes(self, out_dir):
        dump_json(os.path.join(out_dir, "_hashes.json"), list(HASH_LOG))

    # ---- edge cases -------------------------------------------------------
    async def record_edge_cases(self):
        root = os.path.join(self.out, "edge-cases")
        if os.path.isdir(root):
            shutil.rmtree(root)
        summary = {}
        for case in edge_cases():
            out_dir = os.path.join(root, case["name"])
            result = await self.record_app(
                case["manifest"], out_dir, [], "recorder edge case: " + case["description"],
            )
            summary[case["name"]] = result
        self.summary["edgeCases"] = summary

    # ---- components -------------------------------------------------------
    async def record_components(self):
        comp_root = os.path.join(self.out, "components")
        if os.path.isdir(comp_root):
            shutil.rmtree(comp_root)
        for set_name in COMPONENT_SETS:
            set_dir = os.path.join(self.examples, set_name)
            out_dir = os.path.join(comp_root, set_name)
            docs = self.set_documents(set_dir)
            seeds = []
            for _fn, d in docs:
                admitted, _ = self.admission.admit(d)
                if admitted is not None:
                    seeds.append(to_body(admitted))
            counts = {}
            for fn, raw in docs:
                if raw.get("kind") not in COMPONENT_KINDS:
                    continue
                kind, name = raw["kind"], raw["metadata"]["name"]
                meta = await self.record_component(raw, seeds, out_dir, f"examples/{set_name}/{fn}")
                counts[f"{kind}/{name}"] = meta["created"] if "error" not in meta else meta["error"]
            self.summary["components"][set_name] = counts

    async def record_component(self, raw, seeds, out_dir, source, keep_free_form_maps=False, note=None):
        """Run the component kind's reconciliation handler on one admitted
        manifest, with ``seeds`` in the fake cluster; write
        ``ConfigMap-<name>-<type>.json`` and ``<Kind>-<name>.meta.json``."""
        global CLUSTER
        from kaspr.handlers import kaspragent, kasprtable, kasprwebview, kasprtask, kasprjoin

        handlers = {
            "KasprAgent": kaspragent.reconciliation,
            "KasprTable": kasprtable.reconciliation,
            "KasprWebView": kasprwebview.reconciliation,
            "KasprTask": kasprtask.reconciliation,
            "KasprJoin": kasprjoin.reconciliation,
        }
        kind, name = raw["kind"], raw["metadata"]["name"]
        admitted, report = self.admission.admit(raw, keep_free_form_maps=keep_free_form_maps)
        body_raw = to_body(admitted)
        CLUSTER = FakeCluster()
        for s in seeds:
            CLUSTER.seed(s)
        HASH_LOG.clear()
        meta = {
            "source": source,
            "admission": report,
            "input": body_raw,
        }
        if note:
            meta["note"] = note
        with handler_context(body_raw) as (body, patch):
            try:
                await handlers[kind](**handler_kwargs(body, patch, self.logger))
            except Exception as exc:
                meta["error"] = describe_error(exc)
            meta["statusPatch"] = fix_times(plain(patch))
            meta["events"] = EVENTS.drain()
        created = CLUSTER.created()
        meta["created"] = [object_file_name(e) for e in created]
        for entry in created:
            dump_json(os.path.join(out_dir, object_file_name(entry)), entry["body"])
            cm = entry["body"]
            if entry["kind"] == "ConfigMap":
                meta["configMap"] = {
                    "name": cm["metadata"]["name"],
                    "dataKeys": sorted(cm.get("data", {})),
                    "resourceHash": cm["metadata"]["annotations"].get("kaspr.io/resource-hash"),
                }
        meta["requests"] = [
            dict({k: v for k, v in r.items() if k not in ("body", "kind")},
                 **({"file": object_file_name(r)} if r["method"] == "POST" else {}))
            for r in CLUSTER.requests
        ]
        meta["hashes"] = list(HASH_LOG)
        dump_json(os.path.join(out_dir, f"{kind}-{name}.meta.json"), meta)
        return meta

    async def record_component_edge_cases(self):
        """Synthetic component manifests (component_edge_cases()), recorded like
        the example sets into components/_edge/<case>/. Not in _summary.json;
        components/_edge/_cases.json indexes them."""
        root = os.path.join(self.out, "components", "_edge")
        if os.path.isdir(root):
            shutil.rmtree(root)
        index = {}
        for case in component_edge_cases():
            out_dir = os.path.join(root, case["name"])
            seeds = []
            if case["app"]:
                admitted, report = self.admission.admit(edge_component_app())
                if "rejected" in report:
                    raise RuntimeError(f"edge app rejected: {report}")
                seeds.append(to_body(admitted))
            for d in case["manifests"]:
                admitted, _ = self.admission.admit(d, keep_free_form_maps=case.get("keepFreeFormMaps", False))
                seeds.append(to_body(admitted))
            results = {}
            for raw in case["manifests"]:
                meta = await self.record_component(
                    raw, seeds, out_dir,
                    f"recorder component edge case {case['name']}: {case['description']}",
                    keep_free_form_maps=case.get("keepFreeFormMaps", False), note=case.get("note"),
                )
                if "rejected" in meta["admission"]:
                    raise RuntimeError(f"edge case {case['name']}: admission refused: {meta['admission']}")
                key = f"{raw['kind']}/{raw['metadata']['name']}"
                results[key] = meta["created"] if "error" not in meta else meta["error"]
            index[case["name"]] = {
                "description": case["description"],
                "appSeeded": case["app"],
                "keepFreeFormMaps": case.get("keepFreeFormMaps", False),
                "manifests": case["manifests"],
                "results": results,
            }
        dump_json(os.path.join(root, "_cases.json"), index)

    # ---- versions -------------------------------------------------------------
    async def record_versions(self):
        from kaspr.types.models.version_resources import KasprVersionResources

        with open(KasprVersionResources._CONFIG_PATH, encoding="utf-8") as fh:
            versions = yaml.safe_load(fh)
        dump_json(os.path.join(self.out, "kaspr_versions.json"), versions)
        dump_json(os.path.join(self.out, "version_resolution.json"), await version_cases())

    def write_summary(self):
        dump_json(os.path.join(self.out, "_summary.json"), self.summary)


def edge_cases():
    """Synthetic KasprApps probing behaviour the examples do not reach."""

    def app(spec_update=None, drop=(), annotations=None, name="edge"):
        spec = {
            "replicas": 2,
            "bootstrapServers": "kafka:9092",
            "authentication": {"type": "plain"},
            "storage": {"type": "persistent-claim", "class": "standard", "size": "1Gi", "deleteClaim": True},
        }
        for key in drop:
            spec.pop(key, None)
        spec.update(copy.deepcopy(spec_update or {}))
        meta = {"name": name, "namespace": "edge"}
        if annotations:
            meta["annotations"] = annotations
        return {"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp", "metadata": meta, "spec": spec}

    templates = {
        "serviceAccount": {"metadata": {"labels": {"sa-label": "l"}, "annotations": {"sa-annotation": "a"}}},
        "service": {"metadata": {"labels": {"svc-label": "l"}, "annotations": {"svc-annotation": "a"}}},
        "pod": {
            "metadata": {"labels": {"pod-label": "l"}, "annotations": {"pod-annotation": "a"}},
            "imagePullSecrets": [{"name": "regcred"}],
            "securityContext": {"runAsNonRoot": True, "fsGroup": 1000},
            "terminationGracePeriodSeconds": 30,
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "kaspr", "effect": "NoSchedule"}],
            "priorityClassName": "high",
            "schedulerName": "custom-scheduler",
            "enableServiceLinks": False,
            "volumes": [
                {"name": "sec", "secret": {"secretName": "my-secret", "items": [{"key": "k", "path": "p"}]}},
                {"name": "cm", "configMap": {"name": "my-cm"}},
                {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
            ],
        },
        "kasprContainer": {
            "env": [
                {"name": "PLAIN", "value": "1"},
                {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "my-secret", "key": "k"}}},
                {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "my-cm", "key": "k", "optional": True}}},
                {"name": "FROM_FIELD", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            ],
            "volumeMounts": [
                {"name": "sec", "mountPath": "/etc/sec", "readOnly": True},
                {"name": "scratch", "mountPath": "/scratch", "subPath": "x"},
            ],
        },
    }
    sasl = {"type": "scram-sha-512", "username": "u",
            "passwordSecret": {"secretName": "kafka-secret", "passwordKey": "pw"}}
    return [
        {"name": "baseline", "description": "minimal valid app (plain auth without username)", "manifest": app()},
        {"name": "storage-ephemeral", "description": "storage.type=ephemeral with class and size",
         "manifest": app({"storage": {"type": "ephemeral", "class": "standard", "size": "1Gi"}})},
        {"name": "storage-ephemeral-bare", "description": "storage.type=ephemeral only",
         "manifest": app({"storage": {"type": "ephemeral"}})},
        {"name": "storage-no-class", "description": "persistent-claim without class",
         "manifest": app({"storage": {"type": "persistent-claim", "size": "1Gi"}})},
        {"name": "storage-missing", "description": "no spec.storage", "manifest": app(drop=["storage"])},
        {"name": "storage-delete-claim-unset", "description": "storage.deleteClaim absent",
         "manifest": app({"storage": {"type": "persistent-claim", "class": "standard", "size": "1Gi"}})},
        {"name": "replicas-missing", "description": "no spec.replicas", "manifest": app(drop=["replicas"])},
        {"name": "replicas-zero", "description": "spec.replicas=0", "manifest": app({"replicas": 0})},
        {"name": "auth-scram-sha-512-tls", "description": "scram-sha-512 with username/passwordSecret and tls: {}",
         "manifest": app({"authentication": sasl, "tls": {}})},
        {"name": "auth-plain-sasl", "description": "plain with username and passwordSecret, no tls",
         "manifest": app({"authentication": dict(sasl, type="plain")})},
        {"name": "auth-scram-no-credentials", "description": "scram-sha-256 without username/passwordSecret",
         "manifest": app({"authentication": {"type": "scram-sha-256"}})},
        {"name": "tls-only", "description": "plain auth without username, tls: {}",
         "manifest": app({"tls": {}})},
        {"name": "static-membership-disabled", "description": "annotation kaspr.io/disable-static-group-membership=true",
         "manifest": app(annotations={"kaspr.io/disable-static-group-membership": "true"})},
        {"name": "pause-reconciliation", "description": "annotation kaspr.io/pause-reconciliation=true",
         "manifest": app(annotations={"kaspr.io/pause-reconciliation": "true"})},
        {"name": "config-overrides", "description": "spec.config with schema and unknown keys",
         "manifest": app({"config": {"webPort": 8080, "topicPartitions": 3, "tableDir": "/custom/tables",
                                     "dataDir": "/custom/data", "some.unknown": "x"}})},
        {"name": "config-snake-case-web-port", "description": "spec.config.web_port (snake case, as the update handler watches)",
         "manifest": app({"config": {"web_port": 9090}})},
        {"name": "version-explicit", "description": "spec.version=0.10.5", "manifest": app({"version": "0.10.5"})},
        {"name": "version-unsupported", "description": "spec.version=9.9.9", "manifest": app({"version": "9.9.9"})},
        {"name": "image-with-unsupported-version", "description": "spec.image set and spec.version=9.9.9",
         "manifest": app({"image": "my-registry/kaspr:custom", "version": "9.9.9"})},
        {"name": "templates", "description": "all spec.template sections",
         "manifest": app({"template": templates})},
        {"name": "template-emptydir-empty", "description": "template.pod.volumes with emptyDir: {}",
         "manifest": app({"template": {"pod": {"volumes": [{"name": "scratch", "emptyDir": {}}]}}})},
        {"name": "python-packages-gcs-defaults", "description": "gcs cache with only bucket and secretRef.name",
         "manifest": app({"pythonPackages": {"packages": ["requests"],
                                             "cache": {"type": "gcs", "gcs": {"bucket": "b", "secretRef": {"name": "gcs"}}}}})},
        {"name": "python-packages-pvc-no-delete-claim", "description": "pvc cache with deleteClaim=false",
         "manifest": app({"pythonPackages": {"packages": ["requests"],
                                             "cache": {"enabled": True, "deleteClaim": False}}})},
    ]


EDGE_APP = "edge"


def edge_component_app():
    """The KasprApp seeded for the component edge cases that want AppFound."""
    return {"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp",
            "metadata": {"name": EDGE_APP, "namespace": DEFAULT_NAMESPACE}, "spec": copy.deepcopy(BASE_SPEC)}


def component_edge_cases():
    """Synthetic component manifests for components/_edge/<case>/.

    Each case: name, description, app (seed KasprApp EDGE_APP so the handler
    finds it), manifests (all recorded, and all seeded into the fake cluster),
    optional keepFreeFormMaps/note (maps-kept-* only). Every value is a
    literal: the output is deterministic.
    """

    def comp(kind, name, spec):
        # A JSON round trip, not deepcopy: no dict shared between two places
        # (the admission report would list a shared map's pruned keys once).
        return {"apiVersion": "kaspr.io/v1alpha1", "kind": kind,
                "metadata": {"name": name, "namespace": DEFAULT_NAMESPACE, "labels": {"kaspr.io/app": EDGE_APP}},
                "spec": json.loads(json.dumps(spec))}

    def code(fn, result="value"):
        return {"entrypoint": fn, "python": f"def {fn}(value):\n    return {result}\n"}

    def selectors(prefix):
        return {
            "keySelector": code(f"{prefix}_key", "value['id']"),
            "valueSelector": code(f"{prefix}_value"),
            "partitionSelector": code(f"{prefix}_partition", "0"),
            "headersSelector": code(f"{prefix}_headers", "{'X-Source': 'edge'}"),
            "predicate": code(f"{prefix}_predicate", "True"),
        }

    def on_both(prefix):
        return {"onSuccess": code(f"{prefix}_on_success"), "onError": code(f"{prefix}_on_error")}

    # Free-form maps (CRD `type: object` without properties): user keys with
    # upper case letters, dots and camelCase.
    topic_config = {"cleanup.policy": "compact", "maxMessageBytes": "1000", "Segment.Bytes": "1048576"}
    headers = {"Content-Type": "application/json", "X-Trace": "1", "cacheControl": "no-cache"}
    extra_topic_configs = {"cleanup.policy": "compact,delete", "retentionMs": "86400000", "Min.Insync.Replicas": "2"}
    table_options = {"storeType": "rocksdb", "Cache.Size": "64MB", "plain": "x"}

    tables = [{"name": "edge-table", "paramName": "edgeTable"}, {"name": "Other.Table", "paramName": "other_table"}]
    # topicSend of KasprWebView/KasprTask: no declare/partitions/retention/
    # compacting/deleting/replicas/config in their CRDs.
    send_short = dict({"name": "edge-sent", "ack": True, "passThrough": True, "keySerializer": "json",
                       "valueSerializer": "pickle"}, **selectors("send"))
    send_full = dict(send_short, declare=True, partitions=4, retention=7200, compacting=True, deleting=True,
                     replicas=2, config=topic_config)
    send_selected = {"nameSelector": code("send_name", "'edge-' + value['kind']"), "ack": False,
                     "keySerializer": "raw", "valueSerializer": "binary"}

    def operations(send):
        return [
            {"name": "lookup", "tables": tables, "map": code("lookup", "(value, edgeTable, other_table)")},
            {"name": "keep", "filter": code("keep", "value is not None")},
            {"name": "send", "topicSend": send},
            {"name": "route", "topicSend": send_selected},
        ]

    def processors(send):
        return {"pipeline": ["lookup", "keep", "send", "route"], "init": code("init", "None"),
                "operations": operations(send)}

    agent_input = {
        "declare": True,
        "topic": {"name": "edge-in", "keySerializer": "json", "valueSerializer": "pickle", "partitions": 12,
                  "retention": 86400, "compacting": True, "deleting": True, "replicas": 3, "config": topic_config},
        "channel": {"name": "edge-channel"},
        "take": {"max": 500, "within": "10s"},
    }
    agent_output = {"topics": [
        dict({"name": "edge-out", "declare": True, "ack": True, "keySerializer": "raw", "valueSerializer": "binary",
              "partitions": 8, "retention": 3600, "compacting": True, "deleting": True, "replicas": 2,
              "config": topic_config}, **selectors("out")),
        {"nameSelector": code("out_name", "'edge-' + value['kind']"), "ack": False, "keySerializer": "pickle",
         "valueSerializer": "json"},
    ]}
    maximal_agent = {
        "description": "Every KasprAgent field set",
        "isolatedPartitions": True,
        "input": agent_input,
        "output": agent_output,
        "processors": processors(send_full),
    }
    maximal_agent_pattern = copy.deepcopy(maximal_agent)
    maximal_agent_pattern["input"]["topic"].pop("name")
    maximal_agent_pattern["input"]["topic"]["pattern"] = "^edge\\..*$"
    maximal_table = {
        "name": "Spec.Name-Ignored",
        "description": "Every KasprTable field set",
        "global": True,
        "defaultSelector": code("default", "{}"),
        "keySerializer": "raw",
        "valueSerializer": "json",
        "partitions": 6,
        "extraTopicConfigs": extra_topic_configs,
        "options": table_options,
        # size/step are marshmallow Int fields upstream (the CRD says string,
        # e.g. "30s", which upstream cannot load: see table-window-duration).
        "window": {
            "tumbling": {"size": "60", "expires": "1h"},
            "hopping": {"size": "300", "step": "60", "expires": "1d"},
            "relativeTo": "custom",
            "relativeToSelector": code("event_time", "value['ts']"),
        },
    }
    maximal_webview = {
        "name": "Spec.Name-Ignored",
        "description": "Every KasprWebView field set",
        "request": {"method": "PATCH", "path": "/edge/{key}"},
        "response": {
            "contentType": "text/plain",
            "statusCode": 202,
            "headers": headers,
            "bodySelector": on_both("body"),
            "statusCodeSelector": on_both("status_code"),
            "headersSelector": on_both("headers"),
        },
        "processors": processors(send_short),
    }
    maximal_task = {
        "name": "Spec.Name-Ignored",
        "description": "Every KasprTask field set",
        "onLeader": True,
        "schedule": {"cron": "*/5 * * * *", "interval": "30s"},
        "processors": processors(send_short),
    }
    maximal_join = {
        "name": "Spec.Name-Ignored",
        "description": "Every KasprJoin field set",
        "leftTable": "edge-left",
        "rightTable": "edge-right",
        "extractor": code("extract", "value['product_id']"),
        "type": "left",
        "outputChannel": "edge-joined",
    }

    # Strings PyYAML has to quote, escape or fold.
    long_line = "  Leading spaces, a colon: here, a # hash, 'single' and \"double\" quotes, ünïcødé ✓ 日本語, " + \
        " ".join(f"word{i:02d}" for i in range(18))
    init_python = ("import json   \n"
                   "\n"
                   "def init():\t\n"
                   "    # comment: with a colon and trailing spaces  \n"
                   "    return {'k': 'v'}   \n")
    map_python = ("def yes(value):\n"
                  "    # a comment: with a colon\n"
                  "    label = 'ünïcødé ✓ 日本語'\n"
                  "    long = '" + "x" * 200 + "'\n"
                  "    sentence = '" + " ".join(["lorem ipsum"] * 18) + "'\n"
                  "    return {\"label\": label, \"long\": long, \"sentence\": sentence}\n")
    edge_values_agent = {
        "description": long_line,
        "input": {"topic": {"name": "yes"}},
        "output": {"topics": [
            {"name": "null", "keySelector": {"entrypoint": "crlf", "python": "def crlf(value):\r\n    return value\r\n"}},
            {"name": "1.0", "valueSelector": {"python": "lambda v: v  # yes: no, " + " ".join(["padding"] * 15)}},
            {"name": "~", "predicate": {"python": "\n\n    return True\n\n\n"},
             "partitionSelector": {"python": "import os\nimport sys\n\nPARTITION = 0\n"}},
        ]},
        "processors": {
            "pipeline": ["yes", "null", "1.0", "~", "true", "NO", "on", "0x1F", "1_000", "1e3", ".inf", "2001-12-14",
                         "- dash", "key: value", "# hash", "  lead", "trail  ", "ünïcødé", "@at", "*star", "&anchor",
                         "!tag", "%pct", "`tick", "{brace}", "[bracket]", "'single'", "\"double\"", "a\tb", "",
                         "=", "<<", "?", "|", ">"],
            "init": {"entrypoint": "null", "python": init_python},
            "operations": [
                {"name": "yes", "map": {"entrypoint": "yes", "python": map_python}},
                {"name": "null", "filter": {"entrypoint": "1.0",
                                            "python": ("def keep(value):\n    # " + " ".join(["ascii"] * 20)
                                                       + "\n\n    return value is not None")}},
            ],
        },
    }

    cases = []
    for kind, spec in [
        ("KasprAgent", {"input": {"topic": {"name": "edge-in"}}}),
        ("KasprWebView", {"name": "minimal-webview", "request": {"method": "GET", "path": "/edge"}}),
        ("KasprTable", {"name": "minimal-table"}),
        ("KasprTask", {"name": "minimal-task", "processors": {}}),
        ("KasprJoin", {"leftTable": "edge-left", "rightTable": "edge-right", "extractor": {"python": "lambda v: v"}}),
    ]:
        short = kind[len("Kaspr"):].lower()
        cases.append({"name": f"minimal-{short}", "app": False,
                      "description": f"{kind} with only what upstream's CRD requires; no KasprApp",
                      "manifests": [comp(kind, f"minimal-{short}", spec)]})
    for name, kind, spec in [
        ("maximal-agent", "KasprAgent", maximal_agent),
        ("maximal-agent-pattern", "KasprAgent", maximal_agent_pattern),
        ("maximal-webview", "KasprWebView", maximal_webview),
        ("maximal-table", "KasprTable", maximal_table),
        ("maximal-task", "KasprTask", maximal_task),
    ]:
        cases.append({"name": name, "app": True,
                      "description": f"{kind} with every field of upstream's CRD set to a non-default value",
                      "manifests": [comp(kind, name, spec)]})
    cases.append({"name": "maximal-join", "app": True,
                  "description": "KasprJoin with every CRD field set; KasprTable edge-left exists, edge-right does not",
                  "manifests": [comp("KasprTable", "edge-left", {"name": "edge-left"}),
                                comp("KasprJoin", "maximal-join", maximal_join)]})
    for short, kind, spec in [("agent", "KasprAgent", maximal_agent), ("webview", "KasprWebView", maximal_webview),
                              ("table", "KasprTable", maximal_table)]:
        cases.append({"name": f"maps-kept-{short}", "app": True, "keepFreeFormMaps": True,
                      "description": f"maximal-{short} with its free-form maps kept by admission",
                      "note": ("Not what an API server does with upstream's CRDs (they prune every key of a "
                               "`type: object` without properties, see maximal-*): admitted as if those maps "
                               "carried x-kubernetes-preserve-unknown-fields, to record what upstream's "
                               "schemas do with user map keys."),
                      "manifests": [comp(kind, f"maps-kept-{short}", spec)]})
    cases.append({"name": "edge-values", "app": False,
                  "description": "KasprAgent whose strings PyYAML must quote, escape or fold",
                  "manifests": [comp("KasprAgent", "edge-values", edge_values_agent)]})
    cases.append({"name": "unknown-spec-fields", "app": False,
                  "description": "KasprAgent with spec.name and unknown fields at spec level and nested",
                  "manifests": [comp("KasprAgent", "unknown-spec-fields", {
                      "name": "Spec.Name-Ignored",
                      "someUnknown": {"Nested.Key": "v", "camelKey": 1},
                      "input": {"topic": {"name": "edge-in", "unknownTopicField": "dropped"}},
                  })]})
    # Accepted by the API server (anyOf satisfied, nothing the CRD requires
    # missing) but refused by upstream's marshmallow schemas.
    cases.append({"name": "upstream-rejects", "app": False,
                  "description": "manifests upstream's CRDs accept and upstream's schemas refuse",
                  "manifests": [
                      comp("KasprTable", "window-duration", {
                          "name": "window-duration", "window": {"tumbling": {"size": "30s", "expires": "1h"}}}),
                      comp("KasprTable", "window-no-size", {
                          "name": "window-no-size", "window": {"tumbling": {"expires": "1h"}}}),
                      comp("KasprAgent", "processors-empty", {
                          "input": {"topic": {"name": "edge-in"}}, "processors": {}}),
                      comp("KasprAgent", "topic-name-and-pattern", {
                          "input": {"topic": {"name": "edge-in", "pattern": "^edge$"}}}),
                      comp("KasprAgent", "out-name-and-selector", {
                          "input": {"topic": {"name": "edge-in"}},
                          "output": {"topics": [{"name": "edge-out", "nameSelector": {"python": "n"}}]}}),
                  ]})
    # Optional objects present with only their required content, so that the
    # nested load_defaults show.
    for kind, specs in [
        ("KasprAgent", [{
            "input": {"channel": {"name": "edge-channel"}},
            "output": {"topics": [{"name": "edge-out"}, {"nameSelector": {"python": "lambda v: 'edge'"}}]},
            "processors": {"pipeline": ["op", "send", "map"], "init": {"python": "pass"},
                           "operations": [{"name": "op"}, {"name": "send", "topicSend": {"name": "edge-sent"}},
                                          {"name": "map", "map": {"python": "lambda v: v"}}]},
        }, {
            "input": {"topic": {"pattern": "^edge$"}, "take": {"max": 1, "within": "1s"}},
            "output": {},
            "processors": {"pipeline": [], "operations": []},
        }]),
        ("KasprWebView", [
            {"request": {"method": "GET", "path": "/edge"}, "response": {}, "processors": {}},
            {"request": {"method": "GET", "path": "/edge"},
             "response": {"bodySelector": {"onError": {"python": "e"}}}},
        ]),
        ("KasprTable", [
            {"defaultSelector": {"python": "dict"}, "window": {"tumbling": {"size": "60"}}},
            {"window": {"hopping": {"size": "60", "step": "10"}}},
        ]),
        ("KasprTask", [
            {"schedule": {"cron": "* * * * *"},
             "processors": {"operations": [{"name": "op"},
                                           {"name": "send", "topicSend": {"nameSelector": {"python": "n"}}},
                                           {"name": "keep", "filter": {"python": "lambda v: v"}}]}},
        ]),
    ]:
        short = kind[len("Kaspr"):].lower()
        manifests = []
        for i, spec in enumerate(specs):
            name = f"sparse-{short}" + (f"-{i + 1}" if i else "")
            if kind != "KasprAgent":
                spec = dict({"name": name}, **spec)
            manifests.append(comp(kind, name, spec))
        cases.append({"name": f"sparse-{short}", "app": False,
                      "description": f"{kind} with each optional object present but holding only required content",
                      "manifests": manifests})
    return cases


BASE_SPEC = {
    "replicas": 1,
    "bootstrapServers": "kafka:9092",
    "authentication": {"type": "plain"},
    "storage": {"type": "persistent-claim", "class": "standard", "size": "1Gi"},
}


async def version_cases():
    import importlib
    import kaspr.types.settings as settings_mod
    from kaspr.resources import KasprApp
    from kaspr.types.models.version_resources import KasprVersionResources
    from kaspr.types.schemas.kasprapp_spec import KasprAppSpecSchema

    def resolve(spec_extra, registry=""):
        spec = copy.deepcopy(BASE_SPEC)
        spec.update(spec_extra)
        saved = KasprApp.conf
        conf = settings_mod.Settings()
        conf.kaspr_image_registry = registry
        KasprApp.conf = conf
        try:
            model = KasprAppSpecSchema().load(spec)
            app = KasprApp.from_spec("v", "KasprApp", "default", model, {})
            try:
                return {"image": app.image}
            except Exception as exc:
                return {"error": describe_error(exc)}
        finally:
            KasprApp.conf = saved

    default = KasprVersionResources.default_version()
    out = {
        "source": "kaspr/types/models/version_resources.py, KasprApp.prepare_version/prepare_image, kaspr/types/settings.py",
        "defaultVersion": default._asdict(),
        "imageCases": [],
        "lookupCases": [],
        "registryEnvCases": [],
    }
    image_inputs = [
        ({}, ""),
        ({"version": "0.11.19"}, ""),
        ({"version": "0.11.18"}, ""),
        ({"version": "0.10.5"}, ""),
        ({"version": "0.9.1"}, ""),
        ({"version": "0.7.5"}, ""),
        ({"version": "0.6.0"}, ""),
        ({"version": "0.3.0-dev1"}, ""),
        ({"version": "0.1.0"}, ""),
        ({"version": "0.2.2-alpha"}, ""),
        ({"version": "0.1.2"}, ""),
        ({"version": "9.9.9"}, ""),
        ({"version": "v0.11.19"}, ""),
        ({"version": ""}, ""),
        ({"version": None}, ""),
        ({"image": "my-registry/kaspr-app:latest"}, ""),
        ({"image": "my-registry/kaspr-app:latest", "version": "9.9.9"}, ""),
        ({"image": "my-registry/kaspr-app:latest", "version": "0.11.18"}, ""),
        ({"image": ""}, ""),
        ({}, "registry.example.com"),
        ({}, "registry.example.com/"),
        ({}, "registry.example.com//"),
        ({}, "registry.example.com/mirror"),
        ({"version": "0.10.5"}, "registry.example.com"),
        ({"image": "my-registry/kaspr-app:latest"}, "registry.example.com"),
        ({"image": "docker.io/kasprio/kaspr:0.11.19"}, "registry.example.com"),
        ({"version": "9.9.9"}, "registry.example.com"),
    ]
    for extra, registry in image_inputs:
        out["imageCases"].append({
            "input": {"spec": extra, "kasprImageRegistry": registry},
            "output": resolve(extra, registry),
        })
    for v in ["0.11.19", "0.9.1", "0.7.5", "0.2.2-alpha", "9.9.9", ""]:
        fv = KasprVersionResources.from_version(v)
        out["lookupCases"].append({
            "input": v,
            "output": {
                "is_supported_version": KasprVersionResources.is_supported_version(v),
                "from_version": fv._asdict() if fv else None,
            },
        })
    # KASPR_IMAGE_REGISTRY is read once, at import of kaspr.types.settings,
    # through _getenv (which maps true/false-like strings to booleans) and str().
    for env_value in [None, "", "registry.example.com", "registry.example.com/", "true", "1", "false", "0", "no"]:
        saved_env = os.environ.get("KASPR_IMAGE_REGISTRY")
        if env_value is None:
            os.environ.pop("KASPR_IMAGE_REGISTRY", None)
        else:
            os.environ["KASPR_IMAGE_REGISTRY"] = env_value
        try:
            importlib.reload(settings_mod)
            value = settings_mod.Settings().kaspr_image_registry
        finally:
            if saved_env is None:
                os.environ.pop("KASPR_IMAGE_REGISTRY", None)
            else:
                os.environ["KASPR_IMAGE_REGISTRY"] = saved_env
            importlib.reload(settings_mod)
        out["registryEnvCases"].append({
            "input": {"KASPR_IMAGE_REGISTRY": env_value},
            "output": {"settings.kaspr_image_registry": value, "defaultImage": resolve({}, value)},
        })
    return out


# --------------------------------------------------------------------------

def import_upstream(src):
    for var in OPERATOR_ENV:
        os.environ.pop(var, None)
    # kaspr/__init__.py loads a dotenv file named by ENV_FILE if one is found
    # upwards of the checkout; point it at a name that does not exist.
    os.environ["ENV_FILE"] = ".kaspr-recorder-no-such-env-file"
    sys.path.insert(0, src)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        from kaspr.utils.override import patch_kopf_thirdparty
        patch_kopf_thirdparty()
        import kaspr  # noqa: F401  (registers upstream's handlers, as run_operator.py does)
        import kaspr.handlers.kasprjoin  # noqa: F401  (not imported by upstream itself)
    sys.stderr.write(buf.getvalue())
    import kaspr
    if kaspr.__version__ != "0.18.51":
        raise SystemExit(f"unexpected upstream version {kaspr.__version__}")


async def main_async(args):
    import_upstream(args.src)
    install_transport_stub()
    install_hash_logger()
    from kubernetes_asyncio.client.api_client import ApiClient
    from kaspr.resources import KasprApp
    from kaspr.resources.appcomponent import BaseAppComponent
    from kaspr.sensors import SensorDelegate
    from kaspr.types.settings import Settings

    # What kaspr/app.py's startup handler sets up, minus the cluster config
    # loading, the Prometheus monitor/server and the member web client.
    KasprApp.conf = Settings()
    shared = ApiClient()
    KasprApp.shared_api_client = shared
    BaseAppComponent.shared_api_client = shared
    sensor = SensorDelegate()
    KasprApp.sensor = sensor
    BaseAppComponent.sensor = sensor

    rec = Recorder(args.src, args.out)
    # The fixtures directory is wholly generated: start from scratch so a
    # re-run leaves exactly what this run produced.
    if os.path.isdir(args.out) and os.listdir(args.out):
        if not os.path.exists(os.path.join(args.out, "_summary.json")):
            raise SystemExit(f"refusing to clear {args.out}: not a fixtures directory written by this recorder")
        shutil.rmtree(args.out)
    os.makedirs(args.out, exist_ok=True)
    rec.copy_examples()
    await rec.record_apps()
    await rec.record_edge_cases()
    await rec.record_components()
    await rec.record_component_edge_cases()
    await rec.record_versions()
    rec.write_summary()
    await shared.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="extracted upstream checkout")
    parser.add_argument("--out", required=True, help="fixtures directory to (re)write")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
