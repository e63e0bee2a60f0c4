"""Remediation safety: no pasteable step removes access that something uses today.

Every remediation template — in checks/*.toml the check's ``remediation``, each kind's and variant's ``fix`` and
``remediation`` and the ``[fragments]``; in playbooks/*.md every cause's ``next_steps`` — is read, and those that
revoke, delete, remove, detach, deregister or narrow something are enumerated. Each must be declared in GUARDED
with the guard that makes it safe, and the guard must hold:

- ``users``: the text is rendered only where the check found that nothing uses the thing removed (checked in the
  check's code; tests/checks/test_sg_ingress.py shows the shared worker SG kept, an unused one revoked);
- ``refuses``: the text tells not to remove it;
- ``replacement first``: what keeps things working is done before the removal;
- ``widens``: the removal lifts a limit (grants more), it narrows nothing.

A new template that removes something fails here until it is declared with its guard.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from doctor.diagnosis import load_playbooks

ROOT = Path(__file__).resolve().parents[1]
REMOVAL = re.compile(r"\b(revok|delet|remov|detach|deregist|disassociat|narrow|restrict|purg)\w*|--desired-count 0\b",
                     re.IGNORECASE)

# (file, key) -> (guard, the words in the text that carry it)
GUARDED: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("checks/sg_ingress.toml", "remediation"): ("refuses", ("Remove a stale rule only when nothing uses its source",)),
    ("checks/sg_ingress.toml", "fragments.revoke_unused_source"): ("users", ("nothing uses {source} today",)),
    ("checks/env_drift.toml", "kinds.key_missing_in_env.fix"): ("refuses", ("Do not delete",)),
    ("checks/exec_ready.toml", "kinds.static_keys_in_env.fix"): ("replacement first", ("First grant", "then remove")),
    ("checks/queue_state.toml", "kinds.shared_consumer.fix"): ("replacement first", ("Once", "consumes it", "remove")),
    ("checks/scaler_controller.toml", "kinds.throttled.fix"): ("widens", ("raise or remove the reserved concurrency",)),
}


def templates() -> Iterator[tuple[str, str, str]]:
    """(file, key, text) of every remediation template."""
    for path in sorted((ROOT / "checks").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        yield from _walk(f"checks/{path.name}", data, [])
    for book in load_playbooks():
        for cause in book.causes:
            for i, step in enumerate(cause.next_steps):
                yield f"playbooks/{book.id}.md", f"{cause.id}.next_steps[{i}]", step


def _walk(file: str, node: Any, path: list[str]) -> Iterator[tuple[str, str, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(file, v, [*path, k])
    elif isinstance(node, str) and path and (path[-1] in ("fix", "remediation") or path[0] == "fragments"):
        yield file, ".".join(path), node


def removals() -> dict[tuple[str, str], str]:
    return {(file, key): text for file, key, text in templates() if REMOVAL.search(text)}


def test_the_enumeration_reads_checks_and_playbooks() -> None:
    files = {file for file, _, _ in templates()}
    assert {"checks/sg_ingress.toml", "playbooks/queue-not-draining.md"} <= files
    assert sum(1 for file, _, _ in templates() if file.startswith("playbooks/")) >= 20


def test_every_template_that_removes_access_is_declared_with_its_guard() -> None:
    found = removals()
    undeclared = sorted(set(found) - set(GUARDED))
    assert not undeclared, "remediation templates that remove something without a declared guard:\n" + "\n".join(
        f"  {f} {k}: {found[(f, k)]}" for f, k in undeclared)
    stale = sorted(set(GUARDED) - set(found))
    assert not stale, f"declared but no longer removing anything (drop them from GUARDED): {stale}"


def test_each_guard_holds_in_its_text() -> None:
    found = removals()
    for (file, key), (guard, words) in GUARDED.items():
        text = found[(file, key)]
        at = [text.find(w) for w in words]
        assert all(i >= 0 for i in at), (file, key, words, text)
        if guard == "replacement first":  # the words appear in order: the replacement before the removal
            assert at == sorted(at), (file, key, text)
        if guard == "refuses":
            assert re.search(r"\b(Do not|only when|never)\b", text), (file, key, text)


def test_the_revoke_fragment_is_rendered_only_for_a_source_nothing_uses() -> None:
    """checks/sg_ingress.py fills ``revoke_unused_source`` in one place: the branch where the source has no user
    and its users could be read (``if users.names: keep... elif users.unreadable: list... else: revoke``)."""
    source = (ROOT / "checks/sg_ingress.py").read_text(encoding="utf-8")
    assert source.count('"revoke_unused_source"') == 1
    tree = ast.parse(source)
    guarded = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and ast.unparse(node.test) == "users.names" and len(node.orelse) == 1
                and isinstance(node.orelse[0], ast.If) and ast.unparse(node.orelse[0].test) == "users.unreadable"):
            guarded += [n for stmt in node.orelse[0].orelse for n in ast.walk(stmt)]
    calls = [n for n in guarded if isinstance(n, ast.Constant) and n.value == "revoke_unused_source"]
    assert len(calls) == 1, "revoke_unused_source must be filled only in the no-user branch of _cleanup"
