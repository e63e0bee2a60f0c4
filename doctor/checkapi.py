"""Everything a check author uses: check metadata and finding kinds (validated data), the ``@check``
decorator, and the context a check runs with.

A check is ``checks/<id with _ for .>.py`` (a function ``run(ctx) -> Iterable[Finding]``, sync or
async) plus ``checks/<same name>.toml``: the check's metadata (what it proves, why it matters, the
fix, IAM actions) and one ``[kinds.<kind>]`` table per finding kind it can report (signal, severity,
title, why, fix; templates with ``{named}`` placeholders). The call site reports a kind with its
resource, evidence and the template values; the text lives in the data file (ruff's what/why/fix,
Prowler's metadata file). When part of a check cannot run, it says so once with
:meth:`CheckContext.unknown` (the reason and the IAM action or flag that would unlock it).

This module sits below the registry and the engine: it imports neither.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from doctor.aws import denied_action
from doctor.model import CheckResult, Finding, Severity

if TYPE_CHECKING:
    from doctor.aws import AwsSession
    from doctor.config import Config
    from doctor.facts import Facts
    from doctor.redact import Redactor

T = TypeVar("T")
# what a check may read of the run's shared facts; the engine fetches the union ahead (doctor.prefetch)
Read = Literal["probe", "host", "ssm", "services", "tasks", "stopped_tasks", "scaler"]
SIGNAL_PATTERN = r"^[a-z0-9]+\.[a-z0-9_]+$"


class CheckDeclarationError(Exception):
    """A check's metadata or finding kinds are invalid (one line naming the file and the field)."""


class KindVariant(BaseModel):
    """Another reading of the same finding (same uid), e.g. the benign twin of a problem: the fields it
    sets replace the kind's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: str | None = Field(default=None, pattern=r"^$|" + SIGNAL_PATTERN[1:],
                               description='"" = this reading carries no main signal')
    signals: tuple[str, ...] | None = None
    severity: Severity | None = None
    title: str | None = None
    detail: str | None = None
    why: str | None = None
    fix: str | None = None
    remediation: str | None = None


class FindingKind(BaseModel):
    """One kind of finding a check reports: what users see about it, declared once as data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: str | None = Field(default=None, pattern=SIGNAL_PATTERN,
                               description="the signal every finding of this kind carries (None: no signal)")
    signals: tuple[str, ...] = Field(default=(), description="further signals the call site may add")
    severity: Severity
    title: str = Field(min_length=1, description="template")
    detail: str = Field(default="", description="template")
    why: str = Field(min_length=1, description="why this finding matters")
    fix: str = Field(min_length=1, description="what to do about it (template); the finding's remediation")
    remediation: str | None = Field(default=None, description="template for the finding's remediation when it "
                                    "differs from `fix` (e.g. '' for a passing finding)")
    variants: dict[str, KindVariant] = Field(default_factory=dict, description="other readings of the same "
                                             "finding (same uid), chosen by the call site with variant=")

    @field_validator("signals")
    @classmethod
    def _signals(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for s in v:
            if not re.match(SIGNAL_PATTERN, s):
                raise ValueError(f"signal {s!r} must look like 'area.name'")
        return v

    @model_validator(mode="after")
    def _variants_are_valid(self) -> FindingKind:
        for name in self.variants:
            self.variant(name)  # the merged kind must validate
        return self

    def variant(self, name: str | None) -> FindingKind:
        """This kind as read by variant ``name`` (None: the kind itself)."""
        if name is None:
            return self
        if name not in self.variants:
            raise KeyError(f"no variant {name!r}")
        changes = self.variants[name].model_dump(exclude_unset=True)
        if changes.get("signal") == "":
            changes["signal"] = None
        return FindingKind.model_validate({**self.model_dump(exclude={"variants"}), **changes})

    def all_signals(self) -> tuple[str, ...]:
        """Every signal a finding of this kind (any variant) can carry."""
        own = ((self.signal,) if self.signal else ()) + self.signals
        others = tuple(s for v in self.variants for s in self.variant(v).all_signals())
        return tuple(dict.fromkeys(own + others))



class CheckMeta(BaseModel):
    """What users see about a check (ruff-style: what it checks, why it matters, the fix)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+\.[a-z0-9_]+$")
    title: str
    order: int = Field(ge=1)
    severity: Severity = Severity.error
    proves: str
    why: str
    remediation: str
    iam_actions: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    after: tuple[str, ...] = Field(default=(), description="checks this one starts after (when they run); unlike "
                                   "depends_on, their outcome never skips it (it reads their results if present)")
    needs: tuple[str, ...] = Field(default=(), description="inputs: 'aws', 'redis', 'mysql', 'env-file', 'exec'")
    reads: tuple[Read, ...] = Field(default=(), description="shared facts it reads, fetched as the run starts: "
                                    "'probe' (every service's in-task probe), 'host' (the host probes' Redis "
                                    "and MySQL clients, loaded ahead), 'ssm', 'services' (and their task "
                                    "definitions), 'tasks', 'stopped_tasks', 'scaler' (the Lambda controller's)")
    timeout: float | None = Field(default=None, gt=0, description="overrides [run] check_timeout")
    kinds: dict[str, FindingKind] = Field(default_factory=dict, description="the finding kinds it reports")
    fragments: dict[str, str] = Field(default_factory=dict, description="named text templates several kinds "
                                      "share (e.g. a pasteable command), filled with CheckContext.text")

    @field_validator("iam_actions")
    @classmethod
    def _actions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for a in v:
            if ":" not in a:
                raise ValueError(f"IAM action {a!r} must look like 'service:Action'")
        return v

    @model_validator(mode="after")
    def _kind_names(self) -> CheckMeta:
        import re

        for name in self.kinds:
            if not re.match(r"^[a-z0-9_]+$", name):
                raise ValueError(f"finding kind {name!r} must be lower_snake_case")
        return self

    def signals(self) -> set[str]:
        """Every signal this check's findings can carry."""
        return {s for k in self.kinds.values() for s in k.all_signals()}


def load_meta(module_file: str | Path, *, include: Iterable[str | Path] = ()) -> CheckMeta:
    """The metadata of the check in ``module_file``, read from the TOML file beside it (same stem).

    ``include`` names further TOML files (relative to the check's folder) whose ``[kinds.*]`` are
    shared by several checks; a kind the check declares itself wins.
    """
    path = Path(module_file).with_suffix(".toml")
    data = _read_toml(path)
    kinds: dict[str, Any] = {}
    for extra in include:
        kinds.update(_read_toml(path.parent / extra).get("kinds", {}))
    kinds.update(data.get("kinds", {}))
    data["kinds"] = kinds
    try:
        return CheckMeta.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise CheckDeclarationError(f"{path}: {where}: {err['msg']}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CheckDeclarationError(f"{path}: {e}") from None


# --- registration (the registry collects these; it imports this module, never the reverse) --------
CheckFunc = Callable[["CheckContext"], Any]
DECLARED: list[tuple[CheckMeta, CheckFunc]] = []
_listeners: list[Callable[[CheckMeta, CheckFunc], None]] = []


def check(meta: CheckMeta) -> Callable[[CheckFunc], CheckFunc]:
    """Declare ``func`` as the check described by ``meta``."""

    def register(func: CheckFunc) -> CheckFunc:
        DECLARED.append((meta, func))
        for listener in _listeners:
            listener(meta, func)
        return func

    return register


def on_declare(listener: Callable[[CheckMeta, CheckFunc], None]) -> None:
    """Call ``listener`` for every check declared from now on (the registry's hook)."""
    _listeners.append(listener)


# --- the context a check runs with -----------------------------------------------------------------
class CheckContext:
    """What a check sees: config, AWS, shared facts, the redactor, finished dependencies; and the two
    ways it reports: :meth:`finding` (a declared kind) and :meth:`unknown` (what could not be checked)."""

    def __init__(self, meta: CheckMeta, config: Config, aws: AwsSession, facts: Facts, redactor: Redactor,
                 results: Mapping[str, CheckResult] | None = None) -> None:
        self.meta = meta
        self.config = config
        self.aws = aws
        self.facts = facts
        self.redactor = redactor
        self.summary: str | None = None  # the check's one-line summary, when the default does not fit
        self.unknown_reason: str | None = None
        self.unlock: str | None = None
        self.skipped_reason: str | None = None
        self._results: Mapping[str, CheckResult] = results if results is not None else {}

    def finding(
        self,
        kind: str,
        resource: str,
        *,
        evidence: dict[str, Any] | None = None,
        resources: Iterable[str] = (),
        severity: Severity | str | None = None,
        signals: Iterable[str] = (),
        variant: str | None = None,
        **values: Any,
    ) -> Finding:
        """A finding of the declared ``kind`` about ``resource``; ``values`` fill the kind's templates.

        ``variant`` picks another declared reading of the same finding (same uid); ``severity``
        overrides the kind's default; ``signals`` adds signals the kind declares in ``signals`` (an
        undeclared one is a bug in the check and raises).
        """
        if kind not in self.meta.kinds:
            raise KeyError(f"check {self.meta.id} declares no finding kind {kind!r}")
        try:
            declared = self.meta.kinds[kind].variant(variant)
        except KeyError:
            raise KeyError(f"check {self.meta.id} kind {kind!r} declares no variant {variant!r}") from None
        extra = [s for s in signals if s != declared.signal]
        undeclared = [s for s in extra if s not in declared.signals]
        if undeclared:
            raise ValueError(f"{self.meta.id} kind {kind!r} does not declare signal(s) {', '.join(undeclared)}")
        fix = declared.fix if declared.remediation is None else declared.remediation
        return Finding(
            uid=f"{self.meta.id}:{kind}:{resource}",
            severity=Severity(severity) if severity is not None else declared.severity,
            title=_fill(declared.title, values, self.meta.id, kind),
            detail=_fill(declared.detail, values, self.meta.id, kind),
            evidence=evidence or {},
            resources=list(resources) or ([resource] if resource else []),
            remediation=_fill(fix, values, self.meta.id, kind),
            signals=list(dict.fromkeys([*((declared.signal,) if declared.signal else ()), *extra])),
        )

    def text(self, fragment: str, **values: Any) -> str:
        """The check's declared text fragment ``fragment`` filled with ``values`` (for a template value
        that is itself text, e.g. the command a fix pastes)."""
        if fragment not in self.meta.fragments:
            raise KeyError(f"check {self.meta.id} declares no text fragment {fragment!r}")
        return _fill(self.meta.fragments[fragment], values, self.meta.id, f"fragment {fragment}")

    def unknown(self, reason: str, unlock: str | None = None) -> None:
        """Part of the check could not run: the check is ``unknown`` unless something failed. Say why,
        and the IAM action or flag that would let it run."""
        self.unknown_reason = reason if self.unknown_reason is None else f"{self.unknown_reason}; {reason}"
        self.unlock = self.unlock or unlock

    def skip(self, reason: str, unlock: str | None = None) -> None:
        """The check does not apply to this target (an optional integration that is not configured): it ends
        ``skipped`` with ``reason`` — which does not degrade the run — unless it reported findings."""
        self.skipped_reason = reason
        self.unlock = self.unlock or unlock

    def attempt(self, what: str, fn: Callable[[], T]) -> T | None:
        """``fn()``; on an AWS permission error, :meth:`unknown` naming the IAM action and None.
        Any other error propagates (the engine turns it into a result)."""

        try:
            return fn()
        except Exception as e:
            action = denied_action(e)
            if action is None:
                raise
            self.unknown(f"{what}: access denied ({action})", unlock=action)
            return None

    def result_of(self, check_id: str) -> CheckResult | None:
        """The finished result of a dependency (declare it in ``depends_on``)."""
        return self._results.get(check_id)


def _fill(template: str, values: Mapping[str, Any], check_id: str, kind: str) -> str:
    if not template:
        return ""
    try:
        return template.format_map(values)
    except KeyError as e:
        raise KeyError(f"{check_id} kind {kind!r}: no value for placeholder {{{e.args[0]}}}") from None
