#!/usr/bin/env bash
# Builds the macOS app and its disk image: dist/Desktop Care.app, dist/desktop-care-<version>.dmg.
#
#   installer/macos/build.sh
#
# Needs Python 3.11 (python3.11 on PATH, or PYTHON=...) and Xcode's command line tools
# (codesign, hdiutil: part of macOS). Makes a build environment in .venv-build/ from
# constraints.txt, freezes the app with installer/desktop_care.spec (its BUNDLE step
# makes the .app, version from desktop_care.__version__), checks that it answers
# --version, signs it, and puts it in a compressed .dmg beside a link to Applications.
#
# Signing is ready for a Developer ID: set MACOS_SIGN_IDENTITY ("Developer ID
# Application: ...", in the keychain) and the app is signed with the hardened runtime
# and installer/macos/entitlements.plist (QtWebEngine needs JIT), ready for
# `xcrun notarytool submit --wait` and `xcrun stapler staple`. Without it the app gets
# an ad-hoc signature (runs here; Gatekeeper asks elsewhere).
# Built by CI (.github/workflows/installers.yml, macos-latest); not tested on the
# project's own machine, which is Linux.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"
export PYTHONHASHSEED=0

venv="$REPO/.venv-build"
if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3.11}" -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check -c constraints.txt pip setuptools
"$py" -m pip install --quiet --disable-pip-version-check --no-build-isolation -c constraints.txt ".[build]"

version=$("$py" installer/package.py version)
if tag=$(git describe --exact-match --tags --match 'v*' HEAD 2>/dev/null); then
    [[ "$tag" == "v$version" ]] || { echo "error: HEAD is tagged $tag but __version__ is $version" >&2; exit 1; }
fi

"$py" -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
    installer/desktop_care.spec
app="dist/Desktop Care.app"
said=$("$app/Contents/MacOS/desktop-care" --version)
[[ "$said" == "desktop-care $version" ]] || { echo "error: the built app says '$said'" >&2; exit 1; }

identity="${MACOS_SIGN_IDENTITY:--}"  # "-": ad hoc
sign_args=(--force --deep --timestamp=none --sign "$identity")
if [[ "$identity" != "-" ]]; then
    sign_args=(--force --deep --timestamp --options runtime --entitlements installer/macos/entitlements.plist
               --sign "$identity")
fi
codesign "${sign_args[@]}" "$app"
codesign --verify --deep --strict "$app"

dmg="dist/desktop-care-$version.dmg"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
rm -f "$dmg"
hdiutil create -volname "Desktop Care $version" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$dmg"
if [[ "$identity" != "-" ]]; then
    codesign --timestamp --sign "$identity" "$dmg"
fi
shasum -a 256 "$dmg"
