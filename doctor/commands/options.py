"""The options shared by the commands that run checks (run, tui, gate, watch)."""

from __future__ import annotations

import argparse
from pathlib import Path

REPORT_FORMATS = ["text", "json", "junit", "markdown"]


def add_run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("target and selection")
    g.add_argument("--config", type=Path, help="TOML config (default: $AME_DOCTOR_CONFIG, else ./ame-doctor.toml)")
    g.add_argument("--cluster", help="ECS cluster (default propertyfeedtemplate-production)")
    g.add_argument("--region", help="AWS region (default: the standard AWS chain)")
    g.add_argument("--profile", help="AWS profile (default: the standard AWS chain)")
    g.add_argument("--env-file", type=Path, help="the web tier's prod .env, for env.drift")
    g.add_argument("--exec", dest="exec_transport", choices=["ecs-exec", "probe-task", "local", "off"],
                   help="how to run the in-task probe")
    g.add_argument("--symptom", metavar="PLAYBOOK",
                   help="run the checks of this playbook first and show it on top (see `ame-doctor playbooks`)")
    g.add_argument("--only", action="append", default=[], metavar="ID",
                   help="run only these check ids (repeatable, or comma-separated)")
    g.add_argument("--skip", action="append", default=[], metavar="ID", help="skip these check ids")
    o = p.add_argument_group("output and exit")
    o.add_argument("--format", choices=REPORT_FORMATS, default="text", help="stdout format")
    o.add_argument("--output", action="append", default=[], metavar="[FORMAT=]PATH",
                   help="also write the report to PATH (format from FORMAT= or the extension); repeatable")
    o.add_argument("--fail-on", choices=["info", "warning", "error", "critical"],
                   help="exit 1 at or above this severity (default error)")
    o.add_argument("--strict", action="store_true", default=None, help="unknown or error checks also exit 1")
    o.add_argument("--timeout", type=float, help="global deadline in seconds (default 120)")
    o.add_argument("--concurrency", type=int, help="checks running at once (default 8)")
    o.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    g.add_argument("--sample", type=float, metavar="SECONDS",
                   help="queue.state: read the queues over SECONDS for drain rate and time to empty "
                   "(default: one reading)")
