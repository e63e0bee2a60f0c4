"""Host-side reachability probes (vantage ``host``): Redis and MySQL, each bounded, resolved through
:mod:`doctor.net.dns`.

Every outcome is classified into one word the checks map to signals:
``ok | dns | refused | timeout | unreachable | auth_failed | readonly | reader | error | unset``.
Nothing here ever returns a password; error texts are scrubbed by the engine's redactor as well.

A dead endpoint is dead for the whole run: :class:`DeadEndpoints` (one per run, ``Facts.dead_endpoints``)
remembers the first timeout on ``host:port`` from a vantage. Attempts on one endpoint take turns, so a second
caller waits for the first one's outcome instead of starting its own wait, and once an attempt timed out every
later one gets the same :class:`DeadEndpoint` at once — its detail says it was a timeout, its ``measured_at``
when it was measured. Callers build their findings from the :class:`DeadEndpoint` whether they measured it or
not, so a remembered timeout reads exactly like a fresh one.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from doctor.net.dns import DnsFailure, resolve
from doctor.net.targets import DbTarget, RedisTarget
from doctor.redact import clip


@dataclass
class Outcome:
    target: str                      # redis | mysql
    vantage: str                     # host | task:<service>
    host: str | None
    port: int
    outcome: str
    detail: str = ""
    addrs: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def timed_out(self, dead: DeadEndpoint) -> Outcome:
        """This outcome is the endpoint's timeout (measured now or earlier in the run: it reads the same)."""
        self.outcome, self.detail = "timeout", dead.detail
        self.info.update(dead.evidence())
        return self

    def evidence(self) -> dict[str, Any]:
        ev: dict[str, Any] = {"vantage": self.vantage, "host": self.host, "port": self.port, "outcome": self.outcome,
                              "addresses": self.addrs}
        if self.detail:
            ev["detail"] = self.detail
        ev.update(self.info)
        return ev


@dataclass(frozen=True)
class DeadEndpoint:
    """``host:port`` timed out from ``vantage``: in the TCP connect (``phase`` connect) or, connected, waiting
    for the server to speak (``phase`` answer). Kept for the rest of the run."""

    vantage: str
    host: str
    port: int
    phase: str               # connect | answer
    timeout: float           # the wait that ran out, seconds
    measured_at: datetime

    @property
    def detail(self) -> str:
        if self.phase == "connect":
            return f"connect to {self.host}:{self.port} timed out after {self.timeout:g}s"
        return f"{self.host}:{self.port} accepted the connection but did not answer within {self.timeout:g}s"

    def evidence(self) -> dict[str, Any]:
        return {"timed_out": self.phase, "measured_at": self.measured_at.isoformat(timespec="seconds")}


class Attempt:
    """One turn at an endpoint (see :meth:`DeadEndpoints.attempt`): ``dead`` is the remembered timeout, if any;
    :meth:`timed_out` records this attempt's."""

    def __init__(self, memo: DeadEndpoints | None, vantage: str, host: str, port: int,
                 dead: DeadEndpoint | None) -> None:
        self.memo, self.vantage, self.host, self.port, self.dead = memo, vantage, host, port, dead

    def timed_out(self, phase: str, timeout: float) -> DeadEndpoint:
        dead = DeadEndpoint(self.vantage, self.host, self.port, phase, timeout, datetime.now(UTC))
        if self.memo is not None:
            dead = self.memo.remember(dead)
        self.dead = dead
        return dead


class DeadEndpoints:
    """The endpoints found dead in this run, per vantage (thread-safe)."""

    def __init__(self) -> None:
        self._dead: dict[tuple[str, str, int], DeadEndpoint] = {}
        self._turns: dict[tuple[str, str, int], threading.Lock] = {}
        self._guard = threading.Lock()

    @staticmethod
    def _key(vantage: str, host: str, port: int) -> tuple[str, str, int]:
        return vantage, host.strip().rstrip(".").lower(), int(port)

    def get(self, vantage: str, host: str, port: int) -> DeadEndpoint | None:
        with self._guard:
            return self._dead.get(self._key(vantage, host, port))

    def remember(self, dead: DeadEndpoint) -> DeadEndpoint:
        """Keep the first timeout seen on the endpoint; returns the one kept."""
        with self._guard:
            return self._dead.setdefault(self._key(dead.vantage, dead.host, dead.port), dead)

    @contextlib.contextmanager
    def attempt(self, vantage: str, host: str, port: int, wait: float) -> Iterator[Attempt]:
        """A turn at ``host:port`` from ``vantage``: waits (at most ``wait`` seconds) while another attempt on
        the same endpoint is under way, then yields an :class:`Attempt` carrying the remembered timeout, if any."""
        key = self._key(vantage, host, port)
        with self._guard:
            turn = self._turns.setdefault(key, threading.Lock())
        mine = turn.acquire(timeout=max(0.0, wait))
        try:
            yield Attempt(self, vantage, host, port, self.get(vantage, host, port))
        finally:
            if mine:
                turn.release()


def attempt(memo: DeadEndpoints | None, vantage: str, host: str, port: int,
            wait: float) -> contextlib.AbstractContextManager[Attempt]:
    """``memo.attempt(...)``, or a turn that remembers nothing when the caller keeps no memo."""
    if memo is None:
        return contextlib.nullcontext(Attempt(None, vantage, host, port, None))
    return memo.attempt(vantage, host, port, wait)


def classify_oserror(e: BaseException) -> str:
    """refused / timeout / unreachable / error from a socket-level exception (or its text)."""
    if isinstance(e, TimeoutError | socket.timeout):
        return "timeout"
    code = getattr(e, "errno", None)
    if code == errno.ECONNREFUSED or isinstance(e, ConnectionRefusedError):
        return "refused"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable"
    if code == errno.ETIMEDOUT:
        return "timeout"
    text = str(e).lower()
    if "refused" in text:
        return "refused"
    if "timed out" in text or "timeout" in text:
        return "timeout"
    if "unreachable" in text or "no route" in text:
        return "unreachable"
    return "error"


def _addrs(out: Outcome, host: str, nameservers: list[str] | None, timeout: float) -> str | None:
    """Resolve into ``out``; the address to connect to, or None (outcome set to dns)."""
    try:
        out.addrs = resolve(host, nameservers, timeout)
    except DnsFailure as e:
        out.outcome, out.detail = "dns", str(e)
        out.info["dns"] = e.kind
        return None
    if not out.addrs:
        out.outcome, out.detail = "dns", f"{host}: no addresses"
        return None
    # connect by name with the system resolver (TLS SNI), by address with configured nameservers
    return out.addrs[0] if nameservers else host


def redis_check(t: RedisTarget, nameservers: list[str] | None = None, timeout: float = 3.0, *,
                read_timeout: float | None = None, dead: DeadEndpoints | None = None) -> Outcome:
    """PING (AUTH when a password is set), ROLE, maxmemory-policy and evicted_keys, from this host.

    ``timeout`` bounds the name lookup and the connect, ``read_timeout`` (default ``timeout``) each reply;
    ``dead``: the run's :class:`DeadEndpoints` (a remembered timeout is the outcome at once)."""
    out = Outcome("redis", "host", t.host, t.port, "unset")
    if not t.host:
        out.detail = "no Redis host configured"
        return out
    addr = _addrs(out, t.host, nameservers, timeout)
    if addr is None:
        return out
    read = read_timeout or timeout
    with attempt(dead, "host", t.host, t.port, timeout + read) as turn:
        if turn.dead is not None:
            return out.timed_out(turn.dead)
        _redis_session(out, t, addr, timeout, read, turn)
    return out


def _redis_session(out: Outcome, t: RedisTarget, addr: str, timeout: float, read: float, turn: Attempt) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    kw: dict[str, Any] = {}
    if t.tls:
        kw.update(ssl=True, ssl_cert_reqs="none", ssl_check_hostname=False)
    client = redis.Redis(host=addr, port=t.port, password=t.password, db=t.db, socket_connect_timeout=timeout,
                         socket_timeout=read, retry=Retry(NoBackoff(), 0), **kw)
    start = time.monotonic()
    try:
        client.ping()
        out.info["connect_ms"] = int((time.monotonic() - start) * 1000)
        out.info["auth"] = "ok" if t.password else "none"
        try:
            role = client.execute_command("ROLE")
            out.info["role"] = _s(role[0]) if role else None
        except redis.exceptions.ResponseError:
            repl = client.info("replication")
            out.info["role"] = "slave" if repl.get("role") == "slave" else repl.get("role")
        try:
            mem = client.info("memory")
            stats = client.info("stats")
            out.info["maxmemory_policy"] = mem.get("maxmemory_policy")
            out.info["evicted_keys"] = stats.get("evicted_keys")
        except redis.exceptions.RedisError:
            pass
        out.outcome = "readonly" if out.info.get("role") not in (None, "master") else "ok"
        if out.outcome == "readonly":
            out.detail = f"connected to a {out.info['role']}: writes fail with READONLY"
    except redis.exceptions.AuthenticationError as e:
        out.outcome = "auth_failed"
        out.detail = (f"WRONGPASS: the password was rejected ({_first(e)})" if t.password
                      else "NOAUTH: the server requires a password and none is configured")
        out.info["auth"] = "failed" if t.password else "required"
    except redis.exceptions.ResponseError as e:
        text = _first(e)
        if "NOAUTH" in text or "WRONGPASS" in text or "password" in text.lower():
            out.outcome, out.detail = "auth_failed", text
        elif text.startswith("READONLY"):
            out.outcome, out.detail = "readonly", text
        else:
            out.outcome, out.detail = "error", text
    except redis.exceptions.TimeoutError as e:
        out.timed_out(turn.timed_out(*redis_timeout_phase(e, timeout, read)))
    except redis.exceptions.ConnectionError as e:
        cause = e.__cause__ or e.__context__ or e
        out.outcome, out.detail = classify_oserror(cause if isinstance(cause, OSError) else e), _first(e)
    except OSError as e:
        out.outcome, out.detail = classify_oserror(e), str(e)
    finally:
        with contextlib.suppress(Exception):
            client.close()


def redis_timeout_phase(e: BaseException, connect: float, read: float) -> tuple[str, float]:
    """(phase, the wait that ran out) of a redis-py ``TimeoutError``."""
    return ("connect", connect) if "connecting" in str(e).lower() else ("answer", read)


def mysql_greeting(addr: str, port: int, timeout: float, read_timeout: float | None = None) -> dict[str, Any]:
    """TCP connect and read the server greeting: {tcp, protocol, version} or {tcp, error} (and ``phase``
    ``answer`` when the connection opened and the read failed)."""
    try:
        s = socket.create_connection((addr, port), timeout=timeout)
    except OSError as e:
        return {"tcp": classify_oserror(e), "error": str(e)}
    try:
        with s:
            s.settimeout(read_timeout or timeout)
            head = _recv(s, 4)
            n = head[0] | head[1] << 8 | head[2] << 16 if len(head) == 4 else 0
            body = _recv(s, min(n, 256)) if n else b""
    except OSError as e:
        return {"tcp": classify_oserror(e), "error": str(e), "phase": "answer"}
    if not body:
        return {"tcp": "ok", "greeting": "none"}
    if body[0] == 0xFF:
        return {"tcp": "ok", "greeting": "error", "error": body[3:].decode("utf-8", "replace")[:200]}
    version = body[1:body.index(0, 1)] if 0 in body[1:] else body[1:]
    return {"tcp": "ok", "greeting": "ok", "protocol": body[0], "version": version.decode("utf-8", "replace")}


def _recv(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def mysql_check(t: DbTarget, nameservers: list[str] | None = None, timeout: float = 3.0, *,
                read_timeout: float | None = None, dead: DeadEndpoints | None = None) -> Outcome:
    """Greeting, login, ``@@innodb_read_only`` and, on Aurora, the writer identity. Timeouts and ``dead`` as
    :func:`redis_check`."""
    out = Outcome("mysql", "host", t.host, t.port, "unset")
    if not t.host:
        out.detail = "no DB host configured"
        return out
    addr = _addrs(out, t.host, nameservers, timeout)
    if addr is None:
        return out
    read = read_timeout or timeout
    with attempt(dead, "host", t.host, t.port, timeout + read) as turn:
        if turn.dead is not None:
            return out.timed_out(turn.dead)
        g = mysql_greeting(out.addrs[0], t.port, timeout, read)
        if g["tcp"] == "timeout":  # reads as a remembered one: the timeout's evidence only
            answer = g.get("phase") == "answer"
            return out.timed_out(turn.timed_out("answer" if answer else "connect", read if answer else timeout))
        out.info.update({k: v for k, v in g.items() if k not in ("error", "phase")})
        if g["tcp"] != "ok":
            out.outcome, out.detail = g["tcp"], str(g.get("error", ""))
            return out
        if g.get("greeting") != "ok":
            out.outcome, out.detail = "error", f"no MySQL greeting: {g.get('error', 'connection closed')}"
            return out
        if not t.username:
            out.outcome, out.detail = "ok", "greeting only: no DB_USERNAME to log in with"
            out.info["login"] = "skipped"
            return out
        return _mysql_login(out, t, addr, timeout, read, turn)


def _mysql_login(out: Outcome, t: DbTarget, addr: str, timeout: float, read: float, turn: Attempt) -> Outcome:
    import pymysql

    try:
        conn = pymysql.connect(host=addr, port=t.port, user=t.username, password=t.password or "",
                               database=t.database or None, connect_timeout=timeout, read_timeout=read,
                               write_timeout=read)
    except pymysql.err.OperationalError as e:
        code = e.args[0] if e.args else 0
        msg = str(e.args[1]) if len(e.args) > 1 else str(e)
        if code in (1044, 1045, 1049, 1698):
            out.outcome, out.detail = "auth_failed", f"({code}) {msg}"
        elif classify_oserror(OSError(msg)) == "timeout":  # 2003: its own connect; else the login went unanswered
            out.timed_out(turn.timed_out(*(("connect", timeout) if code == 2003 else ("answer", read))))
        else:
            out.outcome, out.detail = classify_oserror(OSError(msg)), f"({code}) {msg}"
        out.info["login"] = "failed"
        return out
    except pymysql.err.MySQLError as e:
        out.outcome, out.detail = "error", str(e)
        return out
    out.info["login"] = "ok"
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@innodb_read_only, @@read_only, VERSION()")
            row = cur.fetchone()
            innodb_ro, ro, version = (int(row[0] or 0), int(row[1] or 0), str(row[2])) if row else (0, 0, "")
            out.info.update(innodb_read_only=innodb_ro, read_only=ro, server_version=version)
            aurora_id = _scalar(cur, "SELECT @@aurora_server_id")
            if aurora_id is not None:
                out.info["aurora_server_id"] = aurora_id
                writer = _scalar(cur, "SELECT SERVER_ID FROM information_schema.replica_host_status "
                                      "WHERE SESSION_ID = 'MASTER_SESSION_ID' LIMIT 1")
                if writer is not None:
                    out.info["aurora_writer_id"] = writer
                    out.info["is_writer"] = writer == aurora_id
    finally:
        conn.close()
    if out.info.get("innodb_read_only") == 1 or out.info.get("is_writer") is False:
        out.outcome = "reader"
        out.detail = "connected to a read-only instance (@@innodb_read_only = 1): writes fail"
    else:
        out.outcome = "ok"
    return out


def _scalar(cur: Any, sql: str) -> Any:
    """One value, or None when the server does not know the variable/table (plain MySQL/MariaDB)."""
    import pymysql

    try:
        cur.execute(sql)
        row = cur.fetchone()
        return row[0] if row else None
    except pymysql.err.MySQLError:
        return None


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _first(e: BaseException) -> str:
    return clip(str(e).splitlines()[0], 300) if str(e) else type(e).__name__
