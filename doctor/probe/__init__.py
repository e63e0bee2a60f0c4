"""In-task probes: what runs where the worker runs, and how it gets there.

The probe (``probe.sh`` with ``probe.php`` embedded, shipped as package data) prints one ``AMEPROBE
{json}`` line per target (Redis, MySQL with a login as the worker), plus the runtime directories judged
as the worker's user, the queue counts and the effective Redis prefix / DB with fingerprints of DB_HOST /
REDIS_HOST / APP_KEY / DB_PASSWORD under a key agreed by ECDH (no key in the command).

The modules depend one way, top to bottom::

    runner      probe_service / probe_all_tasks (every probed task), probe_results / probe_all (one per
                service): configured transport then fallback, memoised per run
    transports  ecs-exec (up to [exec] max_tasks_per_service tasks), probe-task, local, off
                (process: bounded subprocesses; container: local env)
    script      ProbeSpec: the probe's inputs, command variants, size budget
    result      ProbeResult (one task), TransportUnavailable, parse_output
    keys        KeyExchange: the doctor's side of the fingerprint key agreement

The checks turn results into findings (``checks/_reach.py`` for reach.redis and reach.aurora,
``checks/queue_state.py``); nothing here knows about findings. This package module only re-exports the
public names; no submodule imports it.
"""

from __future__ import annotations

from doctor.probe.keys import KeyExchange
from doctor.probe.result import EXIT_SENTINEL, MARK, ProbeResult, TransportUnavailable, parse_output
from doctor.probe.runner import probe_all, probe_all_tasks, probe_results, probe_service, probe_spec
from doctor.probe.script import MAX_COMMAND_CHARS, ProbeSpec, payload, probe_source, script_text
from doctor.probe.transports import PLUGIN_INSTALL_HINT

__all__ = [
    "EXIT_SENTINEL",
    "MARK",
    "MAX_COMMAND_CHARS",
    "PLUGIN_INSTALL_HINT",
    "KeyExchange",
    "ProbeResult",
    "ProbeSpec",
    "TransportUnavailable",
    "parse_output",
    "payload",
    "probe_all",
    "probe_all_tasks",
    "probe_results",
    "probe_service",
    "probe_spec",
    "probe_source",
    "script_text",
]
