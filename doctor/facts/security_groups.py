"""Security groups and managed prefix lists, described once per run (``facts.memo``).

Whether a rule admits a subnet or a port is pure maths: see :mod:`doctor.facts.cidr`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from doctor.facts.core import Facts


def security_groups(facts: Facts, ids: list[str]) -> dict[str, dict[str, Any]]:
    """describe_security_groups for ``ids`` (one call per distinct set per run); absent ids are left out."""
    key = tuple(sorted(set(ids)))

    def fetch() -> dict[str, dict[str, Any]]:
        if not key:
            return {}
        ec2 = facts.aws.client("ec2")
        try:
            groups = ec2.describe_security_groups(GroupIds=list(key))["SecurityGroups"]
        except Exception as e:
            if "InvalidGroup.NotFound" not in str(getattr(e, "response", {}).get("Error", {}).get("Code", "")):
                raise
            groups = []
            for gid in key:  # find which ones exist
                try:
                    groups.extend(ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"])
                except Exception as e2:
                    if "InvalidGroup.NotFound" not in str(getattr(e2, "response", {}).get("Error", {}).get("Code", "")):
                        raise
        return {g["GroupId"]: g for g in groups}

    return facts.memo(("net.sgs", key), fetch)


def prefix_list_cidrs(facts: Facts, pl_id: str) -> list[str]:
    def fetch() -> list[str]:
        ec2 = facts.aws.client("ec2")
        out: list[str] = []
        for page in ec2.get_paginator("get_managed_prefix_list_entries").paginate(PrefixListId=pl_id):
            out.extend(e["Cidr"] for e in page.get("Entries", []))
        return out

    return facts.memo(("net.prefix_list", pl_id), fetch)
