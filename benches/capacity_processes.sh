#!/usr/bin/env bash
# Capacity run with three processes, so the engine's CPU and RSS are its own:
# the mock providers, the engine (`serve`, real clients pointed at the mocks)
# and the load generator (`loadtest --pid`).
#
#   cargo build --release
#   TENANT=acme-plumbing LLM_DELAY=0 benches/capacity_processes.sh 250 50 config/loadtest/capacity_scenarios.toml
#
# usage: capacity_processes.sh CALLS RAMP [SCRIPT]; env: TENANT, VAD_STOP,
# STT_BATCH, LLM_DELAY (ms subtracted for engine-added), PERF=1 (perf record).
set -u
cd "$(dirname "$0")/.."
CALLS=$1; RAMP=$2; SCRIPT=${3:-config/loadtest/capacity.toml}
BIN=target/release/switchboard
pkill -f "switchboard mock-providers" ; pkill -f "switchboard serve"; sleep 0.5
$BIN mock-providers > /tmp/mocks.json 2>/tmp/mocks.err &
MP=$!
for i in $(seq 50); do grep -q '"twilio"' /tmp/mocks.json 2>/dev/null && break; sleep 0.1; done
CHAT=$(python3 -c "import json;print(json.load(open('/tmp/mocks.json'))['chat'])")
STT=$(python3 -c "import json;print(json.load(open('/tmp/mocks.json'))['stt'])")
TTS=$(python3 -c "import json;print(json.load(open('/tmp/mocks.json'))['tts'])")
rm -rf ${TMPDIR:-/tmp}/switchboard-capacity-store
export TWILIO_AUTH_TOKEN=capacity-token
SWITCHBOARD__PROVIDERS__MODE=real \
SWITCHBOARD__PROVIDERS__CHAT='[{name="mock",base_url="'$CHAT'",model="mock",api_key_env=""}]' \
SWITCHBOARD__PROVIDERS__STT__BASE_URL=$STT SWITCHBOARD__PROVIDERS__STT__API_KEY_ENV="" \
SWITCHBOARD__PROVIDERS__TTS__BASE_URL=$TTS SWITCHBOARD__PROVIDERS__TTS__API_KEY_ENV="" \
SWITCHBOARD__TWILIO__DEFAULT_TENANT=${TENANT:-default} SWITCHBOARD__CALL__VAD__STOP_MS=${VAD_STOP:-400} SWITCHBOARD__CALL__STT_BATCH_MS=${STT_BATCH:-60} SWITCHBOARD__STORE__PATH=${TMPDIR:-/tmp}/switchboard-capacity-store SWITCHBOARD__SERVER__BIND=127.0.0.1:18080 \
SWITCHBOARD__SERVER__PUBLIC_URL=http://127.0.0.1:18080 RUST_LOG=warn \
  ${WRAP:-} $BIN serve > /tmp/serve.out 2>/tmp/serve.err &
SP=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:18080/health >/dev/null && break; sleep 0.1; done
if [ -n "${PERF:-}" ]; then (sleep 25; perf record -F 499 ${PERF_CG:--g} -p $SP -o /tmp/perf.data -- sleep 10 >/dev/null 2>&1) & fi
$BIN loadtest --target http://127.0.0.1:18080 --pid $SP --calls $CALLS --ramp $RAMP --concurrency $CALLS \
  --script $SCRIPT --report-dir /tmp/cap-$CALLS --stt-delay-ms 360 --llm-delay-ms ${LLM_DELAY:-250} --tts-delay-ms 150 2>/dev/null | grep -v "^\s*[0-9.]*s  active"
echo "mock providers cpu: $(ps -o times= -p $MP) s"
kill $SP $MP; wait $SP $MP 2>/dev/null
