"""A worker's ``php artisan queue:work`` command, parsed from an ECS container definition.

``queue:work [connection] --queue=a,b --tries= --timeout= ...``: the first positional argument is the
*connection* (``redis``, ``sync``, ...), not the queue; without it the worker uses ``QUEUE_CONNECTION``.
Without ``--queue`` it pops the connection's default queue (``REDIS_QUEUE``, else ``default``). The option
defaults below are Laravel's.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from doctor.util import to_int

DEFAULT_RETRY_AFTER = 90  # config/queue.php redis retry_after (REDIS_QUEUE_RETRY_AFTER)
WORKER_DEFAULTS = {"tries": 1, "timeout": 60, "sleep": 3, "memory": 128, "max_jobs": 0, "max_time": 0, "backoff": 0}


@dataclass
class WorkerCommand:
    command: str                      # the artisan command: queue:work | queue:listen | horizon
    connection: str | None            # positional connection argument (None: QUEUE_CONNECTION)
    queues: list[str] | None          # --queue list (None: the connection's default queue)
    options: dict[str, int]           # tries, timeout, sleep, memory, max_jobs, max_time, backoff (given ones)
    raw: str

    def effective(self) -> dict[str, int]:
        return {**WORKER_DEFAULTS, **self.options}


_INT_OPTS = {"tries": "tries", "timeout": "timeout", "sleep": "sleep", "memory": "memory",
             "max-jobs": "max_jobs", "max-time": "max_time", "backoff": "backoff", "rest": "rest"}


def command_words(container: dict[str, Any]) -> list[str]:
    """entryPoint + command of a container definition, with ``sh -c "..."`` bodies split into words."""
    words = list(container.get("entryPoint") or []) + list(container.get("command") or [])
    out: list[str] = []
    for w in words:
        if " " in w.strip():
            try:
                out.extend(shlex.split(w))
            except ValueError:
                out.extend(w.split())
        else:
            out.append(w)
    return out


def parse_worker_command(words: Sequence[str]) -> WorkerCommand | None:
    """Find ``artisan queue:work|queue:listen|horizon`` in ``words`` and parse its arguments."""
    idx = next((i for i, w in enumerate(words) if w in ("queue:work", "queue:listen", "horizon")), None)
    if idx is None:
        return None
    cmd = words[idx]
    connection: str | None = None
    queues: list[str] | None = None
    options: dict[str, int] = {}
    rest = list(words[idx + 1:])
    i = 0
    while i < len(rest):
        w = rest[i]
        if w in ("&&", ";", "||", "|"):
            break
        if w.startswith("--"):
            name, eq, value = w[2:].partition("=")
            takes_value = name == "queue" or name in _INT_OPTS
            if not eq and takes_value and i + 1 < len(rest) and not rest[i + 1].startswith("-"):
                value = rest[i + 1]
                i += 1
            if name == "queue":
                queues = [q.strip() for q in value.split(",") if q.strip()]
            elif name in _INT_OPTS:
                n = to_int(value)
                if n is not None:
                    options[_INT_OPTS[name]] = n
        elif not w.startswith("-") and connection is None and cmd != "horizon":
            connection = w
        i += 1
    return WorkerCommand(cmd, connection, queues, options, " ".join(words))
