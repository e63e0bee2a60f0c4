"""DNS resolution with the CNAME chain, honouring ``[dns] nameservers`` (``host`` or ``host:port``).

``resolve_chain(name, nameservers)`` returns a ``Resolution``: the outcome (``ok``, ``nxdomain``,
``no_answer``, ``timeout``, ``no_nameservers``, ``error``), the chain of names it went through
(``name`` first, then each CNAME target) and the final addresses. A CNAME chain that ends at a name
with no address record is ``no_answer`` with the chain so far (a dangling alias).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Resolution:
    name: str
    outcome: str
    chain: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    detail: str = ""
    nameservers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def evidence(self) -> dict[str, Any]:
        ev: dict[str, Any] = {"name": self.name, "outcome": self.outcome, "cname_chain": self.chain,
                              "addresses": self.addresses,
                              "nameservers": self.nameservers or ["system resolver"]}
        if self.detail:
            ev["detail"] = self.detail
        return ev


def parse_nameserver(ns: str) -> tuple[str, int]:
    """``10.0.0.2`` / ``10.0.0.2:5353`` / ``[::1]:53`` / ``::1`` -> (host, port)."""
    ns = ns.strip()
    if ns.startswith("["):
        host, _, rest = ns[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if ns.count(":") == 1:
        host, _, port = ns.partition(":")
        return host, int(port)
    return ns, 53


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip())
        return True
    except ValueError:
        return False


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def make_resolver(nameservers: list[str] | None, timeout: float) -> Any:
    import dns.nameserver
    import dns.resolver

    if nameservers:
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [dns.nameserver.Do53Nameserver(*parse_nameserver(ns)) for ns in nameservers]
    else:
        r = dns.resolver.Resolver()
    r.timeout = timeout
    r.lifetime = timeout
    r.cache = None
    return r


def resolve_chain(name: str, nameservers: list[str] | None = None, timeout: float = 3.0) -> Resolution:
    """Resolve ``name`` (A, then AAAA), recording every CNAME on the way."""
    import dns.exception
    import dns.rdatatype
    import dns.resolver

    res = Resolution(name=_norm(name), outcome="error", chain=[_norm(name)], nameservers=list(nameservers or []))
    if is_ip(name):
        res.outcome, res.addresses, res.detail = "ok", [name.strip()], "literal IP address; no DNS involved"
        return res
    try:
        resolver = make_resolver(nameservers, timeout)
    except dns.resolver.NoResolverConfiguration as e:
        res.outcome, res.detail = "no_nameservers", str(e)
        return res
    last_no_answer: dns.resolver.NoAnswer | None = None
    for rdtype in ("A", "AAAA"):
        try:
            answer = resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN as e:
            res.outcome, res.detail = "nxdomain", f"{name}: NXDOMAIN (the name does not exist)"
            _chain_from_response(res, e.responses())
            return res
        except dns.resolver.NoAnswer as e:
            last_no_answer = e
            continue
        except dns.resolver.LifetimeTimeout:
            res.outcome, res.detail = "timeout", f"no reply from {', '.join(nameservers or ['the system resolver'])} " \
                                                 f"within {timeout:g}s"
            return res
        except dns.resolver.NoNameservers as e:
            res.outcome, res.detail = "error", f"every nameserver failed (SERVFAIL/REFUSED): {e}"
            return res
        except dns.exception.DNSException as e:
            res.outcome, res.detail = "error", f"{type(e).__name__}: {e}"
            return res
        chaining = getattr(answer, "chaining_result", None)
        for rrset in (getattr(chaining, "cnames", None) or []):
            for rd in rrset:
                res.chain.append(_norm(rd.target.to_text()))
        res.addresses = [rd.to_text() for rd in answer]
        res.outcome = "ok"
        return res
    res.outcome = "no_answer"
    if last_no_answer is not None:
        resp = last_no_answer.kwargs.get("response") if hasattr(last_no_answer, "kwargs") else None
        if resp is not None:
            _chain_from_message(res, resp)
    res.detail = (f"{name} exists but has no address record"
                  + (f"; the CNAME chain ends at {res.chain[-1]} which has none" if len(res.chain) > 1 else ""))
    return res


def _chain_from_response(res: Resolution, responses: dict[Any, Any]) -> None:
    for msg in responses.values():
        _chain_from_message(res, msg)
        return


def _chain_from_message(res: Resolution, msg: Any) -> None:
    import dns.rdatatype

    current = res.chain[-1]
    by_owner = {_norm(rr.name.to_text()): rr for rr in msg.answer if rr.rdtype == dns.rdatatype.CNAME}
    seen = set(res.chain)
    while current in by_owner:
        target = _norm(next(iter(by_owner[current])).target.to_text())
        if target in seen:
            break
        res.chain.append(target)
        seen.add(target)
        current = target
