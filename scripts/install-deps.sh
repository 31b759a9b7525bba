#!/usr/bin/env bash
# Installs the system packages Latchkey needs to build and test, idempotently.
# Safe to run again: it only calls apt-get when a package is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential pkg-config curl file git
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev
  libdbus-1-dev
  # the real keychain (Secret Service) for tests and for running on a headless box
  gnome-keyring dbus dbus-x11
  # a real display for the desktop window tests
  xvfb x11-utils xclip
  # xdotool presses the global search shortcut in the desktop end-to-end test
  xdotool
  # WebKitWebDriver, which tauri-driver drives for the end-to-end test of the menu window
  webkit2gtk-driver
)

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  echo "install-deps: Rust is missing; installing rustup (the pinned toolchain comes from rust-toolchain.toml)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain none
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} system packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
