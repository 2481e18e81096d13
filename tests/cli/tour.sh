#!/usr/bin/env bash
# Plays the README's whole tour with the `concordat` command line only, and checks each result:
#
#   first calls          whoami, server info and federation, the audit chain (a da-member refused)
#   change control       the Medicines design authority → a safety-critical change request from
#                        DRAFT through impact assessment, the hazard log and the vote to the
#                        board's approval → listed, audited, the chain verifies
#   shared configuration a kind, the baseline published under the change request, RGM's bounded
#                        variation (and one outside the bounds refused), RGM's effective
#                        configuration watched, diffed and rolled back, RGN's build imported as a
#                        snapshot, the events, an export
#   convergence          the matrix, RGN's divergences and a change request proposed from them,
#                        the trajectory, an assessment now, the scoring settings (a stale etag
#                        refused), the watch, a plan with its critical path and forecast
#   benefits             a rate card, the benefit profile, twelve months measured, validated
#                        (the submitter refused) and accepted, attributed, rolled up (850 ADRs,
#                        2,450 bed days, £980,000.00), one month reopened and corrected (849),
#                        the chart, the business case, the watch
#   the command          errors, login --dev / logout and its credentials file, completions, an
#                        example in every client command's --help
#
# Each command is the one the README shows under "With the command line:", with `-o json` added
# where the script reads the result. Ids that the README says can be used once per ICS get a fresh
# suffix (`medicines-<hex>`, `alert-rule-<hex>`, …), so the script can run again against the same
# server; checks that depend on what earlier runs left (revision numbers, ICS totals) are made
# relative to what this run finds.
#
# Usage: tests/cli/tour.sh HOST:PORT CONCORDAT_BIN DATA_DIR
#
#   HOST:PORT      the gRPC address of a running `concordat serve` (every target, no federation
#                  file, so that its development issuer is on)
#   CONCORDAT_BIN  the concordat binary: the client under test, and `dev token` for the tokens
#   DATA_DIR       the server's --data-dir (holds the development issuer's key)
#
# One `ok` line per step on stdout (and a `note` line where the script had to step around a
# problem of the command line) and a final `PASS`, exit 0; on the first failure the step, the
# expectation and the command's output on stderr, exit 1. Needs bash, python3 (standard library
# only) and coreutils' `timeout`, and, while `concordat config snapshot import` is refused (step
# sc-9), buf from tests/tools (`npm ci --prefix tests/tools`). Runs from any directory; works in a
# temporary directory of its own, with its own XDG_CONFIG_HOME, so it neither reads nor writes
# your `concordat login`.
#
# Not played, because only buf can: `--list-services` / `--list-methods` (reflection), the
# health service, gRPC-Web.

set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 HOST:PORT CONCORDAT_BIN DATA_DIR" >&2
  exit 2
fi
[ -x "$2" ] && [ -f "$2" ] || { echo "FAIL [setup] $2 is not an executable concordat binary" >&2; exit 1; }
[ -d "$3" ] || { echo "FAIL [setup] $3 is not a directory" >&2; exit 1; }
TARGET=$1
CONCORDAT=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
DATA_DIR=$(cd "$3" && pwd)
TRUSTS=(RGT RGM RGN RT1)

# The client takes the server from CONCORDAT_URL; nothing of the caller's environment may steer
# the calls.
unset CONCORDAT_URL CONCORDAT_TOKEN CONCORDAT_ICS CONCORDAT_CA_FILE CONCORDAT_CREDENTIALS

WORK=$(mktemp -d)
export XDG_CONFIG_HOME="$WORK/config"
ERR_FILE="$WORK/stderr"
WATCH_PID=
cleanup() {
  if [ -n "$WATCH_PID" ]; then kill "$WATCH_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

STEP=setup
OUT=
ERR=
RC=0
trap 'echo "FAIL [$STEP] unexpected error (exit $?) at line $LINENO" >&2' ERR

step() { STEP=$1; }
ok() { printf 'ok   [%s] %s\n' "$STEP" "$1"; }
note() { printf 'note [%s] %s\n' "$STEP" "$1"; }

# fail MESSAGE [OUTPUT]: the step, what went wrong and the command's output on stderr; exit 1.
fail() {
  trap - ERR
  printf 'FAIL [%s] %s\n' "$STEP" "$1" >&2
  if [ -n "${2:-}" ]; then
    printf '%s\n' "$2" | sed 's/^/  /' >&2
  fi
  exit 1
}

command -v python3 >/dev/null || fail "python3 not found"
command -v timeout >/dev/null || fail "timeout (coreutils) not found"

# The command line as the README writes it: `concordat …`, against the server under test.
concordat() { CONCORDAT_URL="http://$TARGET" "$CONCORDAT" "$@"; }

# Fresh ids for what can be created once per ICS.
HEX=$(python3 -c 'import secrets; print(secrets.token_hex(4))')
export DA_ID=medicines-$HEX KIND=alert-rule-$HEX PLAN_ID=medicines-2027-$HEX
export RATE_CARD=standard-$HEX BENEFIT=allergy-alerts-$HEX

# Python helpers: `d` is the last JSON output, `env` the exported shell variables;
# `days_from_now` reads an RFC 3339 timestamp; `one` finds the single element of a list that
# matches.
PY_PRELUDE='
import datetime as dt, json, os, re, sys
env = os.environ
def days_from_now(ts):
    t = dt.datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    return (t - dt.datetime.now(dt.timezone.utc)).total_seconds() / 86400
def one(items, **match):
    found = [i for i in items if all(i.get(k) == v for k, v in match.items())]
    if len(found) != 1:
        raise ValueError(f"{len(found)} elements match {match}")
    return found[0]
def sub(person):
    return person["subject"]
text = sys.stdin.read()
try:
    d = json.loads(text or "{}")
except ValueError:
    d = [json.loads(line) for line in text.splitlines() if line.strip()]
'

# expect PYTHON_EXPRESSION WHAT: the expression, over the last output `d`, must be true.
expect() {
  printf '%s' "$OUT" | python3 -c "$PY_PRELUDE"'
try:
    sys.exit(0 if eval(sys.argv[1]) else 1)
except (KeyError, IndexError, TypeError, ValueError) as e:
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
' "$1" 2>"$ERR_FILE" || fail "$2: expected $1 $(cat "$ERR_FILE")" "$OUT"
}

# get VAR PYTHON_EXPRESSION: sets and exports VAR to the expression's value over `d`.
get() {
  local value
  value=$(printf '%s' "$OUT" | python3 -c "$PY_PRELUDE"'
try:
    print(eval(sys.argv[1]))
except (KeyError, IndexError, TypeError, ValueError) as e:
    sys.exit(f"{type(e).__name__}: {e}")
' "$2" 2>"$ERR_FILE") || fail "cannot read $2 from the output: $(cat "$ERR_FILE")" "$OUT"
  printf -v "$1" '%s' "$value"
  export "${1?}"
}

# run TOKEN_VAR ARGS...: CONCORDAT_TOKEN=$TOKEN_VAR concordat ARGS...; stdout in OUT, stderr in
# ERR, the exit status in RC.
run() {
  local var=$1
  shift
  RC=0
  OUT=$(CONCORDAT_TOKEN=${!var} concordat "$@" 2>"$ERR_FILE") || RC=$?
  ERR=$(cat "$ERR_FILE")
}

# cli TOKEN_VAR ARGS...: as run, with `-o json`; must exit 0.
cli() {
  local var=$1
  shift
  run "$var" "$@" -o json
  [ "$RC" -eq 0 ] || fail "CONCORDAT_TOKEN=\$$var concordat $*: exit $RC" "$OUT$ERR"
}

# refused TOKEN_VAR CODE REASON ARGS...: the command must be refused: exit 2, `error: CODE: …`
# and `reason: REASON` on stderr (ERR keeps it for further checks).
refused() {
  local var=$1 code=$2 reason=$3
  shift 3
  run "$var" "$@"
  [ "$RC" -eq 2 ] || fail "concordat $* as \$$var: expected exit 2 ($reason), got $RC" "$OUT$ERR"
  grep -q "^error: $code: " <<<"$ERR" ||
    fail "concordat $* as \$$var: expected 'error: $code: …'" "$ERR"
  grep -qx "reason: $reason" <<<"$ERR" ||
    fail "concordat $* as \$$var: expected 'reason: $reason'" "$ERR"
}

# mint VAR ARGS...: VAR gets a development token (`concordat dev token ARGS...`).
mint() {
  local var=$1 token
  shift
  token=$("$CONCORDAT" dev token --data-dir "$DATA_DIR" "$@" 2>"$ERR_FILE" | tail -1) ||
    fail "concordat dev token $* failed" "$(cat "$ERR_FILE")"
  [[ $token =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] ||
    fail "concordat dev token $*: the last line of stdout is not a JWT" "$token$(cat "$ERR_FILE")"
  printf -v "$var" '%s' "$token"
}

# watch_done PID SECONDS WHAT: waits for a background watch to end by itself (its --count).
watch_done() {
  local pid=$1 i rc=0
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    fail "$3: still running after $2 s" "$(cat "$WORK"/watch.* 2>/dev/null)"
  fi
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "$3: exit $rc" "$(cat "$WORK"/watch.* 2>/dev/null)"
}

# ==== First calls ================================================================================

step connect
mint TOKEN --trust RGT --role da-member
run TOKEN whoami -o json
if [ "$RC" -ne 0 ]; then
  fail "no Concordat server answers at $TARGET (concordat whoami exited $RC)" "$OUT$ERR"
fi
ok "$TARGET answers (concordat whoami)"

step fc-whoami
cli TOKEN whoami
expect 'd["principal"]["subject"] == "rgt-da-member" and d["principal"]["trust"] == "RGT" and d["principal"]["ics"] == "QUE" and d["principal"]["roles"] == ["da-member"] and d["principal"]["kind"] == "PRINCIPAL_KIND_PERSON"' \
  "concordat whoami"
get ISSUER 'd["principal"]["issuer"]'
run TOKEN whoami
[ "$RC" -eq 0 ] && grep -Eq '^ISSUER +SUBJECT +KIND +ICS +TRUST +ROLES$' <<<"$(head -1 <<<"$OUT")" ||
  fail "concordat whoami: the table's header" "$OUT$ERR"
grep -q "^$ISSUER  rgt-da-member  PERSON  QUE  RGT    da-member\$" <<<"$OUT" ||
  fail "concordat whoami: the table's row" "$OUT"
run TOKEN whoami -o csv
[ "$OUT" = "ISSUER,SUBJECT,KIND,ICS,TRUST,ROLES
$ISSUER,rgt-da-member,PERSON,QUE,RGT,da-member" ] || fail "concordat whoami -o csv" "$OUT$ERR"
run TOKEN whoami -o yaml
grep -qx '  subject: rgt-da-member' <<<"$OUT" || fail "concordat whoami -o yaml" "$OUT$ERR"
ok "concordat whoami: rgt-da-member of RGT (QUE), issuer $ISSUER; -o table, json, csv, yaml"

step fc-server
cli TOKEN server info
expect 'set(d["targets"]) == {"platform", "change-control", "shared-config", "convergence", "benefits"} and d["version"] and d["storageBackend"] and d["startTime"]' \
  "concordat server info"
get backend 'd["storageBackend"]'
cli TOKEN server federation
expect '[t["odsCode"] for t in one(d["icss"], code="QUE")["trusts"]] == ["RGT", "RGM", "RGN", "RT1"]' \
  "concordat server federation: QUE's trusts"
expect 'one(d["issuers"], url=env["ISSUER"]).get("development") is True' \
  "concordat server federation: the development issuer"
ok "concordat server info ($backend, every target) and server federation (QUE: RGT RGM RGN RT1)"

step fc-audit
mint TOKEN --ics QUE --role ics-admin
cli TOKEN audit list
expect 'all(e["sequence"] and e["action"] for e in d.get("entries", []))' "concordat audit list"
get denied_before 'sum(1 for e in d.get("entries", []) if e["action"] == "authorization.denied" and e["actorSubject"] == "rgt-da-member")'
mint DA_MEMBER --trust RGT --role da-member
refused DA_MEMBER PermissionDenied ROLE_NOT_PERMITTED audit list
cli TOKEN audit list --action authorization.denied --actor rgt-da-member
expect 'len(d["entries"]) == int(env["denied_before"]) + 1 and all(e["action"] == "authorization.denied" and e["actorSubject"] == "rgt-da-member" for e in d["entries"]) and d["entries"][0]["resource"].endswith("/ListAuditEntries")' \
  "concordat audit list --action authorization.denied --actor rgt-da-member: the refusal just made, newest first"
cli TOKEN audit verify
expect 'd.get("valid") is True and re.fullmatch(r"[0-9a-f]{64}", d["headHash"]) is not None' \
  "concordat audit verify"
get n 'd["entriesChecked"]'
ok "concordat audit list refused to a da-member (exit 2, ROLE_NOT_PERMITTED) and audited; as ics-admin listed; verify: valid, $n entries"

# ==== Change control =============================================================================

step cc-tokens
mint ADMIN --ics QUE --role ics-admin --subject ics-admin
mint BOARD --ics QUE --role board-chair --subject board-chair
mint CHAIR --trust RGT --role da-chair --subject chair-rgt
mint PHARMACIST --trust RGT --role trust-digital-lead --subject pharmacist-rgt
mint CSO --trust RGT --role clinical-safety-officer --subject cso-rgt
for t in "${TRUSTS[@]}"; do
  mint "LEAD_$t" --trust "$t" --role trust-digital-lead --subject "lead-${t,,}"
  mint "VOTER_$t" --trust "$t" --role da-member --subject "voter-${t,,}"
done
for var in ADMIN BOARD CHAIR PHARMACIST CSO LEAD_RGT LEAD_RGM LEAD_RGN LEAD_RT1 VOTER_RGT \
  VOTER_RGM VOTER_RGN VOTER_RT1; do
  cli "$var" whoami
  expect 'd["principal"]["issuer"] == env["ISSUER"] and d["principal"]["ics"] == "QUE"' "whoami as \$$var"
done
ok "13 persona tokens minted and accepted (concordat whoami)"

step cc-1
cat > medicines-da.yaml <<EOF
displayName: Medicines
domains: [medicines]
members:
  - {trust: RGT, votingMembers: [{issuer: "$ISSUER", subject: voter-rgt}]}
  - {trust: RGM, votingMembers: [{issuer: "$ISSUER", subject: voter-rgm}]}
  - {trust: RGN, votingMembers: [{issuer: "$ISSUER", subject: voter-rgn}]}
  - {trust: RT1, votingMembers: [{issuer: "$ISSUER", subject: voter-rt1}]}
chair: {issuer: "$ISSUER", subject: chair-rgt}
charter:
  quorumPercent: 75
  rules:
    - {changeClass: CHANGE_CLASS_ROUTINE, threshold: THRESHOLD_SIMPLE_MAJORITY}
    - {changeClass: CHANGE_CLASS_SIGNIFICANT, threshold: THRESHOLD_SIMPLE_MAJORITY}
    - {changeClass: CHANGE_CLASS_SAFETY_CRITICAL, threshold: THRESHOLD_UNANIMOUS,
       csoSignOffRequired: true}
  silence: SILENCE_POLICY_ABSTAIN
  boardRiskThreshold: 3
  boardCostThresholdPence: "5000000"
  maxResidualRisk: 3
  assessmentDays: 14
  votingDays: 7
  emergencyReviewDays: 10
EOF
cli ADMIN da create --id "$DA_ID" -f medicines-da.yaml
export DA=icss/QUE/designAuthorities/$DA_ID
expect 'd["designAuthority"]["name"] == env["DA"] and d["designAuthority"]["displayName"] == "Medicines" and d["designAuthority"]["domains"] == ["medicines"]' \
  "concordat da create: name"
expect '(sub(d["designAuthority"]["chair"]), d["designAuthority"]["chair"]["issuer"]) == ("chair-rgt", env["ISSUER"])' \
  "concordat da create: chair"
expect 'sorted((m["trust"], [sub(p) for p in m["votingMembers"]]) for m in d["designAuthority"]["members"]) == [(t, ["voter-" + t.lower()]) for t in ["RGM", "RGN", "RGT", "RT1"]]' \
  "concordat da create: members"
expect 'd["designAuthority"]["charter"]["version"] == 1 and d["designAuthority"]["charter"]["quorumPercent"] == 75 and d["designAuthority"]["charter"]["boardRiskThreshold"] == 3 and d["designAuthority"]["charter"]["boardCostThresholdPence"] == "5000000" and d["designAuthority"]["charter"]["maxResidualRisk"] == 3' \
  "concordat da create: charter"
expect '{(r["changeClass"], r["threshold"], r.get("csoSignOffRequired", False)) for r in d["designAuthority"]["charter"]["rules"]} == {("CHANGE_CLASS_ROUTINE", "THRESHOLD_SIMPLE_MAJORITY", False), ("CHANGE_CLASS_SIGNIFICANT", "THRESHOLD_SIMPLE_MAJORITY", False), ("CHANGE_CLASS_SAFETY_CRITICAL", "THRESHOLD_UNANIMOUS", True)}' \
  "concordat da create: charter rules"
refused ADMIN AlreadyExists ALREADY_EXISTS da create --id "$DA_ID" -f medicines-da.yaml
ok "concordat da create as ics-admin: $DA, charter v1; the same id again: exit 2, ALREADY_EXISTS"

step cc-2
cli PHARMACIST cr create \
  --title 'Electronic allergy-related prescribing alerts' \
  --description 'Turn on interruptive allergy alerts in electronic prescribing across the shared EPR build: prescribing a medicine to which the patient has a recorded allergy or sensitivity raises an interruptive alert that the prescriber must acknowledge, with a reason, before signing.' \
  --rationale 'At Cambridge University Hospitals electronic allergy-related prescribing alerts prevent at least 850 significant adverse drug reactions a year, saving 2,450 bed days (about £0.98m). Every trust of the ICS should have the same protection.' \
  --domain medicines --da "$DA_ID" --trust RGT,RGM,RGN,RT1 \
  --type normal --class safety-critical --cost-pence 6000000 --effort-days 20 \
  --item alert-rule/allergy-interruptive
get CR 'd["changeRequest"]["name"]'
get NUMBER 'd["changeRequest"]["number"]'
get ETAG 'd["changeRequest"]["etag"]'
expect 'd["changeRequest"]["state"] == "STATE_DRAFT"' "concordat cr create: state"
expect 're.fullmatch(r"icss/QUE/changeRequests/[^/]+", env["CR"]) and re.fullmatch(r"CR-[0-9]{4}-[0-9]{4}", env["NUMBER"])' \
  "concordat cr create: name and number"
expect 'd["changeRequest"]["requestingTrust"] == "RGT" and (sub(d["changeRequest"]["requester"]), d["changeRequest"]["requester"]["issuer"]) == ("pharmacist-rgt", env["ISSUER"])' \
  "concordat cr create: requesting trust and requester"
expect 'd["changeRequest"]["designAuthority"] == env["DA"] and sorted(d["changeRequest"]["affectedTrusts"]) == ["RGM", "RGN", "RGT", "RT1"]' \
  "concordat cr create: design authority and affected trusts"
expect 'd["changeRequest"]["changeType"] == "CHANGE_TYPE_NORMAL" and d["changeRequest"]["changeClass"] == "CHANGE_CLASS_SAFETY_CRITICAL" and d["changeRequest"]["costEstimatePence"] == "6000000" and d["changeRequest"]["effortDays"] == 20' \
  "concordat cr create: type, class, cost and effort"
expect 're.fullmatch(r"\"[0-9]+\"", env["ETAG"])' "concordat cr create: etag"
ok "concordat cr create as pharmacist-rgt: $NUMBER $CR DRAFT, etag $ETAG"

step cc-3
refused PHARMACIST Aborted ETAG_MISMATCH cr submit "$CR" --etag 999
cli PHARMACIST cr submit "$CR" --etag "$ETAG"
expect 'd["changeRequest"]["state"] == "STATE_SUBMITTED"' "concordat cr submit"
ok "concordat cr submit as pharmacist-rgt: SUBMITTED (a wrong --etag: exit 2, ETAG_MISMATCH)"

step cc-4
cli CHAIR cr start-assessment "$CR"
expect 'd["changeRequest"]["state"] == "STATE_IMPACT_ASSESSMENT"' "concordat cr start-assessment"
expect 'abs(days_from_now(d["changeRequest"]["assessmentDeadline"]) - 14) <= 1' \
  "concordat cr start-assessment: the charter's 14 days"
get due 'd["changeRequest"]["assessmentDeadline"]'
ok "concordat cr start-assessment as chair-rgt: IMPACT_ASSESSMENT, assessments due $due"

step cc-5
refused VOTER_RGM FailedPrecondition INVALID_TRANSITION cr vote "$CR" --choice approve
grep -q '^error: FailedPrecondition: CastVote is not allowed in state IMPACT_ASSESSMENT; allowed: ' <<<"$ERR" ||
  fail "concordat cr vote before voting: the message" "$ERR"
ok "concordat cr vote as voter-rgm before voting opens: exit 2, INVALID_TRANSITION"

step cc-6
cat > hazard.yaml <<'EOF'
description: alert fatigue leads to an overridden allergy alert
cause: prescribers see many low-value interruptive alerts and override them by habit
effect: "a medicine the patient is allergic to is given: anaphylaxis or a severe reaction"
existingControls: pharmacist verification of inpatient prescriptions; allergy banner
initialLikelihood: 4
initialSeverity: 4
furtherControls: >-
  interruptive alerts only for recorded allergies of severity moderate or above; override
  requires a reason; monthly review of override rates by the medicines DA
residualLikelihood: 2
residualSeverity: 4
EOF
cli CSO cr hazard add "$CR" -f hazard.yaml
expect 'd["hazard"]["initialRisk"] == 4 and d["hazard"]["residualRisk"] == 3 and "signedOffBy" not in d["hazard"]' \
  "concordat cr hazard add: risks"
expect 'd["hazard"]["furtherControls"].startswith("interruptive alerts only for recorded allergies of severity moderate or above; override requires")' \
  "concordat cr hazard add: further controls"
cli CSO cr hazard list "$CR"
get HAZARD 'd["hazards"][0]["name"]'
expect 'len(d["hazards"]) == 1 and env["HAZARD"].startswith(env["CR"] + "/hazards/")' "concordat cr hazard list"
refused CHAIR FailedPrecondition SAFETY_NOT_CLEARED cr open-voting "$CR"
cli CSO cr hazard sign-off "$HAZARD"
expect 'sub(d["hazard"]["signedOffBy"]) == "cso-rgt" and d["hazard"]["signedOffBy"]["issuer"] == env["ISSUER"] and d["hazard"]["signedOffTrust"] == "RGT" and "signOffTime" in d["hazard"]' \
  "concordat cr hazard sign-off"
ok "concordat cr hazard add / list / sign-off as cso-rgt: initial risk 4, residual 3, signed off (open-voting before: exit 2, SAFETY_NOT_CLEARED)"

step cc-7
cat > assessment.yaml <<'EOF'
effortDays: 3
localConfigurationImpact: allergy alert rule enabled in the local prescribing build
trainingImpact: 15-minute briefing for prescribers and pharmacists
clinicalRiskNotes: alert fatigue monitored through override rates
readinessDate: "2027-01-15"
recommendation: RECOMMENDATION_SUPPORT
EOF
refused LEAD_RGM PermissionDenied TRUST_SCOPE cr assess "$CR" --trust RGT -f assessment.yaml
for t in "${TRUSTS[@]}"; do
  cli "LEAD_$t" cr assess "$CR" --trust "$t" -f assessment.yaml
  export T=$t
  expect 'd["impactAssessment"]["name"] == env["CR"] + "/impactAssessments/" + env["T"] and d["impactAssessment"]["trust"] == env["T"] and sub(d["impactAssessment"]["assessor"]) == "lead-" + env["T"].lower()' \
    "concordat cr assess as lead-${t,,}"
  expect 'd["impactAssessment"]["recommendation"] == "RECOMMENDATION_SUPPORT" and d["impactAssessment"]["readinessDate"] == "2027-01-15" and d["impactAssessment"]["effortDays"] == 3' \
    "concordat cr assess as lead-${t,,}: the file's fields"
done
cli CHAIR cr assessments "$CR"
expect 'sorted(a["trust"] for a in d["impactAssessments"]) == ["RGM", "RGN", "RGT", "RT1"] and d.get("missingTrusts", []) == []' \
  "concordat cr assessments"
ok "concordat cr assess as each trust's lead: 4 × SUPPORT, none missing (RGM's lead for RGT: exit 2, TRUST_SCOPE)"

step cc-8
cli CHAIR cr open-voting "$CR"
expect 'd["changeRequest"]["state"] == "STATE_DA_REVIEW" and d["changeRequest"]["charterVersion"] == 1 and d["changeRequest"]["residualRisk"] == 3' \
  "concordat cr open-voting"
expect 'abs(days_from_now(d["changeRequest"]["votingDeadline"]) - 7) <= 1' \
  "concordat cr open-voting: the charter's 7 days"
get due 'd["changeRequest"]["votingDeadline"]'
ok "concordat cr open-voting as chair-rgt: DA_REVIEW under charter v1, residual risk 3, votes due $due"

step cc-9
for t in RGT RGM RGN; do
  cli "VOTER_$t" cr vote "$CR" --choice approve --comment "supported by the trust's medicines safety group"
  export T=$t
  expect 'd["vote"]["name"] == env["CR"] + "/votes/" + env["T"] and d["vote"]["choice"] == "VOTE_CHOICE_APPROVE" and sub(d["vote"]["voter"]) == "voter-" + env["T"].lower()' \
    "concordat cr vote as voter-${t,,}"
  expect 'd["changeRequest"]["state"] == "STATE_DA_REVIEW"' "concordat cr vote as voter-${t,,}: state"
done
refused VOTER_RGT AlreadyExists ALREADY_VOTED cr vote "$CR" --choice approve
cli VOTER_RT1 cr vote "$CR" --choice approve --comment "supported by the trust's medicines safety group"
expect 'd["changeRequest"]["state"] == "STATE_BOARD_REVIEW"' "concordat cr vote as voter-rt1: state"
expect 'd["changeRequest"]["decision"]["approved"] is True and d["changeRequest"]["decision"]["rule"] == "unanimous: 4 of 4 member trusts approve" and d["changeRequest"]["decision"]["approvals"] == 4 and d["changeRequest"]["decision"]["charterVersion"] == 1' \
  "concordat cr vote as voter-rt1: decision"
cli CHAIR cr votes "$CR"
expect 'sorted((v["trust"], v["choice"]) for v in d["votes"]) == [(t, "VOTE_CHOICE_APPROVE") for t in ["RGM", "RGN", "RGT", "RT1"]]' \
  "concordat cr votes"
ok "concordat cr vote: RGT, RGM, RGN approve (DA_REVIEW); RGT again: exit 2, ALREADY_VOTED; RT1 approves: BOARD_REVIEW, unanimous: 4 of 4 member trusts approve"

step cc-10
cli BOARD cr decide "$CR" --approved true --minutes 'ICS-PB-2026-11 item 4'
expect 'd["changeRequest"]["state"] == "STATE_APPROVED" and d["changeRequest"]["boardDecision"]["approved"] is True and d["changeRequest"]["boardDecision"]["minutesReference"] == "ICS-PB-2026-11 item 4" and sub(d["changeRequest"]["boardDecision"]["recordedBy"]) == "board-chair"' \
  "concordat cr decide"
ok "concordat cr decide as board-chair: APPROVED (ICS-PB-2026-11 item 4)"

step cc-11
cli PHARMACIST cr show "$CR"
expect 'd["changeRequest"]["state"] == "STATE_APPROVED" and d["changeRequest"]["number"] == env["NUMBER"]' \
  "concordat cr show (by name)"
cli PHARMACIST cr show "$NUMBER"
expect 'd["changeRequest"]["name"] == env["CR"]' "concordat cr show (by number)"
cli PHARMACIST cr list --filter 'state = APPROVED'
expect 'all(c["state"] == "STATE_APPROVED" for c in d["changeRequests"]) and any(c["name"] == env["CR"] for c in d["changeRequests"])' \
  "concordat cr list --filter 'state = APPROVED'"
run PHARMACIST cr list --filter 'state = APPROVED'
grep -q "^$NUMBER  APPROVED  RGT    medicines  " <<<"$OUT" || fail "concordat cr list: the table's row for $NUMBER" "$OUT$ERR"
cli ADMIN audit list --resource "$CR"
expect 'all(e["resource"] == env["CR"] or e["resource"].startswith(env["CR"] + "/") for e in d["entries"])' \
  "concordat audit list --resource: what is under the change request"
expect '{"changeRequest.create", "changeRequest.submit", "changeRequest.startImpactAssessment", "changeRequest.openVoting", "changeRequest.boardDecision"} <= {e["action"] for e in d["entries"]} and any(e["resource"].startswith(env["CR"] + "/votes/") for e in d["entries"])' \
  "concordat audit list --resource: the moves and the votes"
get n 'len(d["entries"])'
cli ADMIN audit list --resource "$CR/"
expect 'len(d["entries"]) > 0 and all(e["resource"].startswith(env["CR"] + "/") for e in d["entries"])' \
  "concordat audit list --resource CR/: only what is under it"
cli ADMIN audit verify
expect 'd.get("valid") is True' "concordat audit verify"
get checked 'd["entriesChecked"]'
ok "concordat cr show / cr list: $NUMBER APPROVED; audit list: $n entries about it; audit verify: valid ($checked entries)"

# ==== Shared configuration =======================================================================

step sc-tokens
mint ENGINEER_RGT --trust RGT --role trust-engineer --subject engineer-rgt
mint ENGINEER_RGM --trust RGM --role trust-engineer --subject engineer-rgm
mint ENGINE_RGM --trust RGM --role automation --subject engine-rgm
mint ENGINE_RGN --trust RGN --role automation --subject engine-rgn
ok "4 persona tokens minted"

step sc-1
cat > alert-rule-kind.yaml <<'EOF'
description: Clinical decision support alert rules
schema:
  type: object
  properties:
    enabled: {type: boolean}
    interrupt: {type: boolean}
    threshold: {type: integer, minimum: 0, maximum: 20}
  additionalProperties: false
EOF
cli ADMIN config kind create --id "$KIND" --domain medicines -f alert-rule-kind.yaml
expect 'd["configKind"]["name"] == "icss/QUE/configKinds/" + env["KIND"] and d["configKind"]["domain"] == "medicines" and d["configKind"]["schema"]["properties"]["threshold"]["maximum"] == 20' \
  "concordat config kind create"
refused ADMIN AlreadyExists ALREADY_EXISTS config kind create --id "$KIND" --domain medicines -f alert-rule-kind.yaml
refused ADMIN InvalidArgument INVALID_ARGUMENT config kind create --id "$KIND-x" --domain medicine -f alert-rule-kind.yaml
grep -q "^  config_kind.domain: no design authority of icss/QUE decides \`medicine\`; decided: .*medicines" <<<"$ERR" ||
  fail "concordat config kind create --domain medicine: the field violation" "$ERR"
ok "concordat config kind create as ics-admin: icss/QUE/configKinds/$KIND (again: ALREADY_EXISTS; domain medicine: config_kind.domain)"

step sc-2
cli ENGINEER_RGT config layer baseline
get base_before 'int(d["layer"].get("revision", "0"))'
get items_before 'int(d["layer"].get("itemCount", "0"))'
cat > baseline.yaml <<EOF
description: Interruptive allergy alerts; NEWS2 sepsis alert
changes:
  - operation: OPERATION_ADD
    item:
      kind: $KIND
      key: allergy-interruptive
      value: {enabled: true, interrupt: true}
      governance: {mode: GOVERNANCE_MODE_LOCKED}
  - operation: OPERATION_ADD
    item:
      kind: $KIND
      key: sepsis-news2
      value: {enabled: true, threshold: 5}
      governance:
        mode: GOVERNANCE_MODE_BOUNDED
        bounds: [{range: {pointer: /threshold, min: 3, max: 7}}]
EOF
cli ENGINEER_RGT config changeset create --layer baseline --change-request "$CR" -f baseline.yaml
get CHANGESET 'd["changeset"]["name"]'
expect 're.fullmatch(r"icss/QUE/changesets/[^/]+", env["CHANGESET"]) and d["changeset"]["state"] == "CHANGESET_STATE_OPEN" and d["changeset"]["changeRequest"] == env["CR"] and d["changeset"]["layer"] == "icss/QUE/layers/baseline"' \
  "concordat config changeset create"
expect 'sorted(t["trust"] for t in d["changeset"]["trustDiffs"]) == ["RGM", "RGN", "RGT", "RT1"] and all(t["addedCount"] == "2" and sorted((c["kind"], c["key"]) for c in t["changes"]) == [(env["KIND"], "allergy-interruptive"), (env["KIND"], "sepsis-news2")] for t in d["changeset"]["trustDiffs"])' \
  "concordat config changeset create: trustDiffs"
run ENGINEER_RGT config changeset diff "$CHANGESET" --trust RGM
[ "$RC" -eq 1 ] || fail "concordat config changeset diff: expected exit 1 (a difference), got $RC" "$OUT$ERR"
grep -q "^$KIND  sepsis-news2 " <<<"$OUT" || fail "concordat config changeset diff: the sepsis alert" "$OUT"
ok "concordat config changeset create as engineer-rgt: $CHANGESET OPEN, each trust +2 (changeset diff: exit 1)"

step sc-3
cli ENGINEER_RGT config publish "$CHANGESET"
export BASE_REV=$((base_before + 1))
expect 'd["revision"]["name"] == "icss/QUE/layers/baseline/revisions/" + env["BASE_REV"] and d["revision"]["revision"] == env["BASE_REV"] and d["revision"]["changeRequest"] == env["CR"] and sub(d["revision"]["publisher"]) == "engineer-rgt" and int(d["revision"]["itemCount"]) == int(env["items_before"]) + 2 and re.fullmatch(r"[0-9a-f]{64}", d["revision"]["contentHash"])' \
  "concordat config publish: the revision"
expect 'd["changeset"]["state"] == "CHANGESET_STATE_PUBLISHED"' "concordat config publish: the changeset"
refused ENGINEER_RGT FailedPrecondition CHANGESET_CLOSED config publish "$CHANGESET"
ok "concordat config publish as engineer-rgt: baseline revision $BASE_REV under $NUMBER (again: CHANGESET_CLOSED)"

step sc-4
cli ENGINEER_RGM config layer RGM
get overlay_before 'int(d["layer"].get("revision", "0"))'
cat > rgm-sepsis.yaml <<EOF
description: RGM keeps its NEWS2 sepsis threshold at 6
changes:
  - operation: OPERATION_ADD
    item:
      kind: $KIND
      key: sepsis-news2
      value: {enabled: true, threshold: 6}
      variation:
        rationale: RGM's paediatric sepsis pathway escalates at 6
        reviewDate: "2027-03-31"
        expireTime: "2027-06-30T00:00:00Z"
EOF
cli ENGINEER_RGM config changeset create --layer RGM --change-request "$CR" -f rgm-sepsis.yaml
get CHANGESET 'd["changeset"]["name"]'
expect '[t["trust"] for t in d["changeset"]["trustDiffs"]] == ["RGM"]' "concordat config changeset create (RGM): only RGM"
cli ENGINEER_RGM config publish "$CHANGESET"
export OVERLAY_REV=$((overlay_before + 1))
expect 'd["revision"]["name"] == "icss/QUE/layers/RGM/revisions/" + env["OVERLAY_REV"]' "concordat config publish (RGM)"
ok "concordat config changeset create / publish as engineer-rgm: RGM's overlay revision $OVERLAY_REV (threshold 6 until 2027-06-30)"

step sc-5
cat > rgm-sepsis-9.yaml <<EOF
changes:
  - operation: OPERATION_MODIFY
    item: {kind: $KIND, key: sepsis-news2, value: {enabled: true, threshold: 9}}
EOF
refused ENGINEER_RGM InvalidArgument INVALID_ARGUMENT config changeset create --layer RGM --change-request "$CR" -f rgm-sepsis-9.yaml
grep -qx "  changeset.changes\[0\].item: $KIND/sepsis-news2 9 at \`/threshold\` is outside \[3, 7\] (-f)" <<<"$ERR" ||
  fail "concordat config changeset create (threshold 9): the field violation" "$ERR"
ok "concordat config changeset create (threshold 9): exit 2, changeset.changes[0].item: … is outside [3, 7]"

step sc-6
cli ENGINE_RGM config get --trust RGM
get RGM_REV 'd["effectiveConfig"]["revision"]'
expect 'd["effectiveConfig"]["trust"] == "RGM" and d["effectiveConfig"]["baselineRevision"] == env["BASE_REV"] and d["effectiveConfig"]["overlayRevision"] == env["OVERLAY_REV"] and d["effectiveConfig"]["etag"] == "\"" + env["RGM_REV"] + "\""' \
  "concordat config get: revisions and etag"
expect 'one(d["effectiveConfig"]["items"], kind=env["KIND"], key="allergy-interruptive")["source"] == "SOURCE_BASELINE" and one(d["effectiveConfig"]["items"], kind=env["KIND"], key="allergy-interruptive")["changeRequest"] == env["CR"]' \
  "concordat config get: the allergy alert from the baseline"
expect 'one(d["effectiveConfig"]["items"], kind=env["KIND"], key="sepsis-news2")["source"] == "SOURCE_OVERRIDE" and one(d["effectiveConfig"]["items"], kind=env["KIND"], key="sepsis-news2")["value"] == {"enabled": True, "threshold": 6} and one(d["effectiveConfig"]["items"], kind=env["KIND"], key="sepsis-news2")["variation"] == {"rationale": "RGM'"'"'s paediatric sepsis pathway escalates at 6", "reviewDate": "2027-03-31", "expireTime": "2027-06-30T00:00:00Z"}' \
  "concordat config get: the sepsis alert overridden, with its variation"
cli ENGINE_RGM config get --trust RGM --kind "$KIND" --revision "$((RGM_REV - 1))"
expect 'one(d["effectiveConfig"]["items"], key="sepsis-news2")["value"]["threshold"] == 5 and all(i["kind"] == env["KIND"] for i in d["effectiveConfig"]["items"])' \
  "concordat config get --revision --kind: the revision before"
run ENGINE_RGM config diff --trust RGM --from "$((RGM_REV - 1))" --to "$RGM_REV" -o json
[ "$RC" -eq 1 ] || fail "concordat config diff: expected exit 1 (a difference), got $RC" "$OUT$ERR"
expect '[(c["kind"], c["key"], c["before"]["threshold"], c["after"]["threshold"]) for c in d["changes"]] == [(env["KIND"], "sepsis-news2", 5, 6)]' \
  "concordat config diff"
run ENGINE_RGM config diff --trust RGM --from "$RGM_REV" --to "$RGM_REV"
[ "$RC" -eq 0 ] || fail "concordat config diff of a revision with itself: expected exit 0, got $RC" "$OUT$ERR"
# GetEffectiveConfig's ifNoneMatch and pageSize have no flags: `config get` reads every page.
ok "concordat config get as engine-rgm: RGM's effective revision $RGM_REV (baseline $BASE_REV, overlay $OVERLAY_REV), threshold 6 with its variation; config diff: exit 1, then 0"

step sc-7
# The README's third terminal: the watch runs in the background while sc-8 rolls back.
export WATCH_FROM=$((RGM_REV - 1))
CONCORDAT_TOKEN=$ENGINE_RGM concordat config watch --trust RGM --from "$WATCH_FROM" --count 2 -o json \
  >"$WORK/watch.out" 2>"$WORK/watch.err" &
WATCH_PID=$!
ok "concordat config watch --trust RGM --from $WATCH_FROM --count 2 started in the background"

step sc-8
refused ENGINEER_RGM Aborted STALE_BASE config rollback RGM --to 0 --change-request "$CR" --expected-head "$((OVERLAY_REV - 1))"
cli ENGINEER_RGM config rollback RGM --to 0 --change-request "$CR" --expected-head "$OVERLAY_REV"
export ROLLBACK_REV=$((OVERLAY_REV + 1))
expect 'd["revision"]["name"] == "icss/QUE/layers/RGM/revisions/" + env["ROLLBACK_REV"] and "changeset" not in d["revision"] and d["revision"]["changeRequest"] == env["CR"]' \
  "concordat config rollback"
watch_done "$WATCH_PID" 30 "concordat config watch --count 2"
WATCH_PID=
OUT=$(cat "$WORK/watch.out")
expect 'len(d) == 2 and [int(e["effectiveRevision"]["revision"]) for e in d] == [int(env["RGM_REV"]), int(env["RGM_REV"]) + 1]' \
  "concordat config watch: RGM's two revisions"
expect '[(c["before"]["threshold"], c["after"]["threshold"]) for c in d[0]["effectiveRevision"]["changes"] if c["kind"] == env["KIND"]] == [(5, 6)] and [(c["before"]["threshold"], c["after"]["threshold"]) for c in d[1]["effectiveRevision"]["changes"] if c["kind"] == env["KIND"]] == [(6, 5)]' \
  "concordat config watch: 5 → 6, then 6 → 5"
ok "concordat config rollback RGM --to 0: overlay revision $ROLLBACK_REV (stale --expected-head: exit 2, STALE_BASE); the watch streamed revisions $RGM_REV (5 → 6) and $((RGM_REV + 1)) (6 → 5)"

step sc-9
cat > rgn-build.json <<EOF
{"items": [
  {"kind": "$KIND", "key": "sepsis-news2", "value": {"enabled": true, "threshold": 8}},
  {"kind": "pathology-panel", "key": "u-and-e", "value": ["Na", "K"]}
]}
EOF
# import_rgn LABEL [--part-items N]: `concordat config snapshot import rgn-build.json --trust RGN`.
import_rgn() {
  local label=$1
  shift
  run ENGINE_RGN config snapshot import rgn-build.json --trust RGN --label "$label" "$@" -o json
  [ "$RC" -eq 0 ] || fail "concordat config snapshot import --label '$label' $*: exit $RC" "$OUT$ERR"
}
import_rgn 'Production build 2026-11'
get SNAPSHOT 'd["snapshot"]["name"]'
expect 're.fullmatch(r"icss/QUE/snapshots/[^/]+", env["SNAPSHOT"]) and d["snapshot"]["trust"] == "RGN" and d["snapshot"]["itemCount"] == "2" and d["snapshot"]["nonconformingCount"] == "1"' \
  "concordat config snapshot import"
import_rgn 'Production build 2026-11, in parts' --part-items 1
get SNAPSHOT_PARTS 'd["snapshot"]["name"]'
expect 'd["snapshot"]["itemCount"] == "2" and d["snapshot"]["nonconformingCount"] == "1"' \
  "concordat config snapshot import --part-items 1"
cli ENGINE_RGN config snapshot list --trust RGN
expect '{env["SNAPSHOT"], env["SNAPSHOT_PARTS"]} <= {s["name"] for s in d["snapshots"]}' "concordat config snapshot list"
cli ENGINE_RGN config snapshot export "$SNAPSHOT"
expect 'one(d["items"], kind="pathology-panel", key="u-and-e").get("nonconforming") is True' \
  "concordat config snapshot export (the snapshot): the unregistered kind is nonconforming"
timeout 30 env CONCORDAT_TOKEN="$ENGINE_RGN" CONCORDAT_URL="http://$TARGET" \
  "$CONCORDAT" config events --cursor 0 --count 8 -o json >"$WORK/events.out" 2>"$ERR_FILE" ||
  fail "concordat config events --cursor 0 --count 8" "$(cat "$WORK/events.out" "$ERR_FILE")"
OUT=$(cat "$WORK/events.out")
expect 'len(d) == 8 and all(e["kind"] in ("effectiveConfig.published", "snapshot.imported") for e in d) and [int(e["cursor"]) for e in d] == sorted(int(e["cursor"]) for e in d)' \
  "concordat config events: eight events in cursor order"
ok "RGN's build imported twice ($SNAPSHOT, and in parts): 2 items, 1 nonconforming; config events: the first 8"

step sc-10
cli ENGINE_RGM config snapshot export icss/QUE/trusts/RGM/effectiveConfig
expect 'd["format"] == "concordat.config.v1" and d["source"] == "icss/QUE/trusts/RGM/effectiveConfig" and d["revision"] == int(env["RGM_REV"]) + 1 and re.fullmatch(r"[0-9a-f]{64}", d["content_hash"])' \
  "concordat config snapshot export (RGM's effective configuration): header"
expect '[(i["key"], i["source"], i["value"]) for i in d["items"] if i["kind"] == env["KIND"]] == [("allergy-interruptive", "baseline", {"enabled": True, "interrupt": True}), ("sepsis-news2", "baseline", {"enabled": True, "threshold": 5})] and all(i["change_request"] == env["CR"] for i in d["items"] if i["kind"] == env["KIND"])' \
  "concordat config snapshot export: RGM's items after the rollback"
run ENGINE_RGM config snapshot export icss/QUE/trusts/RGM/effectiveConfig --out rgm.json
[ "$RC" -eq 0 ] || fail "concordat config snapshot export --out rgm.json: exit $RC" "$OUT$ERR"
grep -Eq '^[0-9]+ items written to rgm.json$' <<<"$ERR" || fail "concordat config snapshot export --out: the count" "$ERR"
OUT=$(cat rgm.json)
expect 'sum(1 for i in d["items"] if i["kind"] == env["KIND"]) == 2' "rgm.json"
ok "concordat config snapshot export: RGM's effective revision $((RGM_REV + 1)), threshold back at 5 ($(head -1 <<<"$ERR"))"

# ==== Convergence ================================================================================

step cv-1
# The service follows shared configuration's events: wait for its assessment of the last import.
for ((i = 0; i < 60; i++)); do
  cli ENGINE_RGN convergence trust RGN
  if printf '%s' "$OUT" | python3 -c "$PY_PRELUDE"'
sys.exit(0 if any(a["snapshot"] == env["SNAPSHOT_PARTS"] for a in d.get("assessments", [])) else 1)'; then
    break
  fi
  sleep 0.5
done
get ASSESSMENT 'd["assessments"][0]["name"]'
expect 'd["assessments"][0]["snapshot"] == env["SNAPSHOT_PARTS"]' \
  "concordat convergence trust RGN: the newest assessment is of the last snapshot"
cli ADMIN convergence matrix
expect 'one(d["cells"], trust="RGN", domain="medicines")["assessment"] == env["ASSESSMENT"]' \
  "concordat convergence matrix: RGN's medicines cell from the newest assessment"
expect '{c["class"]: int(c["count"]) for c in one(d["cells"], trust="RGN", domain="medicines")["counts"]}.get("KEY_CLASS_DIVERGENT", 0) >= 1 and {c["class"]: int(c["count"]) for c in one(d["cells"], trust="RGN", domain="medicines")["counts"]}.get("KEY_CLASS_MISSING", 0) >= 1' \
  "concordat convergence matrix: RGN's medicines cell counts divergent and missing keys"
expect '{c["class"]: c["count"] for c in one(d["cells"], trust="RGN", domain="unregistered")["counts"]} == {"KEY_CLASS_NONCONFORMING": "1"}' \
  "concordat convergence matrix: the unregistered pathology panel"
expect 'd["trusts"] == ["RGT", "RGM", "RGN", "RT1"] and {"medicines", "unregistered"} <= set(d["domains"]) and any(t["trust"] == "RGN" for t in d["trustTotals"])' \
  "concordat convergence matrix: trusts, domains, totals"
run ADMIN convergence matrix
grep -q '^RGN ' <<<"$OUT" || fail "concordat convergence matrix: the table" "$OUT$ERR"
ok "concordat convergence matrix: RGN's medicines cell from $ASSESSMENT (divergent, missing), pathology panel nonconforming"

step cv-2
cli ENGINE_RGN convergence divergences RGN --class divergent
expect 'all(v["class"] == "KEY_CLASS_DIVERGENT" for v in d["divergences"]) and one(d["divergences"], kind=env["KIND"], key="sepsis-news2")["baselineValue"]["threshold"] == 5 and one(d["divergences"], kind=env["KIND"], key="sepsis-news2")["snapshotValue"]["threshold"] == 8' \
  "concordat convergence divergences RGN --class divergent"
cli ENGINE_RGN convergence divergences RGN
expect 'one(d["divergences"], kind=env["KIND"], key="allergy-interruptive")["class"] == "KEY_CLASS_MISSING" and one(d["divergences"], kind="pathology-panel", key="u-and-e")["class"] == "KEY_CLASS_NONCONFORMING"' \
  "concordat convergence divergences RGN"
mint LEAD_RGN --trust RGN --role trust-digital-lead --subject lead-rgn
cli LEAD_RGN convergence trust RGN
get ASSESSMENT 'd["assessments"][0]["name"]'
cli LEAD_RGN convergence propose "$ASSESSMENT" --key "$KIND/sepsis-news2" --intent align --da "$DA_ID" --class routine
get PROPOSED 'd["number"]'
expect 're.fullmatch(r"icss/QUE/changeRequests/[^/]+", d["changeRequest"]) and env["KIND"] + "/sepsis-news2 (DIVERGENT)" in d["description"]' \
  "concordat convergence propose"
cli LEAD_RGN cr show "$PROPOSED"
expect 'd["changeRequest"]["state"] == "STATE_DRAFT" and d["changeRequest"]["requestingTrust"] == "RGN" and d["changeRequest"]["designAuthority"] == env["DA"] and d["changeRequest"]["changeClass"] == "CHANGE_CLASS_ROUTINE"' \
  "concordat cr show (the proposal)"
ok "concordat convergence divergences: $KIND/sepsis-news2 5 → 8 (divergent), allergy alert missing; propose as lead-rgn: $PROPOSED DRAFT"

step cv-3
cli ENGINE_RGN convergence trust RGN --domain medicines
expect 'len(d["assessments"]) >= 2 and d["assessments"][0]["name"] == env["ASSESSMENT"] and [a["assessTime"] for a in d["assessments"]] == sorted((a["assessTime"] for a in d["assessments"]), reverse=True)' \
  "concordat convergence trust RGN --domain medicines: newest first"
get n 'len(d["assessments"])'
ok "concordat convergence trust RGN --domain medicines: $n assessments, newest first"

step cv-4
cli ENGINE_RGN convergence assess RGN
expect 'd["assessment"]["trust"] == "RGN" and d["assessment"]["snapshot"] == env["SNAPSHOT_PARTS"] and int(d["assessment"]["governedCount"]) >= 2' \
  "concordat convergence assess RGN"
refused ENGINE_RGN FailedPrecondition NO_SNAPSHOT convergence assess RT1
ok "concordat convergence assess RGN: now, of $SNAPSHOT_PARTS; RT1 (no snapshot): exit 2, NO_SNAPSHOT"

step cv-5
cli ADMIN convergence settings show
get ETAG 'd["settings"]["etag"]'
cat > convergence-settings.yaml <<'EOF'
weights: {locked: 5, bounded: 2, overridable: 1}
bands:
  - {from: 0.9, label: on track}
  - {from: 0, label: off track}
EOF
cli ADMIN convergence settings update -f convergence-settings.yaml --etag "$ETAG"
expect 'd["settings"]["weights"] == {"locked": 5, "bounded": 2, "overridable": 1} and [b["label"] for b in d["settings"]["bands"]] == ["on track", "off track"] and d["settings"]["etag"] != env["ETAG"]' \
  "concordat convergence settings update"
refused ADMIN Aborted ETAG_MISMATCH convergence settings update -f convergence-settings.yaml --etag "$ETAG"
ok "concordat convergence settings update --etag $ETAG: weights 5/2/1, bands on track/off track (the old etag again: exit 2, ETAG_MISMATCH)"

step cv-6
timeout 30 env CONCORDAT_TOKEN="$ADMIN" CONCORDAT_URL="http://$TARGET" \
  "$CONCORDAT" convergence watch --cursor 0 --count 3 -o json >"$WORK/events.out" 2>"$ERR_FILE" ||
  fail "concordat convergence watch --cursor 0 --count 3" "$(cat "$WORK/events.out" "$ERR_FILE")"
OUT=$(cat "$WORK/events.out")
expect 'len(d) == 3 and all(e["cursor"] and e["kind"] for e in d)' \
  "concordat convergence watch"
ok "concordat convergence watch --cursor 0 --count 3: $(printf '%s' "$OUT" | python3 -c "$PY_PRELUDE"'print(", ".join(e["kind"] for e in d))')"

step cv-7
START=$(date -u +%Y-%m-%dT00:00:00Z)
cat > plan.yaml <<EOF
displayName: Medicines convergence
startTime: "$START"
seed: "42"
milestones:
  - {id: rgn-medicines, trust: RGN, domain: medicines, targetConvergence: 0.9,
     optimisticDays: 10, mostLikelyDays: 20, pessimisticDays: 40}
  - {id: rgm-medicines, trust: RGM, domain: medicines, targetConvergence: 1,
     optimisticDays: 5, mostLikelyDays: 10, pessimisticDays: 20}
dependencies:
  - {predecessor: rgn-medicines, successor: rgm-medicines, kind: DEPENDENCY_KIND_FINISH_TO_START}
EOF
cli ADMIN convergence plan create --id "$PLAN_ID" -f plan.yaml
expect 'd["plan"]["name"] == "icss/QUE/convergencePlans/" + env["PLAN_ID"] and [m["id"] for m in d["plan"]["milestones"]] == ["rgn-medicines", "rgm-medicines"] and d["plan"]["seed"] == "42"' \
  "concordat convergence plan create"
cli ADMIN convergence plan schedule "$PLAN_ID"
expect 'd["schedule"]["criticalPathSummary"] == "RGN medicines → RGM medicines" and all(m.get("critical") is True for m in d["schedule"]["milestones"])' \
  "concordat convergence plan schedule"
cli ADMIN convergence forecast "$PLAN_ID"
expect 'd["forecast"]["seed"] == "42" and d["forecast"]["iterations"] == 10000 and d["forecast"]["p50Time"] <= d["forecast"]["p85Time"] <= d["forecast"]["p95Time"]' \
  "concordat convergence forecast"
get p85 'd["forecast"]["p85Time"][:10]'
cli ADMIN convergence forecast "$PLAN_ID"
expect 'd["forecast"]["p85Time"][:10] == env["p85"]' "concordat convergence forecast: the same seed, the same answer"
refused ADMIN AlreadyExists ALREADY_EXISTS convergence plan create --id "$PLAN_ID" -f plan.yaml
ok "concordat convergence plan create / schedule / forecast: RGN medicines → RGM medicines, P85 $p85"

# ==== Benefits ===================================================================================

step bn-tokens
mint ANALYST --ics QUE --role benefits-analyst --subject ics-analyst
mint ANALYST_RGT --trust RGT --role benefits-analyst --subject analyst-rgt
ok "2 persona tokens minted"

step bn-1
cat > rate-card.yaml <<'EOF'
title: QUE benefits rate card
factors:
  - {fromUnit: adverse drug reaction prevented, toUnit: bed day, factor: 2450/850,
     effectiveFrom: "2025-04-01"}
unitValues:
  - {unit: bed day, pounds: "400.00", effectiveFrom: "2025-04-01"}
EOF
cli ANALYST benefits rate-cards create --id "$RATE_CARD" -f rate-card.yaml
expect 'd["rateCard"]["name"] == "icss/QUE/rateCards/" + env["RATE_CARD"] and d["rateCard"]["version"] == "1" and d["rateCard"]["factors"][0]["factor"] == "49/17" and d["rateCard"]["unitValues"][0]["pounds"] == "400"' \
  "concordat benefits rate-cards create"
ok "concordat benefits rate-cards create as ics-analyst: icss/QUE/rateCards/$RATE_CARD v1, factor 49/17, £400"

step bn-2
cat > allergy-alerts.yaml <<EOF
title: Fewer adverse drug reactions from allergy alerts
fourTests:
  precisely: Significant adverse drug reactions prevented by an allergy alert
  observableOutcome: Prescriptions changed after an interruptive alert
  whyThisChange: The alerts exist only since the change request
  howMeasured: Monthly pharmacy audit of alert overrides and changes
owners:
  - {trust: RGT, owner: {issuer: "$ISSUER", subject: lead-rgt}}
seniorResponsibleOwner: {issuer: "$ISSUER", subject: ics-analyst}
category: CATEGORY_NON_CASH_RELEASING
dimension: DIMENSION_DIRECT
measure: {unit: adverse drug reaction prevented, higherIsBetter: true,
          aggregation: AGGREGATION_SUM}
frequency: FREQUENCY_MONTHLY
enablingChangeRequests: ["$CR"]
valuation: {rateCard: icss/QUE/rateCards/$RATE_CARD, rateCardVersion: 1, units: [bed day]}
EOF
cli ANALYST benefits profiles create --id "$BENEFIT" -f allergy-alerts.yaml
expect 'd["benefit"]["name"] == "icss/QUE/benefits/" + env["BENEFIT"] and d["benefit"]["enablingChangeRequests"] == [env["CR"]] and d["benefit"]["valuation"]["units"] == ["bed day"] and d["benefit"]["category"] == "CATEGORY_NON_CASH_RELEASING"' \
  "concordat benefits profiles create"
ok "concordat benefits profiles create as ics-analyst: icss/QUE/benefits/$BENEFIT, enabled by $NUMBER"

step bn-3
set -- 70 71 72 70 69 71 72 70 71 70 72 72
for MONTH in 2025-04 2025-05 2025-06 2025-07 2025-08 2025-09 2025-10 2025-11 2025-12 2026-01 2026-02 2026-03; do
  cli ANALYST_RGT benefits measurements submit --benefit "$BENEFIT" \
    --trust RGT --month $MONTH --value $1 \
    --note 'Pharmacy audit of allergy alert outcomes' --link https://intranet.example/audit
  export M=$MONTH V=$1
  expect 'd["measurement"]["name"].endswith("/trusts/RGT/measurements/" + env["M"]) and d["measurement"]["state"] == "MEASUREMENT_STATE_SUBMITTED" and d["measurement"]["value"] == env["V"]' \
    "concordat benefits measurements submit --month $MONTH"
  shift
done
cli ANALYST_RGT benefits measurements list "$BENEFIT" --trust RGT --year 2025/26
expect 'len(d["measurements"]) == 12 and sum(int(m["value"]) for m in d["measurements"]) == 850 and all(m["state"] == "MEASUREMENT_STATE_SUBMITTED" for m in d["measurements"])' \
  "concordat benefits measurements list"
ok "concordat benefits measurements submit as analyst-rgt: twelve months of 2025/26, 850 in all"

step bn-4
MONTHS=2025-04,2025-05,2025-06,2025-07,2025-08,2025-09,2025-10,2025-11,2025-12,2026-01,2026-02,2026-03
refused ANALYST_RGT PermissionDenied OWN_SUBMISSION benefits measurements validate --benefit "$BENEFIT" --trust RGT --month $MONTHS
cli LEAD_RGT benefits measurements validate --benefit "$BENEFIT" --trust RGT --month $MONTHS
expect 'len(d["measurements"]) == 12 and all(m["state"] == "MEASUREMENT_STATE_TRUST_VALIDATED" for m in d["measurements"])' \
  "concordat benefits measurements validate"
refused LEAD_RGT PermissionDenied NOT_AN_ACCEPTOR benefits measurements accept --benefit "$BENEFIT" --trust RGT --month $MONTHS
cli ANALYST benefits measurements accept --benefit "$BENEFIT" --trust RGT --month $MONTHS
expect 'len(d["measurements"]) == 12 and all(m["state"] == "MEASUREMENT_STATE_ICS_ACCEPTED" for m in d["measurements"])' \
  "concordat benefits measurements accept"
ok "validated by lead-rgt, accepted by ics-analyst (the submitter validating: OWN_SUBMISSION; a trust's lead accepting: NOT_AN_ACCEPTOR)"

step bn-5
cat > shares.yaml <<EOF
shares:
  - {changeRequest: "$CR", percent: "100"}
EOF
cli LEAD_RGT benefits attribution set --benefit "$BENEFIT" --trust RGT --year 2025-26 -f shares.yaml \
  --rationale 'The alerts are the only change to allergy checking this year'
expect 'd["attribution"]["name"] == "icss/QUE/benefits/" + env["BENEFIT"] + "/trusts/RGT/attributions/2025-26" and [(s["changeRequest"], s["percent"]) for s in d["attribution"]["shares"]] == [(env["CR"], "100")] and d["attribution"]["rationale"] == "The alerts are the only change to allergy checking this year"' \
  "concordat benefits attribution set"
ok "concordat benefits attribution set as lead-rgt: 2025-26 wholly to $NUMBER"

# rollup_figure QUANTITY CONVERTED DISPLAY EXACT WHAT: the benefit's ICS and RGT figures in the
# rollup `d`.
export BENEFIT_NAME=icss/QUE/benefits/$BENEFIT
rollup_figures() {
  export Q=$1 C=$2 P=$3 X=$4
  expect '[(f["total"]["quantity"], f["total"]["converted"], f["total"]["value"]["display"], f["total"]["value"]["exactPence"]) for f in one(d["benefits"], benefit=env["BENEFIT_NAME"])["figures"] if f.get("trust") in (None, "RGT")] == [(env["Q"], env["C"], env["P"], env["X"])] * 2' \
    "$5: the benefit's RGT and ICS figures"
}

step bn-6
cli BOARD benefits rollup --period 2025/26
rollup_figures 850 2450 '£980,000.00' 98000000 "concordat benefits rollup --period 2025/26"
expect '[(f["evidence"]["expected"], f["evidence"]["submitted"], f["evidence"]["validated"], f["evidence"]["accepted"], f["convertedUnit"], f["rateCard"], f["rateCardVersion"]) for f in one(d["benefits"], benefit=env["BENEFIT_NAME"])["figures"] if "trust" not in f] == [("48", "12", "12", "12", "bed day", "icss/QUE/rateCards/" + env["RATE_CARD"], "1")]' \
  "concordat benefits rollup: the ICS figure's evidence and valuation"
expect '[([(c["changeRequest"], c["amount"]["quantity"], c["amount"]["converted"], c["amount"]["value"]["display"]) for c in f["byChangeRequest"]], f["unattributed"]["quantity"], f["unattributed"]["value"]["display"]) for f in one(d["benefits"], benefit=env["BENEFIT_NAME"])["figures"] if "trust" not in f] == [([(env["CR"], "850", "2450", "£980,000.00")], "0", "£0.00")]' \
  "concordat benefits rollup: the ICS figure by change request"
expect 'sorted(f["trust"] for f in one(d["benefits"], benefit=env["BENEFIT_NAME"])["figures"] if "trust" in f) == ["RGM", "RGN", "RGT", "RT1"] and all(f["total"]["quantity"] == "0" for f in one(d["benefits"], benefit=env["BENEFIT_NAME"])["figures"] if f.get("trust") in ("RGM", "RGN", "RT1"))' \
  "concordat benefits rollup: RGM, RGN and RT1 measured nothing"
run BOARD benefits rollup --period 2025/26
grep -Eq '^Fewer adverse drug reactions from allergy alerts +ICS +850 adverse drug reaction prevented +2450 bed day +£980,000\.00 +12/48 +non-cash-releasing *$' <<<"$OUT" ||
  fail "concordat benefits rollup: the table's ICS row" "$OUT$ERR"
cli BOARD benefits rollup --period 2025/26 --benefit "$BENEFIT"
expect '[(t["category"], t["value"]["display"], t["value"]["exactPence"], t["rateCards"]) for t in d["totals"]] == [("CATEGORY_NON_CASH_RELEASING", "£980,000.00", "98000000", ["icss/QUE/rateCards/" + env["RATE_CARD"] + "@1"])]' \
  "concordat benefits rollup --benefit: totals"
expect '[(c["changeRequest"], c["totals"][0]["value"]["display"]) for c in d["byChangeRequest"]] == [(env["CR"], "£980,000.00")] and [u["value"]["display"] for u in d["unattributed"]] == ["£0.00"]' \
  "concordat benefits rollup --benefit: by change request, unattributed"
ok "concordat benefits rollup --period 2025/26: 850 adverse drug reactions prevented, 2,450 bed days, £980,000.00, 12/48 accepted, all to $NUMBER"

step bn-7
cli LEAD_RGT benefits measurements reopen --benefit "$BENEFIT" --trust RGT --month 2025-06 \
  --reason "June's audit double-counted one ward"
expect 'd["measurement"]["state"] == "MEASUREMENT_STATE_DRAFT"' "concordat benefits measurements reopen"
cli BOARD benefits rollup --period 2025/26 --benefit "$BENEFIT"
expect '[f["total"]["quantity"] for f in d["benefits"][0]["figures"] if "trust" not in f] == ["778"]' \
  "concordat benefits rollup while June is a draft: 778"
cli ANALYST_RGT benefits measurements submit --benefit "$BENEFIT" --trust RGT --month 2025-06 \
  --value 71 --note 'Re-audited June: one ward counted twice'
expect 'd["measurement"]["state"] == "MEASUREMENT_STATE_SUBMITTED" and d["measurement"]["value"] == "71"' \
  "concordat benefits measurements submit (June again)"
cli LEAD_RGT benefits measurements validate --benefit "$BENEFIT" --trust RGT --month 2025-06
cli ANALYST benefits measurements accept --benefit "$BENEFIT" --trust RGT --month 2025-06
expect '[m["state"] for m in d["measurements"]] == ["MEASUREMENT_STATE_ICS_ACCEPTED"]' "concordat benefits measurements accept (June)"
cli BOARD benefits measurements versions --benefit "$BENEFIT" --trust RGT --month 2025-06
expect '[(v["action"].replace("MEASUREMENT_ACTION_", ""), v["value"], sub(v["actor"])) for v in d["versions"]] == [("SUBMITTED", "72", "analyst-rgt"), ("VALIDATED", "72", "lead-rgt"), ("ACCEPTED", "72", "ics-analyst"), ("REOPENED", "72", "lead-rgt"), ("SUBMITTED", "71", "analyst-rgt"), ("VALIDATED", "71", "lead-rgt"), ("ACCEPTED", "71", "ics-analyst")] and d["versions"][3].get("reason") == "June'"'"'s audit double-counted one ward"' \
  "concordat benefits measurements versions"
cli BOARD benefits rollup --period 2025/26
rollup_figures 849 41601/17 '£978,847.06' 1664040000/17 "concordat benefits rollup after the correction"
ok "June reopened (the year 778), resubmitted as 71, validated, accepted: the year 849 (£978,847.06); 7 versions"

step bn-8
cli BOARD benefits chart "$BENEFIT" --trust RGT --first-month 2025-04 --last-month 2026-03
expect '[p["month"] for p in d["points"]] == ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"] and all(abs(p["mean"] - 70.75) < 1e-9 and p["lowerLimit"] < p["mean"] < p["upperLimit"] for p in d["points"]) and d["variation"] == "VARIATION_ICON_COMMON_CAUSE"' \
  "concordat benefits chart"
cli BOARD benefits business-case --first-year 2025/26 --years 3
expect '[y["year"] for y in d["years"]] == ["2025/26", "2026/27", "2027/28"] and d["discountRatePercent"] == "3.5"' \
  "concordat benefits business-case: years"
expect 'one(d["presentValue"], category="CATEGORY_NON_CASH_RELEASING")["value"]["display"] == one(d["years"][0]["totals"], category="CATEGORY_NON_CASH_RELEASING")["value"]["display"]' \
  "concordat benefits business-case: nothing after 2025/26, so its present value is 2025/26's"
cli BOARD benefits business-case --first-year 2025/26 --years 3 --benefit "$BENEFIT"
expect 'one(d["presentValue"], category="CATEGORY_NON_CASH_RELEASING")["value"]["display"] == "£978,847.06"' \
  "concordat benefits business-case --benefit"
timeout 30 env CONCORDAT_TOKEN="$BOARD" CONCORDAT_URL="http://$TARGET" \
  "$CONCORDAT" benefits watch --cursor 0 --count 5 -o json >"$WORK/events.out" 2>"$ERR_FILE" ||
  fail "concordat benefits watch --cursor 0 --count 5" "$(cat "$WORK/events.out" "$ERR_FILE")"
OUT=$(cat "$WORK/events.out")
expect 'len(d) == 5 and all(e["cursor"] and e["kind"] for e in d)' "concordat benefits watch"
ok "concordat benefits chart: 12 points, mean 70.75, common cause; business-case: 3 years, present value £978,847.06; watch: 5 events"

# ==== Errors and the command itself ==============================================================

step errors
refused PHARMACIST InvalidArgument INVALID_ARGUMENT cr create --title 'Allergy alerts'
for field in change_request.description change_request.domain change_request.design_authority \
  change_request.affected_trusts change_request.change_class; do
  grep -q "^  $field: is required" <<<"$ERR" || fail "concordat cr create --title only: $field" "$ERR"
done
run PHARMACIST cr create --title 'Allergy alerts' --class bogus
[ "$RC" -eq 2 ] && grep -q "invalid value 'bogus' for '--class <CLASS>'" <<<"$ERR" ||
  fail "concordat cr create --class bogus: expected exit 2 from the flag's check" "$OUT$ERR"
RC=0
OUT=$(concordat whoami 2>&1) || RC=$?
[ "$RC" -eq 2 ] && grep -q '^error: no token: ' <<<"$OUT" ||
  fail "concordat whoami without a token: expected exit 2, 'error: no token: …'" "$OUT"
ok "refusals: exit 2, 'error: Code: message', 'reason: …', a line per field; a bad flag value and no token: exit 2"

step login
RC=0
OUT=$("$CONCORDAT" login --server "http://$TARGET" --dev --data-dir "$DATA_DIR" --trust RGT \
  --role trust-digital-lead --subject lead-rgt 2>&1) || RC=$?
[ "$RC" -eq 0 ] || fail "concordat login --dev: exit $RC" "$OUT"
CREDENTIALS=$XDG_CONFIG_HOME/concordat/credentials.json
[ -f "$CREDENTIALS" ] || fail "concordat login --dev: no $CREDENTIALS" "$OUT"
[ "$(stat -c %a "$CREDENTIALS")" = 600 ] || fail "concordat login: $CREDENTIALS is not 600" "$(ls -l "$CREDENTIALS")"
OUT=$("$CONCORDAT" whoami --server "http://$TARGET" -o json 2>&1) || fail "concordat whoami after login" "$OUT"
expect 'd["principal"]["subject"] == "lead-rgt"' "concordat whoami after login"
OUT=$("$CONCORDAT" logout --server "http://$TARGET" 2>&1) || fail "concordat logout" "$OUT"
RC=0
OUT=$("$CONCORDAT" whoami --server "http://$TARGET" 2>&1) || RC=$?
[ "$RC" -eq 2 ] && grep -q '^error: no token' <<<"$OUT" || fail "concordat whoami after logout: expected exit 2, no token" "$OUT"
ok "concordat login --dev: whoami as lead-rgt, credentials file mode 600; logout: no token (exit 2)"

step commands
for shell in bash zsh fish; do
  OUT=$("$CONCORDAT" completions "$shell") || fail "concordat completions $shell" "$OUT"
  grep -q 'convergence' <<<"$OUT" || fail "concordat completions $shell: no subcommands" "$(head -5 <<<"$OUT")"
done
# Every client command's --help ends with an example.
missing=
leaves=0
help_walk() {
  local text subs sub
  text=$("$CONCORDAT" "$@" --help) || fail "concordat $* --help"
  subs=$(awk '/^Commands:/ { f = 1; next } /^$/ { if (f) exit } f && /^  [a-z]/ { print $1 }' <<<"$text" | grep -vx help || true)
  if [ -z "$subs" ]; then
    leaves=$((leaves + 1))
    grep -q '^Example' <<<"$text" || missing="$missing
concordat $*"
  fi
  for sub in $subs; do help_walk "$@" "$sub"; done
}
for group in whoami server da cr release config convergence benefits audit login logout completions; do
  help_walk "$group"
done
[ -z "$missing" ] || fail "commands whose --help has no example:" "$missing"
ok "concordat completions bash, zsh, fish; an example in the --help of all $leaves client commands"

trap - ERR
echo PASS
