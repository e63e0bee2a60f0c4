"""fakeredis's TCP server as the demo's Redis when no ``redis-server`` is installed, taught the ROLE and
INFO replies an ElastiCache primary gives."""

from __future__ import annotations

import threading
from typing import Any

from doctor.sim.servers import free_port


def _teach_fakeredis_role_and_info() -> None:
    """fakeredis implements neither ROLE nor INFO; ElastiCache's primary answers both. Teach the
    stand-in the replies a standalone primary gives (role, memory policy, stats, keyspace)."""
    from fakeredis._commands import SUPPORTED_COMMANDS, command
    from fakeredis._socket._fakesocket import FakeSocket

    if "info" in SUPPORTED_COMMANDS and hasattr(FakeSocket, "info"):
        return

    def role(self: Any) -> list[Any]:
        return [b"master", 0, []]

    def info(self: Any, *sections: bytes) -> bytes:
        keyspace = [f"db{i}:keys={len(db)},expires=0,avg_ttl=0" for i, db in sorted(self._server.dbs.items())
                    if len(db)]
        parts = {
            "server": ["redis_version:7.1.0", "redis_mode:standalone"],
            "replication": ["role:master", "connected_slaves:0"],
            "memory": ["used_memory:1048576", "maxmemory_policy:noeviction"],
            "stats": ["evicted_keys:0", "expired_keys:0"],
            "keyspace": keyspace,
        }
        wanted = [x.decode().lower() for x in sections] or list(parts)
        if "all" in wanted or "everything" in wanted:
            wanted = list(parts)
        text = "\r\n".join(f"# {name.title()}\r\n" + "\r\n".join(parts[name])
                            for name in wanted if name in parts)
        return (text + "\r\n").encode()

    FakeSocket.role = command(())(role)  # type: ignore[attr-defined]
    FakeSocket.info = command((), (bytes,))(info)  # type: ignore[attr-defined]


class FakeRedisTcp:
    """fakeredis's TCP server, used only when no ``redis-server`` is installed."""

    def __init__(self) -> None:
        from fakeredis import TcpFakeServer


        _teach_fakeredis_role_and_info()

        self.host = "127.0.0.1"
        self.port = free_port()
        self.password: str | None = None
        self.server = TcpFakeServer((self.host, self.port), server_type="redis")
        self.thread = threading.Thread(target=self.server.serve_forever, name="sim-fakeredis", daemon=True)

    def start(self) -> FakeRedisTcp:
        self.thread.start()
        return self

    def client(self, db: int = 0):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host=self.host, port=self.port, db=db, socket_timeout=5)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
