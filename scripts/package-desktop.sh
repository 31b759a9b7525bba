#!/usr/bin/env bash
# Builds Latchkey's Linux bundles with the Tauri CLI (ui/node_modules/.bin/tauri):
#   1. a .deb (`tauri build --bundles deb`), then checks what is inside it: the
#      binary, the desktop file registering x-scheme-handler/latchkey, the icons;
#   2. an AppImage (`tauri bundle --bundles appimage`, reusing that build).
# The AppImage bundler needs linuxdeploy and AppRun, which Tauri downloads from
# GitHub into its tools folder on first use; no package registry ships them. When
# they can't be had, the script says exactly which files are missing and where to
# put them, and still exits 0 for the .deb (REQUIRE_APPIMAGE=1 makes it an error).
# See docs/packaging.md.
#
#   scripts/package-desktop.sh          # or: make package
#
# Env: CARGO_TARGET_DIR (bundles land in $CARGO_TARGET_DIR/release/bundle/),
#      XDG_CACHE_HOME (Tauri keeps the AppImage tools in $XDG_CACHE_HOME/tauri,
#      default ~/.cache/tauri), REQUIRE_APPIMAGE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
TAURI="$ROOT/ui/node_modules/.bin/tauri"
[ -x "$TAURI" ] || scripts/install-ui-deps.sh
BUNDLE="$CARGO_TARGET_DIR/release/bundle"
VERSION="$(python3 -c 'import json; print(json.load(open("tauri.conf.json"))["version"])')"

say() { printf 'package-desktop: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# Update artifacts (.sig files, docs/updates.md) need the update key's secret half. Without
# it the bundles are built without them, and say so, rather than failing.
UPDATER=()
if [ -z "${TAURI_SIGNING_PRIVATE_KEY:-}" ]; then
  say "TAURI_SIGNING_PRIVATE_KEY is not set: building without update signatures (docs/updates.md)"
  UPDATER=(--config '{"bundle":{"createUpdaterArtifacts":false}}')
fi

# ---- 1. the .deb -----------------------------------------------------------
say "building the release binary and the .deb (tauri build --bundles deb)"
"$TAURI" build --ci --bundles deb "${UPDATER[@]}"
deb="$BUNDLE/deb/Latchkey_${VERSION}_amd64.deb"
[ -f "$deb" ] || fail "no .deb at $deb"

say "checking $deb"
listing="$(dpkg-deb -c "$deb")"
for path in usr/bin/latchkey-desktop usr/share/applications/Latchkey.desktop \
            usr/share/icons/hicolor/32x32/apps/latchkey-desktop.png \
            usr/share/icons/hicolor/128x128/apps/latchkey-desktop.png \
            usr/share/icons/hicolor/256x256@2/apps/latchkey-desktop.png; do
  grep -q " $path\$" <<<"$listing" || fail "$path is missing from the .deb"
done
info="$(dpkg-deb -I "$deb")"
grep -q '^ Package: latchkey' <<<"$info" || fail "unexpected package name"
# The tray loads libayatana-appindicator3 at run time and aborts without it; the
# CLI only adds that dependency for a tray declared in tauri.conf.json, so
# bundle.linux.deb.depends names it.
for dep in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1; do
  grep -q "^ Depends:.*$dep" <<<"$info" || fail "the .deb does not depend on $dep"
done
unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
desktop="$unpacked/usr/share/applications/Latchkey.desktop"
grep -qx 'MimeType=x-scheme-handler/latchkey' "$desktop" ||
  fail "the desktop file does not register x-scheme-handler/latchkey"
exec_line="$(grep '^Exec=' "$desktop")"
case "$exec_line" in
  *%u*|*%U*) ;;
  # Without a field code, GIO launches the app without the link (checked with `gio open`).
  *) fail "the desktop file's $exec_line has no %u: a latchkey:// link would not reach the app" ;;
esac
[ -x "$unpacked/usr/bin/latchkey-desktop" ] || fail "the binary is not executable"
say "the .deb holds the binary, the desktop file ($exec_line, MimeType=x-scheme-handler/latchkey) and the icons"

# ---- 2. the AppImage -------------------------------------------------------
# Tauri's AppImage bundler (tauri-bundler, linux/appimage/linuxdeploy.rs) first
# makes sure these are in its tools folder, downloading them when missing:
#   AppRun-x86_64                 github.com/tauri-apps/binary-releases (apprun-old)
#   linuxdeploy-x86_64.AppImage   github.com/tauri-apps/binary-releases (linuxdeploy)
# (plus, optionally, linuxdeploy-plugin-appimage; linuxdeploy falls back to its
# built-in one). Its gtk and gstreamer plugins are built into the CLI. Deep links
# also make it copy /usr/bin/xdg-mime (Debian's xdg-utils) into the AppDir.
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/tauri"
appimage="$BUNDLE/appimage/Latchkey_${VERSION}_amd64.AppImage"
appimage_log="$(mktemp)"
say "building the AppImage (tauri bundle --bundles appimage; tools in $TOOLS)"
appimage_ok=0
if "$TAURI" bundle --ci --bundles appimage "${UPDATER[@]}" >"$appimage_log" 2>&1 \
   && [ -f "$appimage" ]; then
  appimage_ok=1
fi
if [ "$appimage_ok" = 1 ]; then
  say "built $appimage"
else
  tail -n 15 "$appimage_log" | sed 's/^/  tauri: /' >&2
  missing=()
  for tool in AppRun-x86_64 linuxdeploy-x86_64.AppImage; do
    [ -s "$TOOLS/$tool" ] || missing+=("$tool")
  done
  [ -x /usr/bin/xdg-mime ] || missing+=("/usr/bin/xdg-mime (Debian package xdg-utils)")
  if [ ${#missing[@]} -gt 0 ]; then
    say "AppImage NOT built: missing ${missing[*]}."
    say "  Tauri downloads AppRun-x86_64 and linuxdeploy-x86_64.AppImage from"
    say "  github.com/tauri-apps/binary-releases; this machine reaches only the package"
    say "  registries, and none of them (Debian, PyPI, npm, crates.io) ships linuxdeploy."
    say "  Put both files (executable) into $TOOLS, e.g. copied from a machine"
    say "  that has run 'tauri build' with internet access, and run this script again."
  else
    say "AppImage NOT built although its tools are in $TOOLS: see the tauri output above."
  fi
  [ "${REQUIRE_APPIMAGE:-0}" = 1 ] && fail "REQUIRE_APPIMAGE=1 and no AppImage"
fi
rm -f "$appimage_log"

# ---- summary ---------------------------------------------------------------
say "artifacts:"
for f in "$deb" "$appimage"; do
  [ -f "$f" ] && printf '  %s  %s bytes (%s MB)\n' "$f" "$(stat -c %s "$f")" \
    "$(python3 -c "import sys; print(f'{int(sys.argv[1]) / 1e6:.2f}')" "$(stat -c %s "$f")")" >&2
done
exit 0
