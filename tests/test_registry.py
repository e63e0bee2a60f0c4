"""Registry: metadata as validated data, self-registration in order, entry points, duplicate ids."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pydantic import ValidationError

from doctor import registry
from doctor.checkapi import CheckMeta, check
from doctor.registry import RegistryError

DESIGN_ORDER = ["ssm.values", "sg.ingress", "dns.resolve", "reach.redis", "reach.aurora", "s3.access",
                "ecs.startup", "env.drift", "ecs.service", "queue.state", "net.egress", "exec.ready"]


@pytest.fixture
def clean_registry() -> Any:
    registry.load_checks()
    saved = dict(registry._REGISTRY)
    yield registry._REGISTRY
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


def meta(cid: str = "syn.x", **kw: Any) -> CheckMeta:
    base: dict[str, Any] = {"id": cid, "title": "t", "order": 50, "proves": "p", "why": "w", "remediation": "r"}
    return CheckMeta(**{**base, **kw})


def test_builtin_checks_follow_the_design_order() -> None:
    ids = [c.id for c in registry.all_checks()]
    present = [i for i in DESIGN_ORDER if i in ids]
    assert present == [i for i in ids if i in DESIGN_ORDER]  # relative order as designed
    assert ids[0] == "ssm.values"
    for c in registry.all_checks():
        expected = DESIGN_ORDER.index(c.id) + 1 if c.id in DESIGN_ORDER else None
        if expected:
            assert c.meta.order == expected, c.id
        assert c.meta.proves and c.meta.why and c.meta.remediation, c.id
        module = c.func.__module__
        assert module == "checks." + c.id.replace(".", "_"), f"{c.id} lives in {module}"


def test_duplicate_id_names_both(clean_registry: Any) -> None:
    def first(ctx: Any) -> Any:
        return iter(())

    def second(ctx: Any) -> Any:
        return iter(())

    check(meta("syn.dup"))(first)
    with pytest.raises(RegistryError) as e:
        check(meta("syn.dup"))(second)
    msg = str(e.value)
    assert "syn.dup" in msg and "first" in msg and "second" in msg
    with pytest.raises(RegistryError, match="ssm.values"):
        check(meta("ssm.values", order=1))(second)


@pytest.mark.parametrize("bad", [
    {"id": "NoDot"}, {"id": "a.b.c"}, {"order": 0}, {"iam_actions": ("DescribeServices",)},
    {"severity": "fatal"}, {"timeout": 0}, {"surprise": 1},
])
def test_meta_is_validated(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        meta(**bad)


def test_entry_points_are_loaded(clean_registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    loaded: list[str] = []

    class EP:
        name, value = "thirdparty", "thirdparty_checks:register"

        def load(self) -> None:
            loaded.append(self.name)
            check(meta("third.party", order=99))(lambda ctx: iter(()))

    def fake_entry_points(group: str) -> list[EP]:
        return [EP()] if group == registry.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    monkeypatch.setattr(registry, "_LOADED", False)
    checks = registry.load_checks()
    assert loaded == ["thirdparty"]
    assert list(checks)[-1] == "third.party"


def test_broken_entry_point_is_one_line_error(clean_registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    class EP:
        name, value = "broken", "nowhere:x"

        def load(self) -> None:
            raise ModuleNotFoundError("No module named 'nowhere'")

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [EP()])
    monkeypatch.setattr(registry, "_LOADED", False)
    with pytest.raises(RegistryError, match=r"entry point 'broken' \(nowhere:x\) .* No module named 'nowhere'"):
        registry.load_checks()


def test_broken_check_module_exits_3_with_one_line(cli: Any) -> None:
    res = cli("checks", env={"AME_DOCTOR_CHECK_MODULES": "no_such_check_module"})
    assert res.returncode == 3
    assert res.stderr.strip() == ("ame-doctor: cannot run: AME_DOCTOR_CHECK_MODULES module 'no_such_check_module' "
                                  "cannot be imported: ModuleNotFoundError: No module named 'no_such_check_module'")


def test_progress_printer_plain_and_tty() -> None:
    from doctor.events import CheckFinished, CheckStarted, RunStarted
    from doctor.model import CheckResult, CheckStatus, Target
    from doctor.render.text import ProgressPrinter

    events = [RunStarted("r", Target(cluster="c"), [meta("syn.a")]), CheckStarted("syn.a"),
              CheckFinished(CheckResult(id="syn.a", title="t", order=1, status=CheckStatus.warn, summary="hmm"))]
    plain, tty = io.StringIO(), io.StringIO()
    for stream, is_tty in ((plain, False), (tty, True)):
        printer = ProgressPrinter(stream, is_tty)
        for e in events:
            printer(e)
    assert "\x1b" not in plain.getvalue() and "\r" not in plain.getvalue()
    assert plain.getvalue().splitlines() == ["ame-doctor: running 1 checks against c", "     WARN syn.a — hmm (0 ms)"]
    assert "running: syn.a" in tty.getvalue() and "\r\x1b[K" in tty.getvalue()


# --- lazy imports: a narrow run imports only what it runs ---------------------------------------------
def test_the_vocabulary_and_ids_read_from_the_declarations_match_the_imported_checks() -> None:
    """vocabulary() and check_ids() come from the TOML declarations without importing a check; they equal what
    the imported checks' metadata says."""
    loaded = registry.load_checks()
    assert registry.vocabulary() == frozenset(s for rc in loaded.values() for s in rc.meta.signals())
    assert registry.check_ids() == tuple(loaded)


def test_run_only_one_check_imports_no_other_check_module(tmp_path: Any) -> None:
    """`run --only exec.ready` (AWS refused: the run ends at once) imports checks.exec_ready and no other check
    module, though it validates the ids, diagnoses and renders as every run does."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from doctor.sim.servers import free_port

    root = Path(__file__).resolve().parent.parent
    probe = (  # the CLI leaves through os._exit once its output is flushed: list the modules there
        "import json, os, runpy, sys\n"
        "leave = os._exit\n"
        "def listed(code):\n"
        "    print('MODULES ' + json.dumps(sorted(m for m in sys.modules if m.startswith('checks.'))),"
        " file=sys.stderr, flush=True)\n"
        "    leave(code)\n"
        "os._exit = listed\n"
        "sys.argv = ['ame-doctor', *sys.argv[1:]]\n"
        "runpy.run_module('doctor', run_name='__main__')\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
           "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"}
    res = subprocess.run([sys.executable, "-c", probe, "run", "--only", "exec.ready", "--format", "json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, stdin=subprocess.DEVNULL)
    line = next(x for x in res.stderr.splitlines() if x.startswith("MODULES "))
    assert json.loads(line.removeprefix("MODULES ")) == ["checks.exec_ready"], res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert [c["id"] for c in report["checks"]] == ["exec.ready"] and "playbooks" in report
