"""The probes of each worker service for this run: the configured transport, then ``[exec] fallback``,
once per service per run (memoised in ``facts``), so reach.redis, reach.aurora and queue.state share one
probe; every service probed concurrently within a deadline. A transport may probe several tasks of a
service (ecs-exec: up to ``[exec] max_tasks_per_service``); :func:`probe_all_tasks` gives them all,
:func:`probe_all` one per service (the first that answered)."""

from __future__ import annotations

import os
import re
import threading
import time
from typing import TYPE_CHECKING

from doctor.probe.result import ProbeResult, TransportUnavailable
from doctor.probe.script import ProbeSpec
from doctor.probe.transports import get_transport

if TYPE_CHECKING:
    from doctor.facts import Facts


def probe_spec(facts: Facts, transport: str) -> ProbeSpec:
    """The spec for this run: a fresh key exchange, the connect timeout (``[exec] connect_timeout``, else
    ``[exec] timeout`` / 6 within 1..5 s), the configured app root. The local transport is its own container:
    this directory, this user."""
    cfg = facts.config.exec
    timeout = cfg.probe_timeout
    root, source = cfg.app_root, "config" if cfg.app_root else None
    run_as = None
    if transport == "local":
        root, source, run_as = root or os.getcwd(), source or "local", "self"
    queues = [q for q in [*facts.config.queues, "default"] if re.fullmatch(r"[A-Za-z0-9._:-]+", q)]
    return ProbeSpec(timeout=timeout, app_root=root, root_source=source, run_as=run_as, queues=queues)


def representative(results: list[ProbeResult]) -> ProbeResult:
    """The first result that answered, else the first."""
    return next((r for r in results if r.ok), results[0])


def probe_service(facts: Facts, service: str) -> list[ProbeResult]:
    """Every probed task of ``service`` for this run: configured transport, then ``[exec] fallback``. Memoised."""

    def run() -> list[ProbeResult]:
        cfg = facts.config.exec
        chain = [cfg.transport] + ([cfg.fallback] if cfg.fallback not in (cfg.transport, "off") else [])
        problems: list[TransportUnavailable] = []
        for name in chain:
            try:
                results = get_transport(name).run_all(facts, service, probe_spec(facts, name))
            except TransportUnavailable as e:
                problems.append(e)
                continue
            for res in results:
                res.problems = problems + res.problems
            return results
        last = problems[-1] if problems else TransportUnavailable("no exec transport")
        return [ProbeResult(service=service, transport=chain[-1], reason="; ".join(p.reason for p in problems)
                            or last.reason, problems=problems)]

    return facts.memo(("probe", service), run)


def probe_results(facts: Facts, service: str) -> ProbeResult:
    """The probe of ``service`` for this run (one task: the first that answered)."""
    return representative(probe_service(facts, service))


def probe_all_tasks(facts: Facts, services: list[str], deadline: float) -> dict[str, list[ProbeResult]]:
    """Probe every service concurrently; a service not done by ``deadline`` seconds is reported as such."""
    results: dict[str, list[ProbeResult]] = {}
    lock = threading.Lock()

    def one(svc: str) -> None:
        try:
            r = probe_service(facts, svc)
        except Exception as e:  # AWS errors etc. surface as the probe's reason
            failed = ProbeResult(service=svc, transport=facts.config.exec.transport, reason=f"{type(e).__name__}: {e}")
            failed.error = e
            r = [failed]
        with lock:
            results[svc] = r

    threads = [threading.Thread(target=one, args=(s,), name=f"probe-{s}", daemon=True) for s in services]
    for t in threads:
        t.start()
    end = time.monotonic() + deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    with lock:
        for s in services:
            if s not in results:
                results[s] = [ProbeResult(service=s, transport=facts.config.exec.transport,
                                          reason=f"the probe did not finish within {deadline:g}s")]
        return dict(results)


def probe_all(facts: Facts, services: list[str], deadline: float) -> dict[str, ProbeResult]:
    """One probe result per service (the first task that answered), within ``deadline``."""
    return {svc: representative(rs) for svc, rs in probe_all_tasks(facts, services, deadline).items()}
