"""doctor.inputs: every input file is read within bounds — size for anything, silence for streams."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from doctor import inputs
from doctor.inputs import InputError, read_bounded, read_text_bounded


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "STREAM_WAIT", 0.3)


def test_regular_files_within_and_beyond_the_limit(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"x" * 100)
    assert read_bounded(p, 100) == b"x" * 100
    with pytest.raises(InputError, match=r"too large \(100 bytes; at most 99 are read\)"):
        read_bounded(p, 99)


@pytest.mark.parametrize(("name", "message"), [("missing", "no such file"), (".", "is a directory")])
def test_missing_and_directories(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_bounded(tmp_path / name, 10)


def test_an_endless_device_stops_at_the_limit() -> None:
    with pytest.raises(InputError, match="/dev/zero: too large"):
        read_bounded("/dev/zero", 1 << 20)
    assert read_bounded("/dev/null", 10) == b""


def test_a_fifo_nobody_writes_to_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"nothing to read for 0.3s"):
        read_bounded(fifo, 100)


def test_a_fifo_and_a_pipe_with_writers_are_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def slow_writer() -> None:
        with open(fifo, "w") as f:
            for part in ("a=", "1\n"):
                f.write(part)
                f.flush()
                time.sleep(0.1)

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert read_text_bounded(fifo, 100) == "a=1\n"
    writer.join(5)
    read_end, write_end = os.pipe()  # what `<(...)` hands over as /dev/fd/N
    os.write(write_end, b"from a pipe")
    os.close(write_end)
    try:
        assert read_bounded(f"/dev/fd/{read_end}", 100) == b"from a pipe"
    finally:
        os.close(read_end)


def test_a_stream_beyond_the_limit_is_refused() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"y" * 200)
    os.close(write_end)
    try:
        with pytest.raises(InputError, match="too large"):
            read_bounded(f"/dev/fd/{read_end}", 100)
    finally:
        os.close(read_end)


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "bin"
    p.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="not UTF-8 text"):
        read_text_bounded(p, 10)
