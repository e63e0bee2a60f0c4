"""GITHUB_ACTIONS=true: workflow annotations for checks that need attention, injection-safe."""

from __future__ import annotations

from doctor.render.github import annotations as gh_annotations

from support.render import check, diagnosed_report, finding, mixed_report, report, root_cause


def test_one_annotation_per_check_needing_attention() -> None:
    lines = gh_annotations(mixed_report()).splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["::error", "::warning", "::error", "::notice"]
    assert lines[0].startswith("::error title=ame-doctor sg.ingress fail::")
    assert "Redis SG does not admit the worker SG" in lines[0]
    assert "unlock%3A" not in lines[3] and "unlock: ecs:ExecuteCommand" in lines[3]


def test_healthy_report_has_no_annotations() -> None:
    assert gh_annotations(report([check("ssm.values", "pass")])) == ""


def test_newlines_cannot_inject_another_command() -> None:
    evil = "boom\n::error title=pwned::injected\r\n100%"
    out = gh_annotations(report([check("sg.ingress", "fail", [finding("sg.ingress:a:b", "error", evil)])]))
    assert len(out.splitlines()) == 1
    assert "%0A::error title=pwned::injected%0D%0A100%25" in out


def test_cli_emits_annotations_only_under_github_actions(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "r.json"
    saved.write_text(mixed_report().to_json(), encoding="utf-8")
    # `report` re-renders without annotations; `run` appends them (tested on a run that needs no AWS)
    mod = tmp_path / "ame_synth_gh.py"
    mod.write_text(
        "from doctor.checkapi import CheckMeta, FindingKind, check\n"
        "KIND = FindingKind(severity='error', title='synthetic failure', why='w', fix='f')\n"
        "META = CheckMeta(id='synth.gh', title='synthetic', order=99, proves='p', why='w', remediation='r',\n"
        "                 kinds={'k': KIND})\n"
        "@check(META)\n"
        "def run(ctx):\n"
        "    yield ctx.finding('k', 'res')\n", encoding="utf-8")
    import os

    env = {"AME_DOCTOR_CHECK_MODULES": "ame_synth_gh",
           "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}{os.pathsep}"
                         f"{os.path.dirname(os.path.dirname(__file__))}"}
    on = cli("run", "--only", "synth.gh", "--format", "json", env={**env, "GITHUB_ACTIONS": "true"})
    off = cli("run", "--only", "synth.gh", "--format", "json", env={**env, "GITHUB_ACTIONS": "false"})
    assert on.returncode == off.returncode == 1, on.stderr
    assert "::error title=ame-doctor synth.gh fail::" in on.stdout
    assert "::error" not in off.stdout


def test_root_causes_lead_the_annotations() -> None:
    lines = gh_annotations(diagnosed_report()).splitlines()
    assert lines[0] == (
        "::error title=ame-doctor root cause jobs-fail-immediately/missing-redis-ingress::ROOT CAUSE: The Redis SG "
        "does not admit the worker SG (confirmed) on service propertyfeedtemplate-image, queue image — explains: "
        "Connections to Redis hang; No worker is consuming the queue on queue image"
        "%0Afirst step: aws ec2 describe-security-groups --group-ids sg-0redis")
    assert lines[1].startswith("::error title=ame-doctor root cause jobs-fail-immediately/stale-ssm-values::")
    assert lines[2].startswith("::error title=ame-doctor sg.ingress fail::")  # then the checks, as before
    assert lines[2:] == gh_annotations(mixed_report()).splitlines()


def test_a_possible_root_cause_is_a_warning_and_cannot_inject() -> None:
    rc = root_cause("pb", "c", "possible", title="x\n::error title=pwned::y", steps=["a,b:c"])
    out = gh_annotations(report([check("ssm.values", "pass")], root_causes=[rc]))
    assert out.count("\n") == 1 and out.startswith("::warning title=ame-doctor root cause pb/c::")
    assert "x%0A::error title=pwned::y" in out
