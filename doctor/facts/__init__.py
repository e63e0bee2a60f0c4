"""Per-run shared facts, fetched once and memoised on :class:`Facts` (thread-safe).

- :mod:`doctor.facts.core`: the ``Facts`` memo, SSM values, ECS services/tasks/task definitions, and the
  Redis / DB targets (:mod:`doctor.net.targets`, re-exported here).
- :mod:`doctor.facts.laravel`: Laravel's Redis key prefix and ``Str::slug``.
- :mod:`doctor.facts.network`: worker subnets, route tables, VPC endpoints, ``path_to_service``.
- :mod:`doctor.facts.security_groups`: security groups and managed prefix lists.
- :mod:`doctor.facts.cidr`: pure CIDR and SG-rule maths.
- :mod:`doctor.facts.datastores`: the ElastiCache / Aurora resources behind the configured hosts (and the
  account's live Aurora clusters when ``DB_HOST`` names none).
- :mod:`doctor.facts.logs`: the workers' awslogs streams and their recent lines.
"""

from __future__ import annotations

from doctor.facts.core import Facts
from doctor.facts.laravel import laravel_redis_prefix, slug
from doctor.net.targets import DbTarget, RedisTarget

__all__ = ["DbTarget", "Facts", "RedisTarget", "laravel_redis_prefix", "slug"]
