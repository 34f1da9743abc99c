# Sourced by the GPU-call scripts: capped steps against one deadline. Needs T0 (start, epoch s), DEADLINE (seconds
# after T0 by which every step ends) and R (folder for steps.txt and each step's log).
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }
step() { # step NAME CAP CMD...   (runs CMD with a cap of min(CAP, time left); skipped with under 8 s left)
  local name=$1 cap=$2; shift 2; local l=$(left); local c=$(( cap < l ? cap : l ))
  if [ $c -lt 8 ]; then echo "== $name: skipped (no time left)" | tee -a $R/steps.txt; return; fi
  echo "== $name (cap ${c}s) at +$(( $(date +%s) - T0 ))s" | tee -a $R/steps.txt
  local s=$(date +%s); timeout -k 5 $c "$@" > $R/$name.log 2>&1; local rc=$?
  echo "   $name rc=$rc in $(( $(date +%s) - s ))s" | tee -a $R/steps.txt; tail -4 $R/$name.log
}
