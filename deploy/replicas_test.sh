#!/usr/bin/env bash
# Two replicas behind Debian's nginx (deploy/nginx.conf, loopback ports, own prefix and pid file), the
# classroom load through it; fails unless both replicas served sessions and nothing went wrong (uploads
# included: an upload that reached the wrong replica is refused by Streamlit and counted as an error).
# Everything it starts is stopped by PID by `python -m tools load` itself.
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${SESSIONS:-8}   # random cookies: with 8 sessions both replicas get one except 1 time in 128
OUT=${OUT:-$(mktemp --suffix=.json)}
.venv/bin/python -m tools load --replicas 2 --sessions "$SESSIONS" --think-s 0.2 --json "$OUT" >/dev/null || true
.venv/bin/python - "$OUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"sessions per replica: {r['replicas']}; errors: {r['errors']}; "
      f"uploads: {r['per_action']['upload']['n']}; p50 {r['latency_p50_s']} s, p95 {r['latency_p95_s']} s")
sys.exit(0 if len(r["replicas"]) == 2 and "" not in r["replicas"] and r["errors"]["total"] == 0 else 1)
PY
