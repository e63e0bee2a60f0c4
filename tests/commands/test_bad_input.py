"""Bad input is exit 2 with one line, never an internal error, never a hang: a table of hostile inputs
(config, saved reports, .env, selection) through the CLI in-process, plus every numeric flag of every
command — enumerated from the parsers, so a new flag cannot skip the table — with non-finite and
out-of-range values."""

from __future__ import annotations

import argparse
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from doctor import inputs
from doctor.cli import build_parser, main
from doctor.registry import all_checks

Make = Callable[[Path], list[str]]  # builds the files of a case in tmp_path, returns the argv


def _file(name: str, text: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.write_text(text, encoding="utf-8")
        return p
    return make


def _report(**over: Any) -> str:
    base: dict[str, Any] = {"schema_version": 2, "tool": {"version": "0"}, "target": {"cluster": "c"},
                            "run": {"id": "r", "started_at": "2026-01-01T00:00:00+00:00"}, "checks": []}
    base.update(over)
    return json.dumps(base)


def _check(cid: str) -> dict[str, Any]:
    return {"id": cid, "title": "t", "order": 1, "status": "pass"}


def _fifo(tmp: Path) -> Path:
    p = tmp / "fifo"
    os.mkfifo(p)  # nobody ever writes to it
    return p


def config_case(text: str) -> Make:
    return lambda tmp: ["run", "--only", "ssm.values", "--config", str(_file("c.toml", text)(tmp))]


def report_case(text: str) -> Make:
    return lambda tmp: ["report", str(_file("r.json", text)(tmp))]


def env_case(text: str) -> Make:
    return lambda tmp: ["run", "--only", "env.drift", "--env-file", str(_file("prod.env", text)(tmp))]


NESTED_ENV = "\n".join(["L0=0123456789abcdef", *(f"L{i}=${{L{i - 1}}}${{L{i - 1}}}" for i in range(1, 31))])
DEEP_ENV = "\n".join(["D0=x", *(f"D{i}=${{D{i - 1}}}" for i in range(1, 40))])

CASES: list[tuple[str, Make, str]] = [
    # config: structure the parser cannot take, numbers and names that cannot work
    ("toml-nested", config_case("x = " + "[" * 50_000 + "]" * 50_000 + "\n"), "nested too deeply"),
    ("toml-5000-digits", config_case("x = " + "9" * 5000 + "\n"), "invalid TOML: Exceeds the limit"),
    ("region", config_case('[aws]\nregion = "eu west 1!"\n'), "c.toml:2: aws.region: must be an AWS region"),
    ("cluster-empty", config_case('[ecs]\ncluster = ""\n'), "c.toml:2: ecs.cluster: must be an ECS name"),
    ("service-spaces", config_case('[queues.image]\nservice = "a b"\n'), "queues.image.service: must be an ECS"),
    ("redis-port", config_case("[redis]\nport = 99999\n"), "redis.port: Input should be less than or equal to 65535"),
    ("db-port-zero", config_case("[database]\nport = 0\n"), "database.port: Input should be greater than or equal"),
    ("redis-db-negative", config_case("[redis]\ndb = -1\n"), "redis.db: Input should be greater than or equal to 0"),
    ("window-absurd", config_case("[run]\nwindow_minutes = 100000000000\n"), "run.window_minutes: Input should be"),
    ("soak-absurd", config_case("[run]\nsoak_minutes = 99999\n"), "run.soak_minutes: Input should be"),
    ("timeout-inf", config_case("[run]\ntimeout = inf\n"), "run.timeout: Input should be a finite number"),
    ("check-timeout-nan", config_case("[run]\ncheck_timeout = nan\n"), "run.check_timeout: Input should be a finite"),
    ("scale-absurd", config_case('[queues.image]\nservice = "s"\nscale = [0, 100000]\n'), "scale must be"),
    ("nameserver-port", config_case('[dns]\nnameservers = ["10.0.0.2:70000"]\n'), "port must be a number in 1..65535"),
    ("profile-blank", config_case('[aws]\nprofile = " "\n'), "aws.profile: must be a non-empty name"),
    ("config-fifo", lambda tmp: ["run", "--config", str(_fifo(tmp))], "nothing to read for"),
    ("config-dir", lambda tmp: ["run", "--config", str(tmp)], "is a directory"),
    # saved reports
    ("json-nested", report_case("[" * 100_000 + "]" * 100_000), "not a report (JSON nested too deeply)"),
    ("json-5000-digit-version", report_case('{"schema_version": ' + "9" * 5000 + "}"), "Exceeds the limit"),
    ("version-true", report_case('{"schema_version": true}'), "schema_version must be a positive integer, got true"),
    ("version-negative", report_case('{"schema_version": -1}'), "schema_version must be a positive integer, got -1"),
    ("duplicate-check", report_case(_report(checks=[_check("a.b"), _check("a.b")])), "check 'a.b' appears twice"),
    ("report-dev-zero", lambda tmp: ["report", "/dev/zero"], "/dev/zero: too large"),
    ("report-fifo", lambda tmp: ["report", str(_fifo(tmp))], "nothing to read for"),
    ("diff-fifo", lambda tmp: ["diff", str(_fifo(tmp)), str(tmp / "other.json")], "nothing to read for"),
    # .env: expansion bounded (phpdotenv would run PHP out of memory), FIFOs refused, not "no such file"
    ("env-expansion-bomb", env_case(NESTED_ENV), "prod.env: line 14: L13: ${...} expansion refused: a value "
                                                 "expanding beyond 65536 characters"),
    ("env-deep-references", env_case(DEEP_ENV), "more than 16 nested references"),
    ("env-fifo", lambda tmp: ["run", "--only", "env.drift", "--env-file", str(_fifo(tmp))], "nothing to read for"),
    ("env-dir", lambda tmp: ["run", "--only", "env.drift", "--env-file", str(tmp)], "is a directory"),
    ("env-missing", lambda tmp: ["run", "--only", "env.drift", "--env-file", str(tmp / "x.env")], "no such file"),
    # selection
    ("only-empty", lambda tmp: ["run", "--only", ""], "--only names no check id"),
    ("only-commas", lambda tmp: ["run", "--only", ",,"], "--only names no check id"),
    ("only-and-skip", lambda tmp: ["run", "--only", "ssm.values", "--skip", "ssm.values"],
     "--only and --skip both name ssm.values"),
    ("skip-everything", lambda tmp: ["run", "--skip", ",".join(c.id for c in all_checks())], "no check left to run"),
    ("output-dir", lambda tmp: ["run", "--only", "ssm.values", "--output", f"json={tmp}"], "is a directory"),
]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str]]:
    monkeypatch.setattr(inputs, "STREAM_WAIT", 0.3)  # a silent FIFO is refused in 0.3 s instead of 10 s

    def run(argv: list[str]) -> tuple[int, str]:
        capsys.readouterr()
        code = main(argv)
        return code, capsys.readouterr().err
    return run


@pytest.mark.parametrize(("make", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_exit_2_one_line(cli: Callable[[list[str]], tuple[int, str]], tmp_path: Path,
                                      make: Make, message: str) -> None:
    code, err = cli(make(tmp_path))
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ame-doctor: error: "), err
    assert message in lines[0]
    assert "internal error" not in err and "Traceback" not in err


def test_env_file_from_process_substitution_is_read_once_and_kept(cli: Callable[[list[str]], tuple[int, str]],
                                                                  tmp_path: Path) -> None:
    """``--env-file <(...)``: bash hands over /dev/fd/N, a pipe. It is read (not 'no such file') and kept for
    the run, so the check (and a TUI re-run) sees the same text after the validation read it."""
    from doctor import dotenv

    read_end, write_end = os.pipe()
    os.write(write_end, b"APP_NAME=pipe-app\nDB_HOST=db.internal\n")
    os.close(write_end)
    path = f"/dev/fd/{read_end}"
    try:
        first = dotenv.load(path)
        again = dotenv.load(path)  # the pipe is empty now: the text comes from the run's memory
    finally:
        os.close(read_end)
    assert first.values == again.values == {"APP_NAME": "pipe-app", "DB_HOST": "db.internal"}


def test_a_fifo_with_a_writer_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from doctor.config import load_config

    fifo = _fifo(tmp_path)
    writer = threading.Thread(target=lambda: fifo.write_text('[ecs]\ncluster = "from-a-pipe"\n'))
    writer.start()
    assert load_config(fifo).ecs.cluster == "from-a-pipe"
    writer.join(5)


# --- numeric flags: each validated like its config key (finite, in range) -------------------------------
# flag -> values that must be refused (exit 2, one line naming the flag); the table must cover every
# numeric flag of every command's parser
BAD_NUMBERS: dict[str, list[str]] = {
    "--timeout": ["-5", "0", "nan", "inf", "-inf", "1e9"],
    "--concurrency": ["0", "-1", "65", "1e3"],
    "--sample": ["-1", "nan", "inf", "3601"],
    "--soak-minutes": ["-5", "1441", "nan"],
    "--interval": ["0", "-1", "nan", "inf", "0.01", "3601"],
    "--duration": ["0", "-5", "nan", "inf", "1e9"],
    "--scale": ["image=-1", "image=nan", "image=1e3", "image=²", "image=99999", "image=", "image"],
}
NEEDS = {"--scale": [], "--soak-minutes": ["--scale", "image=1"]}  # what else the command needs to get that far


def _numeric_flags() -> dict[str, set[str]]:
    """Every flag whose argparse type is int or float (plus --scale's COUNT), by command."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: dict[str, set[str]] = {}
    for command, p in sub.choices.items():
        for action in p._actions:
            if action.type in (int, float) or "--scale" in action.option_strings:
                found.setdefault(action.option_strings[-1], set()).add(command)
    return found


def test_the_table_covers_every_numeric_flag() -> None:
    flags = _numeric_flags()
    assert set(flags) == set(BAD_NUMBERS), "add the new numeric flag to BAD_NUMBERS"


NUMBER_CASES = [(command, flag, value) for flag, commands in sorted(_numeric_flags().items())
                for command in sorted(commands) for value in BAD_NUMBERS.get(flag, [])
                if command != "tui"]  # tui takes run's options (same validation); it needs a terminal


@pytest.mark.parametrize(("command", "flag", "value"), NUMBER_CASES,
                         ids=[f"{c}{f}={v}" for c, f, v in NUMBER_CASES])
def test_bad_numeric_flag_is_exit_2_one_line(cli: Callable[[list[str]], tuple[int, str]], command: str, flag: str,
                                             value: str) -> None:
    extra = NEEDS.get(flag, ["--scale", "image=1"] if command == "gate" else [])
    argv = [command, "--only", "ssm.values", *extra, f"{flag}={value}"]
    code, err = cli(argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ame-doctor: error: "), err
    assert flag in lines[0] or "argument" in lines[0], lines[0]  # named (argparse names it too)
