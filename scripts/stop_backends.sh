#!/usr/bin/env bash
# Stops the MCP backends started by scripts/start_backends.sh: exactly the PIDs in .run/<domain>.pid, each only
# if it still is an `sre-agent backends serve --domain <domain>` process. SIGTERM first (requests in flight
# finish), SIGKILL after the grace period; the PID files are removed. A stale PID file, or one whose process is
# something else, is reported and left alone, and the script exits non-zero.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/stop_backends.sh [--grace SECONDS] [--domain NAME]...

  --grace SECONDS   how long each backend may take to finish after SIGTERM before it gets SIGKILL (default 15)
  --domain NAME     stop only this backend (k8s, logs, metrics or runbooks; repeatable); default all
USAGE
}

readonly DOMAINS=(k8s logs metrics runbooks)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# PID files and logs; SRE_RUN_DIR moves them (tests and parallel demos use their own).
run_dir="${SRE_RUN_DIR:-${root}/.run}"
grace_s="15"
selected=()

while (($# > 0)); do
  case "$1" in
    --grace)
      if (($# < 2)); then
        printf 'stop_backends: --grace needs a value\n' >&2
        exit 1
      fi
      grace_s="$2"
      shift 2
      ;;
    --domain)
      if (($# < 2)); then
        printf 'stop_backends: --domain needs a value\n' >&2
        exit 1
      fi
      case "$2" in
        k8s | logs | metrics | runbooks) selected+=("$2") ;;
        *)
          printf 'stop_backends: --domain must be k8s, logs, metrics or runbooks, found %s\n' "'$2'" >&2
          exit 1
          ;;
      esac
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      printf 'stop_backends: unknown argument: %s\n' "$1" >&2
      exit 1
      ;;
  esac
done
if ! [[ "${grace_s}" =~ ^[0-9]+$ ]]; then
  printf 'stop_backends: --grace must be a whole number of seconds, found %s\n' "'${grace_s}'" >&2
  exit 1
fi

# The command line of a process, arguments separated by spaces; empty when it cannot be read.
command_line() {
  if [[ -r "/proc/$1/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$1/cmdline"
  else
    ps -o args= -p "$1" 2>/dev/null || true
  fi
}

# True while the process exists and has not exited (a zombie waiting for its parent counts as exited).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  if [[ -r "/proc/$1/stat" ]]; then
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null || true)"
    [[ "${stat##*) }" != Z* ]]
  fi
}

if ((${#selected[@]} == 0)); then
  selected=("${DOMAINS[@]}")
fi

failed=0
found=0
stopping=()
for domain in "${selected[@]}"; do
  pid_file="${run_dir}/${domain}.pid"
  [[ -e "${pid_file}" ]] || continue
  found=1
  pid="$(tr -d '[:space:]' <"${pid_file}")"
  if ! [[ "${pid}" =~ ^[1-9][0-9]*$ ]]; then
    printf 'stop_backends: %s does not hold a PID (%s); check it and remove it with: rm %s\n' \
      "${pid_file}" "'${pid}'" "'${pid_file}'" >&2
    failed=1
    continue
  fi
  if ! alive "${pid}"; then
    printf 'stop_backends: stale PID file %s: PID %s is not running; remove it with: rm %s\n' \
      "${pid_file}" "${pid}" "'${pid_file}'" >&2
    failed=1
    continue
  fi
  args="$(command_line "${pid}")"
  if [[ " ${args} " != *" backends serve "* || " ${args} " != *" --domain ${domain} "* ]]; then
    printf 'stop_backends: PID %s from %s is not the %s backend (it runs: %s); not stopping it\n' \
      "${pid}" "${pid_file}" "${domain}" "${args:-unknown}" >&2
    failed=1
    continue
  fi

  kill -TERM "${pid}" 2>/dev/null || true
  stopping+=("${domain}:${pid}")
done

# Every backend got SIGTERM at once; now give them the grace period together, then SIGKILL what remains.
deadline=$((SECONDS + grace_s))
for entry in ${stopping[@]+"${stopping[@]}"}; do
  domain="${entry%%:*}"
  pid="${entry#*:}"
  while alive "${pid}" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if alive "${pid}"; then
    printf 'stop_backends: the %s backend (PID %s) did not stop within %ss of SIGTERM; sending SIGKILL\n' \
      "${domain}" "${pid}" "${grace_s}" >&2
    kill -KILL "${pid}" 2>/dev/null || true
    kill_deadline=$((SECONDS + 5))
    while alive "${pid}" && ((SECONDS < kill_deadline)); do
      sleep 0.1
    done
    if alive "${pid}"; then
      printf 'stop_backends: the %s backend (PID %s) survived SIGKILL; keeping %s\n' \
        "${domain}" "${pid}" "${run_dir}/${domain}.pid" >&2
      failed=1
      continue
    fi
  fi
  rm -f "${run_dir}/${domain}.pid"
  printf 'stopped %-9s (PID %s)\n' "${domain}" "${pid}"
done

if ((found == 0)); then
  printf 'No backends to stop: no PID files in %s\n' "${run_dir}"
fi
exit "${failed}"
