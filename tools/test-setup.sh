#!/usr/bin/env bash
# The system packages the test suite needs on a fresh Debian machine: Chromium for the browser tests
# (Playwright drives Debian's /usr/bin/chromium; it cannot download its own browsers here).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "tools/test-setup.sh: installing Debian's chromium for the browser tests" >&2
$sudo apt-get install -y -qq chromium >/dev/null 2>&1 || { $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null; }
