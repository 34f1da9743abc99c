#!/usr/bin/env bash
# Runs a command with WebGPU available on a machine without a GPU: Dawn (npm `webgpu`) in Node and headless
# Chromium both use SwiftShader's Vulkan driver, which Debian's `chromium` package ships. Dawn needs a Vulkan loader:
# Debian's libvulkan1 if installed, else the copy inside /usr/lib/chromium.
# On a machine with a real GPU and a Vulkan driver, set WEBGPU_NATIVE=1 to leave the environment alone.
set -euo pipefail
if [ "${WEBGPU_NATIVE:-0}" != "1" ]; then
  icd=/usr/lib/chromium/vk_swiftshader_icd.json
  if [ ! -f "$icd" ]; then echo "webgpu-env: $icd missing; run 'npm run setup' (installs Debian's chromium)" >&2; exit 1; fi
  export VK_ICD_FILENAMES="$icd"
  export LD_LIBRARY_PATH="/usr/lib/chromium${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
export PATH="$(cd "$(dirname "$0")/.." && pwd)/node_modules/.bin:$PATH"
exec "$@"
