#!/bin/sh
# Fleet-membership footprint (issue 3 targets), measured in one run:
#   binary sizes (stripped), gateway idle RSS, time from `register` to Online
#   as the gateway records it and as an operator sees it, agent idle RSS and
#   where it goes (private vs shared-library pages), next to the baseline of
#   a process that only links the same libraries (build/…/tools/awscall --help
#   is not idle; we use `sleep` as the zero point and report the libraries).
#   bench/fleet.sh [BUILD]
set -eu
BUILD=${1:-build/release}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
W=$(mktemp -d)
GW= AG=
trap 'kill $AG $GW 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT

kb() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$2/status"; }
for p in deckhand-agent deckhand-gateway deckhand; do
	cp "$BUILD/$p" "$W/$p.s" && strip "$W/$p.s"
	printf '%-18s %8d bytes stripped\n' "$p" "$(stat -c %s "$W/$p.s")"
done

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="https://127.0.0.1:$PORT"
"$BUILD/deckhand-gateway" serve --state "$W/gw" --listen "127.0.0.1:$PORT" >"$W/gw.log" 2>&1 &
GW=$!
until [ -s "$W/gw/admin.credentials" ] && /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),1)" 2>/dev/null; do sleep 0.05; done
sleep 1
echo "gateway idle RSS   $(kb VmRSS $GW) kB (private $(kb RssAnon $GW) kB)"

unset SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS AWS_PROFILE
export AWS_CA_BUNDLE="$W/gw/ca.pem" AWS_SHARED_CREDENTIALS_FILE="$W/gw/admin.credentials"
export AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=
AWS="/usr/bin/aws --endpoint-url $URL"
ACT=$($AWS ssm create-activation --iam-role bench --output json)
CODE=$(echo "$ACT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ActivationCode"])')
ID=$(echo "$ACT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ActivationId"])')

T0=$(date +%s%N)
"$BUILD/deckhand-agent" register --code "$CODE" --id "$ID" --region us-east-1 \
	--endpoint "$URL" --state "$W/ag" >/dev/null
T1=$(date +%s%N)
"$BUILD/deckhand-agent" run --state "$W/ag" >"$W/ag.log" 2>&1 &
AG=$!
until $AWS ssm describe-instance-information --output text \
	--query 'InstanceInformationList[?PingStatus==`Online`].InstanceId' | grep -q mi-; do sleep 0.05; done
T2=$(date +%s%N)
$AWS ssm describe-instance-information --output json >"$W/dii.json"
/usr/bin/python3 - "$W/dii.json" <<'PY'
import json, sys, datetime
i = json.load(open(sys.argv[1]))["InstanceInformationList"][0]
def t(v):
    return datetime.datetime.fromisoformat(v) if isinstance(v, str) else datetime.datetime.fromtimestamp(v, datetime.timezone.utc)
print("register->Online   %.3f s by the gateway's clocks (RegistrationDate -> LastPingDateTime)"
      % (t(i["LastPingDateTime"]) - t(i["RegistrationDate"])).total_seconds())
PY
echo "register command   $(( (T1 - T0) / 1000000 )) ms"
echo "register->Online   $(( (T2 - T0) / 1000000 )) ms wall clock incl. aws CLI polling"
sleep 2
echo "agent idle RSS     $(kb VmRSS $AG) kB (private $(kb RssAnon $AG) kB, shared-library pages $(kb RssFile $AG) kB, PSS $(awk '/^Pss:/ {print $2}' /proc/$AG/smaps_rollup) kB)"
sleep 1 & BASE=$!
echo "baseline: sleep(1) RSS $(kb VmRSS $BASE) kB"
wait $BASE 2>/dev/null || true
echo "agent RSS by mapping (top 8, kB):"
awk '/^[0-9a-f]+-[0-9a-f]+ / {f=$6} /^Rss:/ {r[f]+=$2} END {for (k in r) if (r[k]>0) printf "  %6d %s\n", r[k], (k==""?"[anon]":k)}' \
	"/proc/$AG/smaps" | sort -rn | head -8
