# shellcheck shell=bash
# Sourced by the scripts that run sre-agent (not executable on its own).
#
# sre_agent_bin ROOT — the binary to use: $SRE_AGENT_BIN, else ROOT's release build, else its debug build.
# Sets `bin` and `bin_source` ("SRE_AGENT_BIN", "release build", "debug build"). Returns 1 when there is no
# binary, 2 when SRE_AGENT_BIN names something that is not an executable file (`bin` is set then).
# shellcheck disable=SC2034  # bin and bin_source are what the function sets for its caller
sre_agent_bin() {
  local root="$1"
  if [[ -n "${SRE_AGENT_BIN:-}" ]]; then
    bin="${SRE_AGENT_BIN}"
    bin_source="SRE_AGENT_BIN"
    [[ -x "${bin}" ]] || return 2
  elif [[ -x "${root}/target/release/sre-agent" ]]; then
    bin="${root}/target/release/sre-agent"
    bin_source="release build"
  elif [[ -x "${root}/target/debug/sre-agent" ]]; then
    bin="${root}/target/debug/sre-agent"
    bin_source="debug build"
  else
    return 1
  fi
}
