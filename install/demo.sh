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
DECKHAND_SESSION_SPOOL_DIR="$DEMO/agent/spool" \
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
IID=$(echo "$OUT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["InstanceInformationList"][0]["InstanceId"])')

echo "== 6. operator: session preferences -> transcripts to CloudWatch Logs and S3"
$AWS logs create-log-group --log-group-name /deckhand/sessions
$AWS s3api create-bucket --bucket session-transcripts >/dev/null
cat >"$DEMO/prefs.json" <<JSON
{"schemaVersion": "1.0", "description": "deckhand demo preferences", "sessionType": "Standard_Stream",
 "inputs": {"cloudWatchLogGroupName": "/deckhand/sessions", "cloudWatchStreamingEnabled": true,
            "cloudWatchEncryptionEnabled": false, "s3BucketName": "session-transcripts",
            "s3KeyPrefix": "demo/", "s3EncryptionEnabled": false,
            "runAsEnabled": true, "runAsDefaultUser": "nobody", "idleSessionTimeout": "20"}}
JSON
$AWS ssm create-document --name SSM-SessionManagerRunShell --document-type Session \
	--content "file://$DEMO/prefs.json" --query 'DocumentDescription.[Name,Status]' --output text

echo "== 7. operator: deckhand session start --target $IID"
if [ -t 0 ] && [ -t 1 ]; then
	echo "   (an interactive shell on the demo host as 'nobody'; type exit to leave)"
	"$BUILD/deckhand" session start --target "$IID" --endpoint-url "$URL" || true
else
	echo "   (no terminal: a scripted session through script(1))"
	{ sleep 2; printf 'id; uname -sr; echo audited-$((40+2))\r'; sleep 2; printf 'exit\r'; sleep 3; } | \
		script -qfec "$BUILD/deckhand session start --target $IID --endpoint-url $URL" /dev/null | \
		tr -d '\r' | sed 's/^/   | /' || true
fi

echo "== 8. transcript: CloudWatch Logs stream and S3 objects"
i=0
KEYS=
while [ $i -lt 60 ]; do
	KEYS=$($AWS s3api list-objects-v2 --bucket session-transcripts --query 'Contents[].Key' --output text 2>/dev/null || true)
	case "$KEYS" in *.dtr*) break ;; esac
	i=$((i + 1)); sleep 0.5
done
echo "   s3://session-transcripts/: $KEYS"
$AWS logs describe-log-streams --log-group-name /deckhand/sessions \
	--query 'logStreams[].logStreamName' --output text | sed 's/^/   CloudWatch stream: /'
for k in $KEYS; do
	case "$k" in
	*.dtr|*.cast.gz|*.log) $AWS s3 cp "s3://session-transcripts/$k" "$DEMO/$(basename "$k")" >/dev/null ;;
	esac
done
for f in "$DEMO"/*.dtr; do
	[ -e "$f" ] || continue
	"$BUILD/deckhand" transcript verify "$f" | sed 's/^/   /' || true
done
for f in "$DEMO"/*.cast.gz; do
	[ -e "$f" ] || continue
	echo "   replay it:  $BUILD/deckhand transcript play $f"
done

echo "== 9. patch compliance: deckhand scan of this host (predefined baseline)"
"$BUILD/deckhand" scan --quiet | tail -5 | sed 's/^/   /' || true
echo "== 10. operator: aws ssm send-command AWS-RunPatchBaseline Operation=Scan"
CMD=$($AWS ssm send-command --document-name AWS-RunPatchBaseline --instance-ids "$IID" \
	--parameters Operation=Scan --query Command.CommandId --output text)
i=0
while [ $i -lt 120 ]; do
	ST=$($AWS ssm list-command-invocations --command-id "$CMD" --query 'CommandInvocations[0].Status' --output text 2>/dev/null || true)
	case "$ST" in Success|Failed|TimedOut|Cancelled) break ;; esac
	i=$((i + 1)); sleep 0.5
done
echo "   command $CMD: $ST"
$AWS ssm list-compliance-summaries --output text \
	--query 'ComplianceSummaryItems[].[ComplianceType,CompliantSummary.CompliantCount,NonCompliantSummary.NonCompliantCount]' | \
	sed 's/^/   compliance (type, compliant, non-compliant): /'
$AWS ssm describe-instance-patch-states --instance-ids "$IID" --output text \
	--query 'InstancePatchStates[].[InstanceId,BaselineId,InstalledCount,MissingCount]' | \
	sed 's/^/   patch state (instance, baseline, installed, missing): /'
echo "demo: ok (logs and transcripts in demo/)"
