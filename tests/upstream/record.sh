#!/bin/sh
# Re-record tests/upstream/fixtures from the upstream Python kaspr-operator.
#
# Usage: tests/upstream/record.sh [UPSTREAM_GIT_DIR]
#   UPSTREAM_GIT_DIR  git directory of vmirz/kaspr-operator
#                     (default: /work/.mirror/vmirz+kaspr-operator/repo)
#
# Extracts the pinned upstream commit into a temporary directory, creates (or
# reuses) a virtualenv under <repo>/target/upstream-venv with the pinned
# dependencies of requirements.txt, and runs record.py, which rewrites
# tests/upstream/fixtures/ completely. Re-running gives byte-identical files.
set -eu

UPSTREAM_GIT_DIR=${1:-/work/.mirror/vmirz+kaspr-operator/repo}
UPSTREAM_COMMIT=93363afe15fbfe7cc52edd8fa71be36150c31806  # v0.18.51
PYTHON=${PYTHON:-python3}

HERE=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
VENV=$REPO_ROOT/target/upstream-venv

if ! git --git-dir="$UPSTREAM_GIT_DIR" rev-parse --quiet --verify "$UPSTREAM_COMMIT^{commit}" >/dev/null; then
    echo "record.sh: commit $UPSTREAM_COMMIT not found in $UPSTREAM_GIT_DIR" >&2
    exit 1
fi

SRC=$(mktemp -d "${TMPDIR:-/tmp}/kaspr-upstream.XXXXXX")
trap 'rm -rf "$SRC"' EXIT
trap 'exit 1' INT TERM HUP
git --git-dir="$UPSTREAM_GIT_DIR" archive "$UPSTREAM_COMMIT" | tar -x -C "$SRC"

if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$REPO_ROOT/target"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 \
    "$VENV/bin/python" "$HERE/record.py" --src "$SRC" --out "$HERE/fixtures"
echo "record.sh: fixtures written to $HERE/fixtures"
