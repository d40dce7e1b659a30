#!/usr/bin/env bash
# The gpu profile on a GPU, in at most ~8 minutes (issue 16): prints a table, writes
# bench/results/gpu.json.
#
#   bash bench/gpu.sh                  # on the GPU host, in the repo, with the project's environment
#
# Needs a tokenized corpus at data/tokenizer + data/tokens (`dvc repro tokenizer`, any profile:
# throughput does not depend on the text; the vocabulary of the tokens given is used) and, for the
# fine-tuning row, GLUE's SST-2 under $LMPIPE_DATA (default ../shared/data).
# Each row is the pipeline's own stage, `python -m pipeline <stage>`, with the gpu profile and
# only the step counts lowered, in a scratch project root (LMPIPE_ROOT), so the repo is untouched:
#   compiled   pretrain, $STEPS steps, torch.compile on (the profile's setting)
#   eager      the same with compile off
#   ddp-2      torchrun, 2 processes, $DDP_STEPS steps (only with 2 or more GPUs)
#   finetune   SST-2 from the compiled run's model, bf16, 1 epoch on $FT_EXAMPLES examples
# tokens/s and MFU leave out the first log window (compile and allocator warm-up; pretrain's
# metrics); MFU is against the datasheet dense bf16 peak (pipeline/pretrain/hardware.py).
# Off a GPU it stops, unless ALLOW_CPU=1 (the smoke test: tests/test_gpu_script.py, with
# GPU_SH_SET shrinking the model).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-$REPO/.venv/bin/python}
STEPS=${STEPS:-300}
DDP_STEPS=${DDP_STEPS:-100}
FT_EXAMPLES=${FT_EXAMPLES:-20000}
OUT_JSON=${OUT_JSON:-$REPO/bench/results/gpu.json}
DATA_FROM=${DATA_FROM:-$REPO/data}       # where data/tokenizer and data/tokens are
read -r -a EXTRA <<< "${GPU_SH_SET:-}"   # more --set overrides for every pretrain run

gpus=$("$PY" -c "import torch; print(torch.cuda.device_count())")
if [[ $gpus -lt 1 && ${ALLOW_CPU:-0} != 1 ]]; then
  echo "bench/gpu.sh: no CUDA device visible to torch; run it on a GPU host" >&2
  exit 2
fi
for d in tokenizer tokens; do
  [[ -e $DATA_FROM/$d ]] || { echo "bench/gpu.sh: $DATA_FROM/$d: missing (run \`dvc repro tokenizer\` first)" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data" "$work/rows"
ln -s "$DATA_FROM/tokenizer" "$work/data/tokenizer"
ln -s "$DATA_FROM/tokens" "$work/data/tokens"
# data_root would resolve under the scratch root: the shared data by its absolute path
export LMPIPE_ROOT=$work LMPIPE_DATA=${LMPIPE_DATA:-$(cd "$REPO/.." && pwd)/shared/data} PYTHONUNBUFFERED=1

sets() {  # --set arguments: the gpu profile, this run's steps and model path, then EXTRA
  local steps=$1 model=$2; shift 2
  local args=(profile=gpu "pretrain.max_steps=$steps" "pretrain.warmup_steps=$((steps / 10))"
              "pretrain.log_every=$((steps / 6 > 0 ? steps / 6 : 1))" "pretrain.eval_every=$steps"
              "pretrain.checkpoint_every=$steps" "pretrain.eval_sequences=1024" "paths.model=$model" "$@" "${EXTRA[@]}")
  for a in "${args[@]}"; do printf -- '--set\n%s\n' "$a"; done
}

pretrain_row() {  # name, steps, launcher..., then -- and extra sets
  local name=$1 steps=$2; shift 2
  local launcher=()
  while [[ $1 != -- ]]; do launcher+=("$1"); shift; done
  shift
  mapfile -t args < <(sets "$steps" "data/model-$name" "$@")
  echo "== $name: ${launcher[*]} -m pipeline pretrain (${steps} steps)"
  local start=$SECONDS
  "${launcher[@]}" -m pipeline pretrain --params "$REPO/params.yaml" "${args[@]}" 2>&1 | grep -E "step [0-9]+/|pretrain:|error" || true
  [[ -f $work/metrics/pretrain.json ]] || { echo "bench/gpu.sh: $name: pretrain wrote no metrics" >&2; exit 1; }
  "$PY" - "$work" "$name" "$((SECONDS - start))" <<'EOF'
import json, sys
from pathlib import Path
work, name, wall = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
m = json.loads((work / "metrics" / "pretrain.json").read_text())
losses = [float(line.split("\t")[1]) for line in (work / "plots" / "pretrain_loss.tsv").read_text().splitlines()[1:]]
row = {"row": name, "steps": m["steps"], "processes": m["processes"], "tokens_per_s": m["tokens_per_s"],
       "mfu": m["mfu"], "gpu_peak_memory_gib": m["gpu_peak_memory_gib"], "first_loss": losses[0],
       "final_loss": m["final_loss_avg"], "val_loss": m["val_loss"], "params": m["params"], "wall_s": wall}
(work / "rows" / f"{name}.json").write_text(json.dumps(row))
(work / "metrics" / "pretrain.json").unlink()
EOF
}

pretrain_row compiled "$STEPS" "$PY" -- pretrain.compile=true
pretrain_row eager "$STEPS" "$PY" -- pretrain.compile=false
if [[ $gpus -ge 2 ]]; then
  pretrain_row ddp-2 "$DDP_STEPS" "$PY" -m torch.distributed.run --nproc_per_node 2 -- pretrain.compile=true
fi

echo "== finetune: SST-2 from the compiled run's model, bf16"
start=$SECONDS
"$PY" -m pipeline finetune --params "$REPO/params.yaml" --set profile=gpu --set "finetune.tasks=[sst2]" \
  --set "finetune.models=[{name: gpu, checkpoint: $work/data/model-compiled}]" --set finetune.save_models=[] \
  --set finetune.train.epochs=1 --set "finetune.train.max_train_examples=$FT_EXAMPLES" \
  --set finetune.train.precision=bf16 2>&1 | grep -E "sst2|error" || true
"$PY" - "$work" "$((SECONDS - start))" "$OUT_JSON" <<'EOF'
import json, sys
from pathlib import Path
work, wall, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
rows = [json.loads(p.read_text()) for p in sorted((work / "rows").glob("*.json"), key=lambda p: p.stat().st_mtime)]
ft = json.loads((work / "metrics" / "finetune.json").read_text())
import torch
device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu (smoke run)"
result = {"device": device, "gpus": torch.cuda.device_count(), "torch": torch.__version__, "pretrain": rows,
          "finetune": {"task": "sst2", "wall_s": wall, "stage_wall_time_s": ft["wall_time_s"],
                       "sst2_dev_accuracy": ft["task_score"]["gpu/sst2"]}}
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(result, indent=1) + "\n")
print(f"\n{device}, {result['gpus']} GPU(s), torch {torch.__version__}")
print(f"{'row':<10} {'steps':>6} {'procs':>5} {'tok/s':>10} {'MFU':>7} {'peak GiB':>9} {'loss first -> last':>20} {'wall s':>7}")
for r in rows:
    mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "-"
    mem = f"{r['gpu_peak_memory_gib']:.1f}" if r["gpu_peak_memory_gib"] is not None else "-"
    print(f"{r['row']:<10} {r['steps']:>6} {r['processes']:>5} {r['tokens_per_s']:>10,.0f} {mfu:>7} {mem:>9} "
          f"{r['first_loss']:>9.3f} -> {r['final_loss']:<7.3f} {r['wall_s']:>7}")
print(f"finetune SST-2 (bf16, 1 epoch): {wall} s, dev accuracy {ft['task_score']['gpu/sst2']}")
print(f"-> {out}")
EOF
