"""Helpers shared by the probe / transport / reach tests (not a test module)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

from doctor.probe import ProbeResult, ProbeSpec, parse_output

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RUNTIME_DIRS = ("storage/framework/cache", "storage/framework/sessions", "storage/framework/views", "storage/logs",
                "bootstrap/cache")


def laravel_root(tmp: Path, dirs: tuple[str, ...] = RUNTIME_DIRS) -> Path:
    root = tmp / "app"
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    return root


_PATHS: dict[tuple[str, ...], str] = {}


def path_without_php(tmp: Path | None = None, drop: tuple[str, ...] = ("php",)) -> str:
    """A PATH with every command of /usr/local/bin, /usr/bin and /bin except those starting with ``drop``
    (built once per test session)."""
    if drop in _PATHS:
        return _PATHS[drop]
    import tempfile

    bin_dir = Path(tempfile.mkdtemp(prefix="ame-bin-no-" + "-".join(drop) + "-"))
    for d in ("/usr/local/bin", "/usr/bin", "/bin"):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            src = os.path.join(d, name)
            if name.startswith(drop) or os.path.lexists(bin_dir / name) or os.path.isdir(src):
                continue
            (bin_dir / name).symlink_to(src)
    _PATHS[drop] = str(bin_dir)
    return str(bin_dir)


def run_probe(spec: ProbeSpec, env: dict[str, str], path: str | None = None, timeout: float = 60,
              variant: str = "full", cwd: str | None = None) -> ProbeResult:
    """Run the exact shell command the transports send, with ``env`` as the container environment."""
    full = {"PATH": path or os.environ["PATH"], **env}
    proc = subprocess.run(["sh", "-c", spec.shell_script(variant)], env=full, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or spec.app_root or None)
    res = parse_output(proc.stdout, ProbeResult(service="test", transport="test"), spec.exchange)
    res.raw_output = proc.stdout + proc.stderr  # type: ignore[attr-defined]
    return res


def world_config(world: Any, dns_server: Any, app_root: Path | None, **exec_kw: Any) -> Any:
    """Config for the sim world: its hosts resolve via the test DNS server; local transport by default;
    ``app_root`` None: no ``[exec] app_root`` (the probe finds it)."""
    from doctor.config import Config

    dns_server.set(world.redis_host, "A", "127.0.0.1")
    dns_server.set(world.db_writer_endpoint, "A", "127.0.0.1")
    ex = {"transport": "local", "timeout": 6, **({"app_root": str(app_root)} if app_root else {}), **exec_kw}
    return Config(aws={"region": "eu-west-1"}, dns={"nameservers": [dns_server.nameserver]}, exec=ex)


def run_checks(config: Any, only: list[str], **engine_kw: Any) -> Any:
    from doctor.engine import Engine, EngineOptions
    from doctor.registry import all_checks

    engine = Engine(config, all_checks(), EngineOptions(only=only, diagnose=False), **engine_kw)
    return asyncio.run(engine.run())


def by_vantage(check: Any) -> dict[str, Any]:
    return {f.evidence.get("vantage"): f for f in check.findings if f.evidence.get("vantage")
            and f.uid.split(":")[1] not in ("exec_unavailable", "runtime_dir_unwritable", "eviction")}


def php_with(tmp: Path, *php_args: str) -> str:
    """A PATH whose ``php`` is the real php-cli run as ``php <php_args>`` (e.g. ``-n``: no extensions loaded
    from ini files, so neither pdo_mysql nor mysqli)."""
    import shutil

    real = shutil.which("php")
    bin_dir = tmp / ("php-" + "-".join(a.strip("-=").replace("=", "") for a in php_args))
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "php"
    wrapper.write_text(f'#!/bin/sh\nexec {real} {" ".join(php_args)} "$@"\n')
    wrapper.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def stand_in_execute_command(ecs_client: Any, exec_dir: Path, commands: list[dict[str, Any]]) -> None:
    """ECS ExecuteCommand for moto (which has none): each call's parameters are kept in ``commands`` and the
    command written to ``exec_dir/<taskId>.command``, where the stand-in session-manager-plugin
    (FAKE_SMP_MODE=exec) runs it as that task's container would."""
    import json

    from botocore.awsrequest import AWSResponse, HTTPHeaders

    def respond(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        call = json.loads(params["body"])
        commands.append(call)
        task_id = call["task"].rsplit("/", 1)[-1]
        (exec_dir / f"{task_id}.command").write_text(call["command"])
        session = {"sessionId": f"ecs-execute-command-{task_id}", "tokenValue": "token-value",
                   "streamUrl": f"wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/{task_id}"}
        return AWSResponse("https://ecs.eu-west-1.amazonaws.com/", 200, HTTPHeaders(), None), {
            "clusterArn": f"arn:aws:ecs:eu-west-1:123456789012:cluster/{call['cluster']}",
            "containerName": call.get("container"), "interactive": True, "taskArn": call["task"], "session": session}

    ecs_client.meta.events.register("before-call.ecs.ExecuteCommand", respond)


def keys_an_observer_can_derive(observed: str) -> list[bytes]:
    """Every HMAC key an observer of ``observed`` (argv, API parameters, CloudTrail, task logs) could try:
    each hex or base64 token of 16+ characters, as text, decoded, hashed, hashed with the probe's label."""
    import base64
    import binascii
    import contextlib
    import hashlib
    import re

    from doctor.probe.keys import LABEL

    raws: list[bytes] = []
    for tok in set(re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", observed)):
        raws.append(tok.encode())
        if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", tok):
            raws.append(bytes.fromhex(tok))
        with contextlib.suppress(binascii.Error, ValueError):
            raws.append(base64.b64decode(tok, validate=True))
    return [k for raw in raws for k in (raw, hashlib.sha256(raw).digest(), hashlib.sha256(LABEL + raw).digest())]


def guess_secret(observed: str, fingerprint: str, candidates: list[str]) -> str | None:
    """The candidate whose HMAC under some observer-derivable key gives ``fingerprint`` (hmac:<hex>), if any:
    the offline brute force of a weak secret that issue 14 item 8 describes."""
    import hashlib
    import hmac

    want = fingerprint.removeprefix("hmac:")
    for key in keys_an_observer_can_derive(observed):
        for c in candidates:
            if hmac.new(key, c.encode(), hashlib.sha256).hexdigest()[:len(want)] == want:
                return c
    return None
