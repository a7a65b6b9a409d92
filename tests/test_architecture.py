"""The import-linter contracts in pyproject.toml (run by ``./dev test`` as
``lint-imports``) list, for each lower layer, every top-level module it may not import.
These tests keep those lists complete: a new top-level module must be placed in a layer."""

from __future__ import annotations

import pkgutil
import tomllib

import pytest

import desktop_care
from tests.support.servers import REPO

# The modules of each lower layer (the wire contract is two: the shapes that carry
# commands apart, decision 0044).
LAYERS = {
    "models": ["models"],
    "commands": ["commands"],
    "schemas": ["schemas", "command_schemas"],
}
# What each lower layer may import of ours, besides itself.
ALLOWED = {
    "models": set(),
    "commands": {"models"},
    "schemas": {"models", "commands"},
}


def _contracts() -> dict[str, dict[str, object]]:
    with (REPO / "pyproject.toml").open("rb") as f:
        config = tomllib.load(f)["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _top_level_modules() -> set[str]:
    return {info.name for info in pkgutil.iter_modules(desktop_care.__path__)}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_lower_layer_forbids_every_other_module(layer: str) -> None:
    contract = _contracts()[layer]
    assert contract["source_modules"] == [f"desktop_care.{module}" for module in LAYERS[layer]]
    forbidden = {str(m).removeprefix("desktop_care.") for m in contract["forbidden_modules"]}
    unplaced = _top_level_modules() - forbidden - ALLOWED[layer] - set(LAYERS[layer])
    assert not unplaced, f"add {sorted(unplaced)} to the forbidden modules of contract {layer!r}"


def test_the_qt_contract_covers_the_whole_package() -> None:
    contract = _contracts()["one-qt-module"]
    assert contract["source_modules"] == ["desktop_care"]
    assert "PySide6" in contract["forbidden_modules"]
