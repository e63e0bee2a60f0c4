"""A small authoritative DNS responder on loopback (UDP) for CNAME chains, NXDOMAIN and timeouts."""

from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsServer:
    """Serves ``records``: name -> ("A", "127.0.0.1") | ("CNAME", "target.") ; others NXDOMAIN.

    Names in ``silent`` are never answered (the client times out).
    """

    def __init__(self, records: dict[str, tuple[str, str]] | None = None, ttl: int = 5) -> None:
        self.records: dict[str, tuple[str, str]] = {}
        self.silent: set[str] = set()
        self.ttl = ttl
        for name, rec in (records or {}).items():
            self.set(name, *rec)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sim-dns", daemon=True)

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set(self, name: str, rtype: str, value: str) -> None:
        self.records[_norm(name)] = (rtype.upper(), _norm(value) if rtype.upper() == "CNAME" else value)

    def remove(self, name: str) -> None:
        self.records.pop(_norm(name), None)

    def start(self) -> DnsServer:
        self.sock.settimeout(0.2)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            reply = self._answer(query)
            if reply is not None:
                self.sock.sendto(reply.to_wire(), addr)

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        q = query.question[0]
        name = _norm(q.name.to_text())
        if name in self.silent:
            return None
        seen = 0
        while seen < 10:
            seen += 1
            rec = self.records.get(name)
            if rec is None:
                if seen == 1:
                    reply.set_rcode(dns.rcode.NXDOMAIN)
                return reply
            rtype, value = rec
            if rtype == "CNAME":
                reply.answer.append(dns.rrset.from_text(name, self.ttl, "IN", "CNAME", value))
                if q.rdtype == dns.rdatatype.CNAME:
                    return reply
                name = value
                continue
            if dns.rdatatype.from_text(rtype) == q.rdtype:
                reply.answer.append(dns.rrset.from_text(name, self.ttl, "IN", rtype, value))
            return reply
        return reply


def _norm(name: str) -> str:
    return name.rstrip(".").lower() + "."
