#!/usr/bin/env bash
# Starts the four MCP backends (k8s, logs, metrics, runbooks) as separate `sre-agent backends serve` processes,
# writes their PIDs to .run/<domain>.pid, waits until each one answers on /mcp, and prints the URLs.
# Stop them with scripts/stop_backends.sh.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/start_backends.sh [--scenario NAME | --dataset-dir DIR] [--host ADDR] [--port-base PORT]
                                 [--timeout SECONDS] [--domain NAME]... [-- EXTRA-SERVE-ARGS...]

Starts k8s, logs, metrics and runbooks as four `sre-agent backends serve --domain <d>` processes
(ports PORT..PORT+3, default 8011-8014), each logging to .run/<domain>.log with its PID in .run/<domain>.pid.

  --scenario NAME      bundled scenario to serve (see `sre-agent backends scenarios`)
  --dataset-dir DIR    serve your own scenario directory instead
  --host ADDR          address to listen on (default 127.0.0.1)
  --port-base PORT     port of the k8s backend; the others follow (default 8011)
  --timeout SECONDS    how long to wait for every backend to answer (default 30)
  --domain NAME        start only this backend (k8s, logs, metrics or runbooks; repeatable), e.g. to
                       bring back one that was stopped; ports stay those of the full set
  -- ARGS...           passed to every `backends serve` as is (e.g. authentication options)

The binary is $SRE_AGENT_BIN when set, else target/release/sre-agent, else target/debug/sre-agent.
SRE_DATA_DIR and the OTEL_* variables reach the backends through the environment; SRE_RUN_DIR moves the PID
files and logs elsewhere than .run/.
EOF
}

readonly DOMAINS=(k8s logs metrics runbooks)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# PID files and logs; SRE_RUN_DIR moves them (tests and parallel demos use their own).
run_dir="${SRE_RUN_DIR:-${root}/.run}"

host="127.0.0.1"
port_base="8011"
timeout_s="30"
dataset_args=()
extra_args=()
selected=()

die() {
  printf 'start_backends: %s\n' "$*" >&2
  exit 1
}

while (($# > 0)); do
  case "$1" in
    --scenario | --dataset-dir)
      (($# >= 2)) || die "$1 needs a value"
      dataset_args+=("$1" "$2")
      shift 2
      ;;
    --host)
      (($# >= 2)) || die "--host needs a value"
      host="$2"
      shift 2
      ;;
    --port-base)
      (($# >= 2)) || die "--port-base needs a value"
      port_base="$2"
      shift 2
      ;;
    --timeout)
      (($# >= 2)) || die "--timeout needs a value"
      timeout_s="$2"
      shift 2
      ;;
    --domain)
      (($# >= 2)) || die "--domain needs a value"
      case "$2" in
        k8s | logs | metrics | runbooks) selected+=("$2") ;;
        *) die "--domain must be k8s, logs, metrics or runbooks, found '$2'" ;;
      esac
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    --)
      shift
      extra_args=("$@")
      break
      ;;
    *)
      usage >&2
      die "unknown argument: $1"
      ;;
  esac
done

if ((${#selected[@]} == 0)); then
  selected=("${DOMAINS[@]}")
fi

if ! [[ "${port_base}" =~ ^[0-9]+$ ]] || ((port_base < 1 || port_base > 65532)); then
  die "--port-base must be a port from 1 to 65532, found '${port_base}'"
fi
if ! [[ "${timeout_s}" =~ ^[0-9]+$ ]] || ((timeout_s < 1)); then
  die "--timeout must be a whole number of seconds, found '${timeout_s}'"
fi

# The binary: $SRE_AGENT_BIN, else a release build, else a debug build.
# shellcheck source=lib/sre_agent_bin.sh
source "${root}/scripts/lib/sre_agent_bin.sh"
bin="" bin_source=""
sre_agent_bin "${root}" || case $? in
  2) die "SRE_AGENT_BIN=${bin} is not an executable file" ;;
  *) die "no sre-agent binary: build one with 'cargo build --release --bin sre-agent', or set SRE_AGENT_BIN" ;;
esac
printf 'Using %s (%s)\n' "${bin}" "${bin_source}"

mkdir -p "${run_dir}"

# Where a client on this machine reaches a backend listening on $host (IPv6 in brackets).
probe_host() {
  local bare="${host#[}"
  bare="${bare%]}"
  case "${bare}" in
    0.0.0.0 | "") printf '127.0.0.1' ;;
    ::) printf '[::1]' ;;
    *:*) printf '[%s]' "${bare}" ;;
    *) printf '%s' "${bare}" ;;
  esac
}

port_of() {
  local i
  for i in "${!DOMAINS[@]}"; do
    if [[ "${DOMAINS[${i}]}" == "$1" ]]; then
      printf '%s' "$((port_base + i))"
      return 0
    fi
  done
  return 1
}

# True when the backend at the URL answers HTTP at all (any status, 401 and 403 included).
answers() {
  local url="$1" code
  if command -v curl >/dev/null 2>&1; then
    code="$(curl --silent --max-time 2 --output /dev/null --write-out '%{http_code}' \
      --request POST --header 'Accept: application/json, text/event-stream' \
      --header 'Content-Type: application/json' \
      --data '{"jsonrpc": "2.0", "id": 1, "method": "ping"}' "${url}" || true)"
    [[ -n "${code}" && "${code}" != "000" ]]
  else
    local port="${url##*:}"
    port="${port%%/*}"
    (exec 3<>"/dev/tcp/$(probe_host | tr -d '[]')/${port}") 2>/dev/null
  fi
}

# True while the process exists and has not exited (an exited child not yet waited for is a zombie).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  if [[ -r "/proc/$1/stat" ]]; then
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null || true)"
    [[ "${stat##*) }" != Z* ]]
  fi
}

# True when process $1 holds the listening socket of TCP port $2, so an answer on the port comes from it and not
# from something else that already had the port. Without lsof or /proc, the HTTP answer has to do.
owns_port() {
  local pid="$1" port="$2" inodes inode fd
  if command -v lsof >/dev/null 2>&1; then
    lsof -nP -a -p "${pid}" -iTCP:"${port}" -sTCP:LISTEN >/dev/null 2>&1
    return
  fi
  if [[ -r /proc/net/tcp ]]; then
    inodes="$(awk -v p=":$(printf '%04X' "${port}")" \
      '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null || true)"
    for inode in ${inodes}; do
      for fd in /proc/"${pid}"/fd/*; do
        [[ "$(readlink "${fd}" 2>/dev/null || true)" == "socket:[${inode}]" ]] && return 0
      done
    done
    return 1
  fi
  return 0
}

# Refuse to start over backends that are (or were) running.
for domain in "${selected[@]}"; do
  pid_file="${run_dir}/${domain}.pid"
  if [[ -e "${pid_file}" ]]; then
    pid="$(tr -d '[:space:]' <"${pid_file}")"
    if [[ "${pid}" =~ ^[0-9]+$ ]] && alive "${pid}"; then
      die "the ${domain} backend is already running (PID ${pid}, ${pid_file}); stop it with scripts/stop_backends.sh"
    fi
    die "stale PID file ${pid_file} (PID '${pid}' is not running); remove it with: rm '${pid_file}'"
  fi
done

started=()

# Stops what this run started (TERM, then KILL after 10 s), when a backend fails to come up.
abort() {
  local domain pid give_up
  printf 'start_backends: %s\n' "$1" >&2
  for domain in "${started[@]}"; do
    kill -TERM "$(cat "${run_dir}/${domain}.pid")" 2>/dev/null || true
  done
  give_up=$((SECONDS + 10))
  for domain in "${started[@]}"; do
    pid="$(cat "${run_dir}/${domain}.pid")"
    while alive "${pid}" && ((SECONDS < give_up)); do
      sleep 0.2
    done
    if alive "${pid}"; then
      kill -KILL "${pid}" 2>/dev/null || true
    fi
    wait "${pid}" 2>/dev/null || true
    rm -f "${run_dir}/${domain}.pid"
  done
  printf 'start_backends: stopped the backends this run had started\n' >&2
  exit 1
}

for domain in "${selected[@]}"; do
  log="${run_dir}/${domain}.log"
  # Each backend is its own service (k8s-backend, ...) on the service map: an OTEL_SERVICE_NAME meant for the
  # agent must not rename all four to one name.
  env -u OTEL_SERVICE_NAME nohup "${bin}" backends serve --domain "${domain}" --host "${host}" --port-base "${port_base}" \
    ${dataset_args[@]+"${dataset_args[@]}"} ${extra_args[@]+"${extra_args[@]}"} >"${log}" 2>&1 &
  printf '%s\n' "$!" >"${run_dir}/${domain}.pid"
  started+=("${domain}")
done

deadline=$((SECONDS + timeout_s))
for domain in "${selected[@]}"; do
  pid="$(cat "${run_dir}/${domain}.pid")"
  port="$(port_of "${domain}")"
  url="http://$(probe_host):${port}/mcp"
  until owns_port "${pid}" "${port}" && answers "${url}"; do
    if ! alive "${pid}"; then
      abort "the ${domain} backend (PID ${pid}) exited; last lines of ${run_dir}/${domain}.log:
$(tail -n 20 "${run_dir}/${domain}.log")"
    fi
    if ((SECONDS >= deadline)); then
      abort "the ${domain} backend (PID ${pid}) did not answer at ${url} within ${timeout_s}s; see ${run_dir}/${domain}.log"
    fi
    sleep 0.2
  done
done

printf 'MCP backends running:\n'
for domain in "${selected[@]}"; do
  printf '  %-9s http://%s:%s/mcp  (PID %s, log %s/%s.log)\n' "${domain}" "$(probe_host)" \
    "$(port_of "${domain}")" "$(cat "${run_dir}/${domain}.pid")" "${run_dir}" "${domain}"
done
printf 'Stop them with scripts/stop_backends.sh\n'
