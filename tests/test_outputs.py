"""--output: regular files written atomically and never a temporary file left behind; devices, FIFOs and
``-`` written directly (as root, /dev/null stays a character device); symbolic links followed to their
target deliberately (the link stays), a foreign link in a sticky world-writable directory refused."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from doctor.errors import UsageError
from doctor.outputs import OutputError, parse_outputs, write_file

SYN_ENV = {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}", "AME_DOCTOR_CHECK_MODULES": "support.synthetic_checks"}
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="device nodes and chown need root")


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".tmp" in p.name)


def test_output_to_a_directory_is_exit_2_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    res = run_cli("run", "--only", "syn.ok", "--output", f"json={outdir}", env=SYN_ENV, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == f"ame-doctor: error: --output json={outdir}: is a directory (give a file name)"
    assert _leftovers(tmp_path) == [] and list(outdir.iterdir()) == []


def test_regular_file_is_replaced_atomically_keeping_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")
    target.chmod(0o640)
    before = target.stat().st_ino
    write_file(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != before  # a new file renamed over the old one: readers never see half
    write_file(tmp_path / "deep" / "er" / "n.json", "x")  # parents are created
    assert (tmp_path / "deep" / "er" / "n.json").read_text() == "x" and _leftovers(tmp_path) == []


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OutputError, match=r"cannot write .*r\.json: No space left on device"):
        write_file(tmp_path / "r.json", "x" * 100_000)
    assert list(tmp_path.iterdir()) == []


def test_dev_null_stays_a_character_device(tmp_path: Path) -> None:
    write_file(Path("/dev/null"), "report")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    res = run_cli("run", "--only", "syn.ok", "--output", "json=/dev/null", env=SYN_ENV, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@as_root
def test_a_character_device_node_is_written_not_replaced(tmp_path: Path) -> None:
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # another /dev/null
    link = tmp_path / "to-null"
    link.symlink_to(node)
    for path in (node, link):
        write_file(path, "report")
    assert stat.S_ISCHR(os.lstat(node).st_mode) and link.is_symlink()
    assert _leftovers(tmp_path) == []


def test_a_fifo_is_written_directly(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_file(fifo, "through the pipe")
    reader.join(10)
    assert got == ["through the pipe"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dash_and_dev_stdout_go_to_standard_output(capfd: pytest.CaptureFixture[str]) -> None:
    write_file(Path("-"), "to stdout\n")
    assert capfd.readouterr().out == "to stdout\n"
    res = run_cli("run", "--only", "syn.ok", "--format", "text", "--output", "json=/dev/stdout", env=SYN_ENV)
    assert res.returncode == 0, res.stderr
    assert "syn.ok" in res.stdout and '"schema_version"' in res.stdout  # the text report, then the JSON


def test_a_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    real = tmp_path / "reports" / "latest.json"
    real.write_text("old")
    link = tmp_path / "report.json"
    link.symlink_to("reports/latest.json")
    chain = tmp_path / "chain.json"
    chain.symlink_to(link)
    write_file(chain, "new")
    assert chain.is_symlink() and link.is_symlink() and real.read_text() == "new"
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to("reports/first.json")
    write_file(dangling, "first")
    assert dangling.is_symlink() and (tmp_path / "reports" / "first.json").read_text() == "first"
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "reports") == []


def test_a_symlink_loop_is_one_clear_error(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OutputError, match="too many levels of symbolic links"):
        write_file(a, "x")


@as_root
def test_a_foreign_symlink_in_a_sticky_world_writable_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    trap = shared / "report.json"
    trap.symlink_to(victim)
    os.lchown(trap, 12345, 12345)  # planted by another user
    with pytest.raises(OutputError, match="owned by another user in a world-writable directory"):
        write_file(trap, "x")
    assert victim.read_text() == "precious"
    os.lchown(trap, os.geteuid(), os.getegid())  # our own link there is followed
    write_file(trap, "ours")
    assert victim.read_text() == "ours"


def test_parse_outputs_refuses_a_directory_up_front(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        parse_outputs([str(tmp_path)], "json")
    assert parse_outputs(["json=-"], "text")[0].path == Path("-")
