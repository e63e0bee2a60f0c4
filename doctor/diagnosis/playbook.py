"""The symptom playbooks: the data model, its validator, and loading the files.

The playbooks live in ``playbooks/*.md`` (or ``$AME_DOCTOR_PLAYBOOKS``): Markdown whose front matter
(see :mod:`doctor.diagnosis.frontmatter`) has an ``id`` equal to the file name, a ``title``, a
``summary``, optional extra ``checks``, and ``causes``. Each cause lists the signal expressions that
confirm it, make it likely or possible, or rule it out; the checks that can show it; the causes it
``explains`` (its consequences: ``playbook/cause`` or a bare cause id; ``yields_to`` is the same
relation written on the consequence); and next steps written as templates (see
:mod:`doctor.diagnosis.templates`). Playbook and cause ids are a public contract: reports,
``--symptom`` and on-call runbooks name them.

Signal expressions: ``sig`` or ``sig@task`` / ``sig@host`` (the vantage point the finding was
observed from, read from its evidence), joined with `` + `` when all must hold, e.g.
``reach.aurora_timeout@task + dns.db_ok`` (DNS fine and TCP timing out from the task: the path
is blocked, not DNS).

Check ids and signals are known from the registry (:func:`doctor.registry.check_ids`, which also gives
the report order; :func:`doctor.registry.vocabulary`, the signals the checks' finding kinds declare).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import playbooks
from doctor import registry
from doctor.diagnosis.frontmatter import PlaybookError, parse_front_matter
from doctor.diagnosis.templates import PLACEHOLDERS, placeholders

PLAYBOOK_DIR_ENV = "AME_DOCTOR_PLAYBOOKS"
TIERS = ("confirm", "likely", "possible")  # the supporting tiers, strongest first
VANTAGES = ("task", "host")
_SIGNAL = re.compile(r"^[a-z0-9]+\.[a-z0-9_]+$")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_REF = re.compile(r"^([a-z0-9]+(-[a-z0-9]+)*/)?[a-z0-9]+(-[a-z0-9]+)*$")  # a cause: `playbook/cause` or `cause`


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
    explains: list[str] = field(default_factory=list)   # its consequences (cause refs, as written)
    yields_to: list[str] = field(default_factory=list)  # the causes that explain this one (cause refs, as written)

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
    where: dict[str, int] = field(default_factory=dict)  # field path -> line, for load-time errors

    @property
    def checks(self) -> list[str]:
        """The checks this playbook needs, in report order."""
        order = {c: i for i, c in enumerate(registry.check_ids())}
        ids = {c for cause in self.causes for c in cause.checks} | set(self.extra_checks)
        return sorted(ids, key=lambda c: (order.get(c, len(order)), c))

    def cause(self, cause_id: str) -> Cause | None:
        return next((c for c in self.causes if c.id == cause_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "summary": self.summary, "checks": self.checks,
            "causes": [{
                "id": c.id, "title": c.title, "summary": c.summary, "checks": c.checks,
                "confirm": [str(e) for e in c.confirm], "likely": [str(e) for e in c.likely],
                "possible": [str(e) for e in c.possible], "rule_out": [str(e) for e in c.rule_out],
                "next_steps": c.next_steps, "explains": c.explains, "yields_to": c.yields_to,
            } for c in self.causes],
            "body": self.body,
        }


class _Validator:
    """Type and shape checks over the parsed front matter; an error names the file, line and field."""

    def __init__(self, path: str, where: dict[str, int], signals: frozenset[str]) -> None:
        self.path = path
        self.where = where
        self.signals = signals  # the vocabulary: every signal a registered check declares

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

    def check_ids(self, value: Any, fieldpath: str, known: tuple[str, ...]) -> list[str]:
        checks = self.strings(value, fieldpath)
        for i, c in enumerate(checks):
            if c not in known:
                self.fail(f"{fieldpath}[{i}]", f"unknown check id {c!r} (known: {', '.join(known)})")
        return checks

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
                if signal not in self.signals:
                    self.fail(f"{fieldpath}[{i}]", f"unknown signal {signal!r}: no check declares it "
                              "(ame-doctor checks ID lists each check's signals)")
                if vantage and vantage not in VANTAGES:
                    self.fail(f"{fieldpath}[{i}]", f"vantage @{vantage} must be one of @{', @'.join(VANTAGES)}")
                terms.append(Term(signal, vantage or None))
            out.append(Expr(tuple(terms)))
        return out

    def cause(self, raw: Any, fp: str, pid: str, known: tuple[str, ...], earlier: list[Cause]) -> Cause:
        raw = self.mapping(raw, fp, {"id", "title", "checks", "next_steps"},
                           {"summary", "confirm", "likely", "possible", "rule_out", "explains", "yields_to"})
        cid = self.string(raw["id"], f"{fp}.id")
        if not _ID.match(cid):
            self.fail(f"{fp}.id", f"{cid!r} must be lower-case words joined by '-'")
        if any(c.id == cid for c in earlier):
            self.fail(f"{fp}.id", f"duplicate cause id {cid!r}")
        checks = self.check_ids(raw["checks"], f"{fp}.checks", known)
        cause = Cause(
            id=cid, title=self.string(raw["title"], f"{fp}.title"), checks=checks,
            confirm=self.exprs(raw.get("confirm"), f"{fp}.confirm"),
            likely=self.exprs(raw.get("likely"), f"{fp}.likely"),
            possible=self.exprs(raw.get("possible"), f"{fp}.possible"),
            rule_out=self.exprs(raw.get("rule_out"), f"{fp}.rule_out"),
            next_steps=self.strings(raw["next_steps"], f"{fp}.next_steps"),
            summary=self.string(raw["summary"], f"{fp}.summary") if raw.get("summary") is not None else "",
            explains=self.strings(raw.get("explains"), f"{fp}.explains"),
            yields_to=self.strings(raw.get("yields_to"), f"{fp}.yields_to"),
        )
        for key in ("explains", "yields_to"):
            for i, ref in enumerate(getattr(cause, key)):
                itself = ref in (cid, f"{pid}/{cid}")
                if itself or not _REF.match(ref):
                    self.fail(f"{fp}.{key}[{i}]", f"{ref!r} must be another cause ('playbook/cause' or a cause id)")
        if not (cause.confirm or cause.likely):
            self.fail(f"{fp}.confirm", "a cause needs at least one 'confirm' or 'likely' signal")
        for i, step in enumerate(cause.next_steps):
            for ph in placeholders(step):
                if ph not in PLACEHOLDERS:
                    self.fail(f"{fp}.next_steps[{i}]",
                              f"unknown placeholder {{{ph}}} (known: {', '.join(sorted(PLACEHOLDERS))})")
        return cause


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
    v = _Validator(name, where, registry.vocabulary())
    data = v.mapping(data, "", {"id", "title", "summary", "causes"}, {"checks"})
    pid = v.string(data["id"], "id")
    if pid != p.stem:
        v.fail("id", f"{pid!r} must match the file name ({p.stem!r})")
    if not _ID.match(pid):
        v.fail("id", f"{pid!r} must be lower-case words joined by '-'")
    known = registry.check_ids()
    extra = v.check_ids(data.get("checks"), "checks", known)
    if not isinstance(data["causes"], list):
        v.fail("causes", "must be a list of causes ('- id: ...')")
    causes: list[Cause] = []
    for n, raw in enumerate(data["causes"]):
        causes.append(v.cause(raw, f"causes[{n}]", pid, known, causes))
    return Playbook(id=pid, title=v.string(data["title"], "title"), summary=v.string(data["summary"], "summary"),
                    causes=causes, body=body, path=name, extra_checks=extra, where=where)


def playbook_dir() -> Path:
    """``$AME_DOCTOR_PLAYBOOKS``, else the shipped ``playbooks`` package directory."""
    env = os.environ.get(PLAYBOOK_DIR_ENV)
    if env:
        return Path(env)
    return Path(playbooks.__file__).resolve().parent


def load_playbooks(directory: Path | None = None) -> list[Playbook]:
    """All playbooks in the directory, in file-name order; their cause relations resolve and form no cycle."""
    d = directory or playbook_dir()
    if not d.is_dir():
        raise PlaybookError(f"{d}: playbook directory not found")
    files = sorted(d.glob("*.md"))
    if not files:
        raise PlaybookError(f"{d}: no playbook files (*.md)")
    books = [parse_playbook(f) for f in files]
    explanations(books)
    return books


def explanations(books: list[Playbook]) -> dict[str, list[str]]:
    """The causal relation of the playbooks: ``playbook/cause`` -> the ``playbook/cause`` ids it explains
    (from ``explains`` and the inverse ``yields_to``), in declaration order. PlaybookError (file:line: field)
    for a reference to no cause, an ambiguous bare cause id, or a cycle."""
    owners: dict[str, list[str]] = {}
    for b in books:
        for c in b.causes:
            owners.setdefault(c.id, []).append(f"{b.id}/{c.id}")
    out: dict[str, list[str]] = {f"{b.id}/{c.id}": [] for b in books for c in b.causes}
    declared_at: dict[tuple[str, str], str] = {}  # (explainer, consequence) -> where, for the cycle message

    def resolve(b: Playbook, fp: str, ref: str) -> str:
        line = b.where.get(fp)
        loc = f"{b.path}:{line}" if line else b.path
        if "/" in ref:
            if ref not in out:
                raise PlaybookError(f"{loc}: {fp}: no playbook has a cause {ref!r}")
            return ref
        found = owners.get(ref, [])
        if len(found) != 1:
            why = "no playbook has a cause" if not found else f"ambiguous ({', '.join(found)}): write 'playbook/cause' for"
            raise PlaybookError(f"{loc}: {fp}: {why} {ref!r}")
        return found[0]

    for b in books:
        for n, c in enumerate(b.causes):
            me = f"{b.id}/{c.id}"
            pairs = [(me, resolve(b, f"causes[{n}].explains[{i}]", r), f"causes[{n}].explains[{i}]")
                     for i, r in enumerate(c.explains)]
            pairs += [(resolve(b, f"causes[{n}].yields_to[{i}]", r), me, f"causes[{n}].yields_to[{i}]")
                      for i, r in enumerate(c.yields_to)]
            for explainer, consequence, fp in pairs:
                if consequence not in out[explainer]:
                    out[explainer].append(consequence)
                line = b.where.get(fp)
                declared_at.setdefault((explainer, consequence), f"{b.path}:{line}: {fp}" if line else f"{b.path}: {fp}")
    cycle = _cycle(out)
    if cycle:
        raise PlaybookError(f"{declared_at[(cycle[-2], cycle[-1])]}: {' explains '.join(cycle)}: "
                            "a cause cannot explain itself, even through others")
    return out


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in the relation as [a, b, ..., a], or None when it is acyclic."""
    done: set[str] = set()

    def visit(path: list[str]) -> list[str] | None:
        for nxt in graph.get(path[-1], []):
            if nxt in path:
                return [*path[path.index(nxt):], nxt]
            if nxt not in done and (found := visit([*path, nxt])):
                return found
        done.add(path[-1])
        return None

    for node in graph:
        if node not in done and (found := visit([node])):
            return found
    return None


def get_playbook(playbook_id: str, directory: Path | None = None) -> Playbook:
    books = load_playbooks(directory)
    for b in books:
        if b.id == playbook_id:
            return b
    raise PlaybookError(f"unknown playbook {playbook_id!r}; valid ids: {', '.join(b.id for b in books)}")


def checks_for_playbook(playbook_id: str) -> list[str]:
    """The check ids a playbook needs (run first with --symptom), in report order."""
    return get_playbook(playbook_id).checks
