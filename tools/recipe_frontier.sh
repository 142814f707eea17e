#!/usr/bin/env bash
# The recipe frontier of the learned prior at N = 50: one `memprior prior frontier` row per recipe,
# appended to OUT (default data/prior/recipe_frontier.csv), one training run at a time on one core.
# Each row: width, blocks, steps, learning rate, EMA → the three most memorized r, the median r, the
# fraction below 0.3 and the null's, and the training seconds. Resumable: a recipe already in OUT is
# skipped, and a stopped training run resumes from its checkpoint in the weight cache.
#
#   tools/recipe_frontier.sh [MEMPRIOR_BINARY] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-target}/debug/memprior}"
out="${2:-data/prior/recipe_frontier.csv}"
mkdir -p "$(dirname "$out")"
# width blocks steps lr_max ema_decay
recipes=(
  "512 3 30000 1e-3 0.999"
  "512 3 60000 1e-3 0.999"
  "512 3 100000 1e-3 0.999"
  "512 3 60000 2e-3 0.999"
  "1024 3 30000 1e-3 0.999"
  "256 3 100000 1e-3 0.999"
)
for r in "${recipes[@]}"; do
  read -r w l s lr ema <<<"$r"
  if [ -f "$out" ] && grep -q "^$w,$l,$s,$(printf '%e' "$lr" | sed 's/\.0*e/e/;s/e-0*/e-/;s/e+0*/e/'),$ema," "$out"; then
    echo "skip W $w L $l steps $s lr $lr EMA $ema (in $out)"
    continue
  fi
  echo "W $w L $l steps $s lr $lr EMA $ema"
  "$bin" prior frontier --preset default --n-train 50 --width "$w" --blocks "$l" --steps "$s" \
    --lr-max "$lr" --ema-decay "$ema" --out "$out"
done
