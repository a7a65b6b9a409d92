#!/usr/bin/env bash
# Builds the one-folder desktop app into dist/desktop-care/ and checks that it starts.
#
#   installer/build.sh            build with ./dev's environment (made if missing)
#   PYTHON=/path/to/python installer/build.sh   build with another environment
#
# The folder holds the `desktop-care` executable (app and embedded server), its
# libraries, and the Linux desktop entry and icon to install beside it, e.g.:
#   cp -r dist/desktop-care /opt/ && ln -s /opt/desktop-care/desktop-care /usr/local/bin/
#   install -Dm644 dist/desktop-care/share/applications/desktop-care.desktop \
#       ~/.local/share/applications/desktop-care.desktop
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly DIST="$REPO/dist/desktop-care"
cd "$REPO"

step() { printf '==> %s\n' "$*" >&2; }

if [[ -z "${PYTHON:-}" ]]; then
    # ./dev builds (or reuses) the shared environment; it prints where it is.
    venv=$(./dev env)
    PYTHON="$venv/bin/python"
fi

step "installing the build tools into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
"$PYTHON" -m pip install --quiet --no-input --disable-pip-version-check \
    --no-build-isolation -c constraints.txt -e "${REPO}[build]"

step "building $DIST"
started=$SECONDS
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$REPO/dist" --workpath "$REPO/build/pyinstaller" \
    installer/desktop_care.spec
build_seconds=$((SECONDS - started))

install -Dm644 installer/desktop-care.desktop "$DIST/share/applications/desktop-care.desktop"
install -Dm644 resources/icon-256.png "$DIST/share/icons/hicolor/256x256/apps/desktop-care.png"
install -Dm644 resources/icon.svg "$DIST/share/icons/hicolor/scalable/apps/desktop-care.svg"

step "checking the built app"
version=$("$DIST/desktop-care" --version)
# End to end, without a screen: the app starts its embedded server (the same executable
# with --run-server), which migrates and seeds a fresh database; the app signs in,
# searches and saves a picture of its window.
smoke=$(mktemp -d -t desktop-care-smoke.XXXXXX)
trap 'rm -rf "$smoke"' EXIT
if ! DESKTOP_CARE_DATA_DIR="$smoke/data" QT_QPA_PLATFORM=offscreen QTWEBENGINE_DISABLE_SANDBOX=1 \
    timeout 300 "$DIST/desktop-care" --screenshot "$smoke/window.png" >"$smoke/app.log" 2>&1 \
    || [[ ! -s "$smoke/window.png" ]]; then
    cat "$smoke/app.log" "$smoke"/data/logs/*.log >&2 2>/dev/null || true
    printf 'error: the built app did not show its window\n' >&2
    exit 1
fi
printf '    %s\n' "desktop-care --version: $version" "embedded server, sign-in and search: ok" \
    "size: $(du -sh "$DIST" | cut -f1)" "build time: ${build_seconds}s" >&2
