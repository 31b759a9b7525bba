#!/bin/sh
# Makes xdg-open hand http(s) URLs to the test browser even when DISPLAY / WAYLAND_DISPLAY is set.
#
# Why: with a display, xdg-open (generic desktop) first asks `xdg-mime` for the default handler of
# x-scheme-handler/http, which Debian's chromium package claims (chromium.desktop): a real, visible
# chromium would open and $BROWSER would never be used. Without a display, $BROWSER alone is enough.
#
# Usage: eval "$(testing/peers/xdg-default-browser.sh DIR)"
#   writes DIR/applications/{latchkey-test-browser.desktop,mimeapps.list} and prints
#   `export XDG_DATA_DIRS=DIR:<previous or default>` and `export BROWSER=<wrapper>` for the process
#   that opens the browser (e.g. the desktop app under Xvfb). HOME-level mimeapps.list files
#   (~/.config/mimeapps.list, ~/.local/share/applications/mimeapps.list) would still win: a test HOME
#   should not have them.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
mkdir -p "$1/applications"
dir=$(CDPATH= cd -- "$1" && pwd)
cat >"$dir/applications/latchkey-test-browser.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Latchkey test browser
Exec=$here/browser %u
MimeType=x-scheme-handler/http;x-scheme-handler/https;
NoDisplay=true
DESKTOP
cat >"$dir/applications/mimeapps.list" <<LIST
[Default Applications]
x-scheme-handler/http=latchkey-test-browser.desktop
x-scheme-handler/https=latchkey-test-browser.desktop
LIST
printf "export XDG_DATA_DIRS='%s:%s'\n" "$dir" "${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"
printf "export BROWSER='%s/browser'\n" "$here"
