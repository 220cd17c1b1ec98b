#!/usr/bin/env bash
# Creates (or updates) the sre-agent CloudWatch dashboard, its alarms and its saved Logs Insights queries from
# the templates in dashboards/, with the namespace, region, dashboard name and log groups filled in.
# Re-running it updates everything in place.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/setup_cloudwatch_dashboard.sh [--dry-run] [--alarm-topic ARN] [--log-group NAME]
                                             [--emf-log-group NAME] [--skip-alarms] [--skip-queries]

Runs, with the AWS CLI:
  aws cloudwatch put-dashboard          dashboards/cloudwatch-dashboard.json
  aws cloudwatch put-metric-alarm       once per alarm in dashboards/cloudwatch-alarms.json
  aws logs put-query-definition         once per query in dashboards/insights-queries.json

  --dry-run              print the commands instead of running them, and keep the rendered JSON files;
                         needs neither the AWS CLI nor credentials
  --alarm-topic ARN      SNS topic notified when an alarm goes to ALARM and back to OK
  --log-group NAME       log group of the sre-agent JSON logs (default: the EMF log group)
  --emf-log-group NAME   log group of the EMF metric lines (default: $AWS_EMF_LOG_GROUP_NAME,
                         else sre-agent-metrics)
  --skip-alarms          do not create the alarms
  --skip-queries         do not save the Logs Insights queries
  -h, --help             this help

Environment:
  CLOUDWATCH_METRICS_NAMESPACE   metric namespace (default SREAgent/Production), as for sre-agent itself
  AWS_REGION, AWS_DEFAULT_REGION region (else the AWS CLI profile's region)
  SRE_DASHBOARD_NAME             dashboard name, also the prefix of alarm and query names (default SRE-Agent)
  AWS_EMF_LOG_GROUP_NAME         EMF log group, as for sre-agent itself
  AWS_PROFILE and the other AWS CLI variables apply as usual.

Placeholders filled in the templates: ${NAMESPACE}, ${REGION}, ${DASHBOARD_NAME}, ${EMF_LOG_GROUP},
${LOG_GROUP}, ${ACCOUNT_ID}, ${PARTITION}.
EOF
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dashboards="${root}/dashboards"

die() {
  printf 'setup_cloudwatch_dashboard: %s\n' "$*" >&2
  exit 1
}

dry_run=false
alarm_topic=""
log_group=""
emf_log_group="${AWS_EMF_LOG_GROUP_NAME:-}"
skip_alarms=false
skip_queries=false

while (($# > 0)); do
  case "$1" in
    --dry-run)
      dry_run=true
      shift
      ;;
    --alarm-topic)
      (($# >= 2)) || die "--alarm-topic needs an SNS topic ARN"
      alarm_topic="$2"
      shift 2
      ;;
    --log-group)
      (($# >= 2)) || die "--log-group needs a log group name"
      log_group="$2"
      shift 2
      ;;
    --emf-log-group)
      (($# >= 2)) || die "--emf-log-group needs a log group name"
      emf_log_group="$2"
      shift 2
      ;;
    --skip-alarms)
      skip_alarms=true
      shift
      ;;
    --skip-queries)
      skip_queries=true
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      die "unknown argument '$1' (see --help)"
      ;;
  esac
done

namespace="${CLOUDWATCH_METRICS_NAMESPACE:-SREAgent/Production}"
dashboard_name="${SRE_DASHBOARD_NAME:-SRE-Agent}"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
emf_log_group="${emf_log_group:-sre-agent-metrics}"
log_group="${log_group:-${emf_log_group}}"

# The namespace goes inside double-quoted SEARCH/SELECT strings inside JSON strings: keep it to what
# CloudWatch accepts, minus quotes and backslashes.
if ((${#namespace} > 255)) || [[ -z "${namespace}" || "${namespace}" == :* ]] ||
  [[ "${namespace}" == *[![:print:]]* || "${namespace}" == *[![:ascii:]]* ]] ||
  [[ "${namespace}" == *[\"\'\\]* ]]; then
  die "CLOUDWATCH_METRICS_NAMESPACE='${namespace}' is not usable: 1-255 printable ASCII characters, not starting with ':', without quotes or backslashes"
fi
[[ "${dashboard_name}" =~ ^[A-Za-z0-9_-]{1,200}$ ]] ||
  die "SRE_DASHBOARD_NAME='${dashboard_name}' may only contain letters, digits, '-' and '_'"
for group in "${emf_log_group}" "${log_group}"; do
  [[ "${group}" =~ ^[A-Za-z0-9._/#-]{1,512}$ ]] ||
    die "log group '${group}' is not a CloudWatch Logs group name (letters, digits, '._/#-')"
done
if [[ -n "${alarm_topic}" && ! "${alarm_topic}" =~ ^arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$ ]]; then
  die "--alarm-topic '${alarm_topic}' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"
fi
for file in cloudwatch-dashboard.json cloudwatch-alarms.json insights-queries.json; do
  [[ -r "${dashboards}/${file}" ]] || die "missing ${dashboards}/${file}"
done

# Runs "$@" for at most $1 seconds, so an unreachable endpoint never hangs the script.
with_timeout() {
  local seconds="$1"
  shift
  if command -v timeout >/dev/null 2>&1; then
    timeout "${seconds}" "$@"
  else
    "$@" &
    local pid=$!
    (sleep "${seconds}" && kill "${pid}" 2>/dev/null) &
    local watchdog=$!
    local rc=0
    wait "${pid}" || rc=$?
    kill "${watchdog}" 2>/dev/null || true
    wait "${watchdog}" 2>/dev/null || true
    return "${rc}"
  fi
}

account_id="000000000000"
if [[ "${dry_run}" == false ]]; then
  command -v aws >/dev/null 2>&1 ||
    die "the AWS CLI is not installed (see https://aws.amazon.com/cli/); install it, or preview with --dry-run"
  with_timeout 15 aws --version >/dev/null 2>&1 ||
    die "the AWS CLI does not run ('aws --version' failed or took over 15 s); fix the installation, or preview with --dry-run"
  if [[ -z "${region}" ]]; then
    region="$(with_timeout 15 aws configure get region 2>/dev/null || true)"
  fi
  [[ -n "${region}" ]] || die "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a region in your AWS CLI profile)"
  identity="$(AWS_MAX_ATTEMPTS=1 with_timeout 15 aws sts get-caller-identity --region "${region}" \
    --cli-connect-timeout 5 --cli-read-timeout 10 --query Account --output text 2>/dev/null)" ||
    die "no usable AWS credentials ('aws sts get-caller-identity' failed or timed out); configure them (aws configure, AWS_PROFILE, SSO) or preview with --dry-run"
  account_id="${identity//[[:space:]]/}"
  [[ "${account_id}" =~ ^[0-9]{12}$ ]] || die "'aws sts get-caller-identity' returned '${identity}', not an account id"
fi
region="${region:-us-east-1}"
[[ "${region}" =~ ^[a-z0-9-]+$ ]] || die "AWS region '${region}' is not a region name (e.g. us-east-1)"
case "${region}" in
  cn-*) partition="aws-cn" ;;
  us-gov-*) partition="aws-us-gov" ;;
  *) partition="aws" ;;
esac

work="$(mktemp -d "${TMPDIR:-/tmp}/sre-dashboard.XXXXXX")"
if [[ "${dry_run}" == false ]]; then
  trap 'rm -rf "${work}"' EXIT
fi

# Bash 5.2 would otherwise treat '&' in a replacement as the matched text.
shopt -u patsub_replacement 2>/dev/null || true

# Copies template $1 to $2 with every placeholder filled in.
# shellcheck disable=SC2016 # the single-quoted '${NAME}' patterns are the literal placeholders
render() {
  local text
  text="$(<"$1")"
  text="${text//'${NAMESPACE}'/${namespace}}"
  text="${text//'${REGION}'/${region}}"
  text="${text//'${DASHBOARD_NAME}'/${dashboard_name}}"
  text="${text//'${EMF_LOG_GROUP}'/${emf_log_group}}"
  text="${text//'${LOG_GROUP}'/${log_group}}"
  text="${text//'${ACCOUNT_ID}'/${account_id}}"
  text="${text//'${PARTITION}'/${partition}}"
  if [[ "${text}" =~ \$\{[A-Z_]+\} ]]; then
    die "$1 still has the placeholder ${BASH_REMATCH[0]} after rendering; add it to render() in $0"
  fi
  printf '%s\n' "${text}" >"$2"
}

# Writes each object of the top-level JSON array in $1 to $2-NN.json; prints how many.
split_array() {
  LC_ALL=C awk -v prefix="$2" '
    BEGIN { depth = 0; in_str = 0; esc = 0; n = 0; buf = "" }
    {
      line = $0 "\n"
      len = length(line)
      for (i = 1; i <= len; i++) {
        c = substr(line, i, 1)
        if (depth >= 2) buf = buf c
        if (in_str) {
          if (esc) esc = 0
          else if (c == "\\") esc = 1
          else if (c == "\"") in_str = 0
          continue
        }
        if (c == "\"") { in_str = 1; continue }
        if (c == "[" || c == "{") {
          depth++
          if (depth == 2) buf = c
        } else if (c == "]" || c == "}") {
          depth--
          if (depth == 1) {
            file = sprintf("%s-%02d.json", prefix, n++)
            print buf > file
            close(file)
            buf = ""
          }
        }
      }
    }
    END { print n }
  ' "$1"
}

# The value of the first "key": "value" member in JSON file $2.
json_string() {
  sed -n "s/^[[:space:]]*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" "$2" | head -n 1
}

# Prints or runs one AWS CLI command.
run() {
  if [[ "${dry_run}" == true ]]; then
    printf '%q ' "$@" | sed 's/ $//'
    printf '\n'
  else
    printf '+ %s\n' "$*" >&2
    with_timeout 60 "$@"
  fi
}

render "${dashboards}/cloudwatch-dashboard.json" "${work}/dashboard.json"
render "${dashboards}/cloudwatch-alarms.json" "${work}/alarms.json"
render "${dashboards}/insights-queries.json" "${work}/queries.json"
alarm_count="$(split_array "${work}/alarms.json" "${work}/alarm")"
query_count="$(split_array "${work}/queries.json" "${work}/query")"

if [[ "${dry_run}" == true ]]; then
  printf '# dry run: namespace %s, region %s, dashboard %s, EMF log group %s, log group %s\n' \
    "${namespace}" "${region}" "${dashboard_name}" "${emf_log_group}" "${log_group}"
  printf '# rendered files kept in %s (account id shown as %s; a real run uses the caller'"'"'s)\n' "${work}" "${account_id}"
fi

output="$(run aws cloudwatch put-dashboard --region "${region}" --dashboard-name "${dashboard_name}" \
  --dashboard-body "file://${work}/dashboard.json")"
if [[ "${dry_run}" == true ]]; then
  printf '%s\n' "${output}"
elif [[ "${output}" == *'"Message"'* ]]; then
  printf 'put-dashboard accepted the dashboard with warnings:\n%s\n' "${output}" >&2
fi

if [[ "${skip_alarms}" == false ]]; then
  actions=()
  if [[ -n "${alarm_topic}" ]]; then
    actions=(--alarm-actions "${alarm_topic}" --ok-actions "${alarm_topic}")
  fi
  for ((i = 0; i < alarm_count; i++)); do
    file="$(printf '%s/alarm-%02d.json' "${work}" "${i}")"
    [[ -n "$(json_string AlarmName "${file}")" ]] || die "alarm ${i} of cloudwatch-alarms.json has no AlarmName"
    run aws cloudwatch put-metric-alarm --region "${region}" --cli-input-json "file://${file}" \
      ${actions[@]+"${actions[@]}"}
  done
fi

if [[ "${skip_queries}" == false ]]; then
  if [[ "${dry_run}" == true ]]; then
    printf '# a real run adds --query-definition-id <id> where a saved query of the same name exists\n'
  fi
  for ((i = 0; i < query_count; i++)); do
    file="$(printf '%s/query-%02d.json' "${work}" "${i}")"
    name="$(json_string name "${file}")"
    [[ -n "${name}" ]] || die "query ${i} of insights-queries.json has no name"
    id_args=()
    if [[ "${dry_run}" == false ]]; then
      # Update the saved query of that name instead of adding a duplicate.
      existing="$(with_timeout 30 aws logs describe-query-definitions --region "${region}" \
        --query-definition-name-prefix "${name}" \
        --query "queryDefinitions[?name=='${name}'].queryDefinitionId | [0]" --output text)" ||
        die "could not list the saved Logs Insights queries named '${name}'"
      if [[ -n "${existing}" && "${existing}" != "None" ]]; then
        id_args=(--query-definition-id "${existing}")
      fi
    fi
    if [[ "${dry_run}" == true ]]; then
      run aws logs put-query-definition --region "${region}" --cli-input-json "file://${file}"
    else
      run aws logs put-query-definition --region "${region}" --cli-input-json "file://${file}" \
        ${id_args[@]+"${id_args[@]}"} >/dev/null
    fi
  done
fi

if [[ "${dry_run}" == false ]]; then
  console="${region}.console.aws.amazon.com"
  if [[ "${partition}" == aws-cn ]]; then
    console="console.amazonaws.cn"
  fi
  printf 'Dashboard: https://%s/cloudwatch/home?region=%s#dashboards/dashboard/%s\n' \
    "${console}" "${region}" "${dashboard_name}"
fi
