"""Playbook loading and cause ranking (DESIGN section 3).

The four symptom playbooks live in ``playbooks/*.md``: Markdown whose front matter (a strict
YAML subset, parsed here without a dependency) lists each cause with the signal expressions that
confirm it, make it likely or possible, or rule it out, the checks that can show it, and next
steps written as templates filled with the run's real names.

Signal expressions: ``sig`` or ``sig@task`` / ``sig@host`` (the vantage point the finding was
observed from, read from its evidence), joined with `` + `` when all must hold, e.g.
``reach.aurora_timeout@task + dns.db_ok`` (DNS fine and TCP timing out from the task: the path
is blocked, not DNS).

A cause's state:
- ``confirmed`` / ``likely`` / ``possible``: the strongest tier with a matching expression; when a
  rule-out expression also matches (conflicting evidence) the state drops one tier;
- ``ruled-out``: nothing supports it and a rule-out expression matched, or every check that could
  show it completed (pass/warn/fail) without showing it;
- ``unknown``: nothing supports it and some check that could show it was unknown, error,
  skipped or not run — unknown is never presented as ruled out.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doctor.config import Config, ConfigError
from doctor.model import CauseResult, CauseState, CheckStatus, Finding, PlaybookResult, Report

PLAYBOOK_DIR_ENV = "AME_DOCTOR_PLAYBOOKS"

# The check ids are a public contract (DESIGN section 2), in report order.
KNOWN_CHECKS = (
    "ssm.values", "sg.ingress", "dns.resolve", "reach.redis", "reach.aurora", "s3.access", "ecs.startup",
    "env.drift", "ecs.service", "queue.state", "net.egress", "exec.ready",
)
CHECK_ORDER = {c: i for i, c in enumerate(KNOWN_CHECKS)}

TIERS = ("confirm", "likely", "possible")
TIER_STATE = {"confirm": CauseState.confirmed, "likely": CauseState.likely, "possible": CauseState.possible}
TIER_SCORE = {"confirm": 0.9, "likely": 0.6, "possible": 0.3}
STATE_RANK = {CauseState.confirmed: 0, CauseState.likely: 1, CauseState.possible: 2, CauseState.unknown: 3,
              CauseState.ruled_out: 4}
DOWNGRADE = {CauseState.confirmed: CauseState.likely, CauseState.likely: CauseState.possible,
             CauseState.possible: CauseState.possible}
COMPLETED = (CheckStatus.passed, CheckStatus.warn, CheckStatus.fail)

# Placeholders a next step may use; unfilled ones render as readable <fallback>s, never as {x}.
PLACEHOLDERS = {
    "cluster": "<cluster>",
    "region": "<region>",
    "account": "<account-id>",
    "service": "<service>",
    "queue": "<queue>",
    "task_definition": "<task-definition>",
    "log_group": "<log-group>",
    "worker_sg": "<worker-sg-id>",
    "redis_sg": "<redis-sg-id>",
    "aurora_sg": "<aurora-sg-id>",
    "ssm_path": "<ssm-path>",
    "param": "<parameter-name>",
    "db_host": "<db-host>",
    "db_writer": "<aurora-writer-endpoint>",
    "db_cluster": "<aurora-cluster-id>",
    "db_port": "3306",
    "redis_host": "<redis-host>",
    "redis_port": "6379",
    "redis_group": "<replication-group-id>",
    "bucket": "<bucket>",
    "vpc": "<vpc-id>",
}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_SIGNAL = re.compile(r"^[a-z0-9]+\.[a-z0-9_]+$")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
VANTAGES = ("task", "host")


class PlaybookError(ConfigError):
    """A malformed playbook file or an unknown playbook id: one clear line naming file and field, exit 2."""


# --- the front matter parser (a strict YAML subset) -----------------------------------------
@dataclass
class _Line:
    no: int
    indent: int
    text: str


class _Parser:
    """Block mappings, block sequences (of scalars or mappings), ``[a, b]`` flow lists, plain or
    quoted scalars, ``#`` comment lines. Anything else is an error with its line number. Records
    the line of every value path (``causes[1].confirm[0]``) for validation messages."""

    def __init__(self, path: str, lines: list[tuple[int, str]]) -> None:
        self.path = path
        self.lines: list[_Line] = []
        for no, raw in lines:
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                self.fail(no, "tabs are not allowed for indentation")
            stripped = raw.rstrip()
            self.lines.append(_Line(no, len(stripped) - len(stripped.lstrip(" ")), stripped.lstrip(" ")))
        self.i = 0
        self.where: dict[str, int] = {}

    def fail(self, no: int, msg: str) -> None:
        raise PlaybookError(f"{self.path}:{no}: {msg}")

    def parse(self) -> Any:
        if not self.lines:
            return {}
        first = self.lines[0]
        if first.indent != 0:
            self.fail(first.no, "front matter must start at column 0")
        value = self.block(0, "")
        if self.i < len(self.lines):
            ln = self.lines[self.i]
            self.fail(ln.no, f"unexpected indentation or content: {ln.text!r}")
        return value

    def block(self, indent: int, path: str) -> Any:
        ln = self.lines[self.i]
        if ln.text == "-" or ln.text.startswith("- "):
            return self.sequence(indent, path)
        return self.mapping(indent, path)

    def mapping(self, indent: int, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.i < len(self.lines):
            ln = self.lines[self.i]
            if ln.indent < indent:
                break
            if ln.indent > indent:
                self.fail(ln.no, f"unexpected indentation: {ln.text!r}")
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_-]*):(?:\s+(.*))?$", ln.text)
            if not m:
                self.fail(ln.no, f"expected 'key: value', got {ln.text!r}")
                raise AssertionError  # unreachable
            key, rest = m.group(1), (m.group(2) or "").strip()
            if key in out:
                self.fail(ln.no, f"duplicate key {key!r}")
            sub = f"{path}.{key}" if path else key
            self.where[sub] = ln.no
            self.i += 1
            if rest and not rest.startswith("#"):
                out[key] = self.inline(rest, ln.no, sub)
            elif self.i < len(self.lines) and self.lines[self.i].indent > indent:
                out[key] = self.block(self.lines[self.i].indent, sub)
            elif (self.i < len(self.lines) and self.lines[self.i].indent == indent
                  and self.lines[self.i].text.startswith("- ")):
                out[key] = self.sequence(indent, sub)  # YAML allows a sequence at the key's indent
            else:
                out[key] = None
        return out

    def sequence(self, indent: int, path: str) -> list[Any]:
        out: list[Any] = []
        while self.i < len(self.lines):
            ln = self.lines[self.i]
            if ln.indent < indent or not (ln.text == "-" or ln.text.startswith("- ")):
                if ln.indent > indent:
                    self.fail(ln.no, f"unexpected indentation: {ln.text!r}")
                break
            if ln.indent > indent:
                self.fail(ln.no, f"unexpected indentation: {ln.text!r}")
            sub = f"{path}[{len(out)}]"
            self.where[sub] = ln.no
            rest = ln.text[1:].strip()
            if not rest:
                self.fail(ln.no, "empty list item")
            if re.match(r"^[A-Za-z_][A-Za-z0-9_-]*:(\s|$)", rest):
                # a mapping item: rewrite this line as the mapping's first key, at the item's column
                self.lines[self.i] = _Line(ln.no, ln.indent + (len(ln.text) - len(rest)), rest)
                out.append(self.mapping(self.lines[self.i].indent, sub))
            else:
                self.i += 1
                out.append(self.inline(rest, ln.no, sub))
        return out

    def inline(self, text: str, no: int, path: str) -> Any:
        if text.startswith("["):
            if not text.endswith("]"):
                self.fail(no, "a flow list must close with ']' on the same line")
            body = text[1:-1].strip()
            if not body:
                return []
            items = []
            for n, part in enumerate(_split_flow(body)):
                self.where[f"{path}[{n}]"] = no
                items.append(self.scalar(part.strip(), no))
            return items
        if text.startswith("{"):
            self.fail(no, "flow mappings are not supported; quote the value if it starts with '{'")
        return self.scalar(text, no)

    def scalar(self, text: str, no: int) -> str:
        if not text:
            self.fail(no, "empty value")
        if text[0] in "\"'":
            q = text[0]
            end = len(text) - 1
            if len(text) < 2 or text[end] != q:
                self.fail(no, f"unterminated quoted string: {text!r}")
            body = text[1:end]
            if q == "'":
                return body.replace("''", "'")
            try:
                return str(json.loads('"' + body + '"'))
            except json.JSONDecodeError:
                self.fail(no, f"invalid escape in quoted string: {text!r}")
        if text[0] in "&*!|>%@`[]{}" or text.startswith(("- ", "? ")):
            self.fail(no, f"value {text!r} must be quoted (it starts with a YAML indicator)")
        if ": " in text or " #" in text:
            self.fail(no, f"value {text!r} must be quoted (it contains ': ' or ' #')")
        return text


def _split_flow(body: str) -> list[str]:
    parts, cur, quote = [], "", ""
    for ch in body:
        if quote:
            cur += ch
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            cur += ch
        elif ch == ",":
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def split_front_matter(path: str, text: str) -> tuple[list[tuple[int, str]], str]:
    """(front matter lines with their 1-based numbers, Markdown body)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise PlaybookError(f"{path}:1: a playbook must start with a '---' front matter block")
    for n in range(1, len(lines)):
        if lines[n].strip() == "---":
            return [(i + 1, lines[i]) for i in range(1, n)], "\n".join(lines[n + 1:]).strip() + "\n"
    raise PlaybookError(f"{path}: front matter is not closed with '---'")


def parse_front_matter(path: str, text: str) -> tuple[Any, dict[str, int], str]:
    fm, body = split_front_matter(path, text)
    p = _Parser(path, fm)
    return p.parse(), p.where, body


# --- the playbook data ----------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    signal: str
    vantage: str | None = None

    def __str__(self) -> str:
        return self.signal + (f"@{self.vantage}" if self.vantage else "")


@dataclass(frozen=True)
class Expr:
    terms: tuple[Term, ...]

    def __str__(self) -> str:
        return " + ".join(str(t) for t in self.terms)


@dataclass
class Cause:
    id: str
    title: str
    checks: list[str]
    confirm: list[Expr] = field(default_factory=list)
    likely: list[Expr] = field(default_factory=list)
    possible: list[Expr] = field(default_factory=list)
    rule_out: list[Expr] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    summary: str = ""
    yields_to: list[str] = field(default_factory=list)  # more specific causes that explain this one's evidence

    def tier(self, name: str) -> list[Expr]:
        return list(getattr(self, name))

    def signals(self) -> set[str]:
        return {t.signal for tier in (*TIERS, "rule_out") for e in self.tier(tier) for t in e.terms}


@dataclass
class Playbook:
    id: str
    title: str
    summary: str
    causes: list[Cause]
    body: str
    path: str
    extra_checks: list[str] = field(default_factory=list)

    @property
    def checks(self) -> list[str]:
        """The checks this playbook needs, in report order."""
        ids = {c for cause in self.causes for c in cause.checks} | set(self.extra_checks)
        return sorted(ids, key=lambda c: (CHECK_ORDER.get(c, len(CHECK_ORDER)), c))

    def cause(self, cause_id: str) -> Cause | None:
        return next((c for c in self.causes if c.id == cause_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "summary": self.summary, "checks": self.checks,
            "causes": [{
                "id": c.id, "title": c.title, "summary": c.summary, "checks": c.checks,
                "confirm": [str(e) for e in c.confirm], "likely": [str(e) for e in c.likely],
                "possible": [str(e) for e in c.possible], "rule_out": [str(e) for e in c.rule_out],
                "next_steps": c.next_steps, "yields_to": c.yields_to,
            } for c in self.causes],
            "body": self.body,
        }


class _Validator:
    def __init__(self, path: str, where: dict[str, int]) -> None:
        self.path = path
        self.where = where

    def fail(self, fieldpath: str, msg: str) -> None:
        line = self.where.get(fieldpath)
        loc = f"{self.path}:{line}" if line else self.path
        raise PlaybookError(f"{loc}: {fieldpath}: {msg}")

    def mapping(self, value: Any, fieldpath: str, required: set[str], optional: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(fieldpath, "must be a mapping of 'key: value' lines")
        for k in value:
            if k not in required | optional:
                self.fail(f"{fieldpath}.{k}" if fieldpath else k,
                          f"unknown field (allowed: {', '.join(sorted(required | optional))})")
        for k in sorted(required):
            if value.get(k) in (None, "", []):
                self.fail(f"{fieldpath}.{k}" if fieldpath else k, "required field is missing or empty")
        return value

    def string(self, value: Any, fieldpath: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(fieldpath, "must be a non-empty string")
        return str(value).strip()

    def strings(self, value: Any, fieldpath: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(fieldpath, "must be a list")
        return [self.string(v, f"{fieldpath}[{i}]") for i, v in enumerate(value)]

    def exprs(self, value: Any, fieldpath: str) -> list[Expr]:
        out = []
        for i, text in enumerate(self.strings(value, fieldpath)):
            terms = []
            for part in text.split("+"):
                part = part.strip()
                signal, _, vantage = part.partition("@")
                if not _SIGNAL.match(signal):
                    self.fail(f"{fieldpath}[{i}]", f"{part!r} is not a signal (expected e.g. 'dns.db_ok', "
                              "'reach.aurora_timeout@task + dns.db_ok')")
                if vantage and vantage not in VANTAGES:
                    self.fail(f"{fieldpath}[{i}]", f"vantage @{vantage} must be one of @{', @'.join(VANTAGES)}")
                terms.append(Term(signal, vantage or None))
            out.append(Expr(tuple(terms)))
        return out


def parse_playbook(path: str | Path, text: str | None = None) -> Playbook:
    """Parse and validate one playbook file; PlaybookError names the file, line and field."""
    p = Path(path)
    name = str(path)
    if text is None:
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise PlaybookError(f"{name}: cannot read: {e}") from None
    data, where, body = parse_front_matter(name, text)
    v = _Validator(name, where)
    data = v.mapping(data, "", {"id", "title", "summary", "causes"}, {"checks"})
    pid = v.string(data["id"], "id")
    if pid != p.stem:
        v.fail("id", f"{pid!r} must match the file name ({p.stem!r})")
    if not _ID.match(pid):
        v.fail("id", f"{pid!r} must be lower-case words joined by '-'")
    extra = v.strings(data.get("checks"), "checks")
    for i, c in enumerate(extra):
        if c not in KNOWN_CHECKS:
            v.fail(f"checks[{i}]", f"unknown check id {c!r} (known: {', '.join(KNOWN_CHECKS)})")
    if not isinstance(data["causes"], list):
        v.fail("causes", "must be a list of causes ('- id: ...')")
    causes: list[Cause] = []
    for n, raw in enumerate(data["causes"]):
        fp = f"causes[{n}]"
        raw = v.mapping(raw, fp, {"id", "title", "checks", "next_steps"},
                        {"summary", "confirm", "likely", "possible", "rule_out", "yields_to"})
        cid = v.string(raw["id"], f"{fp}.id")
        if not _ID.match(cid):
            v.fail(f"{fp}.id", f"{cid!r} must be lower-case words joined by '-'")
        if any(c.id == cid for c in causes):
            v.fail(f"{fp}.id", f"duplicate cause id {cid!r}")
        checks = v.strings(raw["checks"], f"{fp}.checks")
        for i, c in enumerate(checks):
            if c not in KNOWN_CHECKS:
                v.fail(f"{fp}.checks[{i}]", f"unknown check id {c!r} (known: {', '.join(KNOWN_CHECKS)})")
        cause = Cause(
            id=cid, title=v.string(raw["title"], f"{fp}.title"), checks=checks,
            confirm=v.exprs(raw.get("confirm"), f"{fp}.confirm"),
            likely=v.exprs(raw.get("likely"), f"{fp}.likely"),
            possible=v.exprs(raw.get("possible"), f"{fp}.possible"),
            rule_out=v.exprs(raw.get("rule_out"), f"{fp}.rule_out"),
            next_steps=v.strings(raw["next_steps"], f"{fp}.next_steps"),
            summary=v.string(raw["summary"], f"{fp}.summary") if raw.get("summary") is not None else "",
            yields_to=v.strings(raw.get("yields_to"), f"{fp}.yields_to"),
        )
        for i, other in enumerate(cause.yields_to):
            if not _ID.match(other) or other == cid:
                v.fail(f"{fp}.yields_to[{i}]", f"{other!r} must be another cause id")
        if not (cause.confirm or cause.likely):
            v.fail(f"{fp}.confirm", "a cause needs at least one 'confirm' or 'likely' signal")
        for i, step in enumerate(cause.next_steps):
            for ph in _PLACEHOLDER.findall(step):
                if ph not in PLACEHOLDERS:
                    v.fail(f"{fp}.next_steps[{i}]",
                           f"unknown placeholder {{{ph}}} (known: {', '.join(sorted(PLACEHOLDERS))})")
        causes.append(cause)
    return Playbook(id=pid, title=v.string(data["title"], "title"), summary=v.string(data["summary"], "summary"),
                    causes=causes, body=body, path=name, extra_checks=extra)


def playbook_dir() -> Path:
    env = os.environ.get(PLAYBOOK_DIR_ENV)
    if env:
        return Path(env)
    import playbooks

    return Path(playbooks.__file__).resolve().parent


def load_playbooks(directory: Path | None = None) -> list[Playbook]:
    """All playbooks in the directory, in file-name order (the shipped four sort in incident order)."""
    d = directory or playbook_dir()
    if not d.is_dir():
        raise PlaybookError(f"{d}: playbook directory not found")
    files = sorted(d.glob("*.md"))
    if not files:
        raise PlaybookError(f"{d}: no playbook files (*.md)")
    books = [parse_playbook(f) for f in files]
    ids = {c.id for b in books for c in b.causes}
    for b in books:
        for n, c in enumerate(b.causes):
            for i, other in enumerate(c.yields_to):
                if other not in ids:
                    raise PlaybookError(f"{b.path}: causes[{n}].yields_to[{i}]: no playbook has a cause {other!r}")
    return books


def get_playbook(playbook_id: str, directory: Path | None = None) -> Playbook:
    books = load_playbooks(directory)
    for b in books:
        if b.id == playbook_id:
            return b
    raise PlaybookError(f"unknown playbook {playbook_id!r}; valid ids: {', '.join(b.id for b in books)}")


def checks_for_playbook(playbook_id: str) -> list[str]:
    """The check ids a playbook needs (run first with --symptom), in report order."""
    return get_playbook(playbook_id).checks


# --- matching -------------------------------------------------------------------------------
def vantage_of(f: Finding) -> str | None:
    """'task' or 'host' (from the finding's evidence), or None when it does not say."""
    for key in ("vantage", "from", "vantage_point"):
        v = f.evidence.get(key)
        if isinstance(v, str) and v:
            return "host" if v.strip().lower() in ("host", "doctor", "local-host") else "task"
    return None


class _Index:
    """Findings by signal, each with its scope: the queue it is about (a service counts as its queue),
    or None when it is about the whole platform (an SG, a DNS name, the SSM path, the cluster)."""

    def __init__(self, report: Report, config: Config | None = None) -> None:
        config = config or Config()
        self.queue_of: dict[str, str] = {q: q for q in config.queues} | {"default": "default"}
        self.queue_of.update(config.services)
        self.queue_of.update({q.service: name for name, q in report.target.queues.items()})
        self.by_signal: dict[str, list[Finding]] = {}
        self.scopes: dict[str, str | None] = {}
        for _, f in report.findings():
            self.scopes[f.uid] = self._scope(f)
            for sig in f.signals:
                self.by_signal.setdefault(sig, []).append(f)
        self.status = {c.id: c.status for c in report.checks}

    def _scope(self, f: Finding) -> str | None:
        ev = f.evidence
        for key in ("queue", "service"):
            v = ev.get(key)
            if isinstance(v, str) and v in self.queue_of:
                return self.queue_of[v]
        v = ev.get("vantage")
        if isinstance(v, str) and v.startswith("task:") and v[5:] in self.queue_of:
            return self.queue_of[v[5:]]
        resource = f.uid.split(":", 2)[2] if f.uid.count(":") >= 2 else ""
        resource = resource.removeprefix("task:")
        return self.queue_of.get(resource)

    def scope(self, f: Finding) -> str | None:
        return self.scopes.get(f.uid)

    def term(self, t: Term) -> list[Finding]:
        found = self.by_signal.get(t.signal, [])
        if t.vantage:
            found = [f for f in found if vantage_of(f) == t.vantage]
        return found

    def expr(self, e: Expr) -> list[Finding] | None:
        """The findings matching every term within one scope (one queue, or platform-wide findings,
        which combine with any queue), or None when the expression does not hold."""
        per_term = [self.term(t) for t in e.terms]
        if not all(per_term):
            return None
        candidates = {self.scope(f) for found in per_term for f in found}
        out: list[Finding] = []
        for sc in sorted(candidates, key=lambda x: (x is None, x or "")):
            picked = [[f for f in found if self.scope(f) in (sc, None)] for found in per_term]
            if all(picked):
                out.extend(f for group in picked for f in group if f not in out)
        return out or None

    def compatible(self, refuting: Finding, support: list[Finding]) -> bool:
        """A refuting finding argues against the support when it is about a queue the support is about,
        or is platform-wide, or the support is all platform-wide."""
        r = self.scope(refuting)
        scopes = {self.scope(f) for f in support} - {None}
        return r is None or not scopes or r in scopes


def _uids(findings: Iterable[Finding]) -> list[str]:
    seen: list[str] = []
    for f in findings:
        if f.uid not in seen:
            seen.append(f.uid)
    return seen


def assess(cause: Cause, idx: _Index) -> tuple[CauseState, float, list[Finding], list[Finding], str]:
    """(state, score, supporting findings, refuting findings, reason) for one cause."""
    support: list[Finding] = []
    top: str | None = None
    base = 0.0
    matched: list[str] = []
    for tier in TIERS:
        for e in cause.tier(tier):
            found = idx.expr(e)
            if found is None:
                continue
            if top in (None, tier):
                # a single finding showing it directly outweighs an inference combining several
                base = max(base, TIER_SCORE[tier] - 0.05 * (len(e.terms) - 1))
            top = top or tier
            matched.append(str(e))
            support.extend(f for f in found if f not in support)
    refute: list[Finding] = []
    refuted_by: list[str] = []
    for e in cause.rule_out:
        found = idx.expr(e)
        if found is None:
            continue
        if support:  # conflicting evidence only when it is about the same queue (or platform-wide)
            found = [f for f in found if f not in support and idx.compatible(f, support)]
            if not found:
                continue
        refuted_by.append(str(e))
        refute.extend(f for f in found if f not in refute and f not in support)
    if top is not None:
        state = TIER_STATE[top]
        worst = max((f.severity.rank for f in support), default=0)
        score = base + min(0.06, 0.02 * (len(matched) - 1)) + 0.01 * worst
        reason = f"{'confirmed' if top == 'confirm' else top} by {matched[0]}"
        if len(matched) > 1:
            reason += f" (also {', '.join(matched[1:])})"
        if refuted_by:
            state = DOWNGRADE[state]
            score -= 0.25
            reason += f"; conflicting evidence: {', '.join(refuted_by)}"
        return state, round(min(max(score, 0.05), 0.99), 3), support, refute, reason
    if refuted_by:
        return CauseState.ruled_out, 0.0, [], refute, f"ruled out by {', '.join(refuted_by)}"
    missing = [c for c in cause.checks if idx.status.get(c) not in COMPLETED]
    if cause.checks and not missing:
        return (CauseState.ruled_out, 0.0, [], [],
                f"ruled out: {', '.join(cause.checks)} completed without showing it")
    detail = ", ".join(f"{c} {idx.status[c].value if c in idx.status else 'not run'}" for c in missing)
    return CauseState.unknown, 0.0, [], [], f"unknown: no evidence either way ({detail})"


# --- next-step templates --------------------------------------------------------------------
_SG_HINTS = (("worker", "worker_sg"), ("source", "worker_sg"), ("redis", "redis_sg"), ("cache", "redis_sg"),
             ("aurora", "aurora_sg"), ("rds", "aurora_sg"), ("db", "aurora_sg"), ("mysql", "aurora_sg"))
_SG_ID = re.compile(r"^sg-[0-9A-Za-z]+$")
_SG_GRANT = re.compile(r"^(sg-[0-9A-Za-z]+)\s*<-\s*(sg-[0-9A-Za-z]+)$")
_DATA_SG_KEYS = ("group_id", "security_group", "security_groups", "sg", "sgs", "group", "target_sg",
                 "data_security_groups", "data_sgs", "store_security_groups")
_EVIDENCE_KEYS = {
    "db_host": ("db_host", "DB_HOST"),
    "redis_host": ("redis_host", "REDIS_HOST"),
    "db_writer": ("writer_endpoint", "db_writer", "writer", "expected_writer", "cluster_endpoint"),
    "db_cluster": ("db_cluster", "cluster_id", "db_cluster_identifier"),
    "redis_group": ("replication_group", "redis_group", "replication_group_id"),
    "bucket": ("bucket",),
    "vpc": ("vpc", "vpc_id"),
    "task_definition": ("task_definition", "taskdef", "task_definition_arn"),
    "log_group": ("log_group", "awslogs_group"),
    "db_port": ("db_port",),
    "redis_port": ("redis_port",),
}


def _flat(evidence: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for k, v in evidence.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                yield f"{k}.{k2}", v2
                yield str(k2), v2
        else:
            yield str(k), v


def _context(findings: list[Finding], report: Report, config: Config) -> dict[str, str]:
    """Scalar placeholder values: the target and config first, then evidence (supporting findings first)."""
    ctx: dict[str, str] = {"cluster": report.target.cluster, "ssm_path": config.ssm.path}
    if report.target.region:
        ctx["region"] = report.target.region
    if report.target.account:
        ctx["account"] = report.target.account
    if config.database.cluster:
        ctx["db_cluster"] = config.database.cluster
    if config.database.host:
        ctx["db_host"] = config.database.host
    if config.redis.host:
        ctx["redis_host"] = config.redis.host
    for f in findings:
        sig = " ".join(f.signals)
        kind = f"{f.evidence.get('kind', '')} {f.evidence.get('store', '')} {sig}".lower()
        writers = f.evidence.get("writer_endpoints")  # dns.resolve: {aurora cluster id: writer endpoint}
        if isinstance(writers, dict):
            live = {k: v for k, v in writers.items() if isinstance(v, str) and v}
            pick = config.database.cluster if config.database.cluster in live else (
                next(iter(live)) if len(live) == 1 else None)
            if pick:
                ctx.setdefault("db_cluster", str(pick))
                ctx.setdefault("db_writer", live[pick])
        if "dns.db_" in sig and isinstance(f.evidence.get("cluster"), str):
            ctx.setdefault("db_cluster", f.evidence["cluster"])
        for k, v in _flat(f.evidence):
            if isinstance(v, list) and v and all(isinstance(x, str) and _SG_GRANT.match(x) for x in v):
                v = v[0]
            if isinstance(v, str) and (m := _SG_GRANT.match(v)):  # "sg-data <- sg-worker" (a grant by SG)
                ctx.setdefault("worker_sg", m.group(2))
                continue
            if isinstance(v, list) and v and all(isinstance(x, str) and _SG_ID.match(x) for x in v):
                v = v[0]  # e.g. worker_security_groups / data_security_groups: the first is the one to name
            if isinstance(v, bool) or not isinstance(v, str | int) or str(v) == "":
                continue
            sv, kl = str(v), k.lower()
            is_sg = bool(_SG_ID.match(sv))
            if is_sg and k in config.services:  # e.g. granted_by: {service: [worker SG]}
                ctx.setdefault("worker_sg", sv)
            elif is_sg:
                for hint, ph in _SG_HINTS:
                    if hint in kl:
                        ctx.setdefault(ph, sv)
                        break
                else:
                    if kl in _DATA_SG_KEYS:
                        if "redis" in kind:
                            ctx.setdefault("redis_sg", sv)
                        elif "aurora" in kind or "mysql" in kind:
                            ctx.setdefault("aurora_sg", sv)
            for ph, keys in _EVIDENCE_KEYS.items():
                if k in keys or kl in keys:
                    ctx.setdefault(ph, sv)
            if kl in ("host", "name", "hostname") and isinstance(v, str) and "." in sv:
                if "db" in sig or "aurora" in sig:
                    ctx.setdefault("db_host", sv)
                elif "redis" in sig:
                    ctx.setdefault("redis_host", sv)
            if kl == "port" and isinstance(v, int | str) and sv.isdigit():
                if "aurora" in sig or ".db_" in sig:
                    ctx.setdefault("db_port", sv)
                elif "redis" in sig:
                    ctx.setdefault("redis_port", sv)
    return ctx


def _services(findings: list[Finding], config: Config) -> list[str]:
    known = list(config.services)
    out: list[str] = []
    for f in findings:
        cands: list[str] = list(f.resources)
        for k, v in _flat(f.evidence):
            if isinstance(v, str):
                cands.append(v.removeprefix("task:") if k in ("vantage", "from") else v)
            elif isinstance(v, list) and k in ("services", "service"):
                cands.extend(str(x) for x in v)
        for c in cands:
            if c in known and c not in out:
                out.append(c)
    return out


def _params(findings: list[Finding], config: Config) -> list[str]:
    out: list[str] = []
    base = config.ssm.path
    for f in findings:
        cands: list[str] = [r for r in f.resources if r.startswith(base)]
        for k, v in _flat(f.evidence):
            if k in ("parameter", "param") and isinstance(v, str):
                cands.append(v)
            elif k in ("parameters", "params") and isinstance(v, list):
                cands.extend(str(x) for x in v)
        for c in cands:
            if c.startswith("/") and c not in out:
                out.append(c)
    return out


def fill(template: str, values: dict[str, str]) -> str:
    """Fill {placeholders}; an unfilled one becomes its readable fallback (``<worker-sg-id>``), never ``{x}``."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in values and values[name]:
            return values[name]
        return PLACEHOLDERS.get(name, "<" + name.replace("_", "-") + ">")

    return _PLACEHOLDER.sub(sub, template)


def next_steps(cause: Cause, support: list[Finding], report: Report, config: Config) -> list[str]:
    everything = support + [f for _, f in report.findings() if f not in support]
    ctx = _context(everything, report, config)
    services = _services(support, config) or list(config.services)
    params = _params(support, config)
    groups: dict[str, str] = {}  # service -> its awslogs group, from any finding that names both
    for f in everything:
        svc, grp = f.evidence.get("service"), f.evidence.get("log_group")
        if isinstance(svc, str) and isinstance(grp, str) and grp:
            groups.setdefault(svc, grp)
    steps: list[str] = []
    for tmpl in cause.next_steps:
        names = set(_PLACEHOLDER.findall(tmpl))
        rows: list[dict[str, str]] = [dict(ctx)]
        if names & {"service", "queue", "log_group"} and services:
            rows = []
            for s in services:
                row = dict(ctx, service=s)
                row["log_group"] = groups.get(s) or (ctx["log_group"] if len(services) == 1 and "log_group" in ctx
                                                     else f"/ecs/{s}")
                queue = config.services.get(s)
                if queue:
                    row["queue"] = queue
                rows.append(row)
        if "param" in names and params:
            rows = [dict(r, param=p) for r in rows for p in params]
        for row in rows:
            step = fill(tmpl, row)
            if step not in steps:
                steps.append(step)
    return steps


# --- the diagnosis --------------------------------------------------------------------------
@dataclass
class _Assessed:
    cause: Cause
    state: CauseState
    score: float
    support: list[Finding]
    refute: list[Finding]
    reason: str


def _explained(a: _Assessed, by: _Assessed, idx: _Index) -> bool:
    """``by`` (confirmed) explains ``a``'s evidence: it covers every queue/service ``a`` is about."""
    mine = {idx.scope(f) for f in a.support} - {None}
    theirs = {idx.scope(f) for f in by.support} - {None}
    return not theirs or mine <= theirs


def _assess_all(books: list[Playbook], idx: _Index) -> dict[str, _Assessed]:
    out = {c.id: _Assessed(c, *assess(c, idx)) for b in books for c in b.causes}
    for a in out.values():  # a generic cause steps back when a specific confirmed one explains it
        if a.state not in (CauseState.confirmed, CauseState.likely):
            continue
        for other in a.cause.yields_to:
            by = out.get(other)
            if by is not None and by.state == CauseState.confirmed and _explained(a, by, idx):
                a.state = DOWNGRADE[a.state]
                a.score = round(max(a.score - 0.2, 0.05), 3)
                a.reason += f"; explained by {other} (confirmed)"
                break
    return out


def diagnose_playbook(book: Playbook, report: Report, config: Config, idx: _Index | None = None,
                      assessed: dict[str, _Assessed] | None = None) -> PlaybookResult:
    idx = idx or _Index(report, config)
    assessed = assessed or _assess_all([book], idx)
    results: list[tuple[int, CauseResult]] = []
    for n, cause in enumerate(book.causes):
        a = assessed[cause.id]
        steps = next_steps(cause, a.support, report, config) if a.state in (
            CauseState.confirmed, CauseState.likely, CauseState.possible) else []
        results.append((n, CauseResult(
            id=cause.id, title=cause.title, state=a.state, score=a.score, evidence=_uids(a.support),
            refuting=_uids(a.refute), next_steps=steps, reason=a.reason)))
    results.sort(key=lambda r: (STATE_RANK[r[1].state], -r[1].score, r[0]))
    causes = [c for _, c in results]
    return PlaybookResult(id=book.id, title=book.title, verdict=verdict(causes), causes=causes)


def verdict(causes: list[CauseResult]) -> str:
    """One line summarising the top cause (causes are ranked)."""
    if not causes:
        return "no causes defined"
    top = causes[0]
    if top.state in (CauseState.confirmed, CauseState.likely):
        others = [c.id for c in causes[1:] if c.state in (CauseState.confirmed, CauseState.likely)]
        n = len(top.evidence)
        line = (f"{top.state.value.capitalize()}: {top.title} ({top.id}), "
                f"{n} supporting finding{'s' if n != 1 else ''}")
        if others:
            line += f"; also {', '.join(others)}"
        return line
    unknown = [c.id for c in causes if c.state == CauseState.unknown]
    possible = [c.id for c in causes if c.state == CauseState.possible]
    ruled = [c for c in causes if c.state == CauseState.ruled_out]
    parts = []
    if possible:
        parts.append(f"possible: {', '.join(possible)}")
    if unknown:
        parts.append(f"could not be decided (checks did not run): {', '.join(unknown)}")
    if ruled:
        parts.append(f"{len(ruled)} of {len(causes)} ruled out")
    if not possible and not unknown:
        return f"No cause indicated: all {len(causes)} causes ruled out"
    return "Nothing conclusive: " + "; ".join(parts)


def invalid_result(e: PlaybookError) -> PlaybookResult:
    return PlaybookResult(id="invalid-playbook", title="Playbook files could not be loaded",
                          verdict=f"error: {e}", causes=[])


def diagnose(report: Report, config: Config) -> list[PlaybookResult]:
    """Every playbook with its causes ranked; a malformed playbook file shows up as a verdict, never a crash."""
    try:
        books = load_playbooks()
    except PlaybookError as e:
        return [invalid_result(e)]
    idx = _Index(report, config)
    assessed = _assess_all(books, idx)
    return [diagnose_playbook(b, report, config, idx, assessed) for b in books]


def top_causes(playbooks: list[PlaybookResult]) -> list[tuple[PlaybookResult, CauseResult]]:
    """Causes across playbooks, strongest first (for renderers and tests)."""
    pairs = [(p, c) for p in playbooks for c in p.causes]
    return sorted(pairs, key=lambda pc: (STATE_RANK[pc[1].state], -pc[1].score))
