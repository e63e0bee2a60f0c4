"""The next-step template language: ``{placeholder}`` names a value from the run.

A cause's next steps are shell commands written as templates (``aws ecs describe-services
--cluster {cluster} --services {service}``). The playbook validator accepts only the placeholders
below; :func:`fill` puts the run's real names in, and one it cannot fill renders as its readable
fallback (``<worker-sg-id>``), never as ``{x}``. Anything in braces that is not a lower-case name
(``storage/{cache,views}``) is left alone.
"""

from __future__ import annotations

import re

# Every placeholder a next step may use, with the fallback shown when the run cannot fill it.
PLACEHOLDERS = {
    "cluster": "<cluster>",
    "region": "<region>",
    "account": "<account-id>",
    "service": "<service>",
    "queue": "<queue>",
    "task_definition": "<task-definition>",
    "log_group": "<log-group>",
    "worker_sg": "<worker-sg-id>",
    "redis_sg": "<redis-sg-id>",
    "aurora_sg": "<aurora-sg-id>",
    "ssm_path": "<ssm-path>",
    "param": "<parameter-name>",
    "db_host": "<db-host>",
    "db_writer": "<aurora-writer-endpoint>",
    "db_cluster": "<aurora-cluster-id>",
    "db_port": "3306",
    "redis_host": "<redis-host>",
    "redis_port": "6379",
    "redis_group": "<replication-group-id>",
    "bucket": "<bucket>",
    "vpc": "<vpc-id>",
}
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def placeholders(template: str) -> list[str]:
    """The placeholder names a template uses, in order (repeats included)."""
    return PLACEHOLDER.findall(template)


def fill(template: str, values: dict[str, str]) -> str:
    """Fill {placeholders}; an unfilled one becomes its readable fallback (``<worker-sg-id>``), never ``{x}``."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in values and values[name]:
            return values[name]
        return PLACEHOLDERS.get(name, "<" + name.replace("_", "-") + ">")

    return PLACEHOLDER.sub(sub, template)
