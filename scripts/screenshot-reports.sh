#!/usr/bin/env bash
# Renders every .html report in a folder (an outbox, a --preview folder, `baton demo --out`)
# to a PNG at 600 px wide with headless Chromium, to look at them as an owner would.
# Not run in CI. Needs the Debian package `chromium` (apt-get install chromium).
#
#   scripts/screenshot-reports.sh preview/            # writes preview/<name>.png
#   WIDTH=400 scripts/screenshot-reports.sh preview/  # a narrow phone-like view
set -euo pipefail
dir="${1:?usage: $0 DIR-with-.html-reports}"
width="${WIDTH:-600}"
height="${HEIGHT:-2400}"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "chromium not found: apt-get install chromium" >&2
  exit 2
fi
shopt -s nullglob
files=("$dir"/*.html)
if [ ${#files[@]} -eq 0 ]; then
  echo "no .html files in $dir" >&2
  exit 2
fi
for html in "${files[@]}"; do
  png="${html%.html}.png"
  # The window is the mail client's reading pane: 600 px wide (plus the page margins).
  "$browser" --headless --disable-gpu --no-sandbox --hide-scrollbars \
    --force-device-scale-factor=1 --window-size="$((width + 16)),$height" \
    --screenshot="$png" "file://$(realpath "$html")" >/dev/null 2>&1
  echo "$png"
done
