"""The shipped playbook files, the strict front-matter parser's errors, and `ame-doctor playbooks`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from doctor import registry
from doctor.diagnosis import (
    PLACEHOLDERS,
    PlaybookError,
    checks_for_playbook,
    explanations,
    load_playbooks,
    parse_playbook,
    playbook_dir,
    split_front_matter,
)

ROOT = Path(__file__).resolve().parents[2]

# Playbook and cause ids are a public contract (reports, --symptom and runbooks name them).
CONTRACT = {
    "jobs-fail-immediately": ["bad-db-host", "missing-aurora-ingress", "missing-redis-ingress", "stale-ssm-values"],
    "no-steady-state": ["bad-container-image", "missing-runtime-dirs", "bad-bootstrap"],
    "queue-not-draining": ["workers-not-consuming", "jobs-failing-and-requeueing", "wrong-redis", "scaler-not-waking"],
    "timeout-symptoms": ["db-path-blocked", "redis-path-unhealthy"],
}


# --- the shipped files ----------------------------------------------------------------------
def test_shipped_playbooks_match_the_contract() -> None:
    books = load_playbooks()
    assert [b.id for b in books] == list(CONTRACT)
    for b in books:
        assert [c.id for c in b.causes] == CONTRACT[b.id], b.id
    assert playbook_dir() == ROOT / "playbooks"


@pytest.mark.parametrize("playbook_id", list(CONTRACT))
def test_shipped_playbook_is_complete(playbook_id: str) -> None:
    b = parse_playbook(ROOT / "playbooks" / f"{playbook_id}.md")
    vocabulary = registry.vocabulary()  # every signal a registered check declares it can emit
    assert b.title and b.summary
    for heading in ("## What it looks like", "## Check first", "## Operating rules"):
        assert heading in b.body, heading
    rules = b.body.split("## Operating rules", 1)[1].lower()
    assert "wider" in rules or "do not scale" in rules or "before adding workers" in rules
    assert "host rollback" in rules
    assert f"--symptom {playbook_id}" in b.body
    for c in b.causes:
        assert c.title and c.summary and c.checks and c.next_steps, c.id
        assert c.confirm, f"{c.id}: a cause needs a confirming signal"
        assert c.rule_out or c.id == "jobs-failing-and-requeueing", f"{c.id}: no positive rule-out signal"
        for s in c.signals():
            assert s in vocabulary, f"{c.id}: undocumented signal {s}"
        for e in c.rule_out:  # positive signals, or DNS showing the host is stale (a timeout is then not the path)
            for t in e.terms:
                assert t.signal.endswith((".ok", "_ok")) or t.signal in (
                    "ecs.steady", "queue.draining", "dns.db_host_stale", "dns.redis_host_stale"), (c.id, str(e))
        assert set(c.checks) <= set(registry.check_ids())
        for step in c.next_steps:
            assert set(re.findall(r"\{([a-z_]+)\}", step)) <= set(PLACEHOLDERS), step
        assert any(s.startswith("aws ") for s in c.next_steps), f"{c.id}: no pasteable aws command"


def test_front_matter_is_valid_yaml_with_the_same_meaning() -> None:
    """On-call can edit the files as YAML: the strict parser agrees with a real YAML parser."""
    yaml = pytest.importorskip("yaml")
    from doctor.diagnosis import parse_front_matter

    for f in sorted((ROOT / "playbooks").glob("*.md")):
        text = f.read_text(encoding="utf-8")
        ours, _, _ = parse_front_matter(str(f), text)
        lines, _ = split_front_matter(str(f), text)
        assert ours == yaml.safe_load("\n".join(line for _, line in lines)), f.name


def test_key_commands_from_the_runbook_are_present() -> None:
    steps = {c.id: "\n".join(c.next_steps) for b in load_playbooks() for c in b.causes}
    assert "aws ec2 authorize-security-group-ingress --group-id {redis_sg} --protocol tcp --port {redis_port} " \
           "--source-group {worker_sg}" in steps["missing-redis-ingress"]
    assert "--group-id {aurora_sg}" in steps["missing-aurora-ingress"]
    assert "aws ecs update-service --cluster {cluster} --service {service} --force-new-deployment" \
        in steps["stale-ssm-values"]
    assert "aws ecs describe-services --cluster {cluster} --services {service}" in steps["workers-not-consuming"]


def test_playbooks_are_packaged() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'playbooks\s*=\s*\[\s*"\*\.md"\s*\]', text)


def test_checks_for_playbook() -> None:
    assert checks_for_playbook("timeout-symptoms") == ["sg.ingress", "dns.resolve", "reach.redis", "reach.aurora"]
    jobs = checks_for_playbook("jobs-fail-immediately")
    assert jobs[:5] == ["ssm.values", "sg.ingress", "dns.resolve", "reach.redis", "reach.aurora"]
    assert "queue.state" in checks_for_playbook("queue-not-draining")
    with pytest.raises(PlaybookError, match="unknown playbook 'nope'.*jobs-fail-immediately"):
        checks_for_playbook("nope")


# --- the causal relation: `explains` (and its inverse `yields_to`) -----------------------------
def _copy(tmp_path: Path, edits: dict[str, tuple[str, str]]) -> Path:
    """The shipped playbooks copied to tmp_path, with ``{file stem: (old, new)}`` text replacements."""
    for f in (ROOT / "playbooks").glob("*.md"):
        text = f.read_text(encoding="utf-8")
        if f.stem in edits:
            old, new = edits[f.stem]
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        (tmp_path / f.name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_shipped_relation_holds_what_the_runbook_says() -> None:
    rel = explanations(load_playbooks())
    # a worker that cannot start explains "no worker is consuming" for the same queue
    for starter in ("bad-container-image", "missing-runtime-dirs", "bad-bootstrap"):
        assert "queue-not-draining/workers-not-consuming" in rel[f"no-steady-state/{starter}"], starter
    assert "no-steady-state/bad-bootstrap" in rel["no-steady-state/bad-container-image"]
    assert "timeout-symptoms/redis-path-unhealthy" in rel["jobs-fail-immediately/missing-redis-ingress"]
    assert "timeout-symptoms/db-path-blocked" in rel["jobs-fail-immediately/missing-aurora-ingress"]
    assert {"queue-not-draining/jobs-failing-and-requeueing", "timeout-symptoms/db-path-blocked"} <= set(
        rel["jobs-fail-immediately/bad-db-host"])
    assert "no-steady-state/bad-bootstrap" in rel["jobs-fail-immediately/stale-ssm-values"]
    # consequences explain nothing upstream of them; nobody consuming explains only what it leaves behind (jobs
    # released before the drain sitting with attempts > 0: issue 18)
    assert rel["queue-not-draining/workers-not-consuming"] == ["queue-not-draining/jobs-failing-and-requeueing"]
    assert "jobs-fail-immediately/bad-db-host" not in rel["timeout-symptoms/db-path-blocked"]


def test_explains_must_name_an_existing_cause_with_file_and_line(tmp_path: Path) -> None:
    d = _copy(tmp_path, {"no-steady-state": ("breaker\n      - bad-bootstrap\n", "breaker\n      - bad-bootstrapp\n")})
    line = next(n for n, text in enumerate((d / "no-steady-state.md").read_text().splitlines(), 1)
                if text.strip() == "- bad-bootstrapp")
    with pytest.raises(PlaybookError, match=rf"no-steady-state\.md:{line}: causes\[0\]\.explains\[0\]: no playbook "
                                            r"has a cause 'bad-bootstrapp'"):
        load_playbooks(d)


def test_explains_with_a_playbook_must_name_a_cause_of_that_playbook(tmp_path: Path) -> None:
    d = _copy(tmp_path, {"no-steady-state": ("pops the queue\n      - queue-not-draining/workers-not-consuming\n",
                                             "pops the queue\n      - timeout-symptoms/workers-not-consuming\n")})
    with pytest.raises(PlaybookError, match=r"no-steady-state\.md:\d+: causes\[0\]\.explains\[1\]: no playbook "
                                            r"has a cause 'timeout-symptoms/workers-not-consuming'"):
        load_playbooks(d)


def test_a_cycle_of_explanations_is_an_error(tmp_path: Path) -> None:
    d = _copy(tmp_path, {"queue-not-draining": ("      - jobs-failing-and-requeueing\n    next_steps:",
                                                "      - jobs-failing-and-requeueing\n      - bad-container-image\n"
                                                "    next_steps:")})
    with pytest.raises(PlaybookError, match=r"\.md:\d+: causes\[\d\]\.explains\[\d\]: .+ explains .+: a cause "
                                            r"cannot explain itself, even through others") as e:
        load_playbooks(d)
    cycle = str(e.value).split(": ")[2].split(" explains ")
    assert cycle[0] == cycle[-1]
    assert {"queue-not-draining/workers-not-consuming", "no-steady-state/bad-container-image"} <= set(cycle)


def test_an_ambiguous_bare_cause_id_must_name_its_playbook(tmp_path: Path) -> None:
    d = _copy(tmp_path, {})
    (d / "zz-extra.md").write_text(GOOD.replace("{id}", "zz-extra").replace("c-one", "bad-bootstrap"))
    # `bad-bootstrap` now names two causes: the shipped files' bare references to it are ambiguous
    with pytest.raises(PlaybookError, match=r"no-steady-state\.md:\d+: causes\[0\]\.explains\[0\]: ambiguous "
                                            r"\(no-steady-state/bad-bootstrap, zz-extra/bad-bootstrap\): write "
                                            r"'playbook/cause' for 'bad-bootstrap'"):
        load_playbooks(d)


def test_yields_to_is_the_same_relation_written_on_the_consequence(tmp_path: Path) -> None:
    """An older edited copy written with `yields_to` keeps loading, with the same meaning."""
    d = _copy(tmp_path, {
        "timeout-symptoms": ("    checks: [reach.aurora, dns.resolve, sg.ingress]\n",
                             "    checks: [reach.aurora, dns.resolve, sg.ingress]\n    yields_to: [wrong-redis]\n")})
    rel = explanations(load_playbooks(d))
    assert "timeout-symptoms/db-path-blocked" in rel["queue-not-draining/wrong-redis"]
    assert rel["jobs-fail-immediately/missing-aurora-ingress"] == explanations(load_playbooks())[
        "jobs-fail-immediately/missing-aurora-ingress"]


def test_playbook_checks_follow_the_registry_order() -> None:
    """The known check ids and their report order are the registry's, not a list of the diagnosis's own."""
    order = registry.check_ids()
    for b in load_playbooks():
        assert b.checks == [c for c in order if c in set(b.checks)], b.id


# --- malformed files: one clear error naming the file, line and field -----------------------
GOOD = """---
id: {id}
title: T
summary: S
causes:
  - id: c-one
    title: One
    checks: [dns.resolve]
    confirm:
      - dns.db_host_stale
    rule_out: [dns.db_ok]
    next_steps:
      - aws ecs describe-services --cluster {cluster}
---
# body
"""

BAD = [
    ("no front matter", "# just markdown\n", r"x\.md:1: a playbook must start with a '---'"),
    ("unclosed", "---\nid: x\n", r"x\.md: front matter is not closed"),
    ("missing title", GOOD.replace("title: T\n", ""), r"x\.md: title: required field is missing"),
    ("unknown field", GOOD.replace("summary: S\n", "summary: S\nsumary: S\n"), r"x\.md:5: sumary: unknown field"),
    ("id mismatch", GOOD.replace("id: {id}", "id: y"), r"x\.md:2: id: 'y' must match the file name"),
    ("bad signal", GOOD.replace("- dns.db_host_stale", "- dns db host stale"),
     r"x\.md:10: causes\[0\]\.confirm\[0\]: 'dns db host stale' is not a signal"),
    ("undeclared signal", GOOD.replace("- dns.db_host_stale", "- dns.db_host_stail"),
     r"x\.md:10: causes\[0\]\.confirm\[0\]: unknown signal 'dns.db_host_stail': no check declares it"),
    ("undeclared signal in a combination", GOOD.replace("- dns.db_host_stale", "- reach.aurora_timeout@task + dns.db_okay"),
     r"x\.md:10: causes\[0\]\.confirm\[0\]: unknown signal 'dns.db_okay'"),
    ("bad vantage", GOOD.replace("- dns.db_host_stale", "- reach.aurora_timeout@moon"),
     r"x\.md:10: causes\[0\]\.confirm\[0\]: vantage @moon"),
    ("unknown check", GOOD.replace("[dns.resolve]", "[dns.resolv]"),
     r"x\.md:8: causes\[0\]\.checks\[0\]: unknown check id 'dns.resolv'"),
    ("no next steps", GOOD.replace("    next_steps:\n      - aws ecs describe-services --cluster {cluster}\n", ""),
     r"causes\[0\]\.next_steps: required field is missing"),
    ("bad placeholder", GOOD.replace("{cluster}", "{clustr}"),
     r"x\.md:13: causes\[0\]\.next_steps\[0\]: unknown placeholder \{clustr\}"),
    ("no confirm", GOOD.replace("    confirm:\n      - dns.db_host_stale\n", ""),
     r"causes\[0\]\.confirm: a cause needs at least one"),
    ("causes not a list", GOOD.split("causes:")[0] + "causes: nope\n---\n", r"x\.md:5: causes: must be a list"),
    ("bad indentation", GOOD.replace("    title: One", "     title: One"), r"x\.md:7: unexpected indentation"),
    ("tab", GOOD.replace("    title: One", "\ttitle: One"), r"x\.md:7: tabs are not allowed"),
    ("duplicate key", GOOD.replace("title: T\n", "title: T\ntitle: U\n"), r"x\.md:4: duplicate key 'title'"),
    ("unquoted colon", GOOD.replace("summary: S", "summary: a: b"), r"x\.md:4: value 'a: b' must be quoted"),
    ("unterminated quote", GOOD.replace("summary: S", 'summary: "S'), r"x\.md:4: unterminated quoted string"),
    ("yields to itself", GOOD.replace("    rule_out: [dns.db_ok]\n", "    rule_out: [dns.db_ok]\n    yields_to: [c-one]\n"),
     r"x\.md:12: causes\[0\]\.yields_to\[0\]: 'c-one' must be another cause"),
    ("explains itself", GOOD.replace("    rule_out: [dns.db_ok]\n", "    rule_out: [dns.db_ok]\n    explains: [x/c-one]\n"),
     r"x\.md:12: causes\[0\]\.explains\[0\]: 'x/c-one' must be another cause"),
    ("explains a malformed id", GOOD.replace("    rule_out: [dns.db_ok]\n",
                                             "    rule_out: [dns.db_ok]\n    explains: [other, Bad Id]\n"),
     r"x\.md:12: causes\[0\]\.explains\[1\]: 'Bad Id' must be another cause \('playbook/cause' or a cause id\)"),
    ("duplicate cause", GOOD.replace("---\n# body", "  - id: c-one\n    title: Two\n    checks: [dns.resolve]\n"
                                     "    confirm: [dns.db_ok]\n    next_steps: [x]\n---\n# body"),
     r"causes\[1\]\.id: duplicate cause id 'c-one'"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_malformed_playbook_is_a_clear_error(tmp_path: Path, name: str, text: str, message: str) -> None:
    f = tmp_path / "x.md"
    f.write_text(text.replace("{id}", "x"))
    with pytest.raises(PlaybookError, match=message):
        parse_playbook(f)


def test_good_template_parses(tmp_path: Path) -> None:
    f = tmp_path / "x.md"
    f.write_text(GOOD.replace("{id}", "x"))
    b = parse_playbook(f)
    assert b.causes[0].next_steps == ["aws ecs describe-services --cluster {cluster}"]
    assert [str(e) for e in b.causes[0].rule_out] == ["dns.db_ok"]
    assert b.body == "# body\n"


def test_combination_and_vantage_expressions_parse(tmp_path: Path) -> None:
    f = tmp_path / "x.md"
    f.write_text(GOOD.replace("{id}", "x").replace("- dns.db_host_stale", "- reach.aurora_timeout@task + dns.db_ok"))
    e = parse_playbook(f).causes[0].confirm[0]
    assert [(t.signal, t.vantage) for t in e.terms] == [("reach.aurora_timeout", "task"), ("dns.db_ok", None)]


# --- the CLI --------------------------------------------------------------------------------
def test_cli_lists_playbooks(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("playbooks")
    assert res.returncode == 0, res.stderr
    for pid, causes in CONTRACT.items():
        assert pid in res.stdout
        assert ", ".join(causes) in res.stdout


def test_cli_prints_one_playbook_text_markdown_json(cli) -> None:  # type: ignore[no-untyped-def]
    text = cli("playbooks", "jobs-fail-immediately")
    assert text.returncode == 0, text.stderr
    assert "missing-redis-ingress" in text.stdout and "Operating rules" in text.stdout
    assert "$ aws ec2 authorize-security-group-ingress --group-id {redis_sg}" in text.stdout
    assert "queue-not-draining" not in text.stdout.split("explains")[0]
    causal = cli("playbooks", "no-steady-state")
    assert "explains (when it holds in the same scope): bad-bootstrap, queue-not-draining/workers-not-consuming" \
        in causal.stdout

    md = cli("playbooks", "queue-not-draining", "--format", "markdown")
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# The queue is not draining")
    assert "### `wrong-redis`" in md.stdout and "```sh" in md.stdout
    assert "- explains (when it holds in the same scope): `workers-not-consuming`" in md.stdout

    js = cli("playbooks", "timeout-symptoms", "--format", "json")
    assert js.returncode == 0, js.stderr
    data = json.loads(js.stdout)
    assert data["id"] == "timeout-symptoms"
    assert [c["id"] for c in data["causes"]] == CONTRACT["timeout-symptoms"]
    assert "reach.aurora_timeout@task + dns.db_ok" in data["causes"][0]["confirm"]

    every = json.loads(cli("playbooks", "--format", "json").stdout)
    assert [b["id"] for b in every] == list(CONTRACT)


def test_cli_unknown_playbook_exits_2(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("playbooks", "jobs-fail-slowly")
    assert res.returncode == 2
    assert "unknown playbook 'jobs-fail-slowly'" in res.stderr and "Traceback" not in res.stderr


def test_cli_malformed_playbook_exits_2_naming_file_and_field(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "x.md").write_text(GOOD.replace("{id}", "x").replace("[dns.resolve]", "[dns.resolv]"))
    res = cli("playbooks", env={"AME_DOCTOR_PLAYBOOKS": str(tmp_path)})
    assert res.returncode == 2
    assert f"{tmp_path / 'x.md'}:8: causes[0].checks[0]: unknown check id" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_run_unknown_symptom_exits_2(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("run", "--symptom", "nope", "--only", "ssm.values")
    assert res.returncode == 2
    assert "unknown playbook 'nope'" in res.stderr and "Traceback" not in res.stderr


def test_cli_run_symptom_puts_that_playbook_first(moto_endpoint, cli) -> None:  # type: ignore[no-untyped-def]
    import boto3

    from doctor.sim.world import build_world

    build_world(boto3.Session(region_name="eu-west-1"))
    res = cli("run", "--symptom", "queue-not-draining", "--only", "ssm.values", "--format", "json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert [p["id"] for p in report["playbooks"]][0] == "queue-not-draining"
    assert {p["id"] for p in report["playbooks"]} == set(CONTRACT)
    causes = {c["id"]: c for p in report["playbooks"] for c in p["causes"]}
    assert causes["stale-ssm-values"]["state"] == "ruled-out"          # ssm.ok
    assert "ssm.values:ok:" in causes["stale-ssm-values"]["refuting"][0]
    assert causes["workers-not-consuming"]["state"] == "unknown"       # queue.state did not run
    assert all("reason" in c for c in causes.values())
