#!/usr/bin/env bash
# Debian packages the tests use: bubblewrap (the sandbox) and chromium (the browser tests).
# Installed only when missing and when we may (root with apt); otherwise the tests that need
# them skip with a reason.
set -u
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ -x /usr/bin/chromium ] || missing+=(chromium)  # the browser tests (tests/test_web_browser.py)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || echo "could not install: ${missing[*]}"
fi
exit 0
