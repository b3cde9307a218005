#!/usr/bin/env bash
# Opens a report (resdyn report's REPORTDIR/index.html) in headless Chromium, saves a
# screenshot of the whole page as REPORTDIR/screenshot.png, and fails (exit 1) if any
# figure did not load, any page error or console message was logged, or the page links to
# a file that does not exist. Usage: tools/check_report.sh REPORTDIR
#
# How it knows a figure loaded: the report has no scripts, so the check opens a small
# page of its own (in a temporary directory, never in the report) that shows the report
# in an iframe and, once everything has loaded, writes each <img>'s naturalWidth into its
# DOM. Chromium prints that DOM (--dump-dom; --virtual-time-budget lets every load finish
# first), and an image that is missing or not a valid SVG has naturalWidth 0. Reading the
# iframe's document from a file: page needs --allow-file-access-from-files. Page errors
# are the ":CONSOLE" lines Chromium logs with --enable-logging=stderr; the report itself
# never logs, so any such line fails the check. Installs the Debian package chromium when
# it is missing and we are root.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/index.html" ]; then
  echo "usage: tools/check_report.sh REPORTDIR (a directory with index.html)" >&2
  exit 2
fi
REPORT=$(cd "$1" && pwd)
PAGE=$REPORT/index.html
START=$(date +%s)

BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$BROWSER" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "check_report: installing chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    BROWSER=$(command -v chromium)
  else
    echo "check_report: chromium is not installed (Debian package chromium)" >&2
    exit 2
  fi
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# A file: URL of an absolute path (percent-encoding what a path may hold that a URL may not).
file_url() {
  local path=$1 out="" c i
  for ((i = 0; i < ${#path}; i++)); do
    c=${path:i:1}
    case $c in
      [A-Za-z0-9/._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf 'file://%s' "$out"
}

browse() {  # browse PROFILE_NAME ARGS... : a fresh profile each time, nothing from the network
  "$BROWSER" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-quic \
    --user-data-dir="$WORK/$1" --enable-logging=stderr --v=0 "${@:2}"
}

failures=0
fail() { echo "check_report: FAIL: $*" >&2; failures=$((failures + 1)); }

# 1. Links: every src and href of the page is an anchor or a relative file that exists.
while IFS= read -r target; do
  case $target in
    \#*) grep -q "id=\"${target#\#}\"" "$PAGE" || fail "anchor $target has no element" ;;
    /* | *:*) fail "not a relative link: $target" ;;
    *) [ -f "$REPORT/$target" ] || fail "links to a missing file: $target" ;;
  esac
done < <(grep -o -E '(src|href)="[^"]*"' "$PAGE" | sed -E 's/^(src|href)="(.*)"$/\2/' | sed 's/&amp;/\&/g')
expected=$( { grep -o '<img ' "$PAGE" || true; } | wc -l)

# 2. Every figure decoded, and no page errors: the iframe check page.
cat > "$WORK/check.html" <<EOF
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>report check</title></head><body>
<iframe id="report" src="$(file_url "$PAGE")" style="width:1280px;height:900px"></iframe>
<pre id="result">the check did not run</pre>
<script>
window.addEventListener('load', function () {
  var lines = [];
  try {
    var doc = document.getElementById('report').contentDocument;
    var images = doc.images;
    lines.push('images ' + images.length + ' height ' + doc.documentElement.scrollHeight);
    for (var i = 0; i < images.length; i++) {
      var ok = images[i].complete && images[i].naturalWidth > 0;
      lines.push((ok ? 'loaded ' : 'BROKEN ') + images[i].naturalWidth + 'x' + images[i].naturalHeight + ' ' +
                 images[i].getAttribute('src'));
    }
  } catch (error) {
    lines.push('CHECK-ERROR ' + error);
  }
  document.getElementById('result').textContent = lines.join('\n');
});
</script>
</body></html>
EOF
browse check --allow-file-access-from-files --virtual-time-budget=20000 --dump-dom \
  "$(file_url "$WORK/check.html")" > "$WORK/dom.html" 2> "$WORK/check.log" || fail "chromium exited with status $?"
result=$(sed -n '/<pre id="result">/,/<\/pre>/p' "$WORK/dom.html" | sed -e 's/<pre id="result">//' -e 's/<\/pre>.*//')
summary=${result%%$'\n'*}
case $summary in
  "images $expected height "*) ;;
  *) fail "the page's images were not checked as expected (wanted $expected images): $summary" ;;
esac
while IFS= read -r line; do
  case $line in
    BROKEN* | CHECK-ERROR*) fail "$line" ;;
  esac
done <<< "$result"
loaded=$(printf '%s\n' "$result" | grep -c '^loaded ' || true)

# 3. The screenshot of the whole page (its height as the browser laid it out, at most 32000 px).
page_height=$(printf '%s\n' "$summary" | sed -n 's/.* height \([0-9]*\).*/\1/p')
page_height=${page_height:-4000}
height=$((page_height > 32000 ? 32000 : page_height))
browse shot --screenshot="$REPORT/screenshot.png" --window-size="1280,$height" --hide-scrollbars \
  --virtual-time-budget=20000 "$(file_url "$PAGE")" > "$WORK/shot.out" 2> "$WORK/shot.log" ||
  fail "chromium exited with status $? taking the screenshot"
[ -s "$REPORT/screenshot.png" ] || fail "no screenshot written"

# 4. Page errors and console messages of either visit.
if grep -h ':CONSOLE' "$WORK/check.log" "$WORK/shot.log" > "$WORK/console.txt"; then
  while IFS= read -r line; do fail "console: $line"; done < "$WORK/console.txt"
fi

echo "check_report: $loaded of $expected figures loaded; page ${page_height}px tall;" \
  "screenshot $REPORT/screenshot.png (1280x$height)" \
  "($(($(date +%s) - START)) s)"
if [ "$failures" -gt 0 ]; then
  echo "check_report: $failures problem(s) in $PAGE" >&2
  exit 1
fi
echo "check_report: OK"
