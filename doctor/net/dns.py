"""The one DNS resolver: CNAME chains and addresses, honouring ``[dns] nameservers`` (``host`` or ``host:port``).

- ``resolve_chain(name, nameservers)`` returns a ``Resolution``: the outcome (``ok``, ``nxdomain``,
  ``no_answer``, ``timeout``, ``no_nameservers``, ``error``), the chain of names it went through
  (``name`` first, then each CNAME target) and the final addresses. A CNAME chain that ends at a name
  with no address record is ``no_answer`` with the chain so far (a dangling alias).
- ``resolve(host, nameservers)``: the IPv4 addresses to connect to, through the configured nameservers,
  else the system resolver (bounded by a thread); failures raise ``DnsFailure``.
- ``connect_address(host, nameservers)``: the one address to connect to (the host itself without
  configured nameservers); failures raise ``LookupError``.

dnspython is imported lazily: the doctor's CLI start-up does not pay for it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from doctor.util import norm_host


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


class DnsFailure(Exception):
    def __init__(self, reason: str, kind: str = "nxdomain") -> None:
        super().__init__(reason)
        self.kind = kind  # nxdomain | timeout | error


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


def make_resolver(nameservers: list[str] | None, timeout: float, attempt_timeout: float | None = None) -> Any:
    """A dnspython resolver without a cache: the given nameservers, else the system's (``/etc/resolv.conf``).

    ``timeout`` bounds the whole lookup; ``attempt_timeout`` (default: the same) each query to one server.
    """
    import dns.nameserver
    import dns.resolver

    if nameservers:
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [dns.nameserver.Do53Nameserver(*parse_nameserver(ns)) for ns in nameservers]
    else:
        r = dns.resolver.Resolver()
    r.timeout = timeout if attempt_timeout is None else attempt_timeout
    r.lifetime = timeout
    r.cache = None
    return r


def resolve_chain(name: str, nameservers: list[str] | None = None, timeout: float = 3.0) -> Resolution:
    """Resolve ``name`` (A, then AAAA), recording every CNAME on the way."""
    import dns.exception
    import dns.resolver

    res = Resolution(name=norm_host(name), outcome="error", chain=[norm_host(name)],
                     nameservers=list(nameservers or []))
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
                res.chain.append(norm_host(rd.target.to_text()))
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
    by_owner = {norm_host(rr.name.to_text()): rr for rr in msg.answer if rr.rdtype == dns.rdatatype.CNAME}
    seen = set(res.chain)
    while current in by_owner:
        target = norm_host(next(iter(by_owner[current])).target.to_text())
        if target in seen:
            break
        res.chain.append(target)
        seen.add(target)
        current = target


def resolve(host: str, nameservers: list[str] | None = None, timeout: float = 3.0) -> list[str]:
    """IPv4 addresses of ``host`` (CNAMEs followed). ``nameservers`` ("ip" or "ip:port") else the system resolver."""
    if is_ip(host):
        return [host]
    if nameservers:
        return _resolve_with(host, nameservers, timeout)
    box: dict[str, Any] = {}

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
            box["addrs"] = list(dict.fromkeys(str(i[4][0]) for i in infos))
        except socket.gaierror as e:
            box["err"] = e

    t = threading.Thread(target=lookup, daemon=True, name="resolve")
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise DnsFailure(f"{host}: DNS timeout after {timeout:g}s", "timeout")
    if "err" in box:
        raise DnsFailure(f"{host}: {box['err'].strerror or box['err']}", "nxdomain")
    return list(box["addrs"])


def _resolve_with(host: str, nameservers: list[str], timeout: float) -> list[str]:
    """A records of ``host`` from the configured nameservers (each query at most 2 s, all within ``timeout``)."""
    import dns.exception
    import dns.resolver

    r = make_resolver(nameservers, timeout, attempt_timeout=min(timeout, 2.0))
    try:
        ans = r.resolve(host, "A", search=False)
    except dns.resolver.NXDOMAIN:
        raise DnsFailure(f"{host}: NXDOMAIN", "nxdomain") from None
    except dns.resolver.NoAnswer:
        raise DnsFailure(f"{host}: no A record", "nxdomain") from None
    except dns.exception.Timeout:
        raise DnsFailure(f"{host}: DNS timeout after {timeout:g}s", "timeout") from None
    except dns.exception.DNSException as e:
        raise DnsFailure(f"{host}: {e}", "error") from None
    return [rr.address for rr in ans]


def connect_address(host: str, nameservers: Sequence[str], timeout: float = 3.0) -> str:
    """The address to connect to: via ``[dns] nameservers`` when set (CNAMEs followed, A then AAAA), else the
    host itself (the client library's own lookup). Raises ``LookupError`` when the name does not resolve."""
    if not nameservers or is_ip(host):
        return host
    res = resolve_chain(host, list(nameservers), timeout)
    if not res.ok or not res.addresses:
        raise LookupError(res.detail or f"{host}: {res.outcome}")
    return str(res.addresses[0])
