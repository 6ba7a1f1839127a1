#!/usr/bin/env bash
# Every benchmark with a Taichi path, on cpu and then on cuda, side by side, in a few minutes on a
# machine with an NVIDIA GPU. Needs the project's .venv (Taichi's wheels carry the CUDA backend) and
# no network; peer comparisons run only where their peer environments exist.
#
#   bash benchmarks/gpu_all.sh [LOGDIR]      (default LOGDIR: $OUT, else ./gpu-benchmarks)
#
# Each run has its own time limit; a run that fails or times out is named in the summary and the
# others go on. The summary (summary.txt) lists the last line each run printed, cpu beside cuda.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LOG=${1:-${OUT:-gpu-benchmarks}}
mkdir -p "$LOG"
if ! "$PY" -c "import taichi as ti; ti.init(arch=ti.cuda); assert str(ti.lang.impl.current_cfg().arch).endswith('cuda')" \
    >"$LOG/cuda_check.log" 2>&1; then
  echo "no CUDA device for Taichi (see $LOG/cuda_check.log); running the cpu column only" | tee "$LOG/summary.txt"
  ARCHES="cpu"
else
  ARCHES="cpu cuda"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$LOG/gpu.txt" 2>&1 || true

# name | time limit (s) | command after the interpreter (the arch is appended as --arch A, or set by env)
# tiled: radiation fields tile by tile, then air temperature (one coarse solve) and UTCI tile by tile; its
# last line names the seconds of the air and UTCI pass. batch: heat variants on 1 and 2 worker processes.
RUNS=(
  "heat|150|benchmarks/bench_heat.py --size-km 2 --trees 5"
  "tiled|300|benchmarks/bench_tiled.py --size-km 10 --max-memory 8G"
  "batch|150|benchmarks/bench_batch.py --size-km 1 --variants 8 --workers 1,2"
  "greening|200|benchmarks/greening_vs_rule.py --size-km 2 --trees 200 --trials 12"
  "access|120|benchmarks/bench_access.py --skip-large"
  "agents|150|benchmarks/agents_vs_mesa.py --mesa-agents 0"
  "traffic|90|benchmarks/bench_traffic.py"
)
# the traffic benchmark has no --arch option: it follows LANDTWIN_ARCH like every command
ENV_ARCH_ONLY="traffic"

: >"$LOG/summary.txt.tmp"
for run in "${RUNS[@]}"; do
  IFS='|' read -r name limit cmd <<<"$run"
  for arch in $ARCHES; do
    args=($cmd)
    if [[ " $ENV_ARCH_ONLY " != *" $name "* ]]; then args+=(--arch "$arch"); fi
    start=$(date +%s)
    LANDTWIN_ARCH=$arch timeout "$limit" "$PY" "${args[@]}" >"$LOG/${name}_${arch}.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    last=$(grep -v '^\s*$' "$LOG/${name}_${arch}.log" | tail -n 1 | cut -c1-220)
    case $rc in
      0) state="ok" ;;
      124) state="TIMEOUT after ${limit}s" ;;
      *) state="FAILED rc=$rc" ;;
    esac
    printf '%-9s %-5s %4ss %-22s %s\n' "$name" "$arch" "$secs" "$state" "$last" | tee -a "$LOG/summary.txt.tmp"
  done
done
mv "$LOG/summary.txt.tmp" "$LOG/summary.txt"
echo "logs and summary in $LOG"
