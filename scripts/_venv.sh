# Sourced by the scripts: a project virtualenv with the package installed (editable), made on first use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON_BIN=${PYTHON:-python3}
if ! "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "interest-pipeline needs Python 3.11 or newer (found: $("$PYTHON_BIN" --version 2>&1))" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $("$PYTHON_BIN" --version)" >&2
    "$PYTHON_BIN" -m venv .venv
fi
install_project() {  # $1: the extras spec, e.g. "" or "[dev]"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$1" >&2
}
