#!/usr/bin/env bash
# Runs every test of the workspace, after installing what some tests need and do not find:
#   - the official MCP Python SDK (PyPI `mcp`), the MCP client we did not write;
#   - `chromium`, which renders the HTML service map headless;
#   - `promtool` (Debian `prometheus`), which validates dashboards/prometheus-rules.yaml;
#   - `jq` and `curl`, which the documentation's runnable examples use (scripts/check_docs.sh).
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh -p sre-agents`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The AWS SDK must never wait on instance metadata, and needs a region to build clients.
export AWS_EC2_METADATA_DISABLED=true
export AWS_REGION="${AWS_REGION:-us-east-1}"

PYTHON="${PYTHON:-python3}"
MCP_SDK="mcp==2.3.0"

say() { printf '==> %s\n' "$*" >&2; }

# apt-get as root, or through sudo; a clear message when neither is possible.
apt_install() {
  local runner=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      runner=(sudo -n)
    else
      echo "error: $* is missing and installing it needs root: run 'sudo apt-get install -y $*' and retry" >&2
      exit 1
    fi
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! "$PYTHON" -c 'import mcp' >/dev/null 2>&1; then
  say "installing the official MCP Python SDK ($MCP_SDK)"
  "$PYTHON" -m pip install --quiet "$MCP_SDK"
fi
if ! command -v chromium >/dev/null 2>&1; then
  say "installing chromium (headless rendering of the HTML service map)"
  apt_install chromium
fi
for tool in jq curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "installing $tool (the documentation's runnable examples use it)"
    apt_install "$tool"
  fi
done
if ! command -v promtool >/dev/null 2>&1; then
  say "installing promtool (package prometheus)"
  apt_install prometheus
fi

say "cargo test --workspace $*"
exec cargo test --workspace "$@"
