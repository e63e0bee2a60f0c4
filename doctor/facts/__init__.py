"""Per-run shared facts, fetched once and memoised on :class:`Facts` (thread-safe).

- :mod:`doctor.facts.core`: the ``Facts`` memo, SSM values, ECS services/tasks/task definitions.
- :mod:`doctor.facts.targets`: the Redis and DB targets, Laravel's Redis prefix and ``Str::slug``.
- :mod:`doctor.facts.network`: worker subnets, route tables, VPC endpoints, ``path_to_service``.
- :mod:`doctor.facts.security_groups`: security groups and managed prefix lists.
- :mod:`doctor.facts.cidr`: pure CIDR and SG-rule maths.
- :mod:`doctor.facts.datastores`: the ElastiCache / Aurora resources behind the configured hosts.
"""

from __future__ import annotations

from doctor.facts.core import Facts
from doctor.facts.targets import DbTarget, RedisTarget, laravel_redis_prefix, slug
from doctor.util import to_datetime

# TRANSITIONAL (issue 12): checks and doctor/gate.py still import ``_ts`` from here; they move to
# ``doctor.util.to_datetime`` and the lead removes this alias.
_ts = to_datetime

__all__ = ["DbTarget", "Facts", "RedisTarget", "laravel_redis_prefix", "slug"]
