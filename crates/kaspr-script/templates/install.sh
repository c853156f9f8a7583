# kaspr install-packages, protocol v1 (rendered by kaspr-script).
# Everything user-supplied (packages, URLs, hosts, credentials) arrives in environment variables;
# this text only holds validated numbers, enums and the operator's own paths.
# Runs under POSIX sh (dash, bash, busybox ash) with python3, flock, timeout, mv, mkdir, date, stat.
set -u
umask 022

KASPR_ROOT={{ root }}
KASPR_SITE_LINK={{ site_link }}
KASPR_REPORT={{ report_path }}
KASPR_LIVE={{ live_hashes }}
KASPR_INSTALLER={{ installer }}
KASPR_CACHE_MODE={{ cache_mode }}
ATTEMPTS={{ attempts }}
TIMEOUT={{ timeout }}
LOCK_WAIT={{ lock_wait }}
STALE_AFTER={{ stale_after }}
KEEP_ENVS={{ keep_envs }}
BACKOFF_CAP={{ backoff_cap }}
ON_FAILURE={{ on_failure }}
POD_NAME=${POD_NAME:-unknown-pod}
export KASPR_ROOT KASPR_SITE_LINK KASPR_REPORT KASPR_LIVE KASPR_INSTALLER KASPR_CACHE_MODE POD_NAME

KASPR_PY='{% include "helper.py" %}'

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
    [ -f "$MARKER" ] && return 0
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
  index=
  [ -n "${INDEX_URL:-}" ] && index=$(kpy auth-url)
  extra=$(join_lines "${EXTRA_INDEX_URLS:-}")
  hosts=$(join_lines "${TRUSTED_HOSTS:-}")
  (
    export TMPDIR="$STAGING.tmp"
    case "$KASPR_INSTALLER" in
      pip)
        [ -n "$index" ] && export PIP_INDEX_URL="$index"
        [ -n "$extra" ] && export PIP_EXTRA_INDEX_URL="$extra"
        [ -n "$hosts" ] && export PIP_TRUSTED_HOST="$hosts"
        exec timeout -k 10 "$TIMEOUT" python3 -m pip install --no-input --disable-pip-version-check \
          --no-warn-script-location --progress-bar off --cache-dir "$KASPR_ROOT/.cache/pip" \
          --target "$STAGING" -r "$req"
        ;;
      uv)
        [ -n "$index" ] && export UV_DEFAULT_INDEX="$index"
        [ -n "$extra" ] && export UV_INDEX="$extra"
        [ -n "$hosts" ] && export UV_INSECURE_HOST="$hosts"
        export UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1
        exec timeout -k 10 "$TIMEOUT" uv pip install --no-progress --compile-bytecode \
          --python python3 --cache-dir "$KASPR_ROOT/.cache/uv" --target "$STAGING" -r "$req"
        ;;
    esac
  )
}

install() {
  STAGING="$KASPR_ROOT/.staging/$KASPR_KEY.$POD_NAME.$$"
  # Logs and status files go to the per-pod volume, so they can still be written when the
  # packages volume is full; the installer's temporary files go next to staging, on the same
  # filesystem (its final move is then a rename, and a read-only root filesystem is no problem).
  WORK="${KASPR_SITE_LINK%/*}/.kaspr-work"
  while [ "$attempt" -lt "$ATTEMPTS" ]; do
    attempt=$(( attempt + 1 ))
    kpy prepare "$STAGING" "$WORK" || { KASPR_ERROR_TYPE=unknown; export KASPR_ERROR_TYPE; return 1; }
    say "installing $KASPR_KEY with $KASPR_INSTALLER (attempt $attempt of $ATTEMPTS)"
    { run_installer; echo $? >"$WORK/rc"; } 2>&1 | kpy filter "$WORK/install.log"
    rc=1
    read -r rc <"$WORK/rc" 2>/dev/null || true
    if [ "$rc" = 0 ]; then
      kpy rmtree "$STAGING.tmp"
      published=$(kpy publish "$STAGING" "$ENV_DIR" "$T0") || { kpy classify "$WORK" 1 >/dev/null; return 1; }
      RESULT=installed
      [ "$published" = exists ] && RESULT=cached
      return 0
    fi
    kind=$(kpy classify "$WORK" "$rc")
    case "$kind" in
      authentication|package_not_found|dependency_conflict|hash_mismatch)
        say "attempt $attempt failed: $kind (not retried)"
        break ;;
    esac
    if [ "$attempt" -lt "$ATTEMPTS" ]; then
      delay=$(( 5 << (attempt - 1) ))
      [ "$delay" -gt "$BACKOFF_CAP" ] && delay=$BACKOFF_CAP
      say "attempt $attempt failed: $kind; retrying in ${delay}s"
      kpy sleep "$delay"
    fi
  done
  kpy rmtree "$STAGING"
  kpy rmtree "$STAGING.tmp"
  return 1
}

# ---- main ----

if ! start=$(kpy start); then
  say "python3 does not run in this image; cannot install packages"
  echo '{"v":1,"result":"failed","errorType":"unknown","error":"python3 does not run in this image."}' >"$KASPR_REPORT" 2>/dev/null
  [ "$ON_FAILURE" = allow ] && exit 0
  exit 1
fi
set -- $start
# 1. A published environment: the helper already linked it and wrote the report.
[ "$1" = hit ] && exit 0
KASPR_PYTAG=$1
T0=$2
case "${PACKAGES_HASH:-}" in
  *[!0-9a-f]*|"") KASPR_KEY=invalid-hash; export KASPR_PYTAG KASPR_KEY; say "PACKAGES_HASH is missing or malformed"; fail_with unknown ;;
esac
KASPR_KEY="$PACKAGES_HASH-$KASPR_PYTAG"
export KASPR_PYTAG KASPR_KEY
ENV_DIR="$KASPR_ROOT/envs/$KASPR_KEY"
MARKER="$ENV_DIR/.kaspr-env.json"


if ! mkdir -p "$KASPR_ROOT/envs" "$KASPR_ROOT/.staging" "$KASPR_ROOT/.locks" "$KASPR_ROOT/.cache" "$KASPR_ROOT/.used"; then
  say "cannot create the package directories under $KASPR_ROOT"
  fail_with disk_full
fi

# 2-3. One installer per environment; whoever waited re-checks for a published one.
acquire_lock || fail_with lock_timeout
[ -f "$MARKER" ] && finish cached

# 4-6. Install into staging, publish with one rename, collect old environments.
if install; then
  release_lock
  kpy gc "$KASPR_ROOT" "$KASPR_KEY" "$KEEP_ENVS" "$STALE_AFTER" || say "garbage collection failed; continuing"
  finish "$RESULT"
fi
finish failed
