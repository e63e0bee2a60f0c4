"""The timeline as text and Markdown: the compact "what changed" block under each root cause, the Markdown
``## Timeline`` section, and the full view ``ame-doctor timeline`` prints. Formatting only: the events,
links and leads come from the report's ``timeline``."""

from __future__ import annotations

from collections.abc import Callable

from doctor.model import Report, RootCause, SourceStatus, Timeline, TimelineEvent, TimelineKind

SHOWN_LINKS = 3  # per root cause in the compact block
MARK = {TimelineKind.change: "CHANGE", TimelineKind.symptom: "SYMPTOM", TimelineKind.info: "info"}


def ran(timeline: Timeline) -> bool:
    """Whether this report carries a timeline at all (reports from before it, or runs without it, do not)."""
    return bool(timeline.sources)


def links_of(timeline: Timeline, rc: RootCause) -> list[str]:
    return [link.text for link in timeline.links if (link.playbook, link.cause) == (rc.playbook, rc.cause)]


def missing_sources(timeline: Timeline) -> list[str]:
    """``cloudtrail (needs cloudtrail:LookupEvents)`` for each source that could not be read."""
    out = []
    for s in timeline.sources:
        if s.status in (SourceStatus.missing, SourceStatus.error):
            why = f"needs {s.unlock}" if s.unlock else s.note
            out.append(f"{s.name} ({why})" if why else s.name)
    return out


def what_changed(timeline: Timeline, rc: RootCause) -> list[str]:
    """The compact block under a root cause in text output (nothing when the run had no timeline)."""
    if not ran(timeline):
        return []
    texts = links_of(timeline, rc)
    window = _window(timeline)
    if not texts:
        out = [f"  what changed: nothing in its scope {window} — a lead: an AWS-side event, or a change outside "
               "the sources read"]
    else:
        out = [f"  what changed ({window}, nearest first):"]
        out += [f"    - {t}" for t in texts[:SHOWN_LINKS]]
        if len(texts) > SHOWN_LINKS:
            out.append(f"    (+{len(texts) - SHOWN_LINKS} earlier, see `ame-doctor timeline`)")
    missing = missing_sources(timeline)
    if missing:
        out.append(f"    not read: {'; '.join(missing)}")
    return out


def _window(timeline: Timeline) -> str:
    if timeline.since and timeline.until:
        return f"since {timeline.since.replace('T', ' ').replace('+00:00', 'Z')}"
    return "in the window"


def _clock(at: str) -> str:
    """``2026-11-30T12:48:11+00:00`` -> ``2026-11-30 12:48:11Z``."""
    return at.replace("T", " ").replace("+00:00", "Z")


def event_line(e: TimelineEvent) -> str:
    who = f" — by {e.actor}" if e.actor else ""
    return f"{_clock(e.at)}  {MARK[e.kind]:<7} [{e.source}] {e.title}{who}"


def render_text(report: Report) -> str:
    """What ``ame-doctor timeline`` prints: the links per root cause, the axis, the leads, the sources."""
    tl = report.timeline
    lines = [f"Timeline {_window(tl)} until {_clock(tl.until or '?')} — cluster {report.target.cluster}", ""]
    if not ran(tl):
        return "\n".join(lines + ["This report has no timeline (a run without it, or an older report).", ""])
    for rc in report.diagnosis.root_causes:
        lines.append(f"ROOT CAUSE {rc.playbook}/{rc.cause} ({rc.state.value})")
        lines += [f"  - {t}" for t in links_of(tl, rc)] or ["  - no change in its scope before its first symptom"]
    if report.diagnosis.root_causes:
        lines.append("")
    lines.append("Events (oldest first):")
    lines += [f"  {event_line(e)}" for e in tl.events] or ["  none"]
    lines.append("")
    lines += _leads(tl, lambda e: f"  {event_line(e)}")
    lines.append("Sources: " + ", ".join(f"{s.name} {s.status.value} ({s.events})" for s in tl.sources))
    lines += [f"  {s.name}: {s.note}" + (f" — unlock: {s.unlock}" if s.unlock else "")
              for s in tl.sources if s.note and s.status != SourceStatus.ok]
    return "\n".join(lines) + "\n"


def _leads(tl: Timeline, line: Callable[[TimelineEvent], str]) -> list[str]:
    out: list[str] = []
    for title, ids in (("Changes tied to no root cause (leads):", tl.unmatched_changes),
                       ("Symptoms with no change before them (leads: an AWS-side event?):", tl.unexplained_symptoms)):
        events = [e for i in ids if (e := tl.event(i)) is not None]
        if events:
            out += [title, *[line(e) for e in events], ""]
    return out


def markdown_section(report: Report, esc: Callable[[str], str], code: Callable[[str], str],
                     link: Callable[[str], str]) -> list[str]:
    """``## Timeline`` for the Markdown report, written with that renderer's escapers (``esc`` for text from
    the target, ``code`` for ids, ``link`` for a finding uid); nothing when the run had no timeline."""
    tl = report.timeline
    if not ran(tl):
        return []
    out = ["## Timeline", "", f"What changed {esc(_window(tl))} until {esc(_clock(tl.until or '?'))}, "
           "tied to the root causes (nearest change first).", ""]
    for rc in report.diagnosis.root_causes:
        texts = links_of(tl, rc)
        out.append(f"- {code(rc.playbook + '/' + rc.cause)}: " + (esc(texts[0]) if texts else
                   "no change in its scope before its first symptom (a lead: an AWS-side event?)"))
        out += [f"  - {esc(t)}" for t in texts[1:]]
    if report.diagnosis.root_causes:
        out.append("")
    shown = [e for e in tl.events if e.kind != TimelineKind.info]
    if shown:
        out += ["| Time (UTC) | | Source | What | Who |", "|---|---|---|---|---|"]
        for e in shown:
            what = esc(e.title) + (f" ({link(e.finding)})" if e.finding else "")
            out.append(f"| {esc(_clock(e.at))} | {MARK[e.kind]} | {code(e.source)} | {what} | "
                       f"{esc(e.actor or '')} |")
        out.append("")
    leads = _leads(tl, lambda e: f"- {esc(_clock(e.at))} {esc(e.title)}")
    out += leads
    missing = missing_sources(tl)
    if missing:
        out += ["Sources not read: " + esc("; ".join(missing)), ""]
    return out
