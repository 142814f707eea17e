#!/usr/bin/env bash
# Run `memprior fwi` on a Slurm cluster as three dependent stages:
#
#   1. train   a job array over the preset's N values (one core each):
#              memprior prior train --preset P --n-train N --cache CACHE
#   2. sample  a job array over K shards, afterok on 1:
#              memprior fwi --preset P --shard i/K --workers $SLURM_CPUS_PER_TASK --cache CACHE --out OUT
#   3. merge   one job, afterok on 2:
#              memprior fwi --preset P --merge-only --out OUT
#
# CACHE and OUT must be on a file system every node sees. Shards may run at the same time: a
# network is trained by one process while the others wait for it (a file lock in the cache), and
# every sample is its own atomically written file. A failed or requeued task resumes from what is
# on disk when the stages are submitted again.
#
# Usage: tools/slurm/submit.sh --out DIR --cache DIR [options] [-- extra `memprior fwi` arguments]
#   --preset P        quick | default | paper            (default: default)
#   --shards K        sampling tasks                      (default: 4)
#   --cpus C          cores per sampling and merge task   (default: 2)
#   --partition P     Slurm partition                     (default: the cluster's default)
#   --account A       Slurm account                       (default: none)
#   --time T          time limit of every task            (default: 1-00:00:00)
#   --mem M           memory per task, as sbatch --mem    (default: 8G)
#   --memprior BIN    the memprior binary every node runs (default: `memprior` on PATH)
#   --logs DIR        Slurm output files                  (default: OUT/slurm-logs)
#   --wait            block until the merge ends; exit 0 only if every stage completed
# Extra arguments after `--` go to every `memprior fwi` call (for instance `--priors learned`);
# they must not contain spaces, and must not change the network recipe (stage 1 trains the
# preset's).
set -euo pipefail

die() { echo "submit.sh: $*" >&2; exit 2; }

preset=default shards=4 cpus=2 partition="" account="" time_limit=1-00:00:00 mem=8G
bin="" out="" cache="" logs="" wait=0 extra=()
while (($#)); do
  case "$1" in
    --preset) preset=${2:?--preset needs a value}; shift 2 ;;
    --shards) shards=${2:?--shards needs a value}; shift 2 ;;
    --cpus) cpus=${2:?--cpus needs a value}; shift 2 ;;
    --partition) partition=${2:?--partition needs a value}; shift 2 ;;
    --account) account=${2:?--account needs a value}; shift 2 ;;
    --time) time_limit=${2:?--time needs a value}; shift 2 ;;
    --mem) mem=${2:?--mem needs a value}; shift 2 ;;
    --memprior) bin=${2:?--memprior needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --cache) cache=${2:?--cache needs a value}; shift 2 ;;
    --logs) logs=${2:?--logs needs a value}; shift 2 ;;
    --wait) wait=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \`$1\` (see --help)" ;;
  esac
done
[[ -n $out ]] || die "--out DIR is required (a directory every node sees)"
[[ -n $cache ]] || die "--cache DIR is required (the weight cache every node shares)"
[[ $shards =~ ^[1-9][0-9]*$ ]] || die "--shards must be a positive integer (got \`$shards\`)"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer (got \`$cpus\`)"
for a in "${extra[@]}"; do
  [[ $a != *[[:space:]]* ]] || die "extra arguments must not contain spaces (got \`$a\`)"
done
command -v sbatch > /dev/null || die "sbatch not found: run this on a Slurm login node"
if [[ -z $bin ]]; then
  bin=$(command -v memprior) || die "no \`memprior\` on PATH: pass --memprior BIN (e.g. target/release/memprior)"
fi
[[ -x $bin ]] || die "--memprior $bin is not an executable file"
bin=$(realpath "$bin")
mkdir -p "$out" "$cache"
out=$(realpath "$out") cache=$(realpath "$cache")
logs=${logs:-$out/slurm-logs}
mkdir -p "$logs"
logs=$(realpath "$logs")

# The N values of the configuration, from memprior itself (also checks preset and arguments).
n_values=$("$bin" fwi --preset "$preset" "${extra[@]}" --out "$out" --print-n-values) ||
  die "memprior rejected the settings (above)"
read -r -a ns <<< "$n_values"

here=$(dirname "$(realpath "$0")")
common=(--parsable --time="$time_limit" --mem="$mem" --kill-on-invalid-dep=yes)
[[ -n $partition ]] && common+=(--partition="$partition")
[[ -n $account ]] && common+=(--account="$account")
export MEMPRIOR_BIN="$bin" MEMPRIOR_PRESET="$preset" MEMPRIOR_CACHE_DIR="$cache" \
  MEMPRIOR_OUT="$out" MEMPRIOR_SHARDS="$shards" MEMPRIOR_N_VALUES="$n_values" \
  MEMPRIOR_FWI_ARGS="${extra[*]}"

train=$(sbatch "${common[@]}" --job-name=memprior-train --array=0-$((${#ns[@]} - 1)) \
  --cpus-per-task=1 --output="$logs/train-%a.out" "$here/train.sbatch")
sample=$(sbatch "${common[@]}" --job-name=memprior-sample --array=1-"$shards" \
  --cpus-per-task="$cpus" --dependency=afterok:"$train" --output="$logs/sample-%a.out" \
  "$here/sample.sbatch")
merge_args=("${common[@]}" --job-name=memprior-merge --cpus-per-task="$cpus"
  --dependency=afterok:"$sample" --output="$logs/merge.out")
echo "submitted: train $train (N = ${ns[*]}), sample $sample ($shards shards), then merge; logs in $logs"
if ((wait == 0)); then
  merge=$(sbatch "${merge_args[@]}" "$here/merge.sbatch")
  echo "merge $merge: results in $out when it completes"
  exit 0
fi

# --wait: sbatch returns when the merge job ends, or when it is cancelled because a stage before
# it failed (then with status 0), so the stage states decide the outcome.
merge=$(sbatch "${merge_args[@]}" --wait "$here/merge.sbatch") || true
state() { scontrol show job "$1" 2> /dev/null | grep -o 'JobState=[A-Z_]*' | sort -u | sed 's/JobState=//' | paste -sd, -; }
s_merge=$(state "${merge%%;*}")
if [[ $s_merge == COMPLETED ]]; then
  echo "merge ${merge%%;*} completed: results in $out"
  exit 0
fi
echo "submit.sh: the run did not complete (train: $(state "$train"); sample: $(state "$sample"); merge: ${s_merge:-unknown})" >&2
for f in "$logs"/*.out; do
  [[ -f $f ]] || continue
  echo "--- $f (last lines)" >&2
  tail -n 5 "$f" >&2
done
exit 1
