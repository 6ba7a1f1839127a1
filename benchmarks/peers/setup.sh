#!/usr/bin/env bash
# Create the virtual environment of one peer tool under .peers/NAME (git-ignored), never in .venv.
# Usage: benchmarks/peers/setup.sh NAME     (idempotent: an existing .peers/NAME is kept)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NAME="${1:?usage: setup.sh NAME}"
DEST="$ROOT/.peers/$NAME"
PY="${PYTHON:-python3}"

make_venv() {
  if [ -x "$DEST/bin/python" ]; then
    echo "$DEST exists"
    return 1
  fi
  mkdir -p "$ROOT/.peers"
  if command -v uv >/dev/null 2>&1; then uv venv --quiet -p "$PY" "$DEST"; else "$PY" -m venv "$DEST"; fi
}

pip_into() {
  if command -v uv >/dev/null 2>&1; then uv pip install --quiet -p "$DEST/bin/python" "$@"
  else "$DEST/bin/python" -m pip install --quiet "$@"; fi
}

case "$NAME" in
  umep)
    # SOLWEIG shadows, sky view factor and Tmrt; numpy 2.4 breaks it
    make_venv && pip_into umep rasterio "numpy<2.4"
    ;;
  sumo)
    make_venv && pip_into eclipse-sumo sumolib libsumo
    ;;
  aequilibrae)
    make_venv && pip_into aequilibrae
    ;;
  pandana)
    # network accessibility aggregates (contraction hierarchies)
    make_venv && pip_into pandana pandas numpy
    ;;
  mesa)
    # agent-based models; mesa >= 3.4 needs Python 3.12
    make_venv && pip_into "mesa<3.4" numpy
    ;;
  rcbsim)
    # ISO 13790 5R1C hourly building model (RC_BuildingSimulator, packaged)
    make_venv && pip_into rcbsim numpy pandas
    ;;
  *)
    echo "unknown peer: $NAME" >&2
    exit 2
    ;;
esac
echo "peer $NAME ready in $DEST"
