"""The probe of each worker service for this run: the configured transport, then ``[exec] fallback``,
once per service per run (memoised in ``facts``), so reach.redis, reach.aurora and queue.state share one
probe; and every service probed concurrently within a deadline."""

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
    """The spec for this run: the redactor's key, a connect timeout derived from ``[exec] timeout``."""
    cfg = facts.config.exec
    timeout = max(1.0, min(5.0, cfg.timeout / 6))
    root = cfg.app_root
    if transport == "local" and root is None:
        root = os.getcwd()
    queues = [q for q in [*facts.config.queues, "default"] if re.fullmatch(r"[A-Za-z0-9._:-]+", q)]
    return ProbeSpec(key_hex=facts.redactor.key.hex(), timeout=timeout, app_root=root, queues=queues)


def probe_results(facts: Facts, service: str) -> ProbeResult:
    """The probe of ``service`` for this run: configured transport, then ``[exec] fallback``. Memoised."""

    def run() -> ProbeResult:
        cfg = facts.config.exec
        chain = [cfg.transport] + ([cfg.fallback] if cfg.fallback not in (cfg.transport, "off") else [])
        problems: list[TransportUnavailable] = []
        for name in chain:
            try:
                res = get_transport(name).run(facts, service, probe_spec(facts, name))
            except TransportUnavailable as e:
                problems.append(e)
                continue
            res.problems = problems + res.problems
            return res
        last = problems[-1] if problems else TransportUnavailable("no exec transport")
        return ProbeResult(service=service, transport=chain[-1], reason="; ".join(p.reason for p in problems)
                           or last.reason, problems=problems)

    return facts.memo(("probe", service), run)


def probe_all(facts: Facts, services: list[str], deadline: float) -> dict[str, ProbeResult]:
    """Probe every service concurrently; a probe not done by ``deadline`` seconds is reported as such."""
    results: dict[str, ProbeResult] = {}
    lock = threading.Lock()

    def one(svc: str) -> None:
        try:
            r = probe_results(facts, svc)
        except Exception as e:  # AWS errors etc. surface as the probe's reason
            r = ProbeResult(service=svc, transport=facts.config.exec.transport, reason=f"{type(e).__name__}: {e}")
            r.error = e
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
                results[s] = ProbeResult(service=s, transport=facts.config.exec.transport,
                                         reason=f"the probe did not finish within {deadline:g}s")
        return dict(results)
