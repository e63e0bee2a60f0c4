"""What one run needs, built once from the parsed arguments: the config, the check selection, the
output files and the report's argv. Every way of running the doctor (``run``, the TUI, ``gate``,
``watch``, ``demo``) builds a ``RunSpec`` and constructs its engine from it.

``args`` is any object with the run options' attribute names (an ``argparse.Namespace`` from
``doctor.commands.options.add_run_options``); a missing attribute means "not given". Nothing here
knows about argparse or Textual. Bad input raises ``UsageError`` (one line, exit 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doctor import dotenv
from doctor.config import Config, load_config
from doctor.diagnosis import checks_for_playbook
from doctor.engine import Engine, EngineOptions
from doctor.errors import UsageError
from doctor.model import Report
from doctor.outputs import Output, check_format, parse_outputs
from doctor.registry import RegisteredCheck, registered_checks

if TYPE_CHECKING:
    from doctor.engine import Engine
    from doctor.redact import Redactor

_ACTIVE: list[Redactor] = []  # the redactor of the last engine built here: unexpected errors are scrubbed too


def active_redactor() -> Redactor | None:
    return _ACTIVE[-1] if _ACTIVE else None


def split_ids(values: Sequence[str]) -> list[str]:
    """``--only a,b --only c`` -> [a, b, c]."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


# flag -> (its attribute on the parsed arguments, the config key it sets): a flag's value is validated
# exactly as the key's (type, finite, range), and an error names the flag
FLAG_KEYS: dict[str, tuple[str, str]] = {
    "--cluster": ("cluster", "ecs.cluster"),
    "--region": ("region", "aws.region"),
    "--profile": ("profile", "aws.profile"),
    "--env-file": ("env_file", "env.file"),
    "--exec": ("exec_transport", "exec.transport"),
    "--fail-on": ("fail_on", "run.fail_on"),
    "--strict": ("strict", "run.strict"),
    "--timeout": ("timeout", "run.timeout"),
    "--concurrency": ("concurrency", "run.concurrency"),
    "--sample": ("sample", "run.sample"),
    "--soak-minutes": ("soak_minutes", "run.soak_minutes"),
}


def config_from_args(args: Any) -> Config:
    """The TOML config (``--config``, else $AME_DOCTOR_CONFIG, else ./ame-doctor.toml) with the flags on top."""
    overrides: dict[str, Any] = {}
    for attr, key in FLAG_KEYS.values():
        value = getattr(args, attr, None)
        overrides[key] = str(value) if isinstance(value, Path) else value
    flags = {key: flag for flag, (_, key) in FLAG_KEYS.items()}
    return load_config(getattr(args, "config", None), overrides, flags)


def bounded_number(flag: str, value: float, low: float, high: float) -> float:
    """A numeric flag with no config key of its own: finite and within [low, high], else a usage error."""
    if not math.isfinite(value) or not low <= value <= high:
        raise UsageError(f"{flag} {value:g}: must be a finite number from {low:g} to {high:g}")
    return value


def select_checks(args: Any) -> tuple[list[RegisteredCheck], list[str], list[str]]:
    """Every registered check, and the ``--only``/``--skip`` ids. Usage errors: an unknown id, an ``--only``
    naming no id (``--only ''`` selects nothing, not everything), an id both in ``--only`` and ``--skip``,
    and a selection left empty. Built-in checks are not imported here: those that run are, when they run."""
    checks = list(registered_checks().values())
    valid = [c.id for c in checks]
    given_only = getattr(args, "only", None) or []
    only, skip = split_ids(given_only), split_ids(getattr(args, "skip", None) or [])
    if given_only and not only:
        raise UsageError("--only names no check id; valid ids: " + ", ".join(valid))
    unknown = [i for i in only + skip if i not in valid]
    if unknown:
        raise UsageError(f"unknown check id {', '.join(unknown)}; valid ids: {', '.join(valid)}")
    both = [i for i in dict.fromkeys(only) if i in skip]
    if both:
        raise UsageError(f"--only and --skip both name {', '.join(both)}")
    if all(c.id in skip or (only and c.id not in only) for c in checks):
        raise UsageError("no check left to run: --skip removes every selected check")
    return checks, only, skip


def preflight_aws(config: Config, checks: Sequence[RegisteredCheck]) -> str | None:
    """Why the doctor cannot talk to AWS at all (exit 3), or None. Only asked when a check needs AWS."""
    if not any("aws" in c.meta.needs for c in checks):
        return None
    from botocore.exceptions import BotoCoreError

    from doctor.aws import botocore_session

    try:
        session = botocore_session(config.aws.region, config.aws.profile)
        creds = session.get_credentials()
        region = session.get_config_variable("region")
    except BotoCoreError as e:
        return f"AWS session could not be created: {e}"
    if creds is None:
        return "no AWS credentials found (use --profile, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    if not region:
        return "no AWS region (use --region, AWS_REGION, or [aws] region in the config)"
    return None


@dataclass(frozen=True)
class RunSpec:
    config: Config
    checks: tuple[RegisteredCheck, ...]  # every registered check; the engine applies only/skip
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()  # started first: the --symptom playbook's checks
    symptom: str | None = None
    argv: tuple[str, ...] = ("ame-doctor",)  # recorded in the report
    fmt: str = "text"  # stdout format
    outputs: tuple[Output, ...] = ()  # --output files
    no_color: bool = False

    @property
    def selected(self) -> list[RegisteredCheck]:
        return [c for c in self.checks if (not self.only or c.id in self.only) and c.id not in self.skip]

    def preflight(self) -> str | None:
        """Why the doctor cannot talk to AWS at all (the caller exits 3), or None."""
        return preflight_aws(self.config, self.selected)

    def engine(self, only: Sequence[str] | None = None, *, diagnose: bool = True, timeline: bool | None = None,
               **kwargs: Any) -> Engine:
        """The engine for this run; ``only``: rerun just those checks (no --skip then). ``timeline``: read
        what changed ([timeline] enabled permitting); by default unless this reruns some checks.
        ``kwargs`` go to ``Engine`` (``aws=``, ``redactor=`` for tests and shared redactors)."""

        wanted = not only if timeline is None else timeline
        opts = EngineOptions(only=list(only) if only else list(self.only), skip=[] if only else list(self.skip),
                             priority=list(self.priority), argv=list(self.argv), diagnose=diagnose,
                             timeline=diagnose and wanted and self.config.timeline.enabled)
        engine = Engine(self.config, list(self.checks), opts, **kwargs)
        _ACTIVE[:] = [engine.redactor]
        return engine

    def symptom_first(self, report: Report) -> Report:
        """Show the --symptom playbook on top, as ``run --symptom`` prints it."""
        if self.symptom:
            report.playbooks.sort(key=lambda p: p.id != self.symptom)
        return report


def build_run_spec(args: Any, argv: Sequence[str], *, output_default: str | None = None,
                   validate_inputs: bool = True) -> RunSpec:
    """The run described by ``args``; ``argv`` is the command line after ``ame-doctor``.

    ``output_default``: the format of an ``--output`` path whose extension names none (default: the
    stdout format; json when that is text). ``validate_inputs``: also reject, before anything runs,
    an unavailable stdout format and an ``--env-file`` that is not a file (what ``run`` does; the TUI
    shows such problems in its checks instead).
    """
    config = config_from_args(args)
    checks, only, skip = select_checks(args)
    fmt = getattr(args, "format", None) or "text"
    if validate_inputs:
        check_format(fmt)
        env_file: Path | None = getattr(args, "env_file", None)
        if env_file is not None:  # read now (a pipe, <(...), is kept for the run): a bad file is exit 2 up front
            try:
                dotenv.load(env_file)
            except dotenv.DotenvReadError as e:
                raise UsageError(f"--env-file {e}") from None
    outputs = parse_outputs(getattr(args, "output", None) or [], output_default or fmt)
    symptom = getattr(args, "symptom", None)
    priority: list[str] = []
    if symptom:

        priority = checks_for_playbook(symptom)
    return RunSpec(config=config, checks=tuple(checks), only=tuple(only), skip=tuple(skip),
                   priority=tuple(priority), symptom=symptom, argv=("ame-doctor", *argv), fmt=fmt,
                   outputs=tuple(outputs), no_color=bool(getattr(args, "no_color", False)))
