#!/usr/bin/env bash
# Runs the shell examples of the documentation that are marked runnable, so every command and flag in them
# keeps working as written. A runnable example is a fenced block whose info string is `bash runnable`:
#
#   ```bash runnable
#   sre-agent traces list --limit 5
#   ```
#
# The blocks of one file run in order, each with `bash -euo pipefail`, in a scratch directory of that file's
# own that links the repository's scripts/, dashboards/, config/ and eval/, with `sre-agent` on PATH and
# SRE_DATA_DIR / SRE_RUN_DIR inside the scratch directory, offline (no AWS credentials, no model provider).
# Blocks that need AWS, a model provider or the release build are plain `bash` blocks and are not run.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/check_docs.sh [FILE.md]...

Runs every ```bash runnable block of the given Markdown files (default: README.md and docs/*.md), in order,
and reports the blocks that fail. Exit status: 0 when every block succeeded.

Environment:
  SRE_AGENT_BIN      the binary to put on PATH as sre-agent (default: target/debug/sre-agent, else the one on PATH)
  DOCS_BLOCK_TIMEOUT seconds one block may take (default 180)
EOF
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
files=()
for arg in "$@"; do
  case "${arg}" in
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      usage >&2
      echo "check_docs: unknown option: ${arg}" >&2
      exit 2
      ;;
    *) files+=("${arg}") ;;
  esac
done
if ((${#files[@]} == 0)); then
  files=("${root}/README.md")
  for f in "${root}"/docs/*.md; do
    files+=("${f}")
  done
fi

if [[ -n "${SRE_AGENT_BIN:-}" ]]; then
  bin="${SRE_AGENT_BIN}"
elif [[ -x "${root}/target/debug/sre-agent" ]]; then
  bin="${root}/target/debug/sre-agent"
elif command -v sre-agent >/dev/null; then
  bin="$(command -v sre-agent)"
else
  echo "check_docs: no sre-agent binary; build it first: cargo build --bin sre-agent" >&2
  exit 1
fi
[[ -x "${bin}" ]] || { echo "check_docs: ${bin} is not executable" >&2; exit 1; }
bin="$(cd "$(dirname "${bin}")" && pwd)/$(basename "${bin}")"
timeout_s="${DOCS_BLOCK_TIMEOUT:-180}"

scratch_root="$(mktemp -d)"
cleanup() {
  # Backends a failed block left running: stop exactly the PIDs recorded in each scratch run directory.
  for run in "${scratch_root}"/*/run; do
    [[ -d "${run}" ]] && SRE_RUN_DIR="${run}" "${root}/scripts/stop_backends.sh" --grace 5 >/dev/null 2>&1 || true
  done
  rm -rf "${scratch_root}"
}
trap cleanup EXIT

# The runnable blocks of $1, one file per block (block-001.sh, ...) in $2; prints how many.
extract() {
  awk -v out="$2" '
    /^```bash runnable[[:space:]]*$/ { n++; file = sprintf("%s/block-%03d.sh", out, n); inside = 1; printf "" > file; next }
    inside && /^```[[:space:]]*$/ { inside = 0; close(file); next }
    inside { print >> file }
    END { print n + 0 }
  ' "$1"
}

failures=0
ran=0
for doc in "${files[@]}"; do
  [[ -f "${doc}" ]] || { echo "check_docs: no such file: ${doc}" >&2; exit 2; }
  name="$(basename "${doc}" .md)"
  work="${scratch_root}/${name}"
  mkdir -p "${work}/blocks" "${work}/bin"
  for dir in scripts dashboards config eval; do
    ln -s "${root}/${dir}" "${work}/${dir}"
  done
  ln -s "${bin}" "${work}/bin/sre-agent"
  count="$(extract "${doc}" "${work}/blocks")"
  ((count > 0)) || continue
  printf '%s: %d runnable block(s)\n' "${doc#"${root}"/}" "${count}"
  for block in "${work}"/blocks/block-*.sh; do
    ran=$((ran + 1))
    log="${block%.sh}.log"
    if (cd "${work}" \
      && env PATH="${work}/bin:${PATH}" SRE_DATA_DIR="${work}/data" SRE_RUN_DIR="${work}/run" \
        SRE_AGENT_BIN="${bin}" NO_COLOR=1 AWS_EC2_METADATA_DISABLED=true AWS_REGION="${AWS_REGION:-us-east-1}" \
        timeout "${timeout_s}" bash -euo pipefail "${block}") >"${log}" 2>&1 </dev/null; then
      printf '  ok    %s\n' "$(head -n 1 "${block}")"
    else
      status=$?
      failures=$((failures + 1))
      printf '  FAIL  %s (exit %d)\n' "$(head -n 1 "${block}")" "${status}"
      sed 's/^/        │ /' "${block}"
      printf '        output:\n'
      tail -n 30 "${log}" | sed 's/^/        │ /'
    fi
  done
done
if ((failures > 0)); then
  printf 'check_docs: %d of %d runnable block(s) failed\n' "${failures}" "${ran}"
  exit 1
fi
printf 'check_docs: %d runnable block(s) passed\n' "${ran}"
