"""The Linux package of desktop_care, from a PyInstaller runtime (installer/build.sh).

A PyInstaller build takes 2 minutes of CPU (10 on a loaded 2-core machine), nearly all
of it spent on Qt and the other libraries, which change only with the pins. So the
build has two layers:

* the **runtime**: PyInstaller's one-folder output of ``desktop_care.spec``, cached
  under ``~/.cache/desktop_care/installer/runtime-<key>/``. The key covers everything
  that decides its contents apart from our own files: the spec and the launcher, the
  Python, every installed distribution with its version, and every module our package
  imports (a new ``import`` rebuilds it, since PyInstaller follows imports);
* our **own files**, copied fresh each time over the runtime's copy of them:
  ``desktop_care/`` (sources, migrations, templates; compiled here into
  ``__pycache__`` with hash-checked ``.pyc``) and ``resources/``.

``deb`` then lays the app out the Debian way and builds the ``.deb`` with
``dpkg-deb``, reproducibly: every file's time is ``SOURCE_DATE_EPOCH``, owners are
root, permissions are normalised, ``dpkg-deb`` sorts the members. The finished
``.deb`` is cached too, keyed by the runtime key and a hash of every input file, so a
test run on unchanged sources only installs it.

Standard library only; run with any Python >= 3.11 (build.sh uses the build
environment's, which must match the runtime's for the compiled files).
"""

from __future__ import annotations

import argparse
import ast
import compileall
import hashlib
import json
import os
import platform
import py_compile
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_NAME = "desktop-care"
#: Where the app folder goes on the installed system.
INSTALL_DIR = Path("opt") / PACKAGE_NAME
#: The app's own parts inside the runtime folder, replaced by fresh copies.
OWN_TREES = ("desktop_care", "resources")
#: Bump to throw away every cached runtime and package (a change in how they are made).
LAYOUT = "1"
#: Packages the bundle needs besides the shared libraries found by ``needed_packages``:
#: a font for every text (the bundle has fontconfig but no fonts).
EXTRA_DEPENDS = ("fonts-dejavu-core | fonts-liberation2",)
SKIPPED_NAMES = {"__pycache__", ".mypy_cache", ".pytest_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "desktop_care" / "installer"


# --- what goes in, and the keys --------------------------------------------------------


def own_files(root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """(path inside the app folder, file) of our own files, in a fixed order."""
    for tree in OWN_TREES:
        base = root / tree
        for directory, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_NAMES)
            for name in sorted(files):
                path = Path(directory) / name
                if path.suffix not in SKIPPED_SUFFIXES:
                    yield f"{tree}/{path.relative_to(base).as_posix()}", path


def imported_modules(package: Path) -> list[str]:
    """Every absolute import in the package's sources (also those inside functions),
    our own excepted: what PyInstaller follows into the runtime."""
    found: set[str] = set()
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return sorted(name for name in found if name.split(".")[0] != "desktop_care")


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def runtime_key(root: Path = ROOT) -> str:
    """The PyInstaller runtime's cache key (see the module's docstring)."""
    distributions = sorted({f"{d.metadata['Name']}=={d.version}".lower() for d in metadata.distributions()
                            if d.metadata["Name"] and d.metadata["Name"].lower() != PACKAGE_NAME})
    return digest({
        "layout": LAYOUT,
        "spec": (root / "installer" / "desktop_care.spec").read_text(encoding="utf-8"),
        "launcher": (root / "installer" / "launcher.py").read_text(encoding="utf-8"),
        "python": [sys.version, platform.machine(), platform.libc_ver()],
        "distributions": distributions,
        "imports": imported_modules(root / "desktop_care"),
    })


def files_digest(files: Iterable[tuple[str, Path]]) -> str:
    sha = hashlib.sha256()
    for name, path in files:
        sha.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        sha.update(b"x" if os.access(path, os.X_OK) else b"-")
    return sha.hexdigest()[:16]


def package_key(runtime: str, version: str, epoch: int, root: Path = ROOT) -> str:
    """The finished package's cache key: the runtime, our files, the packaging files."""
    packaging = [(f"installer/{name}", root / "installer" / name)
                 for name in ("package.py", "build.sh", "desktop-care.desktop")]
    return digest({"runtime": runtime, "version": version, "epoch": epoch,
                   "files": files_digest([*own_files(root), *packaging])})


def package_version(root: Path = ROOT) -> str:
    """desktop_care.__version__, read without importing the package."""
    for node in ast.parse((root / "desktop_care" / "__init__.py").read_bytes()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__version__":
            return str(ast.literal_eval(node.value))
    raise SystemExit("package.py: no __version__ in desktop_care/__init__.py")


# --- the app folder ----------------------------------------------------------------------


def assemble(runtime: Path, target: Path, epoch: int, root: Path = ROOT) -> None:
    """The app folder at ``target``: the runtime with our current files in it."""
    shutil.copytree(runtime, target, symlinks=True, ignore=lambda _d, names: [n for n in names if n == ".complete"]
                    if _d == str(runtime) else [])
    internal = target / "_internal"
    for tree in OWN_TREES:
        shutil.rmtree(internal / tree, ignore_errors=True)
    for name, path in own_files(root):
        destination = internal / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    # Compiled once here: an installed app cannot write beside itself. Hash-checked
    # .pyc files hold no time stamps (reproducible) and still notice an edited source.
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    ok = compileall.compile_dir(internal / "desktop_care", quiet=1, workers=1,
                                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
                                stripdir=str(internal), prependdir=str(Path("/") / INSTALL_DIR / "_internal"))
    if not ok:
        raise SystemExit("package.py: our sources did not compile")


# --- the Debian package ------------------------------------------------------------------


def elf_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield path


def needed_packages(app: Path) -> list[str]:
    """The Debian packages holding the shared libraries the bundle links to but does
    not carry (C library, OpenGL/EGL, Wayland, xcb...), found with ldd as the bundle's
    loader would resolve them and looked up in dpkg's database."""
    env = dict(os.environ, LD_LIBRARY_PATH=str(app / "_internal"))
    outside: set[str] = set()
    for path in elf_files(app):
        result = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env, check=False)
        for line in result.stdout.splitlines():
            parts = line.split()
            if "=>" in parts and parts[-1].startswith("("):
                resolved = parts[parts.index("=>") + 1]
                if resolved == "not":
                    raise SystemExit(f"package.py: {path.relative_to(app)} needs {parts[0]}, found nowhere")
                if not Path(resolved).resolve().is_relative_to(app.resolve()):
                    outside.add(str(Path(resolved).resolve()))
    packages: set[str] = set()
    for library in sorted(outside):
        owner = None
        for candidate in (library, library.replace("/usr/lib/", "/lib/", 1)):
            result = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True, check=False)
            if result.returncode == 0:
                owner = result.stdout.split(":")[0].strip()
                break
        if owner is None:
            raise SystemExit(f"package.py: no Debian package holds {library} (the bundle links to it)")
        packages.add(owner)
    return sorted(packages)


def control_text(version: str, depends: list[str], installed_kib: int) -> str:
    architecture = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                                  check=True).stdout.strip()
    return "\n".join([
        f"Package: {PACKAGE_NAME}",
        f"Version: {version}",
        f"Architecture: {architecture}",
        "Maintainer: desktop_care developers <desktop-care@localhost>",
        f"Installed-Size: {installed_kib}",
        f"Depends: {', '.join([*depends, *EXTRA_DEPENDS])}",
        "Recommends: hicolor-icon-theme",
        "Section: misc",
        "Priority: optional",
        "Description: customer care console for membership organisations",
        " Desktop Care finds a member, fixes their account and acts on their behalf,",
        " against a central server or its own embedded one with demo data. The app",
        " and its server are one self-contained folder in /opt/desktop-care.",
        "",
    ])


CACHE_SCRIPT = """#!/bin/sh
# The menus and icon themes see the new or removed entry at once (Debian's triggers do
# the same where desktop-file-utils or gtk-update-icon-cache are installed).
set -e
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q /usr/share/applications || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f /usr/share/icons/hicolor/index.theme ]; then
    gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
fi
exit 0
"""


def stage(app: Path, staging: Path, version: str, root: Path = ROOT) -> None:
    """The package's tree: the app, its command, desktop entry, icons, control files."""
    shutil.move(str(app), staging / INSTALL_DIR)
    (staging / "usr" / "bin").mkdir(parents=True)
    (staging / "usr" / "bin" / PACKAGE_NAME).symlink_to(Path("/") / INSTALL_DIR / PACKAGE_NAME)
    share = staging / "usr" / "share"
    install(root / "installer" / "desktop-care.desktop", share / "applications" / "desktop-care.desktop")
    for size in (32, 64, 256):
        install(root / "resources" / f"icon-{size}.png",
                share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "desktop-care.png")
    install(root / "resources" / "icon.svg", share / "icons" / "hicolor" / "scalable" / "apps" / "desktop-care.svg")
    doc = share / "doc" / PACKAGE_NAME
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Desktop Care\nCopyright: the desktop_care developers\nLicense: proprietary\n")
    debian = staging / "DEBIAN"
    debian.mkdir()
    for script in ("postinst", "postrm"):
        (debian / script).write_text(CACHE_SCRIPT)
        (debian / script).chmod(0o755)
    installed_kib = sum(-(-p.lstat().st_size // 1024) for p in staging.rglob("*") if not p.is_dir()) or 1
    depends = needed_packages(staging / INSTALL_DIR)
    (debian / "control").write_text(control_text(version, depends, installed_kib))


def install(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)


def normalise(staging: Path, epoch: int) -> None:
    """Same bytes from the same inputs: modes 755/644 (executables keep x), every
    time the epoch."""
    for path in [staging, *staging.rglob("*")]:
        if path.is_symlink():
            os.utime(path, (epoch, epoch), follow_symlinks=False)
            continue
        mode = path.lstat().st_mode
        path.chmod(0o755 if path.is_dir() or mode & 0o111 else 0o644)
    for path in [*staging.rglob("*"), staging]:  # children first would be undone: times last
        os.utime(path, (epoch, epoch), follow_symlinks=False)


def build_deb(runtime: Path, output: Path, epoch: int, root: Path = ROOT) -> Path:
    version = package_version(root)
    with tempfile.TemporaryDirectory(prefix="desktop-care-deb.", dir=output.parent) as work:
        staging = Path(work) / "root"
        staging.mkdir()
        app = Path(work) / "app"
        assemble(runtime, app, epoch, root)
        (staging / INSTALL_DIR).parent.mkdir(parents=True)
        stage(app, staging, version, root)
        normalise(staging, epoch)
        built = Path(work) / output.name
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zzstd", "-z3", "--build", str(staging), str(built)],
                       check=True, env=dict(os.environ, SOURCE_DATE_EPOCH=str(epoch)),
                       stdout=subprocess.DEVNULL)
        built.replace(output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="package.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("runtime-key", help="print the runtime's cache key")
    commands.add_parser("version", help="print desktop_care.__version__")
    key = commands.add_parser("package-key", help="print the finished package's cache key")
    key.add_argument("--epoch", type=int, required=True)
    deb = commands.add_parser("deb", help="build the .deb from a runtime folder")
    deb.add_argument("runtime", type=Path)
    deb.add_argument("output", type=Path)
    deb.add_argument("--epoch", type=int, required=True)
    folder = commands.add_parser("folder", help="assemble the app folder from a runtime folder")
    folder.add_argument("runtime", type=Path)
    folder.add_argument("target", type=Path)
    folder.add_argument("--epoch", type=int, required=True)
    options = parser.parse_args(argv)
    if options.command == "runtime-key":
        print(runtime_key())
    elif options.command == "version":
        print(package_version())
    elif options.command == "package-key":
        print(package_key(runtime_key(), package_version(), options.epoch))
    elif options.command == "deb":
        print(build_deb(options.runtime.resolve(), options.output.resolve(), options.epoch))
    elif options.command == "folder":
        assemble(options.runtime.resolve(), options.target.resolve(), options.epoch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
