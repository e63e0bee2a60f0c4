"""``ame-doctor checks [ID]``: the checks in incident-priority order, or one explained (with its finding kinds)."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "list the checks in incident-priority order, or explain one"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", nargs="?", help="a check id: show what it checks, why it matters, the fix")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text",
                   help="markdown: the reference of every check and finding kind (docs/checks.md is this output)")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    import json

    from doctor.errors import UsageError
    from doctor.model import EXIT_OK
    from doctor.registry import all_checks

    checks = all_checks()
    if args.format == "markdown":
        print(reference([c.meta for c in checks if not args.id or c.id == args.id]), end="")
        return EXIT_OK
    if args.id:
        match = [c for c in checks if c.id == args.id]
        if not match:
            raise UsageError(f"unknown check id {args.id}; valid ids: {', '.join(c.id for c in checks)}")
        meta = match[0].meta
        if args.format == "json":
            print(json.dumps(meta.model_dump(mode="json"), indent=2))
        else:
            print(explain(meta))
        return EXIT_OK
    if args.format == "json":
        print(json.dumps([c.meta.model_dump(mode="json") for c in checks], indent=2))
        return EXIT_OK
    width = max(len(c.meta.title) for c in checks)
    for c in checks:
        needs = ",".join(c.meta.needs) or "-"
        print(f"{c.meta.order:>3}  {c.id:<14} {c.meta.title:<{width}}  needs: {needs}")
    return EXIT_OK


def explain(m: Any) -> str:
    """One check's metadata as text: what, why, fix, IAM actions, dependencies, the finding kinds it reports."""
    out = [f"{m.id} — {m.title} (order {m.order}, default severity {m.severity.value})", "",
           "What it checks", f"  {m.proves}", "", "Why it matters", f"  {m.why}", "", "Fix", f"  {m.remediation}", ""]
    if m.iam_actions:
        out += ["IAM actions", *(f"  {a}" for a in m.iam_actions), ""]
    if m.depends_on:
        out += ["Depends on", "  " + ", ".join(m.depends_on), ""]
    kinds = getattr(m, "kinds", None) or {}
    if kinds:
        out.append("Finding kinds")
        for name, k in kinds.items():
            signal = f", signal {k.signal}" if k.signal else ""
            out += [f"  {name} ({k.severity.value}{signal})", f"    {k.title}", f"    why: {k.why}", f"    fix: {k.fix}"]
            for vname in k.variants:
                v = k.variant(vname)
                vsignal = f", signal {v.signal}" if v.signal else ""
                out.append(f"    variant {vname} ({v.severity.value}{vsignal}): {v.title}")
        out.append("")
    return "\n".join(out[:-1] if out[-1] == "" and (m.depends_on or kinds) else out)


def reference(metas: list[Any]) -> str:
    """The checks and their finding kinds as Markdown: what each checks, why it matters, the fix, and per
    kind its signal, severity, title, why and fix (generated: docs/checks.md is this output)."""
    out = ["# Checks and finding kinds", "",
           "Generated from the declarations in `checks/<name>.toml` by `ame-doctor checks --format markdown`;",
           "do not edit by hand. Titles and fixes are templates: `{name}` is filled from the run.", ""]
    for m in metas:
        out += [f"## `{m.id}` — {m.title}", "", f"Order {m.order}. **What it checks:** {m.proves}", "",
                f"**Why it matters:** {m.why}", "", f"**Fix:** {m.remediation}", ""]
        if m.iam_actions:
            out += ["IAM actions: " + ", ".join(f"`{a}`" for a in m.iam_actions), ""]
        out += ["| kind | severity | signals | title | why | fix |", "|---|---|---|---|---|---|"]
        for name, k in m.kinds.items():
            for label, v in [(name, k), *((f"{name} ({vn})", k.variant(vn)) for vn in k.variants)]:
                sigs = ", ".join(f"`{s}`" for s in v.all_signals()) or "-"
                cells = [f"`{label}`", v.severity.value, sigs, v.title, v.why, v.fix]
                out.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        out.append("")
    return "\n".join(out)
