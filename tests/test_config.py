"""Configuration: defaults from the platform's names, the example file, CLI overrides, errors with key+line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from doctor.config import Config, ConfigError, load_config
from doctor.model import Severity

# the configuration contract: shared/ sits beside the checkout (CI lays a copy there too); docs/ holds the
# copy shipped with the repo
DOCS_EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "ame-doctor.toml"
EXAMPLE = next((p for p in (Path(__file__).resolve().parents[2] / "shared/examples/ame-doctor.toml",
                            Path("/work/shared/examples/ame-doctor.toml")) if p.exists()), DOCS_EXAMPLE)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ame-doctor.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_are_the_platform_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./ame-doctor.toml
    cfg = load_config(None)
    assert cfg.ecs.cluster == "propertyfeedtemplate-production"
    assert {q: (c.service, c.scale) for q, c in cfg.queues.items()} == {
        "sync": ("propertyfeedtemplate-sync", (0, 1)),
        "image": ("propertyfeedtemplate-image", (0, 2)),
        "bulk": ("propertyfeedtemplate-bulk", (0, 1)),
    }
    assert cfg.ssm.path == "/propertyfeedtemplate/production/"
    assert cfg.run.fail_on == Severity.error and cfg.run.strict is False
    assert cfg.run.timeout == 120 and cfg.run.concurrency == 8
    assert cfg.exec.transport == "ecs-exec"


@pytest.mark.skipif(not EXAMPLE.exists(), reason="shared example not present")
def test_shared_example_loads(tmp_path: Path) -> None:
    p = tmp_path / "ex.toml"
    shutil.copy(EXAMPLE, p)
    cfg = load_config(p)
    assert cfg.aws.region == "eu-west-1"
    assert cfg.queues["image"].scale == (0, 2)
    assert "AWS_BUCKET" in cfg.ssm.required
    assert cfg.sentry.token_env == "SENTRY_AUTH_TOKEN" and not cfg.sentry.configured
    assert cfg.scaler.kind == "none"


def test_docs_example_loads() -> None:
    assert load_config(DOCS_EXAMPLE).queues["image"].scale == (0, 2)


def test_every_example_key_is_accepted(tmp_path: Path) -> None:
    """The example's commented keys are part of the contract too: uncommented, they must load."""
    if not EXAMPLE.exists():
        pytest.skip("shared example not present")
    import re

    lines = [re.sub(r"^# (\w+ = )", r"\1", line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines()]
    p = write(tmp_path, "\n".join(lines) + "\n")
    cfg = load_config(p)
    assert cfg.sentry.organization == "zentra" and cfg.sentry.projects == ["propertyfeedtemplate-workers"]
    assert cfg.scaler.kind == "lambda" and cfg.scaler.function == "propertyfeedtemplate-queue-scaler"
    assert cfg.exec.app_root == "/var/www/html"


def test_unknown_sentry_key_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sentry"):
        load_config(write(tmp_path, '[sentry]\ntoken = "abc"\n'))


def test_file_then_cli_overrides(tmp_path: Path) -> None:
    p = write(tmp_path, '[ecs]\ncluster = "from-file"\n[run]\nconcurrency = 3\nstrict = true\n')
    cfg = load_config(p)
    assert (cfg.ecs.cluster, cfg.run.concurrency, cfg.run.strict) == ("from-file", 3, True)
    cfg = load_config(p, {"ecs.cluster": "from-cli", "run.concurrency": None, "run.fail_on": "warning"})
    assert (cfg.ecs.cluster, cfg.run.concurrency, cfg.run.fail_on) == ("from-cli", 3, Severity.warning)


def test_env_var_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write(tmp_path, '[ecs]\ncluster = "via-env"\n')
    monkeypatch.setenv("AME_DOCTOR_CONFIG", str(p))
    assert load_config(None).ecs.cluster == "via-env"
    monkeypatch.setenv("AME_DOCTOR_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="missing.toml: config file not found"):
        load_config(None)


@pytest.mark.parametrize(("text", "expected"), [
    ('[run]\ntimeout = 10\nconcurrency = "many"\n', ":3: run.concurrency: Input should be a valid integer"),
    ('# comment\n[ecs]\ncluster = "c"\nclusterr = "typo"\n', ":4: ecs.clusterr: Extra inputs are not permitted"),
    ('[queues.sync]\nservice = "s"\nscale = [2, 1]\n', ":3: queues.sync.scale: scale must be [min, max]"),
    ('[queues.image]\nscale = [0, 2]\n', ":1: queues.image.service: Field required"),
    ('[exec]\ntransport = "ssh"\n', ":2: exec.transport: Input should be 'ecs-exec'"),
    ('[run]\nfail_on = "fatal"\n', ":2: run.fail_on: Input should be 'info', 'warning', 'error' or 'critical'"),
    ('[ssm]\nrequired = ["A", 3]\n', ":2: ssm.required.1: Input should be a valid string"),
    ('[aws]\nregion = "eu-west-1"\n\n[bogus]\nx = 1\n', ":4: bogus: Extra inputs are not permitted"),
    ('[queues.default]\nservice = "x"\n', ":1: queues.default: 'default' stays on the app hosts"),
    ('[dns]\nnameservers = ["10.0.0.2:dns"]\n', ":2: dns.nameservers: nameserver '10.0.0.2:dns': port must be a number"),
    ('[run\ntimeout = 1\n', "invalid TOML: "),
])
def test_bad_file_names_key_and_line(tmp_path: Path, text: str, expected: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert msg.startswith(str(p)), msg
    assert expected in msg, msg
    assert "\n" not in msg


def test_invalid_toml_reports_line(tmp_path: Path) -> None:
    p = write(tmp_path, '[run]\ntimeout = 1\nconcurrency = = 3\n')
    with pytest.raises(ConfigError, match=r"line 3"):
        load_config(p)


def test_bad_cli_override_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"command line: run.concurrency: .*greater than or equal to 1 \(got 0\)"):
        load_config(None, {"run.concurrency": 0})


def test_model_helpers() -> None:
    cfg = Config()
    assert cfg.services["propertyfeedtemplate-image"] == "image"
    assert cfg.service_for("bulk") == "propertyfeedtemplate-bulk" and cfg.service_for("default") is None
    assert Config(ssm={"path": "/a/b"}).ssm.path == "/a/b/"


def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    p = write(tmp_path, '[run]\nconcurrency = 0\n')
    res = cli("run", "--config", str(p))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [f"ame-doctor: error: {p}:2: run.concurrency: Input should be "
                                               "greater than or equal to 1"]
    assert "Traceback" not in res.stderr


def test_error_line_lookup_is_linear_on_crafted_toml(tmp_path: Path) -> None:
    """A multi-line string full of '[' + blanks made the old header regex cubic (4 KB: 94.8 s; this 16 KB file:
    hours). A subprocess with a generous bound is the hang guard; the line is still found."""
    import subprocess
    import sys

    p = tmp_path / "crafted.toml"
    p.write_text('x = """\n' + ("[" + " \t" * 4000 + "a\n") * 2 + '"""\n', encoding="utf-8")
    code = f"from doctor.config import load_config\nfrom pathlib import Path\nload_config(Path({str(p)!r}))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert f"ConfigError: {p}:1: x: Extra inputs are not permitted" in res.stderr


def test_header_lookup_finds_tables_arrays_and_dotted_keys(tmp_path: Path) -> None:
    p = write(tmp_path, '# c\n[run]\ntimeout = 5\n\n[[sentry.projects]]\n[queues.image]  # heavy\nservice = "s"\n'
                        'scale = [3, 1]\n')
    with pytest.raises(ConfigError, match=r":8: queues.image.scale: scale must be"):
        load_config(p)


@pytest.mark.parametrize(("text", "expected"), [
    ('[aws]\nregion = "eu west 1!"\n', ":2: aws.region: must be an AWS region such as eu-west-1, got 'eu west 1!'"),
    ('[ecs]\ncluster = ""\n', ":2: ecs.cluster: must be an ECS name"),
    ("[redis]\nport = 99999\n", ":2: redis.port: Input should be less than or equal to 65535"),
    ("[redis]\ndb = -1\n", ":2: redis.db: Input should be greater than or equal to 0"),
    ("[run]\nwindow_minutes = 100000000000\n", ":2: run.window_minutes: Input should be less than or equal to 10080"),
    ("[run]\ntimeout = inf\n", ":2: run.timeout: Input should be a finite number"),
    ("[exec]\ntimeout = nan\n", ":2: exec.timeout: Input should be a finite number"),
])
def test_values_that_cannot_work_are_refused_at_load(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace("(", r"\(")):
        load_config(write(tmp_path, text))


def test_valid_names_still_load(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[aws]\nregion = "us-gov-west-1"\n[ecs]\ncluster = '
                                      '"arn:aws:ecs:eu-west-1:123456789012:cluster/prod_1"\n[redis]\nport = 6380\n'))
    assert cfg.aws.region == "us-gov-west-1" and cfg.ecs.cluster.endswith("cluster/prod_1")


def test_a_flag_error_names_the_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^--soak-minutes -5: Input should be greater than or equal to 0$"):
        load_config(None, {"run.soak_minutes": -5}, {"run.soak_minutes": "--soak-minutes"})
