#!/usr/bin/env bash
# Installs what tests/test_gallery_browser.py needs: Debian's chromium and
# chromium-driver (headless Chromium and its WebDriver; selenium comes with
# the dev extra). Without them the browser test is skipped with the reason.
set -euo pipefail

have_browser() {
  command -v chromedriver >/dev/null 2>&1 && \
    { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
}

if ! have_browser; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "install-browser: no apt-get here; the browser test will be skipped" >&2
  fi
fi
if have_browser; then
  echo "install-browser: $(chromium --version 2>/dev/null || chromium-browser --version), $(chromedriver --version | head -c 60)"
fi
