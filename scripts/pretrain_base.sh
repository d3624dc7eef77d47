#!/usr/bin/env bash
# Pretrain mypt's tiny base model from scratch and ship it as data/base/NAME/ with a model card.
#
#   scripts/pretrain_base.sh            # NAME=tiny_base, config configs/base/tiny_base.json
#
# Steps: build the corpus (scripts/build_base_corpus.py: pinned Debian packages, fetched with
# apt-get download), `mypt prepare-text` it, `mypt train` on the token stream, then
# scripts/finish_base.py casts the final weights to float16, copies config and tokenizer state
# into data/base/NAME/ and writes its README.md. Intermediate files go to build/base/.
# Environment: PYTHON (default .venv/bin/python), THREADS (torch threads, default 1),
# NICE (default 19), NAME, BUILD (default build/base).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
NAME=${NAME:-tiny_base}
PY=${PYTHON:-$ROOT/.venv/bin/python}
BUILD=${BUILD:-build/base}
CONFIG=configs/base/$NAME.json
THREADS=${THREADS:-1}
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
run() { nice -n "${NICE:-19}" "$PY" "$@"; }
mypt() { run -c 'import sys; from mypt.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }

mkdir -p "$BUILD"
echo "== 1/4 corpus"
run scripts/build_base_corpus.py --out "$BUILD/corpus" | tee "$BUILD/corpus.log"
echo "== 2/4 prepare-text"
mypt prepare-text --input "$BUILD/corpus/corpus" --output_dir "$BUILD/text" --val_split 0.05 --seed 3301 --num_threads 1
echo "== 3/4 train ($CONFIG, $THREADS thread(s))"
start=$(date +%s)
mypt train --model_name "$NAME" --config_file "$CONFIG" --dataset_dir "$BUILD/text" --out_dir "$BUILD/checkpoints" \
    2>&1 | tee "$BUILD/train.log"
seconds=$(( $(date +%s) - start ))
echo "== 4/4 ship data/base/$NAME"
run scripts/finish_base.py --checkpoint "$BUILD/checkpoints/$NAME" --dataset_dir "$BUILD/text" --corpus_log "$BUILD/corpus.log" \
    --config "$CONFIG" --train_seconds "$seconds" --threads "$THREADS" --nice "${NICE:-19}" --out "data/base/$NAME"
