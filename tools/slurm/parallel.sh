#!/usr/bin/env bash
# The three stages of tools/slurm/submit.sh on one machine without Slurm, with GNU parallel:
# train every N of the preset, draw K shards into one output directory, merge. Each stage starts
# when the previous one has succeeded; rerunning resumes from what is on disk (cached networks,
# finished sample files).
#
# Usage: tools/slurm/parallel.sh --shards K [options] [-- extra `memprior fwi` arguments]
#   --preset P       quick | default | paper                     (default: default)
#   --out DIR        output directory                            (default: target/fwi-P)
#   --cache DIR      weight cache                                (default: memprior's own)
#   --jobs J         processes at a time                         (default: K, at most the cores)
#   --memprior BIN   the memprior binary                         (default: `memprior` on PATH)
# Each sampling process gets (cores / J) worker threads.
set -euo pipefail

die() { echo "parallel.sh: $*" >&2; exit 2; }

preset=default shards="" out="" cache="" jobs="" bin="" extra=()
while (($#)); do
  case "$1" in
    --preset) preset=${2:?--preset needs a value}; shift 2 ;;
    --shards) shards=${2:?--shards needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --cache) cache=${2:?--cache needs a value}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a value}; shift 2 ;;
    --memprior) bin=${2:?--memprior needs a value}; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \`$1\` (see --help)" ;;
  esac
done
[[ $shards =~ ^[1-9][0-9]*$ ]] || die "--shards K is required, a positive integer (got \`$shards\`)"
cores=$(nproc)
jobs=${jobs:-$((shards < cores ? shards : cores))}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer (got \`$jobs\`)"
command -v parallel > /dev/null || die "GNU parallel not found: apt-get install -y parallel"
if [[ -z $bin ]]; then
  bin=$(command -v memprior) || die "no \`memprior\` on PATH: pass --memprior BIN"
fi
[[ -x $bin ]] || die "--memprior $bin is not an executable file"
out=${out:-target/fwi-$preset}
cache_args=()
[[ -n $cache ]] && cache_args=(--cache "$cache")
workers=$((cores / jobs > 0 ? cores / jobs : 1))

read -r -a ns <<< "$("$bin" fwi --preset "$preset" "${extra[@]}" --out "$out" --print-n-values)" ||
  die "memprior rejected the settings (above)"
clock=$SECONDS
echo "parallel.sh: train N = ${ns[*]} ($jobs at a time)"
parallel --will-cite --halt now,fail=1 -j "$jobs" --line-buffer --tagstring 'N={}' \
  "$bin" prior train --preset "$preset" --n-train {} "${cache_args[@]}" ::: "${ns[@]}"
echo "parallel.sh: draw $shards shards ($jobs at a time, $workers threads each)"
parallel --will-cite --halt now,fail=1 -j "$jobs" --line-buffer --tagstring 'shard {}' \
  "$bin" fwi --preset "$preset" "${extra[@]}" --shard "{}/$shards" --workers "$workers" \
  "${cache_args[@]}" --out "$out" ::: $(seq "$shards")
echo "parallel.sh: merge"
"$bin" fwi --preset "$preset" "${extra[@]}" --merge-only --workers "$cores" --out "$out"
echo "parallel.sh: done in $((SECONDS - clock)) s: results in $out"
