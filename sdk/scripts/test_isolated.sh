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

"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$ROOT/sdk" pytest opentelemetry-proto  # the stub collector decodes OTLP

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
