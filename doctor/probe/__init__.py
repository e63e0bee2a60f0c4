"""In-task probes: what runs where the worker runs, and how it gets there.

The probe (``probe.sh`` + ``probe.php``, shipped as package data) prints one ``AMEPROBE {json}`` line
per target (Redis, MySQL), plus the runtime directories, the queue counts and the effective Redis
prefix / DB with keyed fingerprints of DB_HOST / REDIS_HOST / APP_KEY / DB_PASSWORD.

The modules depend one way, top to bottom::

    runner      probe_results / probe_all: configured transport then fallback, memoised per run
    transports  ecs-exec, probe-task, local, off (process: bounded subprocesses; container: local env)
    script      ProbeSpec: the probe's command, payloads, size budget
    result      ProbeResult, TransportUnavailable, parse_output

The checks turn results into findings (``checks/_reach.py`` for reach.redis and reach.aurora,
``checks/queue_state.py``); nothing here knows about findings. This package module only re-exports the
public names; no submodule imports it.
"""

from __future__ import annotations

from doctor.probe.keys import KeyExchange
from doctor.probe.result import EXIT_SENTINEL, MARK, ProbeResult, TransportUnavailable, parse_output
from doctor.probe.runner import probe_all, probe_results, probe_spec
from doctor.probe.script import MAX_COMMAND_CHARS, ProbeSpec, payload, probe_source, script_text
from doctor.probe.transports import PLUGIN_INSTALL_HINT

__all__ = [
    "EXIT_SENTINEL",
    "MARK",
    "MAX_COMMAND_CHARS",
    "PLUGIN_INSTALL_HINT",
    "ProbeResult",
    "ProbeSpec",
    "TransportUnavailable",
    "KeyExchange",
    "parse_output",
    "payload",
    "probe_all",
    "probe_results",
    "probe_spec",
    "probe_source",
    "script_text",
]
