"""What the doctor app shows, as widgets and text: the help screen, table cells, the detail pane's
text and finding widgets, the diagnosis tree. Built from the run state; nothing here decides anything
about checks, and nothing here knows where the events come from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from doctor.model import CauseState, Finding, Report, RootCause
from doctor.render.rootcause import cause_id, cause_name, explained_text, first_step, headline, scope_text
from doctor.tui.state import RUNNING, SEVERITY_STYLE, STATUS_LABEL, STATUS_STYLE, Row

FindFinding = Callable[[str], "tuple[Row, Finding] | None"]

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
DIAGNOSIS_KEYS = "enter: expand / jump to the finding / copy the command   y: copy"
CAUSE_STYLE = {
    CauseState.confirmed: "bold red", CauseState.likely: "red", CauseState.possible: "yellow",
    CauseState.unknown: "blue", CauseState.ruled_out: "dim",
}
HELP = """\
ame-doctor — keys

  r       rerun every check
  c       rerun the highlighted check
  f       filter by status: all, problems, fail, warn, error, unknown,
          skipped, pass
  v       switch view: checks <-> diagnosis (root causes first, then the
          playbooks with their causes ranked); a run with a root cause
          opens on the diagnosis
  j / m   export the report as JSON / Markdown (a notification shows
          the path)
  tab     move focus between the list and the detail pane
  enter   diagnosis: expand a root cause (what it explains, its
          evidence, its next steps) or a cause; on an evidence line, jump
          to the finding; on a "$ ..." next step, copy it to the clipboard
  y       copy the highlighted next-step command
  ctrl+p  command palette (the same actions by name)
  ?       this help
  q       quit

Statuses: PASS, WARN, FAIL, ERROR, UNKNOWN (could not check: see its
'unlock'), SKIP, PENDING, RUNNING. `ame-doctor view REPORT.json` shows a
saved report read-only (rerun disabled).

escape closes this help."""


def fmt_ms(ms: int | None) -> str:
    if ms is None:
        return ""
    return f"{ms}ms" if ms < 1000 else f"{ms / 1000:.1f}s"


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"), Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(HELP, id="help-text", markup=False)


def status_cell(row: Row, spin: str) -> Text:
    """The status column; a running check gets the spinner frame ``spin``."""
    label = STATUS_LABEL[row.status]
    if row.status == RUNNING:
        label = f"{spin} {label}"
    return Text(label, style=STATUS_STYLE[row.status])


def summary(row: Row) -> str:
    return row.summary or ("" if row.status in ("pending", RUNNING) else "ok")


def detail_text(row: Row) -> Text:
    """The head of the detail pane: the check, its status and time, summary, unlock, why it matters."""
    text = Text()
    text.append(f"{row.id} — {row.title}\n", style="bold")
    text.append("status ").append(STATUS_LABEL[row.status], style=STATUS_STYLE[row.status])
    if row.duration_ms is not None:
        text.append(f"   took {fmt_ms(row.duration_ms)}")
    text.append("\n")
    if row.summary:
        text.append(f"{row.summary}\n")
    if row.unlock:
        text.append("unlock: ", style="bold").append(f"{row.unlock}\n")
    if row.why:
        text.append("why it matters: ", style="bold").append(f"{row.why}\n")
    if not row.findings:
        text.append("no findings yet" if row.status in ("pending", RUNNING) else "no findings", style="dim")
    text.rstrip()
    return text


def show_findings(pane: VerticalScroll, findings: list[Any], marked_uid: str | None) -> Static | None:
    """One Static per finding, reused between checks (no remove/mount races); extras are hidden."""
    pool = list(pane.query(".finding").results(Static))
    fresh = []
    marked = None
    for i, f in enumerate(findings):
        if i < len(pool):
            w = pool[i]
            w.update(finding_text(f))
            w.display = True
        else:
            w = Static(finding_text(f), classes="finding", markup=False)
            fresh.append(w)
        w.set_class(f.uid == marked_uid, "marked")
        if f.uid == marked_uid:
            marked = w
    for w in pool[len(findings):]:
        w.display = False
        w.remove_class("marked")
    if fresh:
        pane.mount_all(fresh)
    return marked


def finding_text(f: Any) -> Text:
    text = Text()
    text.append(f"[{f.severity.value.upper()}]", style=SEVERITY_STYLE.get(f.severity.value, ""))
    text.append(f" {f.title}\n", style="bold")
    if f.detail:
        text.append(f"{f.detail}\n")
    if f.evidence:
        text.append("evidence:\n", style="bold")
        for k, v in f.evidence.items():
            text.append(f"  {k}: {v}\n")
    if f.resources:
        text.append("resources: ", style="bold").append(", ".join(f.resources) + "\n")
    if f.remediation:
        text.append("remediation: ", style="bold").append(f"{f.remediation}\n")
    if f.signals:
        text.append(f"signals: {', '.join(f.signals)}\n", style="dim")
    text.append(f"uid: {f.uid}", style="dim")
    return text


def root_cause_banner(report: Report, width: int) -> Text:
    """The header's line for the top root cause, clipped to ``width`` (and how many more there are)."""
    roots = report.diagnosis.root_causes
    text = Text()
    if roots:
        more = f"  (+{len(roots) - 1} more)" if len(roots) > 1 else ""
        text.append(clip(headline(roots[0]), width - len(more)), style=CAUSE_STYLE[roots[0].state])
        text.append(more, style="bold")
    return text


def fill_diagnosis(tree: Tree[Any], report: Report, find: FindFinding) -> None:
    """The root causes of ``report`` first (expanded: what each explains, its evidence, its next steps),
    then the playbooks with their causes ranked: evidence, refuting findings, next steps. With root
    causes the playbooks start collapsed."""
    roots = report.diagnosis.root_causes
    for rank, root in enumerate(roots, 1):
        _add_root_cause(tree, rank, root, find)
    for book in report.playbooks:
        node = tree.root.add(Text.assemble((book.title, "bold"), f" — {book.verdict}"),
                             data={"kind": "playbook", "id": book.id, "full": f"{book.title}\nverdict: {book.verdict}"},
                             expand=not roots)
        for rank, cause in enumerate(book.causes, 1):
            label = Text.assemble(f"{rank}. ", (f"[{cause.state.value.upper()}]", CAUSE_STYLE[cause.state]),
                                  f" {cause.title}")
            if cause.score:
                label.append(f"  score {cause.score:.2f}", style="dim")
            strong = cause.state in (CauseState.confirmed, CauseState.likely)
            full = f"{cause.state.value.upper()}: {cause.title}" + (f"\nwhy: {cause.reason}" if cause.reason else "")
            cnode = node.add(label, data={"kind": "cause", "id": cause.id, "full": full}, expand=strong)
            if cause.reason:
                cnode.add_leaf(Text.assemble(("why: ", "bold"), cause.reason),
                               data={"kind": "text", "full": f"why: {cause.reason}"})
            _add_evidence(cnode, "evidence", cause.evidence, find)
            _add_evidence(cnode, "refuting", cause.refuting, find)
            _add_steps(cnode, cause.next_steps)


def _add_root_cause(tree: Tree[Any], rank: int, root: RootCause, find: FindFinding) -> None:
    label = Text.assemble(("ROOT CAUSE ", "bold"), f"{rank}. ",
                          (f"[{root.state.value.upper()}]", CAUSE_STYLE[root.state]), f" {cause_name(root)}",
                          (f"  on {scope_text(root.scope)}", "dim"))
    if root.score:
        label.append(f"  score {root.score:.2f}", style="dim")
    step = first_step(root)
    full = headline(root) + (f"\nfirst step: $ {step}" if step else "")
    node = tree.root.add(label, data={"kind": "root", "id": cause_id(root), "full": full}, expand=True)
    if root.explains:
        explains = node.add(Text(f"explains ({len(root.explains)})", style="bold"), data={"kind": "text"},
                            expand=True)
        for e in root.explains:
            explains.add_leaf(
                Text.assemble((f"[{e.state.value.upper()}]", CAUSE_STYLE[e.state]), f" {explained_text(root, e)}",
                              (f"  {cause_id(e)}", "dim")),
                data={"kind": "explained", "id": cause_id(e),
                      "full": f"explained by the root cause: {explained_text(root, e)}\n"
                              f"{cause_id(e)}: {e.state.value}, score {e.score:.2f}"})
    _add_evidence(node, "evidence", root.evidence, find)
    _add_steps(node, root.next_steps)


def _add_steps(node: TreeNode[Any], steps: list[str]) -> None:
    if not steps:
        return
    parent = node.add(Text("next steps (enter copies)", style="bold"), data={"kind": "text"}, expand=True)
    for step in steps:
        parent.add_leaf(Text(f"$ {step}"), data={"kind": "cmd", "text": step,
                                                 "full": f"$ {step}\n(enter or y copies it)"})


def _add_evidence(cnode: TreeNode[Any], label: str, uids: list[str], find: FindFinding) -> None:
    if not uids:
        return
    ev = cnode.add(Text(f"{label} (enter jumps to the finding)", style="bold"), data={"kind": "text"},
                   expand=True)
    for uid in uids:
        hit = find(uid)
        if hit is None:
            ev.add_leaf(Text(uid), data={"kind": "finding", "uid": uid, "full": uid})
            continue
        _, f = hit
        ev.add_leaf(Text.assemble((f"[{f.severity.value.upper()}]", SEVERITY_STYLE.get(f.severity.value, "")),
                                  f" {f.title}", (f"  {uid}", "dim")),
                    data={"kind": "finding", "uid": uid,
                          "full": f"[{f.severity.value.upper()}] {f.title}\n{uid}  (enter jumps to it)"})
