"""The environment a service's container would see, for running the probe on this host (the
``local`` transport): SSM values overlaid by the task definition, and DNS answers from the
configured nameservers passed to the probe like ``curl --resolve``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from doctor.net.dns import DnsFailure, is_ip, resolve

if TYPE_CHECKING:
    from doctor.facts import Facts


def container_env(facts: Facts, service: str) -> dict[str, str]:
    """The environment the service's container would see: SSM values, overlaid by the task definition's
    ``environment`` and ``secrets`` (resolved from SSM), with the doctor's targets filling gaps."""
    env: dict[str, str] = {}
    try:
        params = facts.ssm_parameters()
        env.update(facts.ssm_values())
    except Exception:
        params = {}
    try:
        td = facts.service_task_definition(service)
    except Exception:
        td = None
    if td:
        name = facts.container_name(td)
        for c in td.get("containerDefinitions", []):
            if c.get("name") != name:
                continue
            for kv in c.get("environment", []):
                env[kv["name"]] = kv.get("value", "")
            for sec in c.get("secrets", []):
                ref = sec.get("valueFrom", "")
                pname = "/" + ref.split(":parameter/", 1)[1].lstrip("/") if ":parameter/" in ref else ref
                if pname in params:
                    env[sec["name"]] = params[pname].get("Value", "")
    r, d = facts.redis_target(), facts.db_target()
    fill = {"REDIS_HOST": r.host, "REDIS_PORT": str(r.port), "REDIS_PASSWORD": r.password,
            "DB_HOST": d.host, "DB_PORT": str(d.port), "DB_DATABASE": d.database, "DB_USERNAME": d.username,
            "DB_PASSWORD": d.password}
    for k, v in fill.items():
        if v and not env.get(k):
            env[k] = v
    return env


def resolve_overrides(facts: Facts, hosts: list[str | None], timeout: float) -> dict[str, str]:
    """host -> first IPv4 via the configured ``[dns] nameservers`` (like curl --resolve); {} without them."""

    ns = facts.config.dns.nameservers
    out: dict[str, str] = {}
    if not ns:
        return out
    for h in hosts:
        if not h or is_ip(h) or h in out:
            continue
        try:
            addrs = resolve(h, ns, timeout)
        except DnsFailure:
            continue  # the probe then reports the name as unresolvable, as the task would
        if addrs:
            out[h] = addrs[0]
    return out
