"""The house's walls, read from the source: the library never imports Streamlit, the UI or the tools; its rooms
import only downwards; unit tests import nothing from the e2e tests, the UI or the tools."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A room imports downwards only (ALLOWED): figures draw what the others compute, text words it, explain and
# experiments run the model, data is the synthetic shapes, inputs check bytes (a link's class-room code by the
# rooms' rules), rooms keep the class's answers, model is the network itself.
ROOMS = ("figures", "experiments", "explain", "data", "inputs", "rooms", "model", "text")
ALLOWED = {  # room -> rooms it may import (besides itself and resnet_viz's top-level modules)
    "figures": set(ROOMS) - {"figures"},
    "experiments": {"explain", "data", "inputs", "model", "text"},
    "explain": {"data", "inputs", "model", "text"},
    "data": set(),  # the synthetic shapes: numpy and PIL only
    "inputs": {"model", "rooms", "text"},
    "rooms": {"text"},  # class questions: no model, no figures
    "model": {"inputs", "text"},  # weights.py reads a checkpoint through inputs/checkpoint.py
    "text": {"model"},  # readings name layers through model/layers.py
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "resnet_viz" and parts[1] in ROOMS else None


def test_the_library_imports_no_streamlit_ui_or_tools():
    for path in (ROOT / "resnet_viz").rglob("*.py"):
        bad = {m for m in _imports(path) if m.split(".")[0] in ("streamlit", "ui", "tools", "tests")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_each_room_imports_only_the_rooms_below_it():
    for room in ROOMS:
        for path in (ROOT / "resnet_viz" / room).rglob("*.py"):
            used = {r for m in _imports(path) if (r := _room(m)) and r != room}
            assert used <= ALLOWED[room], f"{path.relative_to(ROOT)} imports {sorted(used - ALLOWED[room])}"


def test_unit_tests_import_nothing_from_e2e_ui_or_tools():
    for path in (ROOT / "tests" / "unit").glob("*.py"):
        bad = {m for m in _imports(path) if m.startswith(("tests.e2e", "tests.app", "ui", "tools", "streamlit"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
