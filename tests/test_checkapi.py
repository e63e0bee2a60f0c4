"""The check author's API: finding kinds declared once as data, reported by kind with values."""

from __future__ import annotations

from pathlib import Path

import pytest

from doctor.checkapi import CheckContext, CheckDeclarationError, CheckMeta, FindingKind, load_meta
from doctor.config import Config
from doctor.model import Severity
from doctor.redact import Redactor
from doctor.registry import all_checks

KIND = FindingKind(signal="syn.gone", signals=("syn.extra",), severity=Severity.error,
                   title="{thing} is gone", detail="looked {times} times", why="w", fix="recreate {thing}")


def context(**kinds: FindingKind) -> CheckContext:
    meta = CheckMeta(id="syn.api", title="t", order=1, proves="p", why="w", remediation="r", kinds=kinds)
    return CheckContext(meta, Config(), None, None, Redactor([]))  # type: ignore[arg-type]


def test_a_finding_is_its_kind_filled_with_values() -> None:
    f = context(gone=KIND).finding("gone", "bucket-1", evidence={"n": 2}, thing="bucket-1", times=3)
    assert f.uid == "syn.api:gone:bucket-1"
    assert (f.severity, f.title, f.detail, f.remediation) == (Severity.error, "bucket-1 is gone", "looked 3 times",
                                                              "recreate bucket-1")
    assert f.signals == ["syn.gone"] and f.resources == ["bucket-1"] and f.evidence == {"n": 2}


def test_severity_override_and_declared_extra_signal() -> None:
    f = context(gone=KIND).finding("gone", "x", severity="warning", signals=["syn.extra"], thing="x", times=1)
    assert f.severity == Severity.warning and f.signals == ["syn.gone", "syn.extra"]


def test_undeclared_kind_signal_or_value_is_a_bug_in_the_check() -> None:
    ctx = context(gone=KIND)
    with pytest.raises(KeyError, match="declares no finding kind 'other'"):
        ctx.finding("other", "x")
    with pytest.raises(ValueError, match="syn.undeclared"):
        ctx.finding("gone", "x", signals=["syn.undeclared"], thing="x", times=1)
    with pytest.raises(KeyError, match="placeholder {times}"):
        ctx.finding("gone", "x", thing="x")


def test_text_fragments_are_declared_templates_too() -> None:
    meta = CheckMeta(id="syn.frag", title="t", order=1, proves="p", why="w", remediation="r",
                     fragments={"grant": "aws ec2 authorize --group {group}"})
    ctx = CheckContext(meta, Config(), None, None, Redactor([]))  # type: ignore[arg-type]
    assert ctx.text("grant", group="sg-1") == "aws ec2 authorize --group sg-1"
    with pytest.raises(KeyError, match="no text fragment 'revoke'"):
        ctx.text("revoke")
    with pytest.raises(KeyError, match="placeholder {group}"):
        ctx.text("grant")


def test_passing_kind_may_carry_an_empty_remediation() -> None:
    ok = FindingKind(signal="syn.ok", severity=Severity.info, title="fine", why="w", fix="Nothing to fix.",
                     remediation="")
    assert context(ok=ok).finding("ok", "x").remediation == ""


def test_unknown_accumulates_reasons_and_keeps_the_first_unlock() -> None:
    ctx = context()
    ctx.unknown("no .env", unlock="--env-file")
    ctx.unknown("no tasks", unlock="ecs:ListTasks")
    assert (ctx.unknown_reason, ctx.unlock) == ("no .env; no tasks", "--env-file")


def test_load_meta_names_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "syn_bad.toml").write_text('id = "syn.bad"\ntitle = "t"\norder = 1\nproves = "p"\nwhy = "w"\n'
                                           'remediation = "r"\n[kinds.gone]\nseverity = "error"\ntitle = "t"\n'
                                           'why = "w"\n', encoding="utf-8")
    with pytest.raises(CheckDeclarationError, match=r"syn_bad\.toml: kinds\.gone\.fix"):
        load_meta(tmp_path / "syn_bad.py")


def test_every_builtin_kind_says_why_it_matters_and_the_fix() -> None:
    builtin = [rc for rc in all_checks() if rc.func.__module__.startswith("checks.")]
    assert len(builtin) >= 12
    for rc in builtin:
        assert rc.meta.kinds, f"{rc.id} declares no finding kinds"
        for name, kind in rc.meta.kinds.items():
            assert kind.why.strip() and kind.fix.strip(), f"{rc.id}:{name} needs why and fix"
            assert kind.title.strip(), f"{rc.id}:{name} needs a title"


def test_a_kind_without_main_signal_carries_only_what_the_call_site_names() -> None:
    depth = FindingKind(signals=("syn.backlog", "syn.growing"), severity=Severity.info, title="depth", why="w",
                        fix="f")
    ctx = context(depth=depth)
    assert ctx.finding("depth", "q").signals == []
    assert ctx.finding("depth", "q", signals=["syn.growing"]).signals == ["syn.growing"]


def test_a_variant_is_another_reading_of_the_same_finding() -> None:
    empty = FindingKind.model_validate({
        "signal": "syn.logs_empty", "severity": "warning", "title": "no logs for {svc}", "why": "w", "fix": "log to stderr",
        "variants": {"none": {"signal": ""}, "quiet": {"signal": "syn.quiet", "severity": "info", "title": "{svc} was quiet", "remediation": ""}}})
    ctx = context(logs_empty=empty)
    problem = ctx.finding("logs_empty", "image", svc="image")
    quiet = ctx.finding("logs_empty", "image", variant="quiet", svc="image")
    assert problem.uid == quiet.uid == "syn.api:logs_empty:image"
    assert (quiet.severity, quiet.title, quiet.remediation, quiet.signals) == (Severity.info, "image was quiet", "",
                                                                               ["syn.quiet"])
    assert (problem.severity, problem.remediation) == (Severity.warning, "log to stderr")
    assert set(empty.all_signals()) == {"syn.logs_empty", "syn.quiet"}
    assert ctx.finding("logs_empty", "image", variant="none", svc="image").signals == []
    with pytest.raises(KeyError, match="no variant 'loud'"):
        ctx.finding("logs_empty", "image", variant="loud", svc="image")


def test_docs_checks_md_is_generated_from_the_declarations() -> None:
    """docs/checks.md is `ame-doctor checks --format markdown`: regenerate it when a declaration changes."""
    from doctor.commands.checks import reference

    docs = Path(__file__).resolve().parent.parent / "docs" / "checks.md"
    expected = reference([rc.meta for rc in all_checks() if rc.func.__module__.startswith("checks.")])
    assert docs.read_text(encoding="utf-8") == expected, (
        "docs/checks.md is stale: ame-doctor checks --format markdown > docs/checks.md")
