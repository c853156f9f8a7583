# kaspr install-packages, protocol v1 (rendered by kaspr-script).
# Everything user-supplied (packages, URLs, hosts, credentials) arrives in environment variables;
# this text only holds validated numbers, enums and the operator's own paths.
# Runs under POSIX sh (dash, bash, busybox ash) with python3, flock, timeout, mv, mkdir, date, stat
# (and openssl under cache.type: gcs, to sign the service account token request).
set -u
umask 022

KASPR_ROOT={{ root }}
KASPR_SITE_LINK={{ site_link }}
KASPR_REPORT={{ report_path }}
KASPR_LIVE={{ live_hashes }}
KASPR_GCS_KEY={{ gcs_key }}
KASPR_INSTALLER={{ installer }}
KASPR_IMAGE_PACKAGES={{ image_packages }}
KASPR_CACHE_MODE={{ cache_mode }}
ATTEMPTS={{ attempts }}
TIMEOUT={{ timeout }}
LOCK_WAIT={{ lock_wait }}
STALE_AFTER={{ stale_after }}
KEEP_ENVS={{ keep_envs }}
BACKOFF_CAP={{ backoff_cap }}
ON_FAILURE={{ on_failure }}
POD_NAME=${POD_NAME:-unknown-pod}
export KASPR_ROOT KASPR_SITE_LINK KASPR_REPORT KASPR_LIVE KASPR_INSTALLER KASPR_IMAGE_PACKAGES
export KASPR_CACHE_MODE KASPR_GCS_KEY POD_NAME

# The helper program (python3 -c). Single quotes on purpose: the shell must expand nothing in it.
# shellcheck disable=SC2016
KASPR_PY='{% include "helper.py" %}
{% include "classify.py" %}
{% include "image.py" %}
{% include "space.py" %}
{% include "gcs.py" %}
{% include "main.py" %}'

# -S: the helper needs only the standard library, and skipping site saves a third of a start.
kpy() { python3 -S -c "$KASPR_PY" "$@"; }
say() { echo "kaspr: $*" >&2; }

STALE=0
LOCK_HELD=
HEARTBEAT_PID=
RESULT=failed
attempt=0
WORK=

# Ends the script: writes the report, and fails the pod only when the policy says block.
finish() {
  release_lock
  if kpy finish "$1" "$attempt" "$STALE" "$WORK" "$T0"; then exit 0; fi
  [ "$ON_FAILURE" = allow ] && exit 0
  exit 1
}

fail_with() {
  KASPR_ERROR_TYPE=$1
  export KASPR_ERROR_TYPE
  finish failed
}

# Joins newline-separated values with spaces (URLs and hosts never contain whitespace).
join_lines() {
  joined=
  old_ifs=$IFS
  IFS='
'
  set -f
  for item in $1; do joined="${joined:+$joined }$item"; done
  set +f
  IFS=$old_ifs
  echo "$joined"
}

# A valid v1 report written without python3, so the operator never waits on a pod forever.
fallback_report() {
  say "python3 does not run in this image; cannot install packages"
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  hash=${PACKAGES_HASH:-}
  case "$hash" in *[!0-9a-f]*) hash= ;; esac
  pod=$POD_NAME
  case "$pod" in *[!a-z0-9.-]*) pod=unknown-pod ;; esac
  echo "{\"v\":1,\"result\":\"failed\",\"hash\":\"$hash\",\"pythonTag\":\"\",\"installer\":\"$KASPR_INSTALLER\",\"pod\":\"$pod\",\"cacheMode\":\"$KASPR_CACHE_MODE\",\"startedAt\":\"$now\",\"finishedAt\":\"$now\",\"durationSeconds\":0,\"attempts\":0,\"warnings\":[],\"errorType\":\"unknown\",\"error\":\"python3 does not run in this image; pythonPackages needs python3 (3.8 or newer) on the image's PATH\"}" >"$KASPR_REPORT" 2>/dev/null
}

# ---- lock: flock where the filesystem supports it, else a lease directory with a heartbeat ----

acquire_lock() {
  lock_file="$KASPR_ROOT/.locks/$KASPR_KEY.lock"
  if command -v flock >/dev/null 2>&1 && true 2>/dev/null >>"$lock_file"; then
    exec 9>>"$lock_file"
    lock_t0=$(date +%s)
    if flock -w "$LOCK_WAIT" 9; then LOCK_HELD=flock; return 0; fi
    if [ $(( $(date +%s) - lock_t0 )) -ge "$LOCK_WAIT" ]; then return 1; fi
    exec 9>&-
    say "flock is not supported on $KASPR_ROOT; using a lease directory"
  fi
  acquire_lease
}

acquire_lease() {
  lease="$KASPR_ROOT/.locks/$KASPR_KEY.lease"
  lease_t0=$(date +%s)
  while :; do
    if mkdir "$lease" 2>/dev/null; then
      echo "$POD_NAME $$" >"$lease/owner"
      kpy heartbeat "$lease" "$$" 10 </dev/null >/dev/null 2>&1 &
      HEARTBEAT_PID=$!
      LOCK_HELD=lease
      return 0
    fi
    kpy published "$ENV_DIR" && return 0
    now=$(date +%s)
    beat=$(stat -c %Y "$lease/heartbeat" 2>/dev/null || stat -c %Y "$lease" 2>/dev/null || echo "$now")
    owner=
    read -r owner _pid <"$lease/owner" 2>/dev/null || true
    # Stale: no heartbeat for STALE_AFTER seconds, or left by an earlier run in this very pod
    # (init containers of one pod never run at the same time).
    if [ $(( now - beat )) -gt "$STALE_AFTER" ] || [ "$owner" = "$POD_NAME" ]; then
      if mv "$lease" "$lease.stale.$$" 2>/dev/null; then
        say "recovered a stale install lease (owner ${owner:-unknown}, heartbeat $(( now - beat ))s old)"
        kpy rmtree "$lease.stale.$$"
        STALE=1
      fi
      continue
    fi
    [ $(( now - lease_t0 )) -ge "$LOCK_WAIT" ] && return 1
    kpy sleep 1
  done
}

release_lock() {
  case "$LOCK_HELD" in
    flock) exec 9>&- ;;
    lease)
      [ -n "$HEARTBEAT_PID" ] && kill "$HEARTBEAT_PID" 2>/dev/null
      kpy rmtree "$lease"
      ;;
  esac
  LOCK_HELD=
}

# ---- install ----

run_installer() {
  req="$WORK/requirements.txt"
  # imagePackages: protect: the image's own distributions pin the resolution.
  pins=
  [ -f "$WORK/constraints.txt" ] && pins="$WORK/constraints.txt"
  extra=$EXTRA
  hosts=$(join_lines "${TRUSTED_HOSTS:-}")
  (
    export TMPDIR="$STAGING.tmp"
    # The installer gets the credentials only inside the index URL.
    unset PYPI_USERNAME PYPI_PASSWORD
    case "$KASPR_INSTALLER" in
      pip)
        [ -n "$INDEX" ] && export PIP_INDEX_URL="$INDEX"
        [ -n "$extra" ] && export PIP_EXTRA_INDEX_URL="$extra"
        [ -n "$hosts" ] && export PIP_TRUSTED_HOST="$hosts"
        exec timeout -k 10 "$TIMEOUT" python3 -m pip install --no-input --disable-pip-version-check \
          --no-warn-script-location --progress-bar off --cache-dir "$KASPR_ROOT/.cache/pip" \
          --target "$STAGING" -r "$req" ${pins:+-c "$pins"}
        ;;
      uv)
        # uv asks its indexes in order and the default one last: the main index first, then the
        # extra ones, and the main index again as the default so public PyPI is never asked.
        if [ -n "$INDEX" ]; then
          export UV_DEFAULT_INDEX="$INDEX" UV_INDEX="$INDEX${extra:+ $extra}"
        elif [ -n "$extra" ]; then
          export UV_INDEX="$extra"
        fi
        [ -n "$hosts" ] && export UV_INSECURE_HOST="$hosts"
        export UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1
        exec timeout -k 10 "$TIMEOUT" uv pip install --no-progress --compile-bytecode \
          --python python3 --cache-dir "$KASPR_ROOT/.cache/uv" --target "$STAGING" -r "$req" \
          ${pins:+--constraint "$pins"}
        ;;
    esac
  )
}

# One attempt: installs into staging and publishes; sets `kind` to the error type when it fails.
attempt_install() {
  kpy prepare "$STAGING" "$WORK" || { kind=$(kpy error-type "$WORK"); return 1; }
  say "installing $KASPR_KEY with $KASPR_INSTALLER (attempt $attempt of $max_attempts)"
  began=$(date +%s)
  { run_installer; echo $? >"$WORK/rc"; } 2>&1 | kpy filter "$WORK/install.log"
  rc=1
  read -r rc <"$WORK/rc" 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    kind=$(kpy classify "$WORK" "$rc" $(( $(date +%s) - began )) "$TIMEOUT")
    return 1
  fi
  kpy rmtree "$STAGING.tmp"
  published=$(kpy publish "$STAGING" "$ENV_DIR" "$T0") || { kind=$(kpy error-type "$WORK"); return 1; }
  RESULT=installed
  [ "$published" = exists ] && RESULT=cached
  return 0
}

install() {
  STAGING="$KASPR_ROOT/.staging/$KASPR_KEY.$POD_NAME.$$"
  max_attempts=$ATTEMPTS
  space_retry=0
  while [ "$attempt" -lt "$max_attempts" ]; do
    attempt=$(( attempt + 1 ))
    attempt_install && return 0
    kpy rmtree "$STAGING"
    kpy rmtree "$STAGING.tmp"
    case "$kind" in
      authentication|package_not_found|dependency_conflict|hash_mismatch|permission)
        say "attempt $attempt failed: $kind (not retried)"
        break ;;
      disk_full)
        # Out of space: collect everything the live set does not hold, then one more try.
        if [ "$space_retry" = 0 ]; then
          space_retry=1
          max_attempts=$(( max_attempts + 1 ))
          say "attempt $attempt failed: disk_full; removing unused environments and caches"
          kpy gc "$KASPR_ROOT" "$KASPR_KEY" "$KEEP_ENVS" "$STALE_AFTER" full
          continue
        fi ;;
    esac
    if [ "$attempt" -lt "$max_attempts" ]; then
      delay=$(( 5 << (attempt - 1) ))
      [ "$delay" -gt "$BACKOFF_CAP" ] && delay=$BACKOFF_CAP
      say "attempt $attempt failed: $kind; retrying in ${delay}s"
      kpy sleep "$delay"
    fi
  done
  return 1
}

# ---- main ----

if ! start=$(kpy start); then
  fallback_report
  [ "$ON_FAILURE" = allow ] && exit 0
  exit 1
fi
# Split on purpose: `kpy start` prints space-separated words without glob characters.
# shellcheck disable=SC2086
set -- $start
# 1. A published environment: the helper already linked it and wrote the report.
[ "$1" = hit ] && exit 0
KASPR_PYTAG=$1
KASPR_ABI=$2
KASPR_IMAGE=$3
T0=$4
# Logs and status files go to the per-pod volume, so they can still be written when the
# packages volume is full.
WORK="${KASPR_SITE_LINK%/*}/.kaspr-work"
KASPR_WORK=$WORK
export KASPR_PYTAG KASPR_ABI KASPR_WORK
kpy rmtree "$WORK"
mkdir -p "$WORK" 2>/dev/null
case "${PACKAGES_HASH:-}" in
  *[!0-9a-f]*|"") KASPR_KEY=invalid-hash; export KASPR_KEY; say "PACKAGES_HASH is missing or malformed"; fail_with unknown ;;
esac
KASPR_KEY="$PACKAGES_HASH-$KASPR_ABI"
[ "$KASPR_IMAGE" != - ] && KASPR_KEY="$KASPR_KEY-$KASPR_IMAGE"
export KASPR_KEY
ENV_DIR="$KASPR_ROOT/envs/$KASPR_KEY"

# A volume this user cannot write is `permission` (naming the path), never a wait or disk_full.
if ! problem=$(kpy writable "$KASPR_ROOT" "$KASPR_ROOT/envs" "$KASPR_ROOT/.staging" \
    "$KASPR_ROOT/.locks" "$KASPR_ROOT/.cache" "$KASPR_ROOT/.used"); then
  say "the packages volume is not usable: $problem"
  finish failed
fi
INDEX=
if [ -n "${INDEX_URL:-}" ]; then
  INDEX=$(kpy auth-url) || finish failed
fi
# Extra indexes, space-separated; those on the index's own server carry its credentials.
EXTRA=
if [ -n "${EXTRA_INDEX_URLS:-}" ]; then
  EXTRA=$(kpy auth-extra) || finish failed
fi

# 2-3. One installer per environment; whoever waited re-checks for a published one.
acquire_lock || fail_with lock_timeout
kpy published "$ENV_DIR" && finish cached
# cache.type: gcs: an env another pod built, from the bucket. Any problem there (key, token,
# network, a corrupt archive) is a warning and the pod installs as without the bucket.
STAGING="$KASPR_ROOT/.staging/$KASPR_KEY.$POD_NAME.$$"
if [ "$KASPR_CACHE_MODE" = gcs ] && kpy gcs-fetch "$ENV_DIR" "$STAGING"; then
  finish cached
fi

# 4-6. Make room if the volume is short, install into staging, publish with one rename,
# collect old environments.
kpy gc "$KASPR_ROOT" "$KASPR_KEY" "$KEEP_ENVS" "$STALE_AFTER" space || say "garbage collection failed; continuing"
if install; then
  release_lock
  # For the next pods (best effort: a failed upload is a warning, never a failed install).
  if [ "$KASPR_CACHE_MODE" = gcs ] && [ "$RESULT" = installed ]; then
    kpy gcs-upload "$ENV_DIR" "$STAGING.tar.gz"
  fi
  kpy gc "$KASPR_ROOT" "$KASPR_KEY" "$KEEP_ENVS" "$STALE_AFTER" keep || say "garbage collection failed; continuing"
  finish "$RESULT"
fi
finish failed
