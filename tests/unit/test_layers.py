"""The layers run one way: a module imports only from its own unit and from the layers below it.

The stack is written once, lowest first. A *unit* is a package or module named in
it; units of one layer are siblings and never import each other; every cog is a
unit of its own, so no cog imports another. Imports under ``if TYPE_CHECKING:``
are annotations only and are not dependencies at run time; ``python -m bot demo``
finds the demo at run time (``importlib``), so the bot does not depend on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("sandbox", "db", "bot", "cogs", "demo", "bench")

STACK: tuple[tuple[str, ...], ...] = (
    ("sandbox", "db"),  # the offline Discord; the schema and all SQL
    ("bot.clock", "bot.settings", "bot.api_url", "bot.extensions", "bot.heap", "bot.hooks"),  # the small pieces
    ("bot.loops", "bot.logs", "bot.analytics", "bot.render"),  # and what builds on them; pure libraries
    ("bot.buffer", "bot.commands"),  # counters to the database; command plumbing
    ("bot.tracking", "bot.reports", "bot.posts", "bot.maintenance", "bot.metrics"),
    ("bot.web",),  # the dashboard: reports composed for the browser
    ("bot.app",),  # the Bot owns and closes every resource
    ("bot.__main__",),
    ("cogs.*",),  # one feature per module
    ("demo",),
    ("bench",),
)


def unit_of(module: str) -> str:
    """The stack unit a module belongs to (each cog is its own unit)."""
    if module.startswith("cogs."):
        return ".".join(module.split(".")[:2])
    if module == "cogs":
        return "cogs"
    for layer in STACK:
        for unit in layer:
            if module == unit or module.startswith(unit + "."):
                return unit
    raise AssertionError(f"{module} is in no layer of the stack: add its package to STACK")


def layer_of(unit: str) -> int:
    if unit.startswith("cogs"):
        return next(i for i, layer in enumerate(STACK) if layer == ("cogs.*",))
    return next(i for i, layer in enumerate(STACK) if unit in layer)


def runtime_imports(root: Path, path: Path) -> set[str]:
    """The project modules a file imports at run time (not those under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(node)
        for guard in ast.walk(tree)
        if isinstance(guard, ast.If) and ast.unparse(guard.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for stmt in guard.body
        for node in ast.walk(stmt)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from bot import logs`` imports the module bot.logs, not the package bot.
            base = root.joinpath(*node.module.split("."))
            subs = [f"{node.module}.{a.name}" for a in node.names if (base / f"{a.name}.py").exists()]
            found.update(subs or [node.module])
    return {m for m in found if m.split(".")[0] in PROJECT}


def violations(root: Path) -> list[str]:
    """Every import in the tree that runs against the stack."""
    out = []
    for path in sorted(p for top in PROJECT for p in (root / top).rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        imports = runtime_imports(root, path)
        if module in PROJECT and not imports:
            continue  # an empty top-level package marker
        here = unit_of(module)
        for target in sorted(imports):
            there = unit_of(target)
            if there != here and layer_of(there) >= layer_of(here):
                out.append(f"{module} imports {target}")
    return out


def test_imports_run_down_the_stack() -> None:
    assert violations(ROOT) == []


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    for top in PROJECT:
        (tmp_path / top).mkdir()
    (tmp_path / "db" / "reports.py").write_text("from bot.render import models\n")
    (tmp_path / "cogs" / "stats.py").write_text("from cogs.top import Top\n")
    (tmp_path / "cogs" / "top.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cogs.stats\n"
    )
    assert violations(tmp_path) == ["cogs.stats imports cogs.top", "db.reports imports bot.render"]
