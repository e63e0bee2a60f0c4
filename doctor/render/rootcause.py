"""The root-cause wording every output shares (text, Markdown, JUnit, GitHub, the TUI, ``diff``).

One line per root cause, the answer on-call needs first::

    ROOT CAUSE: <title> (<state>) on <scope> — explains: <what it explains>

then its first next step. Formatting only: the root causes and their order come from the report's
``diagnosis.root_causes`` (rank order, strongest first).
"""

from __future__ import annotations

from doctor.model import ExplainedCause, RootCause, Scope


def scope_text(scope: Scope) -> str:
    """``service a, queue x`` (plurals for several); ``the platform`` when the cause has no scope."""
    parts = []
    if scope.services:
        parts.append(("services " if len(scope.services) > 1 else "service ") + ", ".join(scope.services))
    if scope.queues:
        parts.append(("queues " if len(scope.queues) > 1 else "queue ") + ", ".join(scope.queues))
    return ", ".join(parts) or "the platform"


def cause_name(cause: RootCause | ExplainedCause) -> str:
    """The cause's title, or ``playbook/cause`` when the report carries no title."""
    return cause.title or cause_id(cause)


def cause_id(cause: RootCause | ExplainedCause) -> str:
    return f"{cause.playbook}/{cause.cause}"


def explained_text(root: RootCause, explained: ExplainedCause) -> str:
    """One explained cause; its scope is named only where it differs from the root cause's."""
    name = cause_name(explained)
    if explained.scope != root.scope and (explained.scope.services or explained.scope.queues):
        name += f" on {scope_text(explained.scope)}"
    return name


def explains_text(root: RootCause) -> str:
    """What the root cause explains, ``; ``-separated (empty when it explains nothing else)."""
    return "; ".join(explained_text(root, e) for e in root.explains)


def headline(root: RootCause) -> str:
    """``ROOT CAUSE: <title> (<state>) on <scope> — explains: ...`` (no explains part when there is none)."""
    line = f"ROOT CAUSE: {cause_name(root)} ({root.state.value}) on {scope_text(root.scope)}"
    explains = explains_text(root)
    return f"{line} — explains: {explains}" if explains else line


def first_step(root: RootCause) -> str | None:
    return root.next_steps[0] if root.next_steps else None
