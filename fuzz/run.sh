#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 20) on the stable
# toolchain (`--sanitizer none`: coverage-guided all the same). Seeds come
# from the shared vectors. Installs the pinned cargo-fuzz if it is missing.
# Run from the repository root: bash fuzz/run.sh [target ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"
SECONDS_EACH="${FUZZ_SECONDS:-20}"

if ! cargo fuzz --version 2>/dev/null | grep -q '0.13.2'; then
    echo "installing cargo-fuzz 0.13.2"
    cargo install cargo-fuzz --locked --version 0.13.2 --quiet
fi

# Seed corpora from ../shared/vectors and the project's own vectors
# (core/tests/vectors: screening, rewards): every event, plan and amount.
python3 - "$ROOT/../shared/vectors" "$ROOT/core/tests/vectors" <<'PY'
import json, os, sys, hashlib
def put(target, text):
    d = os.path.join("corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(text.encode()).hexdigest()[:16]
    with open(os.path.join(d, name), "w") as f:
        f.write(text)
files = [os.path.join(d, n) for d in sys.argv[1:] for n in sorted(os.listdir(d)) if n.endswith(".json")]
for path in files:
    for case in json.load(open(path))["cases"]:
        for step in case["steps"]:
            event = step.get("apply")
            if event is None:
                continue
            put("event_apply", json.dumps(event))
            if event.get("type") == "plan_activated" and isinstance(event.get("plan"), dict):
                put("plan_decode", json.dumps(event["plan"]))
            for key in ("amount", "at", "currency"):
                if isinstance(event.get(key), str):
                    put("money_parse", event[key])
PY

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(event_apply plan_decode money_parse event_sequence verify_mutated)
fi
cargo fuzz build -s none "${targets[@]/#/}" >/dev/null 2>&1 || cargo fuzz build -s none
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "== fuzz $target for ${SECONDS_EACH}s"
    # The JSON targets mutate with the event grammar's keys and words.
    extra=()
    case "$target" in event_apply | plan_decode) extra=(-dict=event.dict) ;; esac
    cargo fuzz run -s none "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -max_len=4096 -print_final_stats=1 "${extra[@]}" 2>&1 \
        | grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ *DONE|==[0-9]+== ERROR|SUMMARY|thread .* panicked)' || true
    # cargo fuzz exits non-zero on a crash; PIPESTATUS keeps that.
    status=${PIPESTATUS[0]}
    if [ "$status" -ne 0 ]; then
        echo "fuzz target $target failed (exit $status); the crash input is in fuzz/artifacts/$target"
        exit "$status"
    fi
done
