"""The facts the selected checks read, fetched concurrently as the run starts, the slowest first.

Each check declares what it reads in its TOML file (``reads = ["probe", "ssm", ...]``, the vocabulary
:data:`doctor.checkapi.READS`). The engine starts one fetch per fact the run's checks read; the checks then
read the same memo in ``Facts`` (a fetch in flight is waited for, a failure is remembered for the check as
if it had made the call itself). So a run costs about its slowest path, the in-task probe's wait on a dead
endpoint, instead of that wait plus whatever the checks did before they asked for the probe. The probes
are submitted first: on a busy interpreter the thread started first gets its AWS clients and calls first.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from doctor.config import Config
    from doctor.facts import Facts


class Prefetch:
    """The fetch threads of one run (daemon threads: one nobody waits for never holds the process).

    ``launched`` is set once every probe is under way (its transport has read what it needs to launch) or
    there is no probe: until then only the probes fetch, so on a busy interpreter their AWS reads are not
    queued behind everybody else's. The engine starts the checks then."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.launched = threading.Event()
        self.launched.set()
        self._lock = threading.Lock()

    def submit(self, call: Callable[[], object], name: str = "prefetch") -> None:
        def quiet() -> None:
            with contextlib.suppress(Exception):  # remembered by the facts: the check meets it and reports it
                call()

        t = threading.Thread(target=quiet, name=name, daemon=True)
        with self._lock:
            self.threads.append(t)
        t.start()

    def settle(self) -> None:
        """Wait for every fetch, those started by other fetches too."""
        while True:
            with self._lock:
                alive = [t for t in self.threads if t.is_alive()]
            if not alive:
                return
            for t in alive:
                t.join()


def start(facts: Facts, config: Config, reads: Iterable[str], launch_wait: float = 1.0) -> Prefetch:
    """Fetch, in threads, what ``reads`` names (the union of the selected checks' ``reads``): the probes
    first; the rest once they are under way (at most ``launch_wait`` seconds later)."""
    wanted = set(reads)
    fetching = Prefetch()
    submit = fetching.submit
    services = [q.service for q in config.queues.values()]
    if "probe" in wanted and config.exec.transport != "off" and services:
        fetching.launched.clear()
        preparing = _Countdown(len(services), fetching.launched)
        for service in services:
            submit(functools.partial(_probe, facts, service, preparing), f"prefetch-probe-{service}")

    if "host" in wanted:  # beside the probes' preparation: the host's probes connect as soon as their checks start
        submit(_host_clients, "prefetch-host-clients")

    def rest() -> None:
        fetching.launched.wait(launch_wait)
        if "ssm" in wanted:
            submit(facts.ssm_parameters, "prefetch-ssm")
        if wanted & {"services", "tasks", "stopped_tasks"}:
            for service in services:
                submit(functools.partial(_per_service, facts, service, wanted, submit), f"prefetch-{service}")
        if "scaler" in wanted and config.scaler.kind == "lambda" and config.scaler.function:
            submit(functools.partial(_controller, facts, config, submit), "prefetch-scaler")

    if fetching.launched.is_set():
        rest()
    else:
        submit(rest, "prefetch-after-launch")
    return fetching


class _Countdown:
    def __init__(self, n: int, done: threading.Event) -> None:
        self.n, self.done, self.lock = n, done, threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.n -= 1
            if self.n <= 0:
                self.done.set()


def _probe(facts: Facts, service: str, prepared: Callable[[], None]) -> None:
    """What the transport reads before it launches, then the probe (memoised: the checks read it)."""
    from doctor.probe.runner import probe_service
    from doctor.probe.transports import get_transport

    try:
        with contextlib.suppress(Exception):  # a failed read is remembered: the probe meets it and says so
            get_transport(facts.config.exec.transport).prepare(facts, service)
    finally:
        prepared()
    probe_service(facts, service)


def _host_clients() -> None:
    """Load the host probes' client libraries (redis-py alone takes 0.2 s, and longer beside the other checks):
    loaded when a check's host probe starts, they would delay its connect, on a black-holed path its timeout."""
    import pymysql  # noqa: F401
    import redis  # noqa: F401


def _per_service(facts: Facts, service: str, wanted: set[str], submit: Callable[..., None]) -> None:
    facts.services()
    if "tasks" in wanted:
        submit(lambda: facts.tasks(service, "RUNNING"), f"prefetch-{service}-tasks")
    if "stopped_tasks" in wanted:
        submit(lambda: facts.tasks(service, "STOPPED"), f"prefetch-{service}-stopped")
    facts.service_task_definition(service)


def _controller(facts: Facts, config: Config, submit: Callable[..., None]) -> None:
    """The Lambda controller's function, then its trigger, metrics, log lines, its subnets' path to ECS and
    the Redis security groups (scaler.controller starts after queue.state and would read them one by one)."""
    from doctor.facts import scaler as sf

    cfg = config.scaler
    fn = sf.lambda_function(facts, cfg.function or "")
    if not fn:
        return
    name, arn = str(fn.get("FunctionName", cfg.function)), str(fn.get("FunctionArn", cfg.function))
    since, until = sf.window(facts)
    submit(lambda: sf.triggers(facts, arn, cfg.rule))
    submit(lambda: sf.lambda_metrics(facts, name, since, until))
    submit(lambda: sf.lambda_log_lines(facts, name, since))
    subnet_ids = list((fn.get("VpcConfig") or {}).get("SubnetIds") or [])
    if subnet_ids:
        submit(lambda: [sf.path_from(facts, s, "ecs") for s in sf.subnets(facts, subnet_ids).values()])
        submit(functools.partial(_redis_groups, facts))


def _redis_groups(facts: Facts) -> None:
    from doctor.facts.datastores import redis_store, store_via_chain
    from doctor.facts.security_groups import security_groups

    host = facts.redis_target().host
    store = store_via_chain(facts, host, lambda h: redis_store(facts, h)) if host else None
    if store is not None and store.sgs:
        security_groups(facts, store.sgs)
