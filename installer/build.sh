#!/usr/bin/env bash
# Builds the one-folder desktop app (dist/desktop-care/) or its Debian package.
#
#   installer/build.sh             the app folder, then a check that it starts
#   installer/build.sh --deb       dist/desktop-care_<version>_<arch>.deb (installer/package.py)
#   installer/build.sh --deb --out DIR      the .deb into DIR
#   installer/build.sh --fresh ...          rebuild the PyInstaller runtime even if cached
#   installer/build.sh --deb --reproducible  also package a second time, uncached, and compare
#   PYTHON=/path/to/venv/bin/python installer/build.sh   freeze another environment
#
# PyInstaller never goes into the environment it freezes (by default ./dev's shared
# one): it runs from a small build environment of its own,
# ~/.cache/desktop_care/build-venv-<hash>, which sees that environment's packages
# through a .pth file. Its output, the "runtime", is cached by a key of everything but
# our own files (installer/package.py says what); our files are copied over it fresh.
#
# Reproducible from a tag: SOURCE_DATE_EPOCH defaults to the time of the newest commit
# that changed the package's inputs (desktop_care/, resources/, installer/, the pins), and
# when HEAD carries a v* tag it must be v<desktop_care.__version__>. The same inputs
# give the same .deb, byte for byte.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/desktop_care"
cd "$REPO"

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

deb=0 check=1 fresh=0 reproducible=0 out="$REPO/dist"
while (($#)); do
    case "$1" in
        --deb) deb=1 ;;
        --no-check) check=0 ;;
        --fresh) fresh=1 ;;
        --reproducible) reproducible=1 ;;
        --out) out=$(mkdir -p "$2" && cd "$2" && pwd); shift ;;
        -h | --help) sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
done

if [[ -z "${PYTHON:-}" ]]; then
    PYTHON="$(./dev env)/bin/python"  # builds (or reuses) the shared environment
fi

# --- the build environment ----------------------------------------------------------------
pins=$(grep -E '^(pyinstaller|pyinstaller-hooks-contrib|altgraph)==' constraints.txt | sort)
[[ $(wc -l <<<"$pins") -eq 3 ]] || die "constraints.txt must pin pyinstaller, pyinstaller-hooks-contrib and altgraph"
frozen_site=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("purelib")); print(sysconfig.get_path("platlib"))' | sort -u)
build_hash=$(printf '%s\n' "$("$PYTHON" -c 'import sys; print(sys.prefix, sys.version)')" "$frozen_site" "$pins" \
    | sha256sum | cut -c1-12)
BUILD_VENV="$CACHE/build-venv-$build_hash"
mkdir -p "$CACHE/installer"
exec 8>"$CACHE/installer/.lock"  # one build at a time on a machine (shared caches)
flock 8
if [[ ! -f "$BUILD_VENV/.complete" ]]; then
    step "creating the build environment $BUILD_VENV"
    rm -rf "$BUILD_VENV"
    "$PYTHON" -m venv --without-pip "$BUILD_VENV"
    site=$("$BUILD_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    # Plain path lines: the frozen environment's packages, not its .pth hooks (an
    # editable install there may point at another clone; the spec adds this one).
    printf '%s\n' "$frozen_site" >"$site/_frozen_environment.pth"
    # shellcheck disable=SC2086  # one pin a word
    "$PYTHON" -m pip --python "$BUILD_VENV/bin/python" install --quiet --no-input \
        --disable-pip-version-check $pins
    touch "$BUILD_VENV/.complete"
fi
BUILD_PY="$BUILD_VENV/bin/python"
# Old build environments (another frozen environment or other pins): keep the newest two.
find "$CACHE" -mindepth 1 -maxdepth 1 -name 'build-venv-*' -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2- \
    | tail -n +3 | while IFS= read -r old; do [[ "$old" == "$BUILD_VENV" ]] || rm -rf "$old"; done
touch "$BUILD_VENV"

# --- version and time stamp ---------------------------------------------------------------
version=$("$BUILD_PY" installer/package.py version)
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
    # The newest commit that changed what goes into the package: a commit of tests or
    # docs alone leaves the package (and its cache) as it was.
    SOURCE_DATE_EPOCH=$(git -C "$REPO" log -1 --format=%ct -- desktop_care resources installer \
        constraints.txt pyproject.toml 2>/dev/null) && [[ -n "$SOURCE_DATE_EPOCH" ]] \
        || die "not a git checkout: set SOURCE_DATE_EPOCH (seconds since 1970) for the files' times"
fi
export SOURCE_DATE_EPOCH
if tag=$(git -C "$REPO" describe --exact-match --tags --match 'v*' HEAD 2>/dev/null); then
    [[ "$tag" == "v$version" ]] || die "HEAD is tagged $tag but desktop_care.__version__ is $version"
fi

# --- the PyInstaller runtime (cached) -----------------------------------------------------
key=$("$BUILD_PY" installer/package.py runtime-key)
runtime="$CACHE/installer/runtime-$key"
if ((fresh)) || [[ ! -f "$runtime/.complete" ]]; then
    step "freezing the runtime with PyInstaller ($runtime)"
    work=$(mktemp -d -p "$CACHE/installer" freeze.XXXXXX)
    started=$SECONDS
    # A fixed hash seed: PyInstaller's own output then does not vary with set order.
    PYTHONHASHSEED=0 "$BUILD_PY" -m PyInstaller --noconfirm --clean --log-level WARN \
        --distpath "$work/dist" --workpath "$work/build" installer/desktop_care.spec
    rm -rf "$runtime"
    mv "$work/dist/desktop-care" "$runtime"
    rm -rf "$work"
    touch "$runtime/.complete"
    step "runtime frozen in $((SECONDS - started)) s"
    # Runtimes of older keys: keep the newest two.
    find "$CACHE/installer" -mindepth 1 -maxdepth 1 -name 'runtime-*' -printf '%T@ %p\n' | sort -rn \
        | cut -d' ' -f2- | tail -n +3 | while IFS= read -r old; do [[ "$old" == "$runtime" ]] || rm -rf "$old"; done
else
    step "reusing the runtime $runtime"
fi
touch "$runtime"

if ((deb)); then
    arch=$(dpkg --print-architecture)
    name="desktop-care_${version}_${arch}.deb"
    package_key=$("$BUILD_PY" installer/package.py package-key --epoch "$SOURCE_DATE_EPOCH")
    cached="$CACHE/installer/deb-$package_key/$name"
    if [[ ! -f "$cached" ]]; then
        step "packaging $name"
        started=$SECONDS
        mkdir -p "$(dirname "$cached")"
        "$BUILD_PY" installer/package.py deb --epoch "$SOURCE_DATE_EPOCH" "$runtime" "$cached" >/dev/null
        step "packaged in $((SECONDS - started)) s"
        find "$CACHE/installer" -mindepth 1 -maxdepth 1 -name 'deb-*' -printf '%T@ %p\n' | sort -rn \
            | cut -d' ' -f2- | tail -n +3 | while IFS= read -r old; do rm -rf "$old"; done
    else
        step "reusing the package built from the same inputs ($cached)"
    fi
    touch "$(dirname "$cached")"
    if ((reproducible)); then
        step "packaging again to compare"
        again=$(mktemp -d -p "$CACHE/installer" again.XXXXXX)
        "$BUILD_PY" installer/package.py deb --epoch "$SOURCE_DATE_EPOCH" "$runtime" "$again/$name" >/dev/null
        cmp -s "$cached" "$again/$name" || { rm -rf "$again"; die "two packagings of the same inputs differ"; }
        rm -rf "$again"
        step "the same bytes twice"
    fi
    cp "$cached" "$out/$name"
    printf '%s\n' "$out/$name"
    printf '    %s\n' "sha256: $(sha256sum "$out/$name" | cut -d' ' -f1)" "size: $(du -h "$out/$name" | cut -f1)" >&2
    exit 0
fi

# --- the app folder -----------------------------------------------------------------------
readonly DIST="$out/desktop-care"
step "assembling $DIST"
rm -rf "$DIST"
"$BUILD_PY" installer/package.py folder --epoch "$SOURCE_DATE_EPOCH" "$runtime" "$DIST"
install -Dm644 installer/desktop-care.desktop "$DIST/share/applications/desktop-care.desktop"
install -Dm644 resources/icon-256.png "$DIST/share/icons/hicolor/256x256/apps/desktop-care.png"
install -Dm644 resources/icon.svg "$DIST/share/icons/hicolor/scalable/apps/desktop-care.svg"
printf '%s\n' "$DIST"
((check)) || exit 0

step "checking the built app"
app_version=$("$DIST/desktop-care" --version)
[[ "$app_version" == "desktop-care $version" ]] || die "the built app says '$app_version', not $version"
# End to end, without a screen: the app starts its embedded server (the same executable
# with --run-server), which migrates and seeds a fresh database; the app signs in,
# searches and saves a picture of its window.
smoke=$(mktemp -d -t desktop-care-smoke.XXXXXX)
trap 'rm -rf "$smoke"' EXIT
if ! DESKTOP_CARE_DATA_DIR="$smoke/data" QT_QPA_PLATFORM=offscreen QTWEBENGINE_DISABLE_SANDBOX=1 \
    timeout 300 "$DIST/desktop-care" --screenshot "$smoke/window.png" >"$smoke/app.log" 2>&1 \
    || [[ ! -s "$smoke/window.png" ]]; then
    cat "$smoke/app.log" "$smoke"/data/logs/*.log >&2 2>/dev/null || true
    die "the built app did not show its window"
fi
printf '    %s\n' "$app_version" "embedded server, sign-in and search: ok" "size: $(du -sh "$DIST" | cut -f1)" >&2
