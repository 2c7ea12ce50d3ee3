#!/usr/bin/env bash
# Two replicas behind Debian's nginx (deploy/nginx.conf, loopback ports, own prefix and pid file), the
# classroom load through it; fails unless both replicas served sessions and nothing went wrong (uploads
# included: an upload that reached the wrong replica is refused by Streamlit and counted as an error).
# Then a class question through the same set-up with Debian's redis-server holding the rooms
# (RESNET_VIZ_REDIS_URL, loopback): fails unless both replicas had students and every answer was stored once
# and shown on the presenter's chart, whichever replica the presenter is on.
# Everything it starts is stopped by PID by `python -m tools load` itself.
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${SESSIONS:-8}   # random cookies: with 8 sessions both replicas get one except 1 time in 128
STUDENTS=${STUDENTS:-60}
OUT=${OUT:-$(mktemp --suffix=.json)}
CLASS_OUT=${CLASS_OUT:-$(mktemp --suffix=.json)}
.venv/bin/python -m tools load --replicas 2 --sessions "$SESSIONS" --think-s 0.2 --json "$OUT" >/dev/null || true
.venv/bin/python -m tools load --scenario classroom --replicas 2 --sessions "$STUDENTS" --json "$CLASS_OUT" \
  >/dev/null || true
.venv/bin/python - "$OUT" "$CLASS_OUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"sessions per replica: {r['replicas']}; errors: {r['errors']}; "
      f"uploads: {r['per_action']['upload']['n']}; p50 {r['latency_p50_s']} s, p95 {r['latency_p95_s']} s")
c = json.load(open(sys.argv[2]))
print(f"class question: students per replica {c.get('replicas')}; expected {c.get('expected')}, stored "
      f"{c.get('stored')}, chart {c.get('chart')}; lost {c.get('lost')}, double counted {c.get('double_counted')}; "
      f"tap p95 {c.get('tap', {}).get('p95_s')} s; errors {c['errors']}")
ok = len(r["replicas"]) == 2 and "" not in r["replicas"] and r["errors"]["total"] == 0
ok = ok and len(c.get("replicas", {})) == 2 and c["errors"]["total"] == 0 and c.get("lost") == 0 \
    and c.get("double_counted") == 0
sys.exit(0 if ok else 1)
PY
