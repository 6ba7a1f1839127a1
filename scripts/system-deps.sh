#!/usr/bin/env bash
# Debian packages the tests need: a real browser, a software Vulkan renderer, a virtual screen,
# and a PostgreSQL server. Installs them when run as root, otherwise names what is missing.
set -euo pipefail
PKGS=(chromium mesa-vulkan-drivers libvulkan1 xvfb xauth xdotool x11-utils postgresql
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libgl1 libegl1 ffmpeg poppler-utils)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ]; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing system packages: ${missing[*]}"
  echo "Install them with: sudo apt-get install -y ${missing[*]}"
  echo "(tests that need them are skipped with a reason until then)"
fi
