#!/usr/bin/env bash
# Run the SDK tests that need no server package in a fresh venv holding only the SDK and pytest,
# so a missing dependency of `tokentrail` (or a test that leans on the server) fails here.
#
#   sdk/scripts/test_isolated.sh            (from the repository root; PYTHON=python3.11 to pick)
#
# The test files are copied to a scratch tree so that the repository's tests/conftest.py, which
# needs PostgreSQL and the server packages, is never loaded.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tokentrail-isolated.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

MODULES=(
    test_budget.py
    test_deferred_attributes.py
    test_export.py
    test_exit.py
    test_hostile.py
    test_observe.py
    test_outage_memory.py
    test_prefork.py
    test_spool.py
)

# Beside the SDK: pytest, and the OTLP decoder of the stub collector.
REQUIREMENTS=(pytest opentelemetry-proto)
PIP=(--quiet --disable-pip-version-check)

# The third-party wheels are kept between runs, keyed by the SDK's pyproject.toml (its
# dependencies and build requirements), the interpreter and this script: a changed dependency
# makes a new set. The venv and the SDK's own wheel are still made afresh on every run.
CACHE="${TOKENTRAIL_SDK_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/tokentrail/sdk-wheels}"
KEY="$( { cat "$ROOT/sdk/pyproject.toml" "${BASH_SOURCE[0]}"; "$PYTHON" -VV; } | sha256sum | cut -c1-16)"
WHEELS="$CACHE/$KEY"
if [[ ! -d "$WHEELS" ]]; then
    mkdir -p "$CACHE"
    PARTIAL="$(mktemp -d "$CACHE/partial.XXXXXX")"
    "$PYTHON" -m pip wheel "${PIP[@]}" -w "$PARTIAL" "$ROOT/sdk" "${REQUIREMENTS[@]}" "setuptools>=68"
    rm -f "$PARTIAL"/tokentrail-*.whl
    mv -T "$PARTIAL" "$WHEELS" 2>/dev/null || rm -rf "$PARTIAL"  # a concurrent run got there first
fi
OFFLINE=(--no-index --find-links "$WHEELS")

# A venv without pip (ensurepip is the slow part of making one), filled by the interpreter's
# own pip when it can install into another environment (pip >= 22.3).
if "$PYTHON" -m pip install --help 2>/dev/null | grep -q -- "--python "; then
    "$PYTHON" -m venv --without-pip "$WORK/venv"
    INSTALL=("$PYTHON" -m pip --python "$WORK/venv/bin/python" install)
else
    "$PYTHON" -m venv "$WORK/venv"
    INSTALL=("$WORK/venv/bin/python" -m pip install)
fi
"${INSTALL[@]}" "${PIP[@]}" "${OFFLINE[@]}" "$ROOT/sdk" "${REQUIREMENTS[@]}"

mkdir -p "$WORK/tree/tests/sdk"
touch "$WORK/tree/tests/__init__.py"
cp "$ROOT/tests/sdk/__init__.py" "$ROOT/tests/sdk/conftest.py" "$ROOT/tests/sdk/receiver.py" \
    "$ROOT/tests/sdk/providers.py" "$WORK/tree/tests/sdk/"
for module in "${MODULES[@]}"; do
    cp "$ROOT/tests/sdk/$module" "$WORK/tree/tests/sdk/"
done
cat > "$WORK/tree/pytest.ini" <<'INI'
[pytest]
filterwarnings = error
INI

cd "$WORK/tree"
"$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider tests/sdk "$@"
