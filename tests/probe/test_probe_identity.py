"""Through ECS Exec the probe trusts neither the session's working directory nor its user (root): it finds
the app root and judges the Laravel runtime directories as the worker's user (real sh, stat, /proc)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from doctor.probe import ProbeSpec

from support.probe import RUNTIME_DIRS, laravel_root, run_probe

USUAL_ROOTS = ("/var/www/html", "/var/www", "/app", "/srv/app", "/opt/app", "/var/app", "/usr/src/app", "/home/app")
NOBODY = 65534
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (as ECS Exec sessions run) to chown")


def _dirs(tmp_path: Path, run_as: str | None) -> dict:
    r = run_probe(ProbeSpec(timeout=1, app_root=str(tmp_path / "app"), run_as=run_as), {})
    assert r.ok and r.dirs is not None, r.raw_output  # type: ignore[attr-defined]
    return r.dirs


def test_app_root_is_where_artisan_is_never_the_sessions_cwd(tmp_path) -> None:
    if any(os.path.exists(f"{d}/artisan") for d in USUAL_ROOTS):
        pytest.skip("this host has a Laravel app in a usual root")
    elsewhere = tmp_path / "session-cwd"
    (elsewhere / "storage/logs").mkdir(parents=True)  # looks like an app, but has no artisan
    r = run_probe(ProbeSpec(timeout=1, run_as="self"), {}, cwd=str(elsewhere))
    assert r.dirs["root"] == "" and r.dirs["root_source"] == "none"
    assert set(r.dirs["dirs"].values()) == {"unknown"}
    app = laravel_root(tmp_path)
    (app / "artisan").write_text("#!/usr/bin/env php\n")
    r = run_probe(ProbeSpec(timeout=1, run_as="self"), {}, cwd=str(app))
    assert r.dirs["root"] == str(app) and r.dirs["root_source"] == "artisan"
    assert set(r.dirs["dirs"].values()) == {"ok"}
    given = run_probe(ProbeSpec(timeout=1, app_root=str(app), root_source="workdir", run_as="self"), {},
                      cwd=str(elsewhere))
    assert given.dirs["root"] == str(app) and given.dirs["root_source"] == "workdir"


@root_only
def test_runtime_dirs_are_judged_as_the_workers_user_not_as_root(tmp_path) -> None:
    app = laravel_root(tmp_path)  # root-owned, 0755: writable by root only
    for d in RUNTIME_DIRS:
        os.chmod(app / d, 0o755)
    assert set(_dirs(tmp_path, "self")["dirs"].values()) == {"ok"}  # what a root session would conclude
    as_nobody = _dirs(tmp_path, "nobody")
    assert set(as_nobody["dirs"].values()) == {"unwritable"}
    assert as_nobody["as"] == {"uid": str(NOBODY), "gid": str(NOBODY), "source": "container"}
    assert as_nobody["modes"]["storage/logs"] == "0:0:755"
    os.chown(app / "storage/logs", NOBODY, 0)                      # owner
    os.chown(app / "bootstrap/cache", 0, NOBODY)                   # group (nobody's primary group)
    os.chmod(app / "bootstrap/cache", 0o775)
    os.chmod(app / "storage/framework/views", 0o777)               # other
    os.chmod(app / "storage/framework/sessions", 0o753)            # group r-x: other -wx does not apply
    os.chown(app / "storage/framework/sessions", 0, NOBODY)
    judged = _dirs(tmp_path, "nobody")["dirs"]
    assert judged == {"storage/framework/cache": "unwritable", "storage/framework/sessions": "unwritable",
                      "storage/framework/views": "ok", "storage/logs": "ok", "bootstrap/cache": "ok"}
    # a uid without a passwd entry runs with gid 0 (as Docker does); an explicit group replaces it
    os.chmod(app / "storage/framework/cache", 0o775)
    assert _dirs(tmp_path, "12345")["dirs"]["storage/framework/cache"] == "ok"
    assert _dirs(tmp_path, f"12345:{NOBODY}")["dirs"]["storage/framework/cache"] == "unwritable"
    unknown = _dirs(tmp_path, "no-such-user")
    assert set(unknown["dirs"].values()) == {"unknown"}


@root_only
def test_without_a_container_user_the_worker_process_owner_is_the_worker(tmp_path) -> None:
    laravel_root(tmp_path)
    bash = shutil.which("bash")
    worker = subprocess.Popen([bash, "-c", 'exec -a "php artisan queue:work redis --queue=image" sleep 60'],
                              user=NOBODY, group=NOBODY)
    try:
        for _ in range(100):  # until exec has replaced the command line
            if b"queue:work" in Path(f"/proc/{worker.pid}/cmdline").read_bytes():
                break
            time.sleep(0.02)
        d = _dirs(tmp_path, None)
    finally:
        worker.kill()
        worker.wait()
    assert d["as"]["source"] == "worker" and d["as"]["uid"] == str(NOBODY)
    assert set(d["dirs"].values()) == {"unwritable"}


@root_only
def test_a_read_only_mount_is_unwritable_for_everyone(tmp_path) -> None:
    app = laravel_root(tmp_path)
    logs = app / "storage/logs"
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(logs)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        d = _dirs(tmp_path, "self")
    finally:
        subprocess.run(["umount", str(logs)], check=True)
    assert d["dirs"]["storage/logs"] == "unwritable" and d["modes"]["storage/logs:mount"] == "ro"
    assert d["dirs"]["bootstrap/cache"] == "ok"
