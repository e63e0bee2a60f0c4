"""``ame-doctor schema``: the JSON Schema of the report."""

from __future__ import annotations

import argparse

HELP = "print the JSON Schema of the report"


def register(p: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace, argv: list[str]) -> int:
    import json

    from doctor.model import EXIT_OK, Report

    print(json.dumps(Report.model_json_schema(by_alias=True), indent=2))
    return EXIT_OK
