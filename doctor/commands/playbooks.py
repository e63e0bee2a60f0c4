"""`ame-doctor playbooks [ID] [--format text|markdown|json]`: print the symptom playbooks."""

from __future__ import annotations

import argparse
import json
from typing import Any

FORMATS = ("text", "markdown", "json")
HELP = "list the four symptom playbooks, or print one (causes, signals, next steps)"
DESCRIPTION = ("Print the symptom playbooks the diagnosis ranks causes against. With an ID: the "
               "playbook's causes, the signals that confirm / make likely / rule out each one, the checks that "
               "can show it, the next-step templates, and the on-call prose. Use `ame-doctor run --symptom ID` "
               "to run that playbook's checks first and show it on top.")


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", nargs="?", metavar="ID", help="a playbook id, e.g. jobs-fail-immediately")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    import sys

    from doctor.diagnosis import get_playbook, load_playbooks
    from doctor.model import EXIT_OK

    books = [get_playbook(args.id)] if args.id else load_playbooks()
    if args.format == "json":
        data: Any = books[0].to_dict() if args.id else [b.to_dict() for b in books]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write("\n\n".join(markdown(b) for b in books))
    elif args.id:
        sys.stdout.write(text(books[0]))
    else:
        sys.stdout.write(listing(books))
    return EXIT_OK


def listing(books: list[Any]) -> str:
    out = []
    for b in books:
        out.append(f"{b.id:<24} {b.title}")
        out.append(f"{'':<24} causes: {', '.join(c.id for c in b.causes)}")
        out.append(f"{'':<24} checks: {', '.join(b.checks)}")
    out.append("")
    out.append("Show one: ame-doctor playbooks ID [--format markdown|json]; "
               "run it first: ame-doctor run --symptom ID")
    return "\n".join(out) + "\n"


def _signals(c: Any) -> list[tuple[str, list[Any]]]:
    return [("confirmed by", c.confirm), ("likely with", c.likely), ("possible with", c.possible),
            ("ruled out by", c.rule_out)]


def _relations(c: Any) -> list[tuple[str, list[str]]]:
    """The causal links as written: what this cause explains (its consequences), what explains it."""
    return [(label, refs) for label, refs in (("explains (when it holds in the same scope)", c.explains),
                                              ("explained by", c.yields_to)) if refs]


def text(b: Any) -> str:
    out = [f"{b.id} — {b.title}", "", b.summary, "", f"Checks (run first with --symptom {b.id}): "
           f"{', '.join(b.checks)}", "", "Causes"]
    for n, c in enumerate(b.causes, 1):
        out.append(f"  {n}. {c.id} — {c.title}")
        if c.summary:
            out.append(f"     {c.summary}")
        out.append(f"     checks: {', '.join(c.checks)}")
        for label, exprs in _signals(c):
            if exprs:
                out.append(f"     {label}: {'; '.join(str(e) for e in exprs)}")
        for label, refs in _relations(c):
            out.append(f"     {label}: {', '.join(refs)}")
        out.append("     next steps:")
        out.extend(f"       $ {s}" for s in c.next_steps)
        out.append("")
    out.append(b.body.rstrip())
    return "\n".join(out) + "\n"


def markdown(b: Any) -> str:
    out = [b.body.rstrip(), "", "## Causes", ""]
    for c in b.causes:
        out.append(f"### `{c.id}` — {c.title}")
        out.append("")
        if c.summary:
            out.append(c.summary)
            out.append("")
        out.append(f"- checks: {', '.join(f'`{x}`' for x in c.checks)}")
        for label, exprs in _signals(c):
            if exprs:
                out.append(f"- {label}: {', '.join(f'`{e}`' for e in exprs)}")
        for label, refs in _relations(c):
            out.append(f"- {label}: {', '.join(f'`{r}`' for r in refs)}")
        out.append("")
        out.append("```sh")
        out.extend(c.next_steps)
        out.append("```")
        out.append("")
    return "\n".join(out)
