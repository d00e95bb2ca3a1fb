#!/usr/bin/env bash
# The GPU rows of docs/benchmarks.md, in one run: every side of scripts/benchmark.py on the GPU (the fast
# class's gradients written out and by autograd), both networks, batch 32 and 256, the compiled steps
# (CUDA graphs, torch.compile's "reduce-overhead") for K = 1, 5, 10, 25, each compiled cold (an empty
# inductor cache) and then warm. Ready to run unchanged where a GPU is lent:
#
#     bash scripts/gpu_benchmarks.sh [OUT_DIR]      # about 8 minutes on an H200; JSON files in OUT_DIR
#
# OUT_DIR defaults to $OUT (the device tool's folder) or benchmarks/gpu. Each JSON file is one run, as
# scripts/benchmark.py writes it; nvidia-smi's line and the versions go in machine.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-benchmarks/gpu}}"
mkdir -p "$out"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python -c "import torch, lightning; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'lightning', lightning.__version__)"
} > "$out/machine.txt"
for model in one two; do
  for batch in 32 256; do
    python scripts/benchmark.py --accelerator gpu --model "$model" --batch-size "$batch" --epochs 3 --rounds 2 \
      --autograd --json "$out/${model}_bs${batch}_sides.json" > /dev/null
    for k in 1 5 10 25; do
      cache="$(mktemp -d)"
      for pass in cold warm; do
        TORCHINDUCTOR_CACHE_DIR="$cache" python scripts/benchmark.py --accelerator gpu --side compiled \
          --model "$model" --batch-size "$batch" --compiled-steps "$k" --epochs 3 \
          > "$out/${model}_bs${batch}_k${k}_${pass}.json" 2> "$out/${model}_bs${batch}_k${k}_${pass}.log"
      done
      rm -rf "$cache"
    done
  done
done
echo "GPU figures in $out"
