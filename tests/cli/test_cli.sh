#!/usr/bin/env bash
# End-to-end tests of the hipi executable under mpirun: what a user sees.
# Usage: test_cli.sh HIPI MPIEXEC
# Checks exit statuses, single error messages, no output left by failed runs, no hangs
# (every run is under a timeout), files identical across 1-4 ranks, --config, self-join.
set -u
HIPI=$1
MPIEXEC=${2:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
# auto caches its machine profile: here, not in the user's home.
unset HIPI_CACHE_DIR
export XDG_CACHE_HOME="$WORK/cache"

failures=0
passes=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; passes=$((passes + 1)); }

# run NP ARGS...: runs hipi under mpirun with a timeout; sets $status, $out (stdout+stderr).
run() {
  local np=$1
  shift
  out=$(timeout 120 "$MPIEXEC" -np "$np" --oversubscribe "$HIPI" "$@" 2>&1)
  status=$?
}

# expect_error NAME STATUS REGEX NP ARGS...: exit status, message printed exactly once.
expect_error() {
  local name=$1 want=$2 regex=$3
  shift 3
  rm -f out.h5
  run "$@"
  local count
  count=$(grep -c -E -e "$regex" <<<"$out")
  if [ "$status" -ne "$want" ]; then fail "$name: exit status $status, want $want"$'\n'"$out"
  elif [ "$count" -ne 1 ]; then fail "$name: message /$regex/ printed $count times"$'\n'"$out"
  elif [ -e out.h5 ]; then fail "$name: left out.h5 behind"
  else pass "$name"; fi
}

# --- help and usage ------------------------------------------------------------------
run 1 --help
if [ "$status" -eq 0 ] && grep -q "solve" <<<"$out" && grep -q "generate" <<<"$out"; then pass "--help"; else fail "--help: $out"; fi
run 1 solve --help
if [ "$status" -eq 0 ] && grep -q -- "--rho" <<<"$out" && grep -q "Exit status" <<<"$out"; then pass "solve --help"; else fail "solve --help: $out"; fi

# --- a planted instance, the same file at any rank count ------------------------------
run 1 generate --out gen1.h5 --n 600 --n-b 500 --d 300 --k 9 --rho 0.5 --seed 7
[ "$status" -eq 0 ] || fail "generate at 1 rank: $out"
run 3 generate --out gen3.h5 --n 600 --n-b 500 --d 300 --k 9 --rho 0.5 --seed 7
[ "$status" -eq 0 ] || fail "generate at 3 ranks: $out"
if h5diff gen1.h5 gen3.h5 >/dev/null 2>&1; then pass "generate: identical file at 1 and 3 ranks"
else fail "generate: files differ between 1 and 3 ranks"; fi
ls -a | grep -q 'hipi-tmp' && fail "generate left a temporary file"

for np in 1 2 3 4; do
  run "$np" solve --a gen1.h5 --b gen1.h5:/B --rho 0.5 --out "solve$np.h5" --report "report$np.json"
  [ "$status" -eq 0 ] || fail "solve at $np ranks: $out"
done
same=1
for np in 2 3 4; do
  for obj in /pairs /inner_products; do
    h5diff solve1.h5 "solve$np.h5" "$obj" "$obj" >/dev/null 2>&1 || { same=0; fail "solve: $obj differs between 1 and $np ranks"; }
  done
done
[ "$same" -eq 1 ] && pass "solve: identical /pairs and /inner_products at 1, 2, 3, 4 ranks"
if h5diff gen1.h5 solve1.h5 /truth_pairs /pairs >/dev/null 2>&1 && h5diff gen1.h5 solve1.h5 /truth_ip /inner_products >/dev/null 2>&1; then
  pass "solve: /pairs equal the planted /truth_pairs"
else fail "solve: /pairs differ from /truth_pairs"; fi
if grep -q '"compute"' report4.json && grep -q '"ranks": 4' report4.json; then pass "--report JSON"; else fail "--report: $(cat report4.json)"; fi
if h5dump -a /method solve2.h5 | grep -q '"brute"' && h5dump -a /requested_method solve2.h5 | grep -q '"auto"'; then pass "method attributes"
else fail "method attributes"; fi

# PREFIX1.h5 ... PREFIX4.h5 hold /pairs and /inner_products equal to brute force's (solve1.h5).
equals_brute_at_every_rank_count() {
  local prefix=$1 name=$2 same=1
  for np in 1 2 3 4; do
    for obj in /pairs /inner_products; do
      h5diff solve1.h5 "$prefix$np.h5" "$obj" "$obj" >/dev/null 2>&1 || { same=0; fail "$name at $np ranks: $obj differs from brute force"; }
    done
  done
  [ "$same" -eq 1 ] && pass "$name: /pairs and /inner_products equal brute force's at 1, 2, 3, 4 ranks"
}

# --- the sketch method: same pairs as brute force, the same file at every rank count --------
for np in 1 2 3 4; do
  run "$np" solve --a gen1.h5 --b gen1.h5 --rho 0.5 --out "sketch$np.h5" --method sketch --group-size 2 --z 2 --reps 2 --tile-rows 64 --block-size 16
  [ "$status" -eq 0 ] || fail "sketch at $np ranks: $out"
done
equals_brute_at_every_rank_count sketch "sketch"
if h5dump -a /method sketch4.h5 | grep -q '"sketch"' && h5dump -a /grid sketch4.h5 | grep -q '"2x2"'; then pass "sketch attributes"
else fail "sketch attributes"; fi
# --- the sign sketch (binary data): same pairs as brute force at every rank count ----------
# d = 300, theta = 150: groups 3 x 1 carry signal gain(3) * 150 = 75, about 4.3 noise sd;
# z = 2 and 3 repetitions miss a planted pair with probability about 1e-5.
for np in 1 2 3 4; do
  run "$np" solve --a gen1.h5 --b gen1.h5 --rho 0.5 --out "sign$np.h5" --method sketch --sketch sign \
    --group-size-a 3 --group-size-b 1 --z 2 --reps 3 --tile-rows 64 --report "sign$np.json"
  [ "$status" -eq 0 ] || fail "sign sketch at $np ranks: $out"
done
equals_brute_at_every_rank_count sign "sign sketch"
if grep -q '"sketch": "sign"' sign3.json && grep -q '"peak_rss_mib"' sign3.json && grep -q '"exact": "' sign3.json; then
  pass "sign sketch report: parameters, peak RSS, kernels"
else fail "sign sketch report: $(head -c 2000 sign3.json)"; fi

# --- the report's predicted peak covers the method's buffers: the linear sketch with groups
# of one row and a 128 MiB panel holds about 4x its rows (64 MiB of A and of B on 2 ranks) at
# its peak, which the prediction (the budget's checks) must not miss by more than 20%.
run 2 generate --out wide.h5 --n 4096 --d 4096 --k 4 --type real --tau 2000 --seed 9
[ "$status" -eq 0 ] || fail "generate wide.h5: $out"
run 2 solve --a wide.h5 --b wide.h5:/B --tau 2000 --method sketch --group-size 1 --panel-mib 128 \
  --out wide-out.h5 --report wide.json
if [ "$status" -eq 0 ] && /usr/bin/python3 - wide.json <<'PY'; then pass "report: predicted peak covers the sketch's buffers"; else fail "report: predicted peak: $(grep -o '"predicted_by_rank_mib[^]]*]' wide.json) measured $(grep -o '"measured_by_rank_mib[^]]*]' wide.json)"; fi
import json, sys
m = json.load(open(sys.argv[1]))["memory"]
sys.exit(0 if all(p >= 0.8 * q for p, q in zip(m["predicted_by_rank_mib"], m["measured_by_rank_mib"])) else 1)
PY
rm -f wide.h5 wide-out.h5

# --- transfers in pieces: with MPI messages limited to 64 bytes (HIPI_TEST_MPI_LIMIT, read
# only by tests), every ring block, routing exchange and sort of the answer goes in pieces;
# the output must not change.
pieces=1
for method in "brute" "sketch --group-size 2 --z 2 --reps 2 --tile-rows 64 --block-size 16" \
  "sketch --sketch sign --group-size-a 3 --group-size-b 1 --z 2 --reps 3 --tile-rows 64" "hash"; do
  out=$(HIPI_TEST_MPI_LIMIT=64 timeout 120 "$MPIEXEC" -np 3 --oversubscribe -x HIPI_TEST_MPI_LIMIT "$HIPI" solve \
    --a gen1.h5 --b gen1.h5 --rho 0.5 --out pieces.h5 --method $method 2>&1)
  status=$?
  for obj in /pairs /inner_products; do
    if [ "$status" -ne 0 ] || ! h5diff solve1.h5 pieces.h5 "$obj" "$obj" >/dev/null 2>&1; then
      pieces=0
      fail "--method $method with 64-byte MPI pieces: status $status, $obj differs from brute force"$'\n'"$out"
      break
    fi
  done
done
[ "$pieces" -eq 1 ] && pass "brute, sketch, sign sketch, hash with 64-byte MPI pieces: brute force's output at 3 ranks"

expect_error "grid not matching ranks" 2 "--grid 2x2 has 4 processes but the job has 3" 3 solve --a gen1.h5 --rho 0.5 --out out.h5 --method sketch --grid 2x2
expect_error "group size zero" 2 "--group-size" 2 solve --a gen1.h5 --rho 0.5 --out out.h5 --method sketch --group-size 0
expect_error "memory budget too small for the rows" 2 "past the budget of 1 MiB per rank \(--memory-mib 1\)" 2 solve --a gen1.h5 --rho 0.5 --out out.h5 --memory-mib 1

# --- calibrate and plan: a profile file, a printed plan, no output file -------------------
run 2 calibrate --d 300 --out profile.toml
if [ "$status" -eq 0 ] && grep -q 'gemm_f32_flops' profile.toml && grep -q 'calibrated_d = 300' profile.toml; then pass "calibrate writes a profile"
else fail "calibrate: $out"; fi
run 2 plan --a gen1.h5 --b gen1.h5 --rho 0.5 --profile profile.toml
if [ "$status" -eq 0 ] && grep -q '^chosen:' <<<"$out" && grep -q '^runner-up:' <<<"$out" && grep -q '^why:' <<<"$out" &&
  [ "$(grep -c '^  sketch predicted' <<<"$out")" -ge 1 ]; then pass "plan prints the choice, the runner-up, why and other shapes"
else fail "plan: $out"; fi
echo 'gemm_f32_flops = 1.0' > bad_profile.toml
expect_error "incomplete profile" 2 "bad_profile.toml: profile key" 2 solve --a gen1.h5 --b gen1.h5 --rho 0.5 --out out.h5 --profile bad_profile.toml
run 3 solve --a gen1.h5 --b gen1.h5 --rho 0.5 --out auto3.h5 --profile profile.toml --expect-k 9
if [ "$status" -eq 0 ] && h5diff solve1.h5 auto3.h5 /pairs /pairs >/dev/null 2>&1; then pass "auto with a saved profile and --expect-k"
else fail "auto with --expect-k: $out"; fi

# --- a TOML configuration and a self-join ----------------------------------------------
cat > solve.toml <<'TOML'
# options for hipi solve
rho = 0.5
method = "brute"
abs = false
TOML
run 2 solve --config solve.toml --a gen1.h5 --b gen1.h5 --out conf.h5
if [ "$status" -eq 0 ] && h5diff solve1.h5 conf.h5 /pairs /pairs >/dev/null 2>&1; then pass "--config TOML"; else fail "--config: $out"; fi
echo 'rhoo = 0.5' > typo.toml
expect_error "--config with an unknown key" 2 "typo.toml: unknown key 'rhoo'" 2 solve --config typo.toml --a gen1.h5 --out out.h5
echo 'rho = "not a number' > broken.toml
expect_error "--config with broken TOML" 2 "broken.toml: invalid TOML at line 1" 2 solve --config broken.toml --a gen1.h5 --out out.h5

run 2 generate --out self.h5 --n 400 --d 256 --k 5 --rho 0.6 --self-join --seed 3
run 3 solve --a self.h5 --rho 0.6 --out selfout.h5
if [ "$status" -eq 0 ] && h5diff self.h5 selfout.h5 /truth_pairs /pairs >/dev/null 2>&1; then pass "self-join finds the planted pairs"
else fail "self-join: $out"; fi

# --- errors: status 2 for input and usage, 1 for the rest; one message; no output ---------
expect_error "missing file" 2 "nope.h5: no such file" 2 solve --a nope.h5 --rho 0.5 --out out.h5
expect_error "missing dataset" 2 "gen1.h5:/C: no dataset" 3 solve --a gen1.h5:/C --rho 0.5 --out out.h5
expect_error "missing threshold" 2 "one of --rho" 2 solve --a gen1.h5 --out out.h5
expect_error "both thresholds" 2 "excludes" 2 solve --a gen1.h5 --rho 0.5 --tau 3 --out out.h5
expect_error "rho out of range" 2 "--rho must be in" 4 solve --a gen1.h5 --rho 2 --out out.h5
expect_error "unknown option" 2 "--bogus" 2 solve --a gen1.h5 --rho 0.5 --out out.h5 --bogus
expect_error "unknown method" 2 "--method" 2 solve --a gen1.h5 --rho 0.5 --out out.h5 --method magic
expect_error "--memory-mib 0, said plainly" 2 "^--memory-mib: must be a positive number, got 0$" 1 solve --a gen1.h5 --rho 0.5 --out out.h5 --memory-mib 0
expect_error "output directory missing" 2 "does not exist" 2 solve --a gen1.h5 --rho 0.5 --out nodir/out.h5
run 1 generate --out real.h5 --n 10 --d 300 --type real --tau 5
[ "$status" -eq 0 ] || fail "generate --type real: $out"
expect_error "real values in binary mode" 2 "real.h5:/B: row 0, column 0 holds .*binary mode" 2 solve --a gen1.h5 --b real.h5 --rho 0.5 --out out.h5
expect_error "sign sketch of real data" 2 "--sketch sign is for binary" 2 solve --a real.h5 --tau 1 --out out.h5 --method sketch --sketch sign

# A packed dataset whose bits attribute is an array: one message naming it, exit 2, at 1 and
# 2 ranks (it was read into one integer's room and ended in an HDF5 close error).
/usr/bin/python3 -c '
import h5py, numpy as np
with h5py.File("bits_array.h5", "w") as f:
    f.create_dataset("A", data=np.zeros((4, 3), np.uint8)).attrs["bits"] = np.array([21, 21])
' || fail "writing bits_array.h5"
for np in 1 2; do
  expect_error "packed bits attribute as an array, $np ranks" 2 "bits_array.h5:/A: a uint8 dataset is read as packed bits and needs an integer attribute 'bits'" \
    "$np" solve --a bits_array.h5 --rho 0.5 --out out.h5
done

# --- sparse input: a CSR group; a malformed one is one message and exit status 2 at any rank
/usr/bin/python3 - <<'PY' || fail "writing CSR groups"
import h5py, numpy as np
rng = np.random.default_rng(5)
n, d = 300, 5000
indptr = np.arange(0, 12 * n + 1, 12, dtype=np.int64)
indices = np.concatenate([np.sort(rng.choice(d, 12, replace=False)) for _ in range(n)]).astype(np.int32)
data = rng.random(12 * n).astype(np.float32)
def group(f, name, indices=indices, data=data, indptr=indptr, shape=(n, d)):
    g = f.create_group(name)
    g.attrs["encoding-type"] = "csr_matrix"
    g.attrs["shape"] = np.array(shape, dtype=np.int64)
    g["data"], g["indices"], g["indptr"] = data, indices, indptr
with h5py.File("sparse.h5", "w") as f:
    group(f, "X")
    bad = indices.copy(); bad[12 * 250 + 3] = d + 7
    group(f, "OutOfRange", indices=bad)
    bad = data.copy(); bad[12 * 200] = np.nan
    group(f, "NaN", data=bad)
    group(f, "Wide", shape=(n, 2**40))  # declared columns far past memory once densified
    group(f, "Wide3e9", shape=(n, 3 * 10**9))
    group(f, "Tall", shape=(2**63 - 1, d))
PY
run 3 solve --a sparse.h5:/X --tau 0.5 --cosine --out sparse-out.h5
if [ "$status" -eq 0 ] && grep -q "auto: sparse" <<<"$out"; then pass "sparse input: auto solves it sparse"; else fail "sparse input: $out"; fi
echo "another run's" >sparse-kept.h5.hipi-checkpoint
expect_error "sparse: a checkpoint beside the output is refused" 2 "sparse-kept.h5.hipi-checkpoint was saved by another run" \
  2 solve --a sparse.h5:/X --tau 0.5 --cosine --method sparse --out sparse-kept.h5
[ -s sparse-kept.h5.hipi-checkpoint ] && [ ! -e sparse-kept.h5 ] || fail "sparse: the checkpoint beside the output was not kept"
expect_error "sparse: column out of range" 2 "sparse.h5:/OutOfRange: row 250 has column index 5007, outside \[0, 5000\)" 3 solve --a sparse.h5:/OutOfRange --tau 0.5 --cosine --out out.h5
expect_error "sparse: NaN" 2 "sparse.h5:/NaN: row 200, column [0-9]+ holds nan" 2 solve --a sparse.h5:/NaN --tau 0.5 --out out.h5 --method sparse
expect_error "sparse: d = 2^40 densified is refused by the budget" 2 "the 150 rows of sparse.h5:/Wide this rank reads.*past the budget" \
  2 solve --a sparse.h5:/Wide --tau 0.5 --method brute --out out.h5
expect_error "sparse: d = 3e9 densified is refused by the budget" 2 "the 150 rows of sparse.h5:/Wide3e9 this rank reads.*past the budget" \
  2 solve --a sparse.h5:/Wide3e9 --tau 0.5 --method brute --out out.h5
expect_error "sparse: a shape past 2^62 rows" 2 "sparse.h5:/Tall: shape \[9223372036854775807, 5000\] is past 2\^62 rows or columns" \
  2 solve --a sparse.h5:/Tall --tau 0.5 --out out.h5
expect_error "sparse: binary mode" 2 "a sparse matrix holds real data; use --tau" 2 solve --a sparse.h5:/X --rho 0.5 --out out.h5

expect_error "--grid past int" 2 "--grid '4294967298x1'" 2 solve --a gen1.h5 --rho 0.5 --out out.h5 --method sketch --grid 4294967298x1
expect_error "--expect-k 0" 2 "--expect-k must be at least 1, got 0" 2 solve --a gen1.h5 --rho 0.5 --out out.h5 --expect-k 0
expect_error "--max-reps -1" 2 "--max-reps must be >= 0" 2 solve --a gen1.h5 --rho 0.5 --out out.h5 --method sketch --max-reps -1

# --- a file the user may not read: said so, not "not an HDF5 file" (root reads anything,
# so this runs hipi, copied out of the build tree, as the unprivileged user nobody) -----
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  mkdir -p locked && chmod 777 locked && cp "$HIPI" locked/hipi && chmod 755 "$WORK" locked/hipi
  cp gen1.h5 locked/secret.h5 && chmod 000 locked/secret.h5
  out=$(cd locked && timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp ./hipi solve \
    --a secret.h5 --rho 0.5 --out o.h5 2>&1)
  status=$?
  if [ "$status" -eq 2 ] && grep -q "secret.h5: cannot read it: Permission denied" <<<"$out" && [ ! -e locked/o.h5 ]; then
    pass "unreadable input: permission denied, exit 2"
  else fail "unreadable input: exit $status"$'\n'"$out"; fi
else
  echo "skip: the unreadable-input check needs root and setpriv"
fi

# --- auto's machine profile: calibrated once per machine and layout, then reused --------------
rm -rf "$WORK/cache"
run 2 solve --a gen1.h5 --b gen1.h5 --rho 0.5 --out cache1.h5 --report cache1.json
run 2 solve --a gen1.h5 --b gen1.h5 --rho 0.5 --out cache2.h5 --report cache2.json
if grep -q '"calibrate"' cache1.json && ! grep -q '"calibrate"' cache2.json && ls "$WORK"/cache/hipi/profile-*.toml >/dev/null 2>&1 &&
  h5diff cache1.h5 cache2.h5 /pairs /pairs >/dev/null 2>&1; then pass "auto calibrates once, then reuses the cached profile"
else fail "profile cache: $(ls -R "$WORK/cache" 2>&1) $out"; fi
run 2 solve --a gen1.h5 --b gen1.h5 --rho 0.5 --out cache3.h5 --report cache3.json --no-profile-cache
grep -q '"calibrate"' cache3.json && pass "--no-profile-cache calibrates" || fail "--no-profile-cache: $out"
for f in "$WORK"/cache/hipi/profile-*.toml; do echo 'not = toml = at all' >"$f"; done
run 2 solve --a gen1.h5 --b gen1.h5 --rho 0.5 --out cache4.h5 --report cache4.json
if [ "$status" -eq 0 ] && grep -q '"calibrate"' cache4.json && grep -q 'ignoring the cached profile' <<<"$out"; then
  pass "a broken cached profile is replaced, with a warning"
else fail "broken cached profile: $status $out"; fi

# --- peak memory within --memory-mib: 11 million pairs (2,000 rows copies of 200) in a
# budget far below them: the pairs spill, and no rank's peak RSS passes the budget ---------
/usr/bin/python3 -c '
import h5py, numpy as np
rng = np.random.default_rng(3)
A = np.where(rng.random((20000, 1024)) < 0.5, 1, -1).astype(np.int8)
src = rng.integers(0, 20000, 200)
for k in range(2000):
    A[(k * 7 + 13) % 20000] = A[src[k % 200]]
with h5py.File("mem.h5", "w") as f:
    f["A"] = A
' || fail "writing mem.h5"
for budget in 120 250; do
  run 2 solve --a mem.h5 --rho 0.05 --method brute --out mem-out.h5 --report mem.json --memory-mib "$budget"
  peak=$(/usr/bin/python3 -c 'import json; print(json.load(open("mem.json"))["memory"]["measured_peak_mib"])' 2>/dev/null)
  pairs=$(/usr/bin/python3 -c 'import h5py; print(len(h5py.File("mem-out.h5")["pairs"]))' 2>/dev/null)
  if [ "$status" -eq 0 ] && [ "$pairs" = 11103738 ] && /usr/bin/python3 -c "import sys; sys.exit(not $peak <= $budget)"; then
    pass "--memory-mib $budget: peak $peak MiB, all $pairs pairs"
  else fail "--memory-mib $budget: status $status, peak $peak MiB, $pairs pairs"$'\n'"$out"; fi
  rm -f mem-out.h5 mem.json
done

# --- the prefix filter's buffers are in the budget: its rotated rows, tiles and rotation
# (and rank 0's sample and eigensolver) are checked with the ring's, so a run either stays
# within --memory-mib or is refused before it computes; the report's prediction covers them.
/usr/bin/python3 -c '
import h5py, numpy as np
rng = np.random.default_rng(4)
with h5py.File("pre.h5", "w") as f:
    f["A"] = rng.standard_normal((16000, 512), dtype=np.float32)
    f["B"] = rng.standard_normal((64, 512), dtype=np.float32)
' || fail "writing pre.h5"
for budget in 100 60; do
  run 1 solve --a pre.h5 --b pre.h5:/B --tau 90 --method prefix --out pre-out.h5 --report pre.json --memory-mib "$budget"
  verdict=$(/usr/bin/python3 -c '
import json, sys
m = json.load(open("pre.json"))["memory"]
peak, predicted = m["measured_peak_mib"], max(m["predicted_by_rank_mib"])
print("peak %.1f predicted %.1f" % (peak, predicted), "ok" if peak <= '"$budget"' and predicted >= 0.8 * peak else "over")
' 2>/dev/null)
  if [ "$status" -eq 0 ] && [[ "$verdict" == *ok ]]; then pass "prefix within --memory-mib $budget: $verdict"
  elif [ "$status" -eq 2 ] && grep -q "past the budget of $budget MiB" <<<"$out" && [ ! -e pre-out.h5 ]; then
    pass "prefix refused before it computes under --memory-mib $budget"
  else fail "prefix under --memory-mib $budget: status $status, $verdict"$'\n'"$out"; fi
  rm -f pre-out.h5 pre.json
done
rm -f pre.h5

# --- stale temporary files: those of a process that is gone, or a zombie (a killed run's
# rank is one for a moment, and kill(pid, 0) says it is alive), are removed; a live one's kept
host=$(hostname)
/usr/bin/python3 -c '
import os, sys, time
child = os.fork()
if child == 0:
    os._exit(0)
print(child, flush=True)
sys.stdout.close()
time.sleep(60)  # never reaps: the child stays a zombie
' >zombie.pid &
zombie_parent=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s zombie.pid ] && break; sleep 0.2; done
zombie=$(cat zombie.pid)
sleep 60 &
alive=$!
echo stale >".stale.h5.hipi-tmp-$host-$zombie"
echo stale >".stale.h5.hipi-tmp-$host-$alive"
run 1 solve --a gen1.h5 --rho 0.5 --out stale.h5
if [ "$status" -eq 0 ] && [ ! -e ".stale.h5.hipi-tmp-$host-$zombie" ] && [ -e ".stale.h5.hipi-tmp-$host-$alive" ] &&
  grep -q "left by process $host-$zombie which is gone" <<<"$out"; then
  pass "a zombie's temporary file is removed, a live process's kept"
else fail "stale temporary files: $(ls -a | grep hipi-tmp) $out"; fi
kill "$zombie_parent" "$alive" 2>/dev/null
rm -f .stale.h5.hipi-tmp-*

# --- a first run measures only the rates its mode prices; a run of the other mode adds its
# own to the same cached profile, and the next one measures nothing ---------------------------
rm -rf "$WORK/cache"
run 2 solve --a gen1.h5 --b gen1.h5 --rho 0.5 --out cache5.h5 --report cache5.json
prof=$(ls "$WORK"/cache/hipi/profile-*.toml 2>/dev/null | head -1)
if [ -n "$prof" ] && grep -q '^binary_pairs' "$prof" && ! grep -q '^real_pairs' "$prof"; then
  pass "a binary run caches the binary rates only"
else fail "binary run's cached profile: $(cat "$prof" 2>&1) $out"; fi
run 2 solve --a real.h5 --tau 5 --out cache6.h5 --report cache6.json
run 2 solve --a real.h5 --tau 5 --out cache7.h5 --report cache7.json
if grep -q '"calibrate"' cache6.json && ! grep -q '"calibrate"' cache7.json && grep -q '^binary_pairs' "$prof" &&
  grep -q '^real_bulk_pairs' "$prof"; then pass "a real run adds its rates to the cached profile, measured once"
else fail "real run after a binary one: $(cat "$prof" 2>&1) $out"; fi
# A cached profile its run contradicts (rates 10^4 times too fast, as a profile from another
# machine or load would be) is dropped after the run, on every rank's agreement (no hang),
# and the stages are shown against their predictions; the next run measures again.
/usr/bin/python3 - "$prof" <<'PY' || fail "editing the cached profile"
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"^(?!calibrated_d)(\w+) = ([0-9.eE+-]+)$", lambda m: "%s = %r" % (m.group(1), float(m.group(2)) * 1e4), text, flags=re.M)
open(sys.argv[1], "w").write(text)
PY
run 2 generate --out slow.h5 --n 30000 --d 1024 --k 9 --rho 0.5 --seed 7  # seconds of compute (past 1 s with AVX-512)
run 2 solve --a slow.h5 --b slow.h5:/B --rho 0.5 --method auto --out cache8.h5
if [ "$status" -eq 0 ] && grep -q "auto: compute: predicted" <<<"$out" && grep -q "the cached profile .* is dropped" <<<"$out" &&
  [ ! -e "$prof" ]; then pass "a cached profile the run contradicts is dropped"
else fail "contradicted profile: status $status, $(ls "$WORK"/cache/hipi 2>&1)"$'\n'"$out"; fi
rm -f slow.h5 cache8.h5

# --- never destroy user data: an output path that names an input (or the other output) is
# an input error, found before any compute; the input is left as it was ---------------------
cp gen1.h5 victim.h5
ln victim.h5 victim_link.h5
before=$(md5sum <victim.h5)
expect_error "--out is --a" 2 "--out ./victim.h5 is the same file as --a" 2 solve --a victim.h5 --b gen1.h5 --rho 0.5 --out ./victim.h5
expect_error "--out is --b through a hard link" 2 "--out victim_link.h5 is the same file as --b" 2 solve --a gen1.h5 --b victim.h5 --rho 0.5 --out victim_link.h5
expect_error "--report is --a" 2 "--report victim.h5 is the same file as --a" 2 solve --a victim.h5 --rho 0.5 --out out.h5 --report victim.h5
[ "$(md5sum <victim.h5)" = "$before" ] && pass "the input is unchanged" || fail "the input was modified"
expect_error "--report is --out" 2 "--report out.h5 is the same file as --out" 2 solve --a gen1.h5 --rho 0.5 --out out.h5 --report out.h5
ls -a | grep -q 'hipi-tmp' && fail "a refused run left a temporary file"

# --- a full disk: the run fails with status 1 and leaves no empty or partial file ---------
mkdir -p full
# --- top-k: each row's K best, the same file at any rank count ---------------------------
topk_same() { for d in /pairs /inner_products /knn_indices /knn_scores; do h5diff -q "$1" "$2" "$d" || return 1; done; }
for np in 1 2 3; do
  run "$np" solve --a gen1.h5 --b gen1.h5:/B --top-k 6 --binary --out "topk$np.h5"
  [ "$status" -eq 0 ] || fail "top-k at $np ranks: $out"
  run "$np" solve --a gen1.h5 --top-k 9 --binary --rho 0.1 --out "topkself$np.h5"
  [ "$status" -eq 0 ] || fail "top-k self-join at $np ranks: $out"
done
if topk_same topk1.h5 topk2.h5 && topk_same topk1.h5 topk3.h5 && topk_same topkself1.h5 topkself3.h5; then
  pass "top-k: identical /pairs, /inner_products, /knn_indices, /knn_scores at 1, 2 and 3 ranks"
else fail "top-k: outputs differ between rank counts"; fi
if h5dump -A -a /top_k topk2.h5 2>/dev/null | grep -q "(0): 6" && h5ls topk2.h5 | grep -q "knn_indices.*{600, 6}"; then
  pass "top-k: attribute top_k and /knn_indices [rows of A, K]"
else fail "top-k: attribute or table shape"$'\n'"$(h5ls topk2.h5)"; fi
for bad in 0 -3 1.5 ten; do
  expect_error "--top-k $bad" 2 "--top-k must be a positive whole number of rows, got '$bad'" 2 solve --a gen1.h5 --top-k "$bad" --binary --out out.h5
done
expect_error "--top-k with the sketch" 2 "--method sketch does not serve --top-k" 2 solve --a gen1.h5 --top-k 5 --rho 0.5 --method sketch --out out.h5
expect_error "--top-k past the memory budget" 2 "and the 100000000 best of its" 2 solve --a gen1.h5 --top-k 100000000 --binary --memory-mib 200 --out out.h5
run 1 generate --out packed.h5 --n 300 --d 100 --k 2 --rho 0.5 --packed --self-join
expect_error "--top-k --cosine on packed bits" 2 "--cosine is for real data" 2 solve --a packed.h5 --top-k 3 --cosine --out out.h5
expect_error "--top-k with --components" 2 "--components is for a threshold join" 2 solve --a gen1.h5 --top-k 3 --binary --components --out out.h5
printf 'top-k = 4\nseed = 2\n' > topk.toml  # TOML integers (they were read as booleans)
run 2 --config topk.toml solve --a gen1.h5 --binary --out topk-config.h5
if [ "$status" -eq 0 ] && h5ls topk-config.h5 | grep -q "knn_indices.*{600, 4}"; then pass "--config: top-k = 4, seed = 2"
else fail "--config with integers: $out"; fi
# Lists within the budget run to the end with checkpoints on (a unit boundary priced them as a sort).
run 1 generate --out budget.h5 --n 6000 --d 32 --k 1 --type real --tau 10 --self-join
run 2 solve --a budget.h5 --top-k 300 --method brute --memory-mib 200 --out budget-out.h5
if [ "$status" -eq 0 ]; then pass "top-k within --memory-mib 200 with checkpoints on"; else fail "top-k within the budget: $out"; fi
expect_error "--binary with --tau" 2 "--binary is for \+-1 rows" 1 solve --a gen1.h5 --top-k 5 --binary --tau 3 --out out.h5

if mount -t tmpfs -o size=16k tmpfs full 2>/dev/null; then
  dd if=/dev/zero of=full/fill bs=1k count=64 >/dev/null 2>&1
  expect_error "calibrate --out on a full disk" 1 "cannot write profile full/profile.toml" 1 calibrate --d 64 --out full/profile.toml
  [ -e full/profile.toml ] && fail "calibrate left full/profile.toml on a full disk"
  expect_error "--report on a full disk" 1 "cannot write report full/r.json" 1 solve --a gen1.h5 --rho 0.5 --out out2.h5 --report full/r.json
  [ -e full/r.json ] && fail "solve left full/r.json on a full disk"
  # The output is written by every rank at once: a rank that fails ends the job.
  run 2 solve --a gen1.h5 --b gen1.h5:/B --rho 0.5 --out full/out.h5 --method brute
  if [ "$status" -ne 0 ] && grep -q "full/" <<<"$out" && [ ! -e full/out.h5 ]; then
    pass "--out on a full disk: status $status, no output"
  else fail "--out on a full disk: status $status"$'\n'"$out"; fi
  ls -a full | grep -q 'hipi-tmp' && fail "a full disk left a temporary file"
  umount full
else
  echo "skip: full-disk checks need root to mount a small tmpfs"
fi

echo
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
