"""The signal vocabulary: the stable strings findings carry and playbooks match.

The base list is ``shared/knowledge/signals.md``; ``EXTENSIONS`` are the signals this project added
(never rename or reuse one). Tests check that checks emit and playbooks match only these.
"""

from __future__ import annotations

BASE: frozenset[str] = frozenset("""
dns.db_host_not_writer dns.db_host_nxdomain dns.db_host_stale dns.db_ok dns.redis_host_nxdomain
dns.redis_host_stale dns.redis_ok drift.db_host_differs drift.key_missing_in_env
drift.key_missing_in_ssm drift.ok drift.redis_target_differs drift.value_differs
ecs.circuit_breaker_tripped ecs.deployment_in_progress ecs.not_steady ecs.restart_storm ecs.steady
ecs.zero_running exec.agent_not_running exec.disabled exec.platform_too_old exec.plugin_missing
exec.readonly_rootfs exec.static_keys_in_env exec.unavailable logs.db_auth logs.db_dns logs.db_readonly
logs.db_refused logs.db_timeout logs.job_timeout logs.max_attempts logs.memory_exhausted logs.redis_dns
logs.redis_refused logs.redis_timeout net.no_path_ecr net.no_path_logs net.no_path_s3 net.no_path_ssm
net.no_path_ssmmessages net.vpc_dns_disabled probe.runtime_dir_unwritable queue.attempts_exhausted
queue.backlog queue.backlog_growing queue.default_in_heavy_path queue.draining queue.failed_jobs_recent
queue.failing_requeue queue.key_split queue.no_consumer queue.overdue_delayed queue.stale_reservations
queue.sync_connection_trap queue.timeout_ge_retry_after queue.unrouted reach.aurora_auth_failed
reach.aurora_dns_failed reach.aurora_ok reach.aurora_reader reach.aurora_refused reach.aurora_timeout
reach.redis_auth_failed reach.redis_dns_failed reach.redis_ok reach.redis_readonly reach.redis_refused
reach.redis_timeout s3.access_denied s3.bucket_missing s3.no_network_path s3.ok
sg.aurora_ingress_missing sg.aurora_ok sg.old_ip_rules_only sg.redis_ingress_missing sg.redis_ok
sg.worker_egress_blocked ssm.newer_than_tasks ssm.ok ssm.param_empty ssm.param_missing
ssm.secret_not_secure ssm.taskdef_ref_missing ssm.value_invalid startup.app_key_missing
startup.bootstrap_failed startup.image_pull_failed startup.logging_init_failed startup.ok startup.oom
startup.runtime_dirs_missing startup.secrets_unresolvable
""".split())  # noqa: SIM905  (kept as the prose list in signals.md)

EXTENSIONS: dict[str, str] = {
    "dns.db_host_timeout": "the resolver did not answer for DB_HOST",
    "dns.db_host_no_answer": "DB_HOST exists but has no address record (or its CNAME target does not exist)",
    "dns.db_host_literal_ip": "DB_HOST is a literal IP, not the cluster writer endpoint",
    "dns.redis_host_timeout": "the resolver did not answer for REDIS_HOST",
    "dns.redis_host_no_answer": "REDIS_HOST exists but has no address record",
    "dns.redis_host_literal_ip": "REDIS_HOST is a literal IP, not the primary endpoint",
    "dns.redis_host_not_primary": "REDIS_HOST is a reader or node endpoint, not the primary endpoint",
    "sg.old_sg_reference": "the Redis/Aurora SG admits a security group that is not the current worker SG",
    "s3.wrong_region": "the bucket lives in another region than the workers use",
    "net.endpoint_sg_blocked": "an interface endpoint's SG does not allow 443 from the worker SG",
    "net.endpoint_private_dns_disabled": "an interface endpoint has private DNS off, so the service name does not reach it",
    "net.worker_egress_blocked": "the worker SG does not allow 443 out",
    "net.ok": "every worker subnet has a path to S3, ECR, Logs, SSM and ssmmessages",
    "exec.ok": "ECS Exec prerequisites hold",
    "exec.task_role_denied": "the task role is not allowed the ssmmessages actions (advisory: SCPs not evaluated)",
    "reach.redis_evicting": "Redis evicts keys (maxmemory policy other than noeviction, evicted_keys > 0): jobs can vanish",
    "logs.not_on_stderr": "the log group is empty and LOG_CHANNEL is not stderr: Laravel logs to a file",
    "drift.env_malformed": "the web tier's .env has lines Laravel's dotenv rejects",
    "ecs.service_missing": "the configured ECS service does not exist in the cluster",
    "ecs.scale_out_of_range": "desired count outside the [queues.X] scale range",
}

VOCABULARY: frozenset[str] = BASE | frozenset(EXTENSIONS)
