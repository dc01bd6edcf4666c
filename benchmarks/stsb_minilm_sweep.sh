#!/usr/bin/env bash
# The hyper-parameter sweep behind configs/stsb-minilm.yaml (docs/results.md, "Fine-tuning on STS-B").
# Each run fine-tunes all-MiniLM-L6-v2 on STS-B train; selection is by the best STS-B *dev* Spearman only.
# Usage: benchmarks/stsb_minilm_sweep.sh [OUTPUT_DIR]      (≈ 15 min per run on an idle 2-core CPU;
# run one at a time: two torch trainings on 2 cores oversubscribe the threads and each runs ~5× slower)
set -euo pipefail
out=${1:-runs/sweep}
embedlab=${EMBEDLAB:-.venv/bin/embedlab}
base=(configs/stsb-minilm.yaml --overwrite --set output_dir="$out" --set eval.before=false)

"$embedlab" train "${base[@]}" --set name=cosent-lr2e-5 --set training.learning_rate=2e-5
"$embedlab" train "${base[@]}" --set name=cosent-lr5e-5 --set training.learning_rate=5e-5
"$embedlab" train "${base[@]}" --set name=cosent-lr1e-4 --set training.learning_rate=1e-4
"$embedlab" train "${base[@]}" --set name=angle-lr5e-5 --set loss.name=angle --set training.learning_rate=5e-5
"$embedlab" train "${base[@]}" --set name=cosent-lr1e-4-e6 --set training.learning_rate=1e-4 --set training.epochs=6

# One line per run: name, best dev Spearman, STS-B test Spearman.
for results in "$out"/*/results.json; do
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); t=[x["value"] for x in r["after"] if x["task"]=="stsb" and x["metric"]=="spearman_cosine"]; print(r["name"], "dev %.2f" % r["best_dev_spearman"], "test %.2f" % t[0] if t else "")' "$results"
done
