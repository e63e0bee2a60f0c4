"""Redis clients for queue inspection: one client per DB index, with the same connection settings.

The timeouts are the run's (``[run] connect_timeout`` / ``read_timeout``); the readings retry once without
backoff, the first PING (:meth:`RedisPool.ping`) never: an unreachable endpoint costs one connect timeout.
"""

from __future__ import annotations

from typing import Any

from doctor.facts import RedisTarget


class RedisPool:
    """One Redis client per DB index, same connection settings; :meth:`client` is the ``client_for_db``
    that :func:`~doctor.queues.keys.scan_queue_keys` takes."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self.clients: dict[int, Any] = {}

    @classmethod
    def for_target(cls, target: RedisTarget, address: str, connect_timeout: float = 5.0,
                   read_timeout: float = 5.0) -> RedisPool:
        """Clients of ``target`` connecting to ``address`` (its resolved host); TLS verifies the host name
        only when connecting by name."""
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        kwargs: dict[str, Any] = dict(host=address, port=target.port, password=target.password,
                                      socket_timeout=read_timeout, socket_connect_timeout=connect_timeout,
                                      retry=Retry(NoBackoff(), 1))
        if target.tls:
            kwargs.update(ssl=True, ssl_cert_reqs="required", ssl_check_hostname=address == target.host)
        return cls(kwargs)

    def ping(self, db: int) -> None:
        """One PING on a connection of its own, not retried: the first contact with the endpoint."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis(db=db, **{**self.kwargs, "retry": Retry(NoBackoff(), 0)})
        try:
            client.ping()
        finally:
            client.close()

    def client(self, db: int) -> Any:
        import redis

        if db not in self.clients:
            self.clients[db] = redis.Redis(db=db, **self.kwargs)
        return self.clients[db]

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
