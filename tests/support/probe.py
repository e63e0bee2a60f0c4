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


def world_config(world: Any, dns_server: Any, app_root: Path, **exec_kw: Any) -> Any:
    """Config for the sim world: its hosts resolve via the test DNS server; local transport by default."""
    from doctor.config import Config

    dns_server.set(world.redis_host, "A", "127.0.0.1")
    dns_server.set(world.db_writer_endpoint, "A", "127.0.0.1")
    ex = {"transport": "local", "timeout": 6, "app_root": str(app_root), **exec_kw}
    return Config(aws={"region": "eu-west-1"}, dns={"nameservers": [dns_server.nameserver]}, exec=ex)


def run_checks(config: Any, only: list[str], **engine_kw: Any) -> Any:
    from doctor.engine import Engine, EngineOptions
    from doctor.registry import all_checks

    engine = Engine(config, all_checks(), EngineOptions(only=only, diagnose=False), **engine_kw)
    return asyncio.run(engine.run())


def by_vantage(check: Any) -> dict[str, Any]:
    return {f.evidence.get("vantage"): f for f in check.findings if f.evidence.get("vantage")
            and f.uid.split(":")[1] not in ("exec_unavailable", "runtime_dir_unwritable", "eviction")}
