"""The version is written once, as ``desktop_care.__version__``: the package metadata
(pyproject.toml), the installers (installer/package.py, the spec) and the app's About
box and ``--version`` all read that one place."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib

from setuptools.config.pyprojecttoml import read_configuration

from desktop_care import __version__
from tests.support.servers import REPO


def load_packaging_module():  # installer/ is scripts, not a package of ours
    spec = importlib.util.spec_from_file_location("desktop_care_packaging", REPO / "installer" / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pyproject_reads_the_version_from_the_package() -> None:
    with (REPO / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    assert "version" not in project and "version" in project["dynamic"]
    # What setuptools writes into the metadata of a build or an install.
    assert read_configuration(REPO / "pyproject.toml", expand=True)["project"]["version"] == __version__


def test_the_installers_and_the_command_line_say_the_same_version() -> None:
    assert load_packaging_module().package_version(REPO) == __version__
    said = subprocess.run([sys.executable, "-m", "desktop_care", "--version"], capture_output=True, text=True,
                          cwd=REPO, check=True, timeout=60)
    assert said.stdout.strip() == f"desktop-care {__version__}"
