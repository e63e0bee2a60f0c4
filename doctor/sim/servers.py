"""Real servers on free loopback ports: redis-server and MariaDB (writer + read-only "reader"), and the
network pieces in front of them: a listener that never accepts (dropped packets) and a TCP relay (a second
address for a server).

Hand-written rather than pytest-redis / pytest-mysql because the demo needs the same servers
outside pytest, and MariaDB's read-only twin needs a cleanly shut-down copy of the writer's data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


class ServerUnavailable(RuntimeError):
    """The server binary is not installed (tests skip on a dev box, fail under CI=true)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on port {port} within {timeout}s")


def which(*names: str) -> str:
    for n in names:
        path = shutil.which(n) or next((p for p in (f"/usr/sbin/{n}", f"/usr/bin/{n}") if os.path.exists(p)), None)
        if path:
            return path
    raise ServerUnavailable(f"none of {', '.join(names)} is installed")


@dataclass
class RedisServer:
    password: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ame-redis-")))

    def start(self) -> RedisServer:
        binary = which("redis-server")
        self.port = self.port or free_port()
        args = [binary, "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
                "--dir", str(self.workdir), "--databases", "16", "--protected-mode", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        log = self.workdir / "redis.log"
        self.proc = subprocess.Popen(args + ["--logfile", str(log)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, 10, log)
        return self

    def client(self, db: int = 0):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host=self.host, port=self.port, password=self.password, db=db, socket_timeout=5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


FAILED_JOBS_DDL = """
CREATE TABLE IF NOT EXISTS failed_jobs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  uuid VARCHAR(255) NOT NULL UNIQUE,
  connection TEXT NOT NULL,
  queue TEXT NOT NULL,
  payload LONGTEXT NOT NULL,
  exception LONGTEXT NOT NULL,
  failed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)"""


@dataclass
class MariaDB:
    """One MariaDB server. ``MariaDB.pair()`` gives a writer and a read-only twin (an Aurora reader)."""

    database: str = "ame"
    user: str = "ame"
    password: str = "s3cret-db-password"
    host: str = "127.0.0.1"
    port: int = 0
    read_only: bool = False
    datadir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ame-mariadb-")))
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def pair(cls, **kw: str) -> tuple[MariaDB, MariaDB]:
        writer = cls(**kw)  # type: ignore[arg-type]
        writer.initialise()
        reader_dir = Path(tempfile.mkdtemp(prefix="ame-mariadb-ro-"))
        shutil.rmtree(reader_dir)
        shutil.copytree(writer.datadir / "data", reader_dir / "data")
        reader = cls(**kw, read_only=True, datadir=reader_dir)  # type: ignore[arg-type]
        writer.start()
        reader.start()
        return writer, reader

    def initialise(self) -> None:
        """install-db, start once, create the app user, schema and failed_jobs, shut down cleanly."""
        install = which("mariadb-install-db", "mysql_install_db")
        data = self.datadir / "data"
        subprocess.run([install, "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db",
                        "--auth-root-authentication-method=normal"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.start()
        self.execute_root([
            f"CREATE DATABASE IF NOT EXISTS `{self.database}`",
            f"CREATE USER IF NOT EXISTS '{self.user}'@'%' IDENTIFIED BY '{self.password}'",
            f"CREATE USER IF NOT EXISTS '{self.user}'@'localhost' IDENTIFIED BY '{self.password}'",
            f"GRANT ALL ON `{self.database}`.* TO '{self.user}'@'%'",
            f"GRANT ALL ON `{self.database}`.* TO '{self.user}'@'localhost'",
            f"USE `{self.database}`",
            FAILED_JOBS_DDL,
        ])
        self.stop(keep_data=True)

    def start(self) -> MariaDB:
        binary = which("mariadbd", "mysqld")
        self.port = self.port or free_port()
        data = self.datadir / "data"
        log = self.datadir / "error.log"
        args = [binary, "--no-defaults", f"--datadir={data}", f"--port={self.port}", f"--bind-address={self.host}",
                f"--socket={self.datadir / 'mysqld.sock'}", f"--pid-file={self.datadir / 'mysqld.pid'}",
                f"--log-error={log}", "--user=root", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                "--skip-name-resolve", "--performance-schema=OFF"]
        if self.read_only:
            args += ["--innodb-read-only=1", "--read-only=1"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, 60, log)
        return self

    def execute_root(self, statements: list[str]) -> None:
        import pymysql

        conn = pymysql.connect(unix_socket=str(self.datadir / "mysqld.sock"), user="root", password="",
                               autocommit=True, connect_timeout=10)
        try:
            with conn.cursor() as cur:
                for st in statements:
                    cur.execute(st)
        finally:
            conn.close()

    def connect(self):  # type: ignore[no-untyped-def]
        import pymysql

        return pymysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               database=self.database, autocommit=True, connect_timeout=5)

    def stop(self, keep_data: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if not keep_data:
            shutil.rmtree(self.datadir, ignore_errors=True)


class Blackhole:
    """A listener that never accepts: once its backlog is full, new connects time out — what a security
    group or NACL that drops packets looks like from the client. ``host``/``port`` default to a free
    loopback port; another loopback alias and a fixed port stand in for a blocked endpoint."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(0)
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        self._fillers: list[socket.socket] = []
        for _ in range(3):  # fill the accept queue so later SYNs are dropped
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError, OSError):
                s.connect((host, self.port))
            self._fillers.append(s)
        time.sleep(0.05)

    def close(self) -> None:
        for s in self._fillers:
            s.close()
        self.sock.close()


class Relay:
    """Forwards every TCP connection to ``host:port`` on to ``target_host:target_port``: gives a server a second
    address (an Aurora reader instance's own address in front of the read-only MariaDB on its free port)."""

    def __init__(self, host: str, port: int, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.host, self.port = host, int(self.sock.getsockname()[1])
        self.target = (target_host, target_port)
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, name=f"relay-{host}:{self.port}", daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for s in self._open:
            with contextlib.suppress(OSError):
                s.close()


def refused_port() -> int:
    """A loopback port with nothing listening (connect is refused)."""
    return free_port()
