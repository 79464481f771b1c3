#!/usr/bin/env bash
# Installs the independent IPFIX tools the decoder cross-check uses (tshark decodes, softflowd exports),
# via Debian apt, non-interactively. Exit 0 when both are present afterwards; exit 3 (with a visible message)
# only when apt cannot reach its archive; any other failure exits non-zero.
set -u
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v softflowd >/dev/null 2>&1 || need+=(softflowd)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-ipfix-tools: apt-get not available; cannot install ${need[*]}" >&2
  exit 3
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
    echo "ensure-ipfix-tools: not root and no sudo; cannot install ${need[*]}" >&2
    exit 3
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture; preseed "no" so the install never prompts.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections 2>/dev/null || true
if ! $sudo apt-get update -qq >/tmp/ensure-ipfix-tools.log 2>&1; then
  echo "ensure-ipfix-tools: apt-get update failed (archive unreachable?); see /tmp/ensure-ipfix-tools.log" >&2
  exit 3
fi
if ! $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >>/tmp/ensure-ipfix-tools.log 2>&1; then
  if grep -qiE "could not resolve|failed to fetch|temporary failure|unable to connect" /tmp/ensure-ipfix-tools.log; then
    echo "ensure-ipfix-tools: apt archive unreachable; cannot install ${need[*]}" >&2
    exit 3
  fi
  echo "ensure-ipfix-tools: apt-get install ${need[*]} failed; see /tmp/ensure-ipfix-tools.log" >&2
  exit 1
fi
# softflowd's package starts a daemon on install where an init system runs; the test runs its own instance.
command -v tshark >/dev/null 2>&1 && command -v softflowd >/dev/null 2>&1
