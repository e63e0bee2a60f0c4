"""The layering of doctor/ and checks/: every import (module level, inside functions, under
TYPE_CHECKING) points down the layers, no two modules import each other even indirectly, only
doctor/tui/ imports Textual, exit codes are defined once, and the core runs without Textual.

Layers, low to high (a module may import its own layer and the layers below). A module's layer is
that of the longest prefix in ``LAYERS`` naming it, so modules moved inside a package keep theirs.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYN_ENV = {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}", "AME_DOCTOR_CHECK_MODULES": "support.synthetic_checks"}

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("doctor.__init__", "doctor.util", "doctor.model", "doctor.errors", "doctor.threads", "doctor.inputs")),
    ("config", ("doctor.config",)),
    ("services", ("doctor.aws", "doctor.redact", "doctor.secret_forms", "doctor.dotenv", "doctor.signatures", "doctor.sentry")),
    ("net", ("doctor.net",)),
    ("facts", ("doctor.facts",)),
    ("probes", ("doctor.probe", "doctor.queues")),
    ("checkapi", ("doctor.checkapi",)),
    ("checks", ("checks",)),
    ("registry", ("doctor.registry",)),  # discovers the `checks` package
    ("diagnosis", ("doctor.diagnosis",)),
    ("timeline", ("doctor.timeline",)),  # the engine attaches it to the report
    ("engine", ("doctor.engine", "doctor.events", "doctor.prefetch")),  # the engine diagnoses the finished run
    ("reports", ("doctor.render", "doctor.diff", "doctor.saved", "doctor.iam", "doctor.rollout", "doctor.sim")),
    ("runspec", ("doctor.runspec", "doctor.outputs")),
    ("tui", ("doctor.tui",)),
    ("commands", ("doctor.commands",)),
    ("cli", ("doctor.cli", "doctor.__main__")),
]

# Current violations in other helpers' files: (importer, imported) -> who removes it. Keep this short.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}  # (importer, imported) -> who removes it
KNOWN_CYCLES: dict[frozenset[str], str] = {}  # frozenset of modules -> who removes the cycle
EXIT_NAMES = {"EXIT_OK", "EXIT_FINDINGS", "EXIT_USAGE", "EXIT_CANNOT_RUN", "EXIT_INTERRUPTED"}


@cache
def modules() -> dict[str, Path]:
    out = {}
    for base in ("doctor", "checks"):
        for path in sorted((ROOT / base).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__" and len(parts) > 1:
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _resolve(name: str) -> str | None:
    """The module of ours that ``name`` (a module or a name in one) is, or None for a third-party one."""
    mods = modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def imported_names(path: Path, package: str) -> list[tuple[str, int]]:
    """Every absolute module name imported in ``path`` (anywhere in it), with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out += [(f"{base}.{a.name}", node.lineno) for a in node.names]  # `from pkg import submodule` too
            out.append((base, node.lineno))
    return out


@cache
def graph() -> dict[str, dict[str, int]]:
    """module -> {module of ours it imports: first line}."""
    out: dict[str, dict[str, int]] = {}
    for mod, path in modules().items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps: dict[str, int] = {}
        for name, line in imported_names(path, package):
            target = _resolve(name)
            if target is not None and target != mod:
                deps.setdefault(target, line)
        out[mod] = deps
    return out


def layer_of(mod: str) -> int:
    key = "doctor.__init__" if mod == "doctor" else mod
    best, found = -1, None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (key == prefix or key.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), rank
    assert found is not None, f"{mod} is in no layer: add it to LAYERS in tests/test_layers.py"
    return found


def test_every_module_has_a_layer() -> None:
    for mod in modules():
        layer_of(mod)


def test_imports_point_down_the_layers() -> None:
    upward = []
    for mod, deps in graph().items():
        for dep, line in deps.items():
            if layer_of(dep) > layer_of(mod) and (mod, dep) not in KNOWN_UPWARD:
                upward.append(f"{modules()[mod].relative_to(ROOT)}:{line} ({LAYERS[layer_of(mod)][0]}) imports "
                              f"{dep} ({LAYERS[layer_of(dep)][0]})")
    assert upward == [], "imports against the layers:\n" + "\n".join(upward)


def test_known_exceptions_are_still_real() -> None:  # remove an entry once its import is gone
    for mod, dep in KNOWN_UPWARD:
        assert mod not in modules() or dep in graph()[mod], (mod, dep)


def _cycles(edges: dict[str, dict[str, int]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    cycles = [sorted(c) for c in _cycles(graph()) if frozenset(c) not in KNOWN_CYCLES]
    assert cycles == [], f"modules importing each other (even inside functions): {cycles}"


def test_the_cycle_finder_finds_a_cycle() -> None:  # the guard above can fail
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [{"a", "b", "c"}]


def test_the_tui_and_the_core_never_import_the_cli() -> None:
    for mod, deps in graph().items():
        if mod.startswith(("doctor.tui", "doctor.runspec", "doctor.outputs", "doctor.engine")):
            assert not [d for d in deps if d.startswith(("doctor.cli", "doctor.commands"))], mod


def textual_imports(path: Path) -> list[int]:
    return [line for name, line in imported_names(path, "") if name == "textual" or name.startswith("textual.")]


def test_only_doctor_tui_imports_textual() -> None:
    offenders = []
    for mod, path in modules().items():
        if mod == "doctor.tui" or mod.startswith("doctor.tui."):
            continue
        offenders += [f"{path.relative_to(ROOT)}:{line}" for line in textual_imports(path)]
    assert offenders == [], f"only doctor/tui/ may import textual: {offenders}"


def test_the_scans_see_imports() -> None:  # the guards above can fail
    assert textual_imports(ROOT / "doctor" / "tui" / "app.py")
    assert "doctor.runspec" in graph()["doctor.tui.source"]
    assert "doctor.commands" in graph()["doctor.cli"]  # a `from doctor.commands import ...`
    assert layer_of("doctor") == 0 and layer_of("doctor.facts.core") == layer_of("doctor.facts")


def test_exit_codes_are_defined_only_in_the_report_model() -> None:
    defined = []
    for mod, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                defined += [f"{mod}:{node.lineno}" for t in targets
                            if isinstance(t, ast.Name) and t.id in EXIT_NAMES]
    assert defined and all(d.startswith("doctor.model:") for d in defined), defined


# --- at run time ---------------------------------------------------------------------------------
def _imported_modules(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "doctor", *args], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60,
                         stdin=subprocess.DEVNULL)
    mods = {line.split("|")[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    return mods, res


def test_help_imports_neither_boto3_nor_textual() -> None:
    mods, res = _imported_modules("--help")
    assert res.returncode == 0 and "usage: ame-doctor" in res.stdout
    assert "doctor.cli" in mods  # the measurement itself works
    heavy = sorted(m for m in mods if m.split(".")[0] in ("boto3", "botocore", "textual", "rich", "moto", "pydantic"))
    assert heavy == []


def test_run_help_and_version_stay_light() -> None:
    for args in (["run", "--help"], ["version"]):
        mods, res = _imported_modules(*args)
        assert res.returncode == 0, res.stderr
        assert not any(m.split(".")[0] in ("boto3", "botocore", "textual") for m in mods), args


def test_core_imports_do_not_pull_textual() -> None:
    code = ("import sys, doctor.engine, doctor.cli, doctor.model, doctor.diagnosis, doctor.runspec, doctor.outputs\n"
            "import doctor.render.text, doctor.render.json, doctor.facts, doctor.tui, doctor.tui.source\n"
            "from doctor.registry import load_checks; load_checks()\n"
            "import doctor.render as r; [r.render.__module__ for _ in r.available_formats()]\n"
            "doctor.cli.build_parser()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_engine_cli_and_renderers_work_with_textual_unimportable() -> None:
    code = (
        "import sys; sys.modules['textual'] = None\n"  # any `import textual` now raises ImportError
        "from doctor.cli import main\n"
        "sys.exit(main(['run', '--only', 'syn.ok,syn.warn', '--format', 'json']))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **SYN_ENV}, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert [c["status"] for c in report["checks"]] == ["pass", "warn"]
    code_text = code.replace("'json'", "'text'")
    res = subprocess.run([sys.executable, "-c", code_text], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **SYN_ENV}, stdin=subprocess.DEVNULL)
    assert res.returncode == 0 and "syn.warn" in res.stdout, res.stderr
