#!/usr/bin/env bash
# Installs what is missing on a fresh Debian machine (root): Chromium (brings SwiftShader's Vulkan driver, used for
# WebGPU without a GPU, and the browser the e2e tests drive) and the npm packages from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] || [ ! -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
  echo "setup: installing Debian's chromium (SwiftShader WebGPU + headless browser)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
stamp=node_modules/.setup-stamp
if [ -L node_modules ]; then
  # A link to a shared install (a git worktree using another checkout's packages): npm ci would empty the folder it
  # points to under every checkout that shares it. Left alone; install in the checkout that owns it.
  :
elif [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
