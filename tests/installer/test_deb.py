"""The Linux package as a user gets it: ``installer/build.sh --deb`` builds it, dpkg
installs it into this system, the menu's command starts the installed app without a
screen (its embedded server, sign-in, search and a picture of the window), and dpkg
removes it again without a trace.

The build reuses the PyInstaller runtime and the finished package cached under
~/.cache/desktop_care/installer/ (installer/package.py says by which keys); a cold
cache freezes the runtime first, which takes minutes (docs/installing.md).
Needs root and dpkg, as on the project's machines and in CI. A desktop-care package
installed on the machine before the test is replaced, then removed with it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_care import __version__
from desktop_care.ui.qt import QImage
from tests.support.servers import REPO

PACKAGE = "desktop-care"
INSTALLED_FILES = (
    Path("/opt/desktop-care/desktop-care"),
    Path("/usr/bin/desktop-care"),
    Path("/usr/share/applications/desktop-care.desktop"),
    Path("/usr/share/icons/hicolor/256x256/apps/desktop-care.png"),
    Path("/usr/share/icons/hicolor/scalable/apps/desktop-care.svg"),
)
# A cold cache freezes the runtime with PyInstaller (minutes on a loaded machine).
BUILD_TIMEOUT = 1800


def run(*args: str | Path, timeout: float = 300, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          check=False, **kwargs)  # type: ignore[call-overload]


def installed_version() -> str | None:
    result = run("dpkg-query", "-W", "-f", "${Status} ${Version}", PACKAGE)
    return result.stdout.split()[-1] if result.returncode == 0 and "installed" in result.stdout.split() else None


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> Path:
    assert os.geteuid() == 0 and shutil.which("dpkg"), "the package test needs root and dpkg (as CI has)"
    out = tmp_path_factory.mktemp("deb")
    env = dict(os.environ, PYTHON=sys.executable)
    result = run(REPO / "installer" / "build.sh", "--deb", "--out", out, timeout=BUILD_TIMEOUT, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr[-4000:]
    built = Path(result.stdout.strip().splitlines()[-1])
    assert built == out / f"{PACKAGE}_{__version__}_{run('dpkg', '--print-architecture').stdout.strip()}.deb"
    return built


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[Path]:
    """The package installed with dpkg, one test run at a time on this machine."""
    lock_path = Path.home() / ".cache" / "desktop_care" / "installer" / ".dpkg-test.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = run("dpkg", "-i", deb)
        assert result.returncode == 0, result.stdout + result.stderr
        try:
            yield deb
        finally:  # the test removes it; this is for a test that failed half-way
            if installed_version() is not None:
                run("dpkg", "--purge", PACKAGE)


@pytest.mark.timeout(BUILD_TIMEOUT + 600)
def test_the_package_installs_starts_and_goes_away(installed: Path, tmp_path: Path) -> None:
    # What the package says about itself: the version of desktop_care.__version__, and
    # the system libraries the bundle links to (not shipped in it) as dependencies.
    fields = run("dpkg-deb", "-f", installed, "Version", "Depends").stdout
    assert f"Version: {__version__}" in fields
    depends = fields.split("Depends:", 1)[1]
    for library_package in ("libc6", "libegl1", "libgl1", "libxcb1", "fonts-dejavu-core"):
        assert library_package in depends, fields
    assert installed_version() == __version__

    for path in INSTALLED_FILES:
        assert path.exists(), f"{path} was not installed"
    assert shutil.which("desktop-care", path="/usr/bin") == "/usr/bin/desktop-care"

    # The menu entry is valid and names the installed command and icon.
    entry = Path("/usr/share/applications/desktop-care.desktop").read_text(encoding="utf-8")
    assert "\nExec=desktop-care\n" in entry and "\nIcon=desktop-care\n" in entry and "\nName=Desktop Care\n" in entry
    validate = run("desktop-file-validate", "/usr/share/applications/desktop-care.desktop")
    assert validate.returncode == 0 and not validate.stdout.strip(), validate.stdout + validate.stderr
    # The icon is a 256-pixel PNG, and the icon theme's cache lists it (postinst).
    assert png_size(Path("/usr/share/icons/hicolor/256x256/apps/desktop-care.png")) == (256, 256)
    icon_cache = Path("/usr/share/icons/hicolor/icon-theme.cache")
    if shutil.which("gtk-update-icon-cache") and Path("/usr/share/icons/hicolor/index.theme").exists():
        assert b"desktop-care" in icon_cache.read_bytes()

    # Started as the menu starts it, far from the sources: nothing of the repository or
    # its environment may be what runs.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
           "DESKTOP_CARE_DATA_DIR": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen",
           "QTWEBENGINE_DISABLE_SANDBOX": "1"}
    said = run("desktop-care", "--version", env=env, cwd=tmp_path)
    assert said.stdout.strip() == f"desktop-care {__version__}", said.stdout + said.stderr
    shot = tmp_path / "window.png"
    started = run("desktop-care", "--screenshot", shot, env=env, cwd=tmp_path)
    logs = "".join(p.read_text(errors="replace") for p in sorted((tmp_path / "data").rglob("*.log")))
    assert started.returncode == 0 and shot.is_file(), started.stdout + started.stderr + logs
    image = QImage(str(shot))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 500, (image.width(), image.height())
    # A real window, not a blank one: the search results draw many colours.
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20, f"the window looks blank ({len(colours)} colours)"
    if os.environ.get("DESKTOP_CARE_SHOTS"):  # to look at it
        shutil.copyfile(shot, Path(os.environ["DESKTOP_CARE_SHOTS"]) / "installed-window.png")

    removed = run("dpkg", "--purge", PACKAGE)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert installed_version() is None
    for path in INSTALLED_FILES:
        assert not path.exists() and not path.is_symlink(), f"{path} is still there after removal"
    assert not Path("/opt/desktop-care").exists()
