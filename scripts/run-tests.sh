#!/usr/bin/env bash
# Runs the whole pytest suite; browser and window tests start their own Xvfb/Chromium,
# PostgreSQL tests start their own server in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
export LANDTWIN_ARCH=${LANDTWIN_ARCH:-cpu}
export PYTHONUNBUFFERED=1
exec .venv/bin/python -m pytest "$@"
