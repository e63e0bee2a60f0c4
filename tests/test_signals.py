"""The signal vocabulary is derived from the checks' declared finding kinds (checks/<name>.toml): every
signal a check can emit is declared there, so playbooks can rely on it. A published signal is never
renamed or dropped."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from doctor.registry import load_checks, vocabulary

ROOT = Path(__file__).resolve().parent.parent
SIGNAL = re.compile(r"^[a-z0-9]+\.[a-z0-9_]+$")
SOURCES = sorted((ROOT / "checks").glob("*.py")) + sorted((ROOT / "doctor").rglob("*.py"))

# Every signal published before the vocabulary moved into the kind declarations (the shared starting
# vocabulary plus this project's extensions). Playbooks, CI configs and saved reports refer to them.
PUBLISHED = frozenset("""
dns.db_host_literal_ip dns.db_host_no_answer dns.db_host_not_writer dns.db_host_nxdomain dns.db_host_stale
dns.db_host_timeout dns.db_ok dns.redis_host_literal_ip dns.redis_host_no_answer dns.redis_host_not_primary
dns.redis_host_nxdomain dns.redis_host_stale dns.redis_host_timeout dns.redis_ok drift.db_host_differs
drift.env_malformed drift.key_missing_in_env drift.key_missing_in_ssm drift.ok drift.redis_target_differs
drift.value_differs ecs.circuit_breaker_tripped ecs.deployment_in_progress ecs.not_steady ecs.restart_storm
ecs.scale_out_of_range ecs.service_missing ecs.steady ecs.zero_running exec.agent_not_running exec.disabled
exec.ok exec.platform_too_old exec.plugin_missing exec.readonly_rootfs exec.static_keys_in_env
exec.task_role_denied exec.unavailable logs.db_auth logs.db_dns logs.db_readonly logs.db_refused
logs.db_timeout logs.job_timeout logs.max_attempts logs.memory_exhausted logs.not_on_stderr logs.redis_dns
logs.redis_refused logs.redis_timeout net.endpoint_private_dns_disabled net.endpoint_sg_blocked
net.no_path_ecr net.no_path_logs net.no_path_s3 net.no_path_ssm net.no_path_ssmmessages net.ok
net.vpc_dns_disabled net.worker_egress_blocked probe.runtime_dir_unwritable queue.attempts_exhausted
queue.backlog queue.backlog_growing queue.default_in_heavy_path queue.draining queue.failed_jobs_recent
queue.failing_requeue queue.jobs_outlive_retry_after queue.key_split queue.no_consumer queue.overdue_delayed
queue.stale_reservations queue.sync_connection_trap queue.timeout_ge_retry_after queue.unrouted reach.aurora_auth_failed
reach.aurora_dns_failed reach.aurora_ok reach.aurora_reader reach.aurora_refused reach.aurora_timeout
reach.redis_auth_failed reach.redis_dns_failed reach.redis_evicting reach.redis_ok reach.redis_readonly
reach.redis_refused reach.redis_timeout s3.access_denied s3.bucket_missing s3.no_network_path s3.ok
s3.wrong_region sg.aurora_ingress_missing sg.aurora_ok sg.old_ip_rules_only sg.old_sg_reference
sg.redis_ingress_missing sg.redis_ok sg.worker_egress_blocked ssm.newer_than_tasks ssm.ok ssm.param_empty
ssm.param_missing ssm.secret_not_secure ssm.secret_weak ssm.taskdef_ref_missing ssm.value_invalid startup.app_key_missing
startup.bootstrap_failed startup.image_pull_failed startup.logging_init_failed startup.ok startup.oom
startup.runtime_dirs_missing startup.secrets_unresolvable
sentry.redis_burst sentry.db_burst sentry.auth_burst sentry.readonly_burst sentry.max_attempts_burst
sentry.runtime_dirs_burst sentry.other_burst sentry.historical_open sentry.quiet sentry.project_missing
scaler.missing scaler.disabled scaler.errors scaler.throttled scaler.no_redis_path scaler.no_ecs_path
scaler.role_denied scaler.range_mismatch scaler.drained_too_early scaler.idle_with_backlog scaler.ok
scaler.not_waking
""".split())  # noqa: SIM905  (a prose list is easier to scan than 120 literals)


def test_no_published_signal_is_renamed_or_dropped() -> None:
    missing = sorted(PUBLISHED - vocabulary())
    assert not missing, f"declare these again (never rename a signal): {missing}"


def test_every_declared_signal_is_well_formed_and_says_why() -> None:
    for rc in load_checks().values():
        for name, kind in rc.meta.kinds.items():
            for sig in kind.all_signals():
                assert SIGNAL.match(sig), f"{rc.id}:{name}: {sig}"
            assert kind.why.strip(), f"{rc.id}:{name} declares signals without saying why they matter"


def _signal_literals(tree: ast.AST) -> set[str]:
    """String constants inside any ``signals=...`` keyword (signals a call site adds to its kind's)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "signals":
            for sub in ast.walk(node.value):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and SIGNAL.match(sub.value):
                    found.add(sub.value)
    return found


def test_signals_named_at_call_sites_are_declared() -> None:
    named = {sig: path.name for path in SOURCES
             for sig in _signal_literals(ast.parse(path.read_text(encoding="utf-8")))}
    assert named, "the scan found no call-site signals: it no longer sees the calls"
    unknown = {s: f for s, f in named.items() if s not in vocabulary()}
    assert not unknown, f"declare these in the check's kinds (checks/<name>.toml): {unknown}"
