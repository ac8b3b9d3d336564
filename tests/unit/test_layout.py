"""The shape of the code, checked: which package may import which, where click lives, no
import cycles, and no product module over 400 lines (README "Layout").

Data flows one way: htx_keys.cli -> htx_keys.app -> flows -> automation. sandbox imports only
automation; htx_keys.app reaches sandbox only in replica.py (the demo site, `htx-keys sandbox`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("automation", "flows", "sandbox", "htx_keys")
MAX_LINES = 400
SANDBOX_GATE = "htx_keys.app.replica"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports(path: Path, *, top_level_only: bool = False) -> Iterator[str]:
    """Every module an import statement names (`from a.b import c` names a.b and a.b.c);
    with `top_level_only`, those executed when the module loads (not in functions, not
    under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = _top_level(tree.body) if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, block, []):
                    inner = child.body if isinstance(child, ast.ExceptHandler) else [child]
                    yield from _top_level(inner)
        else:
            yield node


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


MODULES = product_modules()


def allowed(importer: str, imported: str) -> bool:
    """The dependency direction, as one rule per layer."""
    if within(imported, "click"):
        return within(importer, "htx_keys.cli")
    if within(importer, "automation"):
        return not any(within(imported, p) for p in ("flows", "sandbox", "htx_keys"))
    if within(importer, "flows"):
        return not any(within(imported, p) for p in ("sandbox", "htx_keys"))
    if within(importer, "sandbox"):
        return not any(within(imported, p) for p in ("flows", "htx_keys"))
    if within(importer, "htx_keys.app"):
        if within(imported, "sandbox"):
            return importer == SANDBOX_GATE
        return not within(imported, "htx_keys.cli")
    if within(importer, "htx_keys.cli"):
        return not within(imported, "sandbox")
    return True


def test_every_import_follows_the_dependency_direction() -> None:
    wrong = [
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        for imported in sorted(set(imports(path)))
        if not allowed(name, imported)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("automation.store", "flows.htx.limits"),
        ("flows.htx.pages", "htx_keys.app.output"),
        ("sandbox.app", "flows.htx.pages"),
        ("htx_keys.app.keys", "click"),
        ("htx_keys.app.keys", "htx_keys.cli.options"),
        ("htx_keys.app.demo", "sandbox.server"),
        ("htx_keys.cli.commands.sandbox", "sandbox.server"),
    ],
)
def test_the_rule_refuses_an_import_against_the_direction(importer: str, imported: str) -> None:
    assert not allowed(importer, imported)


def test_no_import_cycle() -> None:
    """Counting imports in functions and for type checking too: a cycle hidden in a function
    is still two modules that cannot be read, or moved, one without the other."""
    graph = {
        name: {m for m in imports(path) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # A package's __init__ importing its own modules is no cycle of the code's layers.
    cycles = [c for c in cycles if not all(within(m, c[0]) or within(c[0], m) for m in c)]
    assert cycles == []


def test_no_product_module_is_over_400_lines() -> None:
    long = {
        name: lines
        for name, path in MODULES.items()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_cli_modules_import_no_use_case_when_loaded() -> None:
    """`htx-keys --help` loads every command module: they import their use cases (and
    Playwright, keyring, the mailbox) only when a command runs."""
    heavy = ("playwright", "keyring", "imapclient", "ccxt", "starlette", "uvicorn", "jinja2")
    found = [
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if within(name, "htx_keys.cli")
        for imported in sorted(set(imports(path, top_level_only=True)))
        if any(within(imported, h) for h in heavy)
        or (within(imported, "htx_keys.app") and imported not in LIGHT_APP_MODULES)
    ]
    assert found == []


# What the CLI may load at start: parsed-option types and constants, nothing that runs.
LIGHT_APP_MODULES = {
    "htx_keys.app",
    "htx_keys.app.web_options",
    "htx_keys.app.web_options.WebOptions",
    "htx_keys.app.web_options.DEFAULT_JOBS",
    "htx_keys.app.web_options.MAX_JOBS",
    "htx_keys.app.guide_values",
    "htx_keys.app.guide_values.EXAMPLE_IP",
    "htx_keys.app.guide_values.EXAMPLE_NOTE",
}
