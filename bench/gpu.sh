#!/usr/bin/env bash
# GPU training benchmark (issue 20): tokens/s, useful tokens/s, MFU and peak memory of the 124M and ~750M
# models on one CUDA device, packed vs padded rows, masked head vs full logits, torch.compile on vs off,
# plus the loss of packed vs padded rows under bf16. Under 4 minutes on an H100/H200 class GPU.
#
#   bash bench/gpu.sh              # the full table
#   bash bench/gpu.sh --quick      # a tiny model: smoke test of the code path
#   bash bench/gpu.sh --help       # every option (--models, --compile, --budget, --peak_tflops, --device cpu, ...)
#
# Without a CUDA device it says so and exits 0. Uses the project venv (.venv) when there is one, else python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
if [ -x "$root/.venv/bin/python" ]; then py="$root/.venv/bin/python"; else py="$(command -v python3)"; fi
cd "$root"
exec "$py" "$here/gpu_bench.py" "$@"
