"""Every signal a check can emit is in the vocabulary (doctor/signals.py), so playbooks can rely on it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from doctor.signals import BASE, EXTENSIONS, VOCABULARY

ROOT = Path(__file__).resolve().parent.parent
SIGNAL = re.compile(r"^(ssm|sg|dns|reach|exec|probe|s3|startup|logs|drift|ecs|queue|net)\.[a-z0-9_]+$")
SOURCES = sorted((ROOT / "checks").glob("*.py")) + sorted((ROOT / "doctor" / "probe").glob("*.py"))


def _signal_literals(tree: ast.AST) -> set[str]:
    """String constants inside any ``signals=...`` keyword or ``signals`` list assignment."""
    found: set[str] = set()
    for node in ast.walk(tree):
        is_kw = isinstance(node, ast.keyword) and node.arg == "signals"
        is_assign = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and "signal" in t.id.lower() for t in node.targets)
        if is_kw or is_assign:
            for sub in ast.walk(node.value):  # type: ignore[attr-defined]
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and SIGNAL.match(sub.value):
                    found.add(sub.value)
    return found


def test_emitted_signal_literals_are_in_the_vocabulary() -> None:
    emitted: dict[str, str] = {}
    for path in SOURCES:
        for sig in _signal_literals(ast.parse(path.read_text(encoding="utf-8"))):
            emitted.setdefault(sig, path.name)
    assert len(emitted) > 60, "the scan found too few signals to be meaningful"
    unknown = {s: f for s, f in emitted.items() if s not in VOCABULARY}
    assert not unknown, f"add these to doctor/signals.py EXTENSIONS (with a meaning): {unknown}"


def test_extensions_do_not_rename_or_shadow_base_signals() -> None:
    assert not (set(EXTENSIONS) & BASE)
    assert all(SIGNAL.match(s) and meaning for s, meaning in EXTENSIONS.items())
    # the base list is exactly the shared vocabulary (spot checks of each family)
    for s in ("ssm.param_missing", "sg.old_ip_rules_only", "net.no_path_s3", "queue.sync_connection_trap",
              "startup.secrets_unresolvable", "reach.aurora_reader", "drift.redis_target_differs"):
        assert s in BASE
