"""A key split: the same queue under a prefix or DB the workers do not pop. Pure functions on plain data.

Producers (the web tier) and consumers (the workers) derive the queue key from APP_NAME / REDIS_PREFIX /
REDIS_DB / REDIS_URL; when those differ between them (or ``config:cache`` baked an old value), jobs pushed
to the other key are never popped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from doctor.queues.keys import ScanResult, prefix_origin, queue_key
from doctor.queues.report import ToReport


def worker_settings(values: Mapping[str, str], source: str, prefix_override: str | None,
                    db_override: int | None) -> dict[str, Any]:
    """The workers' own (non-secret) values that derive their key: SSM unless ``[redis]`` overrides."""
    return {"APP_NAME": values.get("APP_NAME", "unset (Laravel default 'Laravel')"),
            "REDIS_PREFIX": repr(values["REDIS_PREFIX"]) if "REDIS_PREFIX" in values else "unset",
            "REDIS_DB": values.get("REDIS_DB", "unset (0)"), "source": source,
            **({"[redis] prefix": prefix_override} if prefix_override is not None else {}),
            **({"[redis] db": db_override} if db_override is not None else {})}


def judge_key_split(scan: ScanResult, loc: Mapping[str, tuple[int, str]], default: tuple[int, str],
                    settings: dict[str, Any]) -> list[ToReport]:
    """One ``key_split`` per queue found under another (db, prefix) than where its workers pop.

    ``loc``: queue -> (db, prefix) its workers pop; ``default``: the Redis target's (db, prefix), for
    queues no configured worker pops. For those only a non-empty ready list under a (db, prefix) no
    worker uses counts."""
    consumed = set(loc.values())
    out = []
    for name in sorted({x.queue for x in scan.locations}):
        places = [x for x in scan.locations if x.queue == name]
        expected = loc.get(name)
        if expected is not None:
            elsewhere = [x for x in places if (x.db, x.prefix) != expected]
        else:
            elsewhere = [x for x in places if (x.db, x.prefix) not in consumed and x.parts.get("ready", 0) > 0]
        if not elsewhere:
            continue
        exp_db, exp_prefix = expected if expected else default
        exp_key = queue_key(exp_prefix, name)
        here = next((x for x in places if (x.db, x.prefix) == (exp_db, exp_prefix)), None)
        others = [{"key": x.key, "db": x.db, "prefix": x.prefix, "lengths": x.parts,
                   "produced_by": prefix_origin(x.prefix, x.db)} for x in elsewhere]
        stranded = sum(x.parts.get("ready", 0) + x.parts.get("delayed", 0) for x in elsewhere)
        held = f"{sum(here.parts.get(k, 0) for k in ('ready', 'delayed', 'reserved'))} jobs" if here else "empty"
        out.append(ToReport(
            "key_split", name,
            evidence={"queue": name, "workers_key": {"key": exp_key, "db": exp_db, "prefix": exp_prefix,
                                                     "lengths": here.parts if here else {},
                                                     "produced_by": prefix_origin(exp_prefix, exp_db),
                                                     "workers_settings": settings},
                      "other_keys": others, "stranded_jobs": stranded, "scan_complete": scan.complete},
            resources=[exp_key, *(x.key for x in elsewhere)],
            values={"queue": name, "db": exp_db, "key": exp_key, "held": held, "stranded": stranded,
                    "other_keys": ", ".join(f"db{x.db} {x.key}" for x in elsewhere)},
            severity=None if stranded else "warning"))
    return out
