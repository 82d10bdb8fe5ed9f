#!/bin/sh
# make demo: start the embedded gateway, create a hybrid activation with the
# real aws CLI, register a local agent against it and show it Online.
# Everything lives under ./demo (no system changes); processes are stopped
# at the end.   install/demo.sh BUILD
set -eu
BUILD=${1:-build/release}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
DEMO="$ROOT/demo"
GW_PID= AG_PID=

cleanup() {
	[ -n "$AG_PID" ] && kill "$AG_PID" 2>/dev/null || true
	[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for p in deckhand-gateway deckhand-agent; do
	if [ ! -x "$BUILD/$p" ]; then
		echo "demo: $BUILD/$p is not built" >&2
		exit 1
	fi
done

rm -rf "$DEMO"
mkdir -p "$DEMO"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="https://127.0.0.1:$PORT"

echo "== 1. gateway: $BUILD/deckhand-gateway serve --state demo/gateway --listen 127.0.0.1:$PORT"
"$BUILD/deckhand-gateway" serve --state "$DEMO/gateway" --listen "127.0.0.1:$PORT" \
	--region us-east-1 >"$DEMO/gateway.log" 2>&1 &
GW_PID=$!
i=0
until [ -s "$DEMO/gateway/ca.pem" ] && [ -s "$DEMO/gateway/admin.credentials" ] && \
	/usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),1)" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then echo "demo: gateway did not start"; cat "$DEMO/gateway.log"; exit 1; fi
	sleep 0.1
done

# The operator's aws CLI v2 trusts only the gateway's CA and uses its admin key.
unset SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS \
	AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_CONFIG_FILE
export AWS_CA_BUNDLE="$DEMO/gateway/ca.pem"
export AWS_SHARED_CREDENTIALS_FILE="$DEMO/gateway/admin.credentials"
export AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=
AWS="/usr/bin/aws --endpoint-url $URL"

echo "== 2. operator: aws ssm create-activation"
ACT=$($AWS ssm create-activation --iam-role deckhand-demo --registration-limit 5 \
	--default-instance-name demo-host --output json)
echo "$ACT"
CODE=$(echo "$ACT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ActivationCode"])')
ID=$(echo "$ACT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ActivationId"])')

echo "== 3. host: deckhand-agent register (state in demo/agent)"
T0=$(date +%s%N)
"$BUILD/deckhand-agent" register --code "$CODE" --id "$ID" --region us-east-1 \
	--endpoint "$URL" --ca "$DEMO/gateway/ca.pem" --state "$DEMO/agent"
cat >"$DEMO/agent.json" <<JSON
{ "region": "us-east-1", "ca_bundle": "$DEMO/gateway/ca.pem", "heartbeat": { "interval_seconds": 60 } }
JSON
echo "== 4. host: deckhand-agent run"
"$BUILD/deckhand-agent" run --config "$DEMO/agent.json" --state "$DEMO/agent" \
	>"$DEMO/agent.log" 2>&1 &
AG_PID=$!

echo "== 5. operator: aws ssm describe-instance-information"
i=0
while :; do
	OUT=$($AWS ssm describe-instance-information --output json)
	if echo "$OUT" | grep -q '"PingStatus": "Online"'; then break; fi
	i=$((i + 1))
	if [ $i -gt 100 ]; then echo "demo: instance never came Online"; tail -20 "$DEMO/agent.log"; exit 1; fi
	sleep 0.1
done
T1=$(date +%s%N)
echo "$OUT"
echo "== register -> Online in $(( (T1 - T0) / 1000000 )) ms; agent RSS $(grep VmRSS /proc/$AG_PID/status | tr -s ' ' | cut -d' ' -f2-)"
echo "== audit: aws cloudtrail lookup-events (last 5)"
$AWS cloudtrail lookup-events --max-results 5 --output json | \
	/usr/bin/python3 -c 'import json,sys; [print(" ", e["EventName"], e.get("Username","")) for e in json.load(sys.stdin)["Events"]]'
echo "demo: ok (logs in demo/)"
