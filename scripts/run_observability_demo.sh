#!/usr/bin/env bash
# The observability demo: three scenarios, unattended and offline, against the four MCP backends running as
# their own processes. After each scenario it prints the trace id, the per-agent timings read from the trace,
# and where the spans went; it checks each trace has the expected shape and exits non-zero when one does not.
#
#   1. Cross-domain investigation (Alice): the supervisor fans out to the metrics, kubernetes and logs agents in
#      parallel; the slowest agent (the bottleneck) is named from the trace.
#   2. Memory context: the same crash loop investigated as Alice and as Carol — same findings, different
#      reports, escalation only for Carol; the two memory retrievals side by side.
#   3. Live error: the k8s backend is killed by its PID, "Check cluster health" runs, and the failed tool spans
#      (retry attempts, error types, circuit breaker) and the partial report are shown; then the backend is
#      restarted and the check runs clean.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/run_observability_demo.sh [--port-base PORT]

Runs three scenarios against the four MCP backends started as separate processes (PID files in .run/,
or $SRE_RUN_DIR) and checks the shape of every trace. Offline; needs a built sre-agent binary
(cargo build --release --bin sre-agent).

  --port-base PORT   port of the k8s backend; logs, metrics and runbooks take the next three (default 8011)
  -h, --help         this help

Environment:
  SRE_DATA_DIR       where traces, metrics and memory go (as for sre-agent itself)
  SRE_AGENT_BIN      the binary (default target/release/sre-agent, else target/debug/sre-agent)
  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER=xray, AWS_XRAY_DAEMON_ADDRESS
                     export to AWS as well; the demo then prints an X-Ray console link per trace
EOF
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port_base=8011
while (($# > 0)); do
  case "$1" in
    --port-base)
      (($# >= 2)) || { echo "run_observability_demo: --port-base needs a value" >&2; exit 2; }
      port_base="$2"
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      echo "run_observability_demo: unknown argument: $1" >&2
      exit 2
      ;;
  esac
done
if ! [[ "${port_base}" =~ ^[0-9]+$ ]] || ((port_base < 1 || port_base > 65532)); then
  echo "run_observability_demo: --port-base must be a port from 1 to 65532, found '${port_base}'" >&2
  exit 2
fi

# shellcheck source=lib/sre_agent_bin.sh
source "${root}/scripts/lib/sre_agent_bin.sh"
bin=""
sre_agent_bin "${root}" || case $? in
  2) echo "run_observability_demo: ${bin} is not executable" >&2; exit 1 ;;
  *) echo "run_observability_demo: no sre-agent binary; build it first: cargo build --release --bin sre-agent" >&2; exit 1 ;;
esac
export SRE_AGENT_BIN="${bin}"
export SRE_RUN_DIR="${SRE_RUN_DIR:-${root}/.run}"
# The backends are separate processes: have them export their spans every 200 ms (instead of every few seconds)
# so each trace is complete in the trace file by the time the demo reads it.
export OTEL_BSP_SCHEDULE_DELAY="${OTEL_BSP_SCHEDULE_DELAY:-200}"

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  bold=$'\e[1m' green=$'\e[32m' red=$'\e[31m' dim=$'\e[2m' reset=$'\e[0m'
else
  bold="" green="" red="" dim="" reset=""
fi

work="$(mktemp -d)"
backends_up=0
cleanup() {
  if ((backends_up)); then
    "${root}/scripts/stop_backends.sh" --grace 5 >/dev/null 2>&1 || true
  fi
  rm -rf "${work}"
}
trap cleanup EXIT

started_at=${SECONDS}
failures=0
check() {
  local what="$1"
  shift
  if "$@"; then
    printf '  %s✓%s %s\n' "${green}" "${reset}" "${what}"
  else
    printf '  %s✗ %s%s\n' "${red}" "${what}" "${reset}"
    failures=$((failures + 1))
  fi
}
heading() { printf '\n%s══ %s%s\n' "${bold}" "$*" "${reset}"; }

urls=""
for i in 0 1 2 3; do
  domain=(k8s logs metrics runbooks)
  urls+="${urls:+,}${domain[${i}]}=http://127.0.0.1:$((port_base + i))/mcp"
done

start_backends() {
  "${root}/scripts/start_backends.sh" --port-base "${port_base}" "$@" | sed 's/^/  /'
  backends_up=1
}
stop_backends() {
  "${root}/scripts/stop_backends.sh" --grace 5 "$@" | sed 's/^/  /'
}

# investigate NAME USER QUESTION: runs one investigation against the backends; the report goes to
# $work/NAME.md, progress to $work/NAME.err, the trace id to $work/NAME.id and its waterfall to $work/NAME.trace.
investigate() {
  local name="$1" user="$2" question="$3" status=0
  printf '%s$ sre-agent --user-id %s --backend-url … --prompt "%s"%s\n' "${dim}" "${user}" "${question}" "${reset}"
  "${bin}" --user-id "${user}" --backend-url "${urls}" --no-markdown --timeout 60s --prompt "${question}" \
    >"${work}/${name}.md" 2>"${work}/${name}.err" || status=$?
  if ((status != 0)); then
    printf '  %sthe investigation failed (exit %s):%s\n' "${red}" "${status}" "${reset}"
    tail -n 20 "${work}/${name}.err" | sed 's/^/    /'
    failures=$((failures + 1))
    : >"${work}/${name}.id"
    : >"${work}/${name}.trace"
    return 0
  fi
  sed -n 's/^Trace ID: \([0-9a-f]\{32\}\).*/\1/p' "${work}/${name}.err" "${work}/${name}.md" | head -n 1 \
    >"${work}/${name}.id"
  # The backends' SERVER spans arrive with their next export (OTEL_BSP_SCHEDULE_DELAY).
  sleep 0.5
  "${bin}" traces show "$(cat "${work}/${name}.id")" >"${work}/${name}.trace" 2>/dev/null || true
}

# The trace id of a run, its X-Ray form, and where its spans went.
where_spans_went() {
  local name="$1" id xray region
  id="$(cat "${work}/${name}.id")"
  [[ -n "${id}" ]] || return 0
  xray="1-${id:0:8}-${id:8}"
  printf '  trace %s (X-Ray %s)\n' "${id}" "${xray}"
  grep -h '^Spans written to' "${work}/${name}.md" "${work}/${name}.err" | head -n 1 | sed 's/^/  /' || true
  if [[ -n "${OTEL_EXPORTER_OTLP_ENDPOINT:-}${OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:-}${AWS_XRAY_DAEMON_ADDRESS:-}" \
    || "${OTEL_TRACES_EXPORTER:-}" == *xray* ]]; then
    region="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
    printf '  X-Ray: https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#xray:traces/%s\n' \
      "${region}" "${region}" "${xray}"
  fi
}

# Duration column of a waterfall row (e.g. "58.7 ms", "1.20 s", "812 µs") in microseconds.
to_us() {
  awk -v v="$1" -v u="$2" 'BEGIN {
    m = (u == "s") ? 1000000 : (u == "ms") ? 1000 : 1
    printf "%d", v * m
  }'
}

# Per-agent rows of a waterfall: "agent offset_us duration_us status".
agent_rows() {
  awk '/[├└]─ agent\.[a-z]+\.execute/ {
    off = ""; dur = ""; status = ""; agent = ""
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^agent\.[a-z]+\.execute$/) { agent = $i }
    }
    # Columns: [◆] OFFSET UNIT DURATION UNIT KIND STATUS …
    start = ($1 ~ /^[0-9.]+$/) ? 1 : 2
    printf "%s %s %s %s %s %s\n", agent, $(start), $(start + 1), $(start + 2), $(start + 3), $(start + 5)
  }' "$1" | while read -r agent off ou dur du status; do
    printf '%s %s %s %s\n' "${agent}" "$(to_us "${off}" "${ou}")" "$(to_us "${dur}" "${du}")" "${status}"
  done
}

print_agent_timings() {
  local trace="$1"
  printf '  %-28s %12s %12s  %s\n' "AGENT SPAN" "START" "DURATION" "STATUS"
  agent_rows "${trace}" | while read -r agent off dur status; do
    printf '  %-28s %9.1f ms %9.1f ms  %s\n' "${agent}" "$(awk -v x="${off}" 'BEGIN{print x/1000}')" \
      "$(awk -v x="${dur}" 'BEGIN{print x/1000}')" "${status}"
  done
}

# True when every agent span overlaps every other: they ran in parallel.
agents_overlap() {
  agent_rows "$1" | awk '
    { start[NR] = $2; end[NR] = $2 + $3 }
    END {
      if (NR < 2) exit 1
      latest_start = start[1]; earliest_end = end[1]
      for (i = 2; i <= NR; i++) {
        if (start[i] > latest_start) latest_start = start[i]
        if (end[i] < earliest_end) earliest_end = end[i]
      }
      exit !(latest_start < earliest_end)
    }'
}

has_span() { grep -q -- "$2" "$1"; }
lacks_span() { ! grep -q -- "$2" "$1"; }
section() { awk -v h="$2" '$0 == h { on = 1; next } /^## / { on = 0 } on' "$1"; }

printf '%sObservability demo%s — binary %s, data directory %s\n' "${bold}" "${reset}" "${bin}" \
  "${SRE_DATA_DIR:-the sre-agent default}"

# ── Scenario 1 ──────────────────────────────────────────────────────────────────────────────────────────────
heading "Scenario 1 · cross-domain investigation (api-latency-regression, as Alice)"
start_backends --scenario api-latency-regression
investigate s1 Alice "API response times have degraded 3x in the last hour"
grep -h 'routing →' "${work}/s1.err" | sed 's/^\[[^]]*\] */  /' || true
print_agent_timings "${work}/s1.trace"
grep -h '^Bottleneck:' "${work}/s1.trace" | sed 's/^/  /' || true
where_spans_went s1
check "root span sre.investigation" has_span "${work}/s1.trace" "sre.investigation"
for agent in metrics kubernetes logs; do
  check "agent.${agent}.execute in the trace" has_span "${work}/s1.trace" "agent.${agent}.execute"
done
check "the agents ran in parallel (their spans overlap)" agents_overlap "${work}/s1.trace"
check "backend SERVER spans from the separate processes" has_span "${work}/s1.trace" "\[metrics-backend\]"
check "the slowest agent is named" has_span "${work}/s1.trace" "^Bottleneck: agent\."
stop_backends

# ── Scenario 2 ──────────────────────────────────────────────────────────────────────────────────────────────
heading "Scenario 2 · memory context (database-crashloop, Alice vs Carol)"
start_backends --scenario database-crashloop
investigate s2a Alice "Database pods are crash looping in production"
investigate s2c Carol "Database pods are crash looping in production"
printf '\n  %sMemory retrieved for each user (memory.retrieve spans)%s\n' "${bold}" "${reset}"
memory_rows() {
  "${bin}" traces show "$(cat "${work}/$1.id")" --attributes memory.retrieve 2>/dev/null \
    | grep -o 'memory.namespace=[^ ]* memory.strategy=[^ ]* memory.cache_hit=[^ ]* memory.results_count=[0-9]*' \
    | sed 's/memory\.[a-z_]*=//g' | awk '{ printf "%-26s %s records%s\n", $2, $4, ($3 == "true") ? " (cached)" : "" }'
}
memory_rows s2a >"${work}/mem-a" || true
memory_rows s2c >"${work}/mem-c" || true
printf '  %-40s %s\n' "Alice" "Carol"
paste -d '\t' "${work}/mem-a" "${work}/mem-c" | awk -F '\t' '{ printf "  %-40s %s\n", $1, $2 }'
# What each run concluded, from its trace: severity and the number of findings aggregated.
conclusion() {
  "${bin}" traces show "$(cat "${work}/$1.id")" --attributes supervisor.aggregate_results 2>/dev/null \
    | grep -o 'sre.findings_count=[0-9]* sre.severity=[a-z]*' | head -n 1
}
printf '\n  %sSame findings, different reports%s\n' "${bold}" "${reset}"
printf '  Alice: %s · report: %s\n' "$(conclusion s2a)" "$(grep -m1 '^## ' "${work}/s2a.md" | sed 's/^## //')"
printf '  Carol: %s · report: %s\n' "$(conclusion s2c)" "$(grep -m1 '^## ' "${work}/s2c.md" | sed 's/^## //')"
printf '\n  %sEscalation%s\n' "${bold}" "${reset}"
printf '  Alice: %s\n' "$(section "${work}/s2a.md" "## Escalation" | sed '/^$/d' | head -n 1 | cut -c1-150)"
printf '  Carol: %s\n' "$(section "${work}/s2c.md" "## Escalation" | sed '/^$/d' | head -n 1 | cut -c1-150)"
where_spans_went s2a
where_spans_went s2c
check "both runs reached the same conclusion (severity and findings)" \
  test -n "$(conclusion s2a)" -a "$(conclusion s2a)" = "$(conclusion s2c)"
check "three memory retrievals in each run" \
  test "$(wc -l <"${work}/mem-a")" -eq 3 -a "$(wc -l <"${work}/mem-c")" -eq 3
check "Alice gets the technical report" has_span "${work}/s2a.md" "^## Key findings"
check "Carol gets the business-impact brief" has_span "${work}/s2c.md" "^## Business impact"
check "supervisor.escalate in Carol's trace" has_span "${work}/s2c.trace" "supervisor.escalate"
check "no supervisor.escalate in Alice's trace" lacks_span "${work}/s2a.trace" "supervisor.escalate"

# ── Scenario 3 ──────────────────────────────────────────────────────────────────────────────────────────────
heading "Scenario 3 · live error (the k8s backend is killed)"
k8s_pid="$(tr -d '[:space:]' <"${SRE_RUN_DIR}/k8s.pid")"
printf '  killing the k8s backend, PID %s\n' "${k8s_pid}"
stop_backends --domain k8s
investigate s3 Alice "Check cluster health"
printf '\n  %sFailed tool spans%s\n' "${bold}" "${reset}"
grep -E '  (fault|error) .*tools/call' "${work}/s3.trace" | head -n 12 | cut -c1-200 | sed 's/^/  /' || true
grep -E '^(Failures|Retries):' "${work}/s3.trace" | head -n 12 | sed 's/^/  /' || true
printf '\n  %sCircuit breaker%s\n' "${bold}" "${reset}"
"${bin}" traces show "$(cat "${work}/s3.id")" --attributes "tools/call" 2>/dev/null \
  | grep -o 'peer.service=k8s-backend.*sre.circuit_breaker.state=[a-z_]*' \
  | grep -o 'retry.attempt=[0-9]*\|sre.circuit_breaker.state=[a-z_]*' | paste -d ' ' - - | sort | uniq -c \
  | sed 's/^ */  k8s-backend calls: /' || true
printf '\n  %sWhat the report says could not be checked%s\n' "${bold}" "${reset}"
section "${work}/s3.md" "## What could not be checked" | sed '/^$/d' | head -n 6 | cut -c1-160 | sed 's/^/  /' || true
where_spans_went s3
check "k8s tool calls failed with error spans" has_span "${work}/s3.trace" "tools/call"
check "the failures name connection_refused or circuit_open" \
  grep -q -E 'connection_refused|circuit_open' "${work}/s3.trace"
check "retry attempts are visible" grep -q -E 'attempt|retr' "${work}/s3.trace"
check "the report is partial and names the k8s backend" grep -q -i 'k8s-backend' "${work}/s3.md"
check "the other agents still reported" has_span "${work}/s3.trace" "agent.metrics.execute"
printf '\n  restarting the k8s backend\n'
start_backends --scenario database-crashloop --domain k8s
investigate s3r Alice "Check cluster health"
check "after the restart the check is complete again" lacks_span "${work}/s3r.md" "k8s-backend"
where_spans_went s3r

# ── Summary ─────────────────────────────────────────────────────────────────────────────────────────────────
heading "Service map of the last $((SECONDS - started_at + 5))s"
"${bin}" traces service-map --since "$((SECONDS - started_at + 5))s" >"${work}/map.txt" || failures=$((failures + 1))
sed 's/^/  /' "${work}/map.txt"
for node in sre-agent {kubernetes,logs,metrics,runbooks}-agent {k8s,logs,metrics,runbooks}-backend; do
  check "service map node ${node}" grep -q -E "^${node} +service " "${work}/map.txt"
done
check "the k8s-backend edge shows the faults of scenario 3" \
  grep -q -E '^kubernetes-agent +k8s-backend +[0-9]+ +[0-9]+ \([0-9]+%\) +[1-9][0-9]* ' "${work}/map.txt"
printf '\n%d s. ' "$((SECONDS - started_at))"
if ((failures > 0)); then
  printf '%s%d check(s) failed%s\n' "${red}" "${failures}" "${reset}"
  exit 1
fi
printf '%severy scenario produced its expected trace shape%s\n' "${green}" "${reset}"
