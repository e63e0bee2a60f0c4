"""Pure CIDR and security-group-rule maths (no AWS calls)."""

from __future__ import annotations

import ipaddress
from typing import Any


def rule_covers_port(rule: dict[str, Any], port: int, protocol: str = "tcp") -> bool:
    """Whether an SG ``IpPermissions`` entry admits ``protocol``/``port`` (``-1`` = all traffic, no range = all ports)."""
    proto = str(rule.get("IpProtocol", ""))
    if proto == "-1":
        return True
    if proto not in (protocol, {"tcp": "6", "udp": "17"}.get(protocol, "")):
        return False
    lo, hi = rule.get("FromPort"), rule.get("ToPort")
    if lo is None or hi is None or lo == -1:
        return True
    return int(lo) <= port <= int(hi)


def covers(cidr: str, subnet_cidr: str) -> bool:
    """Whether ``cidr`` contains all of ``subnet_cidr`` (same IP version); unparsable -> False."""
    try:
        a = ipaddress.ip_network(cidr, strict=False)
        b = ipaddress.ip_network(subnet_cidr, strict=False)
    except ValueError:
        return False
    return a.version == b.version and b.subnet_of(a)  # type: ignore[arg-type]


def overlaps(cidr: str, other: str) -> bool:
    """Whether the two CIDRs share any address (same IP version); unparsable -> False."""
    try:
        a = ipaddress.ip_network(cidr, strict=False)
        b = ipaddress.ip_network(other, strict=False)
    except ValueError:
        return False
    return a.version == b.version and a.overlaps(b)  # type: ignore[arg-type]
