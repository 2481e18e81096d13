#!/usr/bin/env bash
# Plays the governance part of Concordat's golden scenario through the gRPC API with `buf curl`
# only — the same flow as tests/python/drive_change_request.py, with no generated client:
#
#   a Medicines design authority (a fresh `medicines-<hex>` id, so the script can run again
#   against the same server) → a safety-critical change request raised by pharmacist-rgt (DRAFT)
#   → submitted (SUBMITTED) → impact assessment started by the chair (IMPACT_ASSESSMENT) → a vote
#   before voting opens is refused → a hazard logged and signed off by cso-rgt → the four trusts
#   assess → voting opened (DA_REVIEW) → four votes, a second vote by one trust refused, the last
#   vote decides (BOARD_REVIEW: residual risk 3 reaches the board threshold) → the board approves
#   (APPROVED) → listed under `state = APPROVED`, in the audit chain, and the chain verifies.
#
# Usage: tests/buf/governance.sh HOST:PORT CONCORDAT_BIN DATA_DIR
#
#   HOST:PORT      the gRPC address of a running `concordat serve` (platform and change-control
#                  targets, no federation file, so that its development issuer is on)
#   CONCORDAT_BIN  the concordat binary, used to mint tokens (`CONCORDAT_BIN dev token`)
#   DATA_DIR       the server's --data-dir (holds the development issuer's key)
#
# One `ok` line per step on stdout and a final `PASS`, exit 0; on the first failure the step, the
# expectation and buf's output on stderr, exit 1. Needs bash, python3 (standard library only) and
# buf from tests/tools (`npm ci --prefix tests/tools`). Runs from any directory.

set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 HOST:PORT CONCORDAT_BIN DATA_DIR" >&2
  exit 2
fi
TARGET=$1
CONCORDAT=$2
DATA_DIR=$3
ICS=QUE
TRUSTS=(RGT RGM RGN RT1)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUF="$HERE/../tools/node_modules/.bin/buf"
CC=concordat.changecontrol.v1.ChangeControlService
PF=concordat.platform.v1.PlatformService

STEP=setup
OUT=
ERR_FILE=$(mktemp)
trap 'rm -f "$ERR_FILE"' EXIT
trap 'echo "FAIL [$STEP] unexpected error (exit $?) at line $LINENO" >&2' ERR

step() { STEP=$1; }
ok() { printf 'ok   [%s] %s\n' "$STEP" "$1"; }

# fail MESSAGE [OUTPUT]: the step, what went wrong and buf's output on stderr; exit 1.
fail() {
  trap - ERR
  printf 'FAIL [%s] %s\n' "$STEP" "$1" >&2
  if [ -n "${2:-}" ]; then
    printf '%s\n' "$2" | sed 's/^/  /' >&2
  fi
  exit 1
}

[ -x "$BUF" ] || fail "buf not found at $BUF: run \`npm ci --prefix tests/tools\` in the repository"
command -v python3 >/dev/null || fail "python3 not found"
[ -x "$CONCORDAT" ] || fail "$CONCORDAT is not an executable concordat binary"

# Python helpers: `d` is the JSON response; `days_from_now` reads an RFC 3339 timestamp.
PY_PRELUDE='
import datetime as dt, json, re, sys
def days_from_now(ts):
    t = dt.datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    return (t - dt.datetime.now(dt.timezone.utc)).total_seconds() / 86400
d = json.loads(sys.stdin.read() or "{}")
'

# expect PYTHON_EXPRESSION WHAT: the expression, over the last response `d`, must be true.
expect() {
  printf '%s' "$OUT" | python3 -c "$PY_PRELUDE"'
try:
    sys.exit(0 if eval(sys.argv[1]) else 1)
except (KeyError, IndexError, TypeError, ValueError) as e:
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
' "$1" || fail "$2: expected $1" "$OUT"
}

# get VAR PYTHON_EXPRESSION: sets VAR to the value of the expression over the last response `d`.
get() {
  local value
  value=$(printf '%s' "$OUT" | python3 -c "$PY_PRELUDE"'
try:
    print(eval(sys.argv[1]))
except (KeyError, IndexError, TypeError, ValueError) as e:
    sys.exit(f"{type(e).__name__}: {e}")
' "$2" 2>"$ERR_FILE") || fail "cannot read $2 from the response: $(cat "$ERR_FILE")" "$OUT"
  printf -v "$1" '%s' "$value"
}

# expect_state STATE WHAT: the response's change request is in STATE_<STATE>.
expect_state() {
  expect "d[\"changeRequest\"][\"state\"] == \"STATE_$1\"" "$2"
}

declare -A TOKEN

# mint SUBJECT (--trust ODS | --ics CODE) ROLE: a development token for SUBJECT.
mint() {
  local subject=$1 org_flag=$2 org=$3 role=$4 token
  token=$("$CONCORDAT" dev token --data-dir "$DATA_DIR" "$org_flag" "$org" --role "$role" \
    --subject "$subject" 2>"$ERR_FILE" | tail -1) ||
    fail "$CONCORDAT dev token for $subject failed" "$(cat "$ERR_FILE")"
  [[ $token =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] ||
    fail "$CONCORDAT dev token for $subject: last line of stdout is not a JWT" "$token"
  TOKEN[$subject]=$token
}

# call PERSONA SERVICE/METHOD [JSON]: buf curl as PERSONA; must succeed; the response is in $OUT.
call() {
  local persona=$1 method=$2 body=${3:-'{}'} rc=0
  OUT=$("$BUF" curl --protocol grpc --http2-prior-knowledge \
    -H "authorization: Bearer ${TOKEN[$persona]}" -d "$body" \
    "http://$TARGET/$method" 2>"$ERR_FILE") || rc=$?
  if [ "$rc" -ne 0 ]; then
    fail "${method#*/} as $persona: buf curl exited $rc" "$OUT$(cat "$ERR_FILE")"
  fi
}

# refused PERSONA SERVICE/METHOD JSON EXIT REASON DOMAIN: buf curl must exit EXIT (8 × the gRPC
# code) with a google.rpc.ErrorInfo of REASON in DOMAIN (decoded from buf's base64 details).
refused() {
  local persona=$1 method=$2 body=$3 want=$4 reason=$5 domain=$6 rc=0 got
  OUT=$("$BUF" curl --protocol grpc --http2-prior-knowledge \
    -H "authorization: Bearer ${TOKEN[$persona]}" -d "$body" \
    "http://$TARGET/$method" 2>"$ERR_FILE") || rc=$?
  OUT="$OUT$(cat "$ERR_FILE")"
  if [ "$rc" -ne "$want" ]; then
    fail "${method#*/} as $persona: expected buf curl to exit $want, it exited $rc" "$OUT"
  fi
  got=$(printf '%s' "$OUT" | python3 -c '
import base64, json, sys

def fields(buf):
    """The length-delimited fields of a protobuf message, as (number, bytes)."""
    i, out = 0, []
    def varint():
        nonlocal i
        shift = value = 0
        while True:
            b = buf[i]; i += 1
            value |= (b & 0x7F) << shift; shift += 7
            if b < 0x80:
                return value
    while i < len(buf):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 2:
            n = varint(); out.append((number, buf[i:i + n])); i += n
        elif wire == 0:
            varint()
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return out

status = json.loads(sys.stdin.read())
for detail in status.get("details", []):
    if detail.get("type") == "google.rpc.ErrorInfo":
        raw = detail["value"]
        info = dict(fields(base64.b64decode(raw + "=" * (-len(raw) % 4))))
        print(info.get(1, b"").decode(), info.get(2, b"").decode())
        break
') || fail "${method#*/} as $persona: cannot read buf's error output" "$OUT"
  if [ "$got" != "$reason $domain" ]; then
    fail "${method#*/} as $persona: expected ErrorInfo $reason ($domain), got '${got:-none}'" "$OUT"
  fi
}

# ---- connect and mint tokens --------------------------------------------------------------------

step connect
rc=0
OUT=$("$BUF" curl --protocol grpc --http2-prior-knowledge \
  "http://$TARGET/grpc.health.v1.Health/Check" 2>"$ERR_FILE") || rc=$?
[ "$rc" -eq 0 ] || fail "no gRPC server at $TARGET (buf curl exited $rc)" "$OUT$(cat "$ERR_FILE")"
expect 'd["status"] == "SERVING"' "Health/Check"
ok "$TARGET is SERVING"

step tokens
mint ics-admin --ics "$ICS" ics-admin
mint board-chair --ics "$ICS" board-chair
mint chair-rgt --trust RGT da-chair
mint pharmacist-rgt --trust RGT trust-digital-lead
mint cso-rgt --trust RGT clinical-safety-officer
for t in "${TRUSTS[@]}"; do
  lower=${t,,}
  mint "voter-$lower" --trust "$t" da-member
  mint "lead-$lower" --trust "$t" trust-digital-lead
done
for subject in "${!TOKEN[@]}"; do
  call "$subject" "$PF/WhoAmI"
  expect "d[\"principal\"][\"subject\"] == \"$subject\" and d[\"principal\"][\"ics\"] == \"$ICS\"" \
    "WhoAmI as $subject"
done
ok "${#TOKEN[@]} development tokens minted and accepted (WhoAmI)"
# People are named by issuer and subject; every persona is the development issuer's.
ISSUER=$(printf '%s' "$OUT" | python3 -c 'import json, sys; print(json.load(sys.stdin)["principal"]["issuer"])')
person() { printf '{"issuer": "%s", "subject": "%s"}' "$ISSUER" "$1"; }

# ---- a: the design authority --------------------------------------------------------------------

step a
DA_ID=medicines-$(python3 -c 'import secrets; print(secrets.token_hex(4))')
call ics-admin "$CC/CreateDesignAuthority" '{
  "parent": "icss/QUE",
  "designAuthorityId": "'"$DA_ID"'",
  "designAuthority": {
    "displayName": "Medicines",
    "domains": ["medicines"],
    "members": [
      {"trust": "RGT", "votingMembers": ['"$(person voter-rgt)"']},
      {"trust": "RGM", "votingMembers": ['"$(person voter-rgm)"']},
      {"trust": "RGN", "votingMembers": ['"$(person voter-rgn)"']},
      {"trust": "RT1", "votingMembers": ['"$(person voter-rt1)"']}
    ],
    "chair": '"$(person chair-rgt)"',
    "charter": {
      "quorumPercent": 75,
      "rules": [
        {"changeClass": "CHANGE_CLASS_ROUTINE", "threshold": "THRESHOLD_SIMPLE_MAJORITY"},
        {"changeClass": "CHANGE_CLASS_SIGNIFICANT", "threshold": "THRESHOLD_SIMPLE_MAJORITY"},
        {"changeClass": "CHANGE_CLASS_SAFETY_CRITICAL", "threshold": "THRESHOLD_UNANIMOUS",
         "csoSignOffRequired": true}
      ],
      "silence": "SILENCE_POLICY_ABSTAIN",
      "boardRiskThreshold": 3,
      "boardCostThresholdPence": "5000000",
      "maxResidualRisk": 3,
      "assessmentDays": 14,
      "votingDays": 7,
      "emergencyReviewDays": 10
    }
  }
}'
DA=icss/$ICS/designAuthorities/$DA_ID
expect "d[\"designAuthority\"][\"name\"] == \"$DA\"" "CreateDesignAuthority: name"
expect 'd["designAuthority"]["chair"] == {"issuer": "'"$ISSUER"'", "subject": "chair-rgt"}' "CreateDesignAuthority: chair"
expect 'sorted((m["trust"], [(p["issuer"], p["subject"]) for p in m["votingMembers"]]) for m in d["designAuthority"]["members"]) == [(t, [("'"$ISSUER"'", "voter-" + t.lower())]) for t in ["RGM", "RGN", "RGT", "RT1"]]' \
  "CreateDesignAuthority: members"
expect 'd["designAuthority"]["charter"]["version"] == 1' "CreateDesignAuthority: charter.version"
expect 'd["designAuthority"]["charter"]["quorumPercent"] == 75 and d["designAuthority"]["charter"]["boardRiskThreshold"] == 3 and d["designAuthority"]["charter"]["boardCostThresholdPence"] == "5000000" and d["designAuthority"]["charter"]["maxResidualRisk"] == 3' \
  "CreateDesignAuthority: charter"
expect '{(r["changeClass"], r["threshold"], r.get("csoSignOffRequired", False)) for r in d["designAuthority"]["charter"]["rules"]} == {("CHANGE_CLASS_ROUTINE", "THRESHOLD_SIMPLE_MAJORITY", False), ("CHANGE_CLASS_SIGNIFICANT", "THRESHOLD_SIMPLE_MAJORITY", False), ("CHANGE_CLASS_SAFETY_CRITICAL", "THRESHOLD_UNANIMOUS", True)}' \
  "CreateDesignAuthority: charter.rules"
expect 'd["designAuthority"]["etag"] != ""' "CreateDesignAuthority: etag"
ok "CreateDesignAuthority as ics-admin: $DA, charter v1"

# ---- b: the change request ----------------------------------------------------------------------

step b
call pharmacist-rgt "$CC/CreateChangeRequest" '{
  "parent": "icss/QUE",
  "changeRequest": {
    "title": "Electronic allergy-related prescribing alerts",
    "description": "Turn on interruptive allergy alerts in electronic prescribing across the shared EPR build: prescribing a medicine to which the patient has a recorded allergy or sensitivity raises an interruptive alert that the prescriber must acknowledge, with a reason, before signing.",
    "rationale": "At Cambridge University Hospitals electronic allergy-related prescribing alerts prevent at least 850 significant adverse drug reactions a year, saving 2,450 bed days (about £0.98m). Every trust of the ICS should have the same protection.",
    "domain": "medicines",
    "designAuthority": "'"$DA"'",
    "affectedTrusts": ["RGT", "RGM", "RGN", "RT1"],
    "changeType": "CHANGE_TYPE_NORMAL",
    "changeClass": "CHANGE_CLASS_SAFETY_CRITICAL",
    "costEstimatePence": "6000000",
    "effortDays": 20,
    "configurationItems": ["alert-rule/allergy-interruptive"]
  }
}'
expect_state DRAFT CreateChangeRequest
get CR 'd["changeRequest"]["name"]'
get NUMBER 'd["changeRequest"]["number"]'
get ETAG 'json.dumps(d["changeRequest"]["etag"])'
expect 're.fullmatch(r"icss/QUE/changeRequests/[^/]+", d["changeRequest"]["name"]) is not None' \
  "CreateChangeRequest: name"
expect 're.fullmatch(r"CR-[0-9]{4}-[0-9]{4}", d["changeRequest"]["number"]) is not None' \
  "CreateChangeRequest: number"
expect 'd["changeRequest"]["requestingTrust"] == "RGT" and {k: d["changeRequest"]["requester"][k] for k in ("issuer", "subject")} == {"issuer": "'"$ISSUER"'", "subject": "pharmacist-rgt"}' \
  "CreateChangeRequest: requesting trust and requester"
expect "d[\"changeRequest\"][\"designAuthority\"] == \"$DA\"" "CreateChangeRequest: designAuthority"
expect 'sorted(d["changeRequest"]["affectedTrusts"]) == ["RGM", "RGN", "RGT", "RT1"]' \
  "CreateChangeRequest: affectedTrusts"
expect 'd["changeRequest"]["changeClass"] == "CHANGE_CLASS_SAFETY_CRITICAL" and d["changeRequest"]["costEstimatePence"] == "6000000"' \
  "CreateChangeRequest: class and cost"
expect '"residualRisk" not in d["changeRequest"]' "CreateChangeRequest: residual risk (no hazards yet)"
ok "CreateChangeRequest as pharmacist-rgt: $NUMBER $CR DRAFT"

# ---- c: submit, start impact assessment ---------------------------------------------------------

step c
call pharmacist-rgt "$CC/SubmitChangeRequest" '{"name": "'"$CR"'", "etag": '"$ETAG"'}'
expect_state SUBMITTED SubmitChangeRequest
ok "SubmitChangeRequest as pharmacist-rgt: $NUMBER SUBMITTED"
call chair-rgt "$CC/StartImpactAssessment" '{"name": "'"$CR"'"}'
expect_state IMPACT_ASSESSMENT StartImpactAssessment
expect 'abs(days_from_now(d["changeRequest"]["assessmentDeadline"]) - 14) <= 1' \
  "StartImpactAssessment: assessment deadline (the charter's 14 days)"
get due 'd["changeRequest"]["assessmentDeadline"]'
ok "StartImpactAssessment as chair-rgt: IMPACT_ASSESSMENT, assessments due $due"

# ---- d: a vote before voting opens --------------------------------------------------------------

step d
refused voter-rgm "$CC/CastVote" '{"parent": "'"$CR"'", "choice": "VOTE_CHOICE_APPROVE"}' \
  72 INVALID_TRANSITION changecontrol.concordat
ok "CastVote as voter-rgm before voting opened: exit 72 (FAILED_PRECONDITION) INVALID_TRANSITION"

# ---- e: the hazard ------------------------------------------------------------------------------

step e
call cso-rgt "$CC/CreateHazard" '{
  "parent": "'"$CR"'",
  "hazard": {
    "description": "alert fatigue leads to an overridden allergy alert",
    "cause": "prescribers see many low-value interruptive alerts and override them by habit",
    "effect": "a medicine the patient is allergic to is given: anaphylaxis or a severe reaction",
    "existingControls": "pharmacist verification of inpatient prescriptions; allergy banner",
    "initialLikelihood": 4,
    "initialSeverity": 4,
    "furtherControls": "interruptive alerts only for recorded allergies of severity moderate or above; override requires a reason; monthly review of override rates by the medicines DA",
    "residualLikelihood": 2,
    "residualSeverity": 4
  }
}'
get HAZARD 'd["hazard"]["name"]'
expect "d[\"hazard\"][\"name\"].startswith(\"$CR/hazards/\") and len(d[\"hazard\"][\"name\"]) > len(\"$CR/hazards/\")" \
  "CreateHazard: name"
expect 'd["hazard"]["initialRisk"] == 4' "CreateHazard: initialRisk (likelihood 4 x severity 4)"
expect 'd["hazard"]["residualRisk"] == 3' "CreateHazard: residualRisk (likelihood 2 x severity 4)"
expect '"signedOffBy" not in d["hazard"]' "CreateHazard: not signed off yet"
ok "CreateHazard as cso-rgt: $HAZARD, initial risk 4, residual risk 3"
call cso-rgt "$CC/SignOffHazard" '{"name": "'"$HAZARD"'"}'
expect '{k: d["hazard"]["signedOffBy"][k] for k in ("issuer", "subject")} == {"issuer": "'"$ISSUER"'", "subject": "cso-rgt"} and d["hazard"]["signedOffTrust"] == "RGT"' \
  "SignOffHazard: signed off by cso-rgt of RGT"
expect '"signOffTime" in d["hazard"]' "SignOffHazard: signOffTime"
ok "SignOffHazard as cso-rgt: signed off by cso-rgt (RGT)"

# ---- f: impact assessments ----------------------------------------------------------------------

step f
for t in "${TRUSTS[@]}"; do
  lead=lead-${t,,}
  call "$lead" "$CC/SubmitImpactAssessment" '{
    "parent": "'"$CR"'",
    "impactAssessment": {
      "trust": "'"$t"'",
      "effortDays": 3,
      "localConfigurationImpact": "allergy alert rule enabled in the local prescribing build",
      "trainingImpact": "15-minute briefing for prescribers and pharmacists",
      "clinicalRiskNotes": "alert fatigue monitored through override rates",
      "readinessDate": "2027-01-15",
      "recommendation": "RECOMMENDATION_SUPPORT"
    }
  }'
  expect "d[\"impactAssessment\"][\"name\"] == \"$CR/impactAssessments/$t\"" \
    "SubmitImpactAssessment as $lead: name"
  expect "d[\"impactAssessment\"][\"trust\"] == \"$t\" and {k: d[\"impactAssessment\"][\"assessor\"][k] for k in (\"issuer\", \"subject\")} == {\"issuer\": \"$ISSUER\", \"subject\": \"$lead\"}" \
    "SubmitImpactAssessment as $lead: trust and assessor"
  expect 'd["impactAssessment"]["recommendation"] == "RECOMMENDATION_SUPPORT"' \
    "SubmitImpactAssessment as $lead: recommendation"
  ok "SubmitImpactAssessment as $lead: $t SUPPORT, ready 2027-01-15"
done
call chair-rgt "$CC/ListImpactAssessments" '{"parent": "'"$CR"'"}'
expect 'sorted(a["trust"] for a in d["impactAssessments"]) == ["RGM", "RGN", "RGT", "RT1"]' \
  "ListImpactAssessments: trusts"
expect 'd.get("missingTrusts", []) == []' "ListImpactAssessments: missingTrusts"
ok "ListImpactAssessments as chair-rgt: 4 assessments, none missing"

# ---- g: open voting -----------------------------------------------------------------------------

step g
call chair-rgt "$CC/OpenVoting" '{"name": "'"$CR"'"}'
expect_state DA_REVIEW OpenVoting
expect 'd["changeRequest"]["charterVersion"] == 1' "OpenVoting: charterVersion"
expect 'd["changeRequest"]["residualRisk"] == 3' "OpenVoting: residualRisk (highest of the hazard log)"
expect 'abs(days_from_now(d["changeRequest"]["votingDeadline"]) - 7) <= 1' \
  "OpenVoting: voting deadline (the charter's 7 days)"
get due 'd["changeRequest"]["votingDeadline"]'
ok "OpenVoting as chair-rgt: DA_REVIEW under charter v1, votes due $due"

# ---- h: the vote --------------------------------------------------------------------------------

step h
for t in RGT RGM RGN; do
  voter=voter-${t,,}
  call "$voter" "$CC/CastVote" '{"parent": "'"$CR"'", "choice": "VOTE_CHOICE_APPROVE", "comment": "supported by the trust'"'"'s medicines safety group"}'
  expect "d[\"vote\"][\"name\"] == \"$CR/votes/$t\" and d[\"vote\"][\"trust\"] == \"$t\" and d[\"vote\"][\"voter\"][\"subject\"] == \"$voter\" and d[\"vote\"][\"voter\"][\"issuer\"] == \"$ISSUER\"" \
    "CastVote as $voter: vote"
  expect 'd["vote"]["choice"] == "VOTE_CHOICE_APPROVE"' "CastVote as $voter: choice"
  expect_state DA_REVIEW "CastVote as $voter"
  ok "CastVote as $voter: APPROVE for $t, still DA_REVIEW"
done
refused voter-rgt "$CC/CastVote" '{"parent": "'"$CR"'", "choice": "VOTE_CHOICE_APPROVE"}' \
  48 ALREADY_VOTED changecontrol.concordat
ok "CastVote as voter-rgt again: exit 48 (ALREADY_EXISTS) ALREADY_VOTED"
call voter-rt1 "$CC/CastVote" '{"parent": "'"$CR"'", "choice": "VOTE_CHOICE_APPROVE", "comment": "supported by the trust'"'"'s medicines safety group"}'
expect 'd["vote"]["trust"] == "RT1"' "CastVote as voter-rt1: vote.trust"
expect_state BOARD_REVIEW "CastVote as voter-rt1 (residual risk 3 >= board threshold 3)"
expect 'd["changeRequest"]["decision"]["approved"] is True' "CastVote as voter-rt1: decision.approved"
expect '"unanimous" in d["changeRequest"]["decision"]["rule"].lower()' \
  "CastVote as voter-rt1: decision.rule"
expect '(d["changeRequest"]["decision"].get("approvals", 0), d["changeRequest"]["decision"].get("rejections", 0), d["changeRequest"]["decision"].get("abstentions", 0)) == (4, 0, 0)' \
  "CastVote as voter-rt1: decision counts"
expect 'd["changeRequest"]["decision"]["charterVersion"] == 1' \
  "CastVote as voter-rt1: decision.charterVersion"
get rule 'd["changeRequest"]["decision"]["rule"]'
ok "CastVote as voter-rt1: BOARD_REVIEW, decision approved ($rule)"

# ---- i: the board -------------------------------------------------------------------------------

step i
call board-chair "$CC/RecordBoardDecision" \
  '{"name": "'"$CR"'", "approved": true, "minutesReference": "ICS-PB-2026-11 item 4"}'
expect_state APPROVED RecordBoardDecision
expect 'd["changeRequest"]["boardDecision"]["approved"] is True' "RecordBoardDecision: approved"
expect 'd["changeRequest"]["boardDecision"]["minutesReference"] == "ICS-PB-2026-11 item 4"' \
  "RecordBoardDecision: minutesReference"
expect '{k: d["changeRequest"]["boardDecision"]["recordedBy"][k] for k in ("issuer", "subject")} == {"issuer": "'"$ISSUER"'", "subject": "board-chair"}' \
  "RecordBoardDecision: recordedBy"
ok "RecordBoardDecision as board-chair: APPROVED (ICS-PB-2026-11 item 4)"

# ---- j: the outcome and the audit chain ---------------------------------------------------------

step j
call pharmacist-rgt "$CC/GetChangeRequest" '{"name": "'"$CR"'"}'
expect_state APPROVED GetChangeRequest
expect "d[\"changeRequest\"][\"number\"] == \"$NUMBER\"" "GetChangeRequest: number"
ok "GetChangeRequest: $NUMBER APPROVED"

page_token= found=no seen=0
while :; do
  call pharmacist-rgt "$CC/ListChangeRequests" \
    '{"parent": "icss/QUE", "filter": "state = APPROVED", "pageSize": 500, "pageToken": "'"$page_token"'"}'
  expect 'all(c["state"] == "STATE_APPROVED" for c in d.get("changeRequests", []))' \
    "ListChangeRequests(state = APPROVED): every one APPROVED"
  get here "\"yes\" if any(c[\"name\"] == \"$CR\" for c in d.get(\"changeRequests\", [])) else \"no\""
  if [ "$here" = yes ]; then found=yes; fi
  get listed 'len(d.get("changeRequests", []))'
  seen=$((seen + listed))
  get page_token 'd.get("nextPageToken", "")'
  if [ "$found" = yes ] || [ -z "$page_token" ]; then break; fi
done
[ "$found" = yes ] || fail "ListChangeRequests(state = APPROVED): $CR not among the $seen listed" "$OUT"
ok "ListChangeRequests(state = APPROVED): contains $NUMBER"

call ics-admin "$PF/ListAuditEntries" '{"parent": "icss/QUE", "resource": "'"$CR"'", "pageSize": 500}'
expect "all(e[\"resource\"] == \"$CR\" or e[\"resource\"].startswith(\"$CR/\") for e in d[\"entries\"])" "ListAuditEntries: resource and what is under it"
expect "any(e[\"resource\"].startswith(\"$CR/votes/\") for e in d[\"entries\"])" "ListAuditEntries: includes the votes"
expect '{"changeRequest.create", "changeRequest.submit", "changeRequest.startImpactAssessment", "changeRequest.openVoting", "changeRequest.boardDecision"} <= {e["action"] for e in d["entries"]}' \
  "ListAuditEntries: the change request's moves"
get n 'len(d["entries"])'
ok "ListAuditEntries as ics-admin: $n entries about $CR"

call ics-admin "$PF/VerifyAuditChain" '{"parent": "icss/QUE"}'
expect 'd.get("valid") is True' "VerifyAuditChain: valid"
expect 're.fullmatch(r"[0-9a-f]{64}", d["headHash"]) is not None' "VerifyAuditChain: headHash"
get n 'd["entriesChecked"]'
ok "VerifyAuditChain as ics-admin: valid, $n entries checked"

trap - ERR
echo PASS
