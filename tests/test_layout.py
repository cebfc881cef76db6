"""The code's layout: imports run one way only, down the layers (parsed from the source, not imported)."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "src" / "uslatam"
# Bottom to top: a module imports modules of its own layer or below, never above.
LAYERS = [
    {"paths", "files", "codes", "schema", "spans", "arrowcsv", "patterns", "units", "profiles"},
    {"report", "boundary"},
    {"package", "csvio", "transaction", "cache"},
    {"history"},
    {
        "validate.context",
        "validate.parse",
        "validate.lint",
        "validate.structure",
        "validate.columns",
        "validate.pandera_check",
        "validate.frictionless_check",
        "validate.inventory",
    },
    {"validate.rules", "validate.kept_state", "validate.table_cache"},
    {"validate"},
    {
        "archive",
        "loading",
        "diff",
        "cite",
        "release",
        "rows",
        "docs",
        "export",
        "webannotation",
        "figures",
        "synthetic",
        "coverage",
    },
    {"", "cli", "cli.app", "cli.render", "cli.reference", "cli.documents"},
]


def _modules() -> dict[str, Path]:
    found = {}
    for file in sorted(PACKAGE.rglob("*.py")):
        parts = file.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    return found


MODULES = _modules()


def _layer(module: str) -> int:
    """The layer of a module; a rule family is of the rules' layer."""
    name = "validate.rules" if module.startswith("validate.rules.") else module
    return next(i for i, layer in enumerate(LAYERS) if name in layer)


def _imports(module: str, file: Path) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its code (inside functions too)."""
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and (node.module == "uslatam" or node.module.startswith("uslatam.")):
                target = node.module.removeprefix("uslatam").lstrip(".")
            else:
                continue
            for alias in node.names:  # "from .. import arrowcsv" imports the module arrowcsv
                submodule = f"{target}.{alias.name}".lstrip(".")
                found.add(submodule if submodule in MODULES else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "uslatam" or alias.name.startswith("uslatam."):
                    found.add(alias.name.removeprefix("uslatam").lstrip("."))
    return found - {module}


def test_every_module_has_a_layer() -> None:
    unplaced = [
        m
        for m in MODULES
        if not any(("validate.rules" if m.startswith("validate.rules.") else m) in layer for layer in LAYERS)
    ]
    assert not unplaced, f"add these modules to a layer of tests/test_layout.py: {unplaced}"


def test_no_import_runs_up_the_layers() -> None:
    upward = [
        f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
        for module, file in MODULES.items()
        for target in sorted(_imports(module, file))
        if target in MODULES and _layer(target) > _layer(module)
    ]
    assert not upward, "\n".join(upward)


def test_the_layer_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    file = tmp_path / "probe.py"
    file.write_text("def f():\n    from .cli import app\n    from . import history\n", encoding="utf-8")
    assert _imports("probe", file) == {"cli.app", "history"}
