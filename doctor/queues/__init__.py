"""Laravel Redis queues as queue.state sees them, one idea per module:

- :mod:`~doctor.queues.keys`: key names, the settings behind a prefix, the bounded SCAN for split keys;
- :mod:`~doctor.queues.snapshot`: one O(1)/O(log n) reading of a queue (counts, stale entries, head jobs);
- :mod:`~doctor.queues.client`: Redis clients, one per DB;
- :mod:`~doctor.queues.workers`: the worker's ``queue:work`` command from a container definition;
- :mod:`~doctor.queues.activity`: what the workers' recent log lines say they are doing (job lines);
- :mod:`~doctor.queues.failed_jobs`: recent ``failed_jobs`` rows;
- :mod:`~doctor.queues.routing`, :mod:`~doctor.queues.judge`, :mod:`~doctor.queues.split`: pure judgements
  (plain data in, :class:`~doctor.queues.report.ToReport` out) that checks/queue_state.py reports.

The names below are re-exported for the modules that import them from ``doctor.queues``.
"""

from doctor.queues.activity import JobLine, WorkerActivity, parse_job_line, parse_run_time
from doctor.queues.client import RedisPool
from doctor.queues.failed_jobs import (
    FAILED_JOBS_SQL,
    FailedJobsUnavailable,
    exception_class,
    judge_failed_jobs,
    read_failed_jobs,
)
from doctor.queues.judge import Reading, judge_queue, judge_trend
from doctor.queues.keys import (
    SCAN_CALLS_PER_DB,
    SCAN_COUNT,
    KeyLocation,
    ScanResult,
    keyspace_dbs,
    prefix_origin,
    queue_key,
    scan_queue_keys,
    split_queue_key,
)
from doctor.queues.report import ToReport
from doctor.queues.routing import Consumer, WorkerRouting, WorkerSpec, route_queues, route_worker
from doctor.queues.snapshot import (
    DELAYED_SAMPLE,
    GRACE_SECONDS,
    HEAD_SAMPLE,
    HeadJob,
    QueueSnapshot,
    inspect_queue,
    snapshot_from_probe,
)
from doctor.queues.split import judge_key_split, worker_settings
from doctor.queues.workers import (
    DEFAULT_RETRY_AFTER,
    WORKER_DEFAULTS,
    WorkerCommand,
    command_words,
    parse_worker_command,
)

__all__ = [
    "DEFAULT_RETRY_AFTER", "DELAYED_SAMPLE", "FAILED_JOBS_SQL", "GRACE_SECONDS", "HEAD_SAMPLE", "SCAN_CALLS_PER_DB",
    "SCAN_COUNT", "WORKER_DEFAULTS", "Consumer", "FailedJobsUnavailable", "HeadJob", "JobLine", "KeyLocation",
    "QueueSnapshot", "Reading", "RedisPool", "ScanResult", "ToReport", "WorkerActivity", "WorkerCommand",
    "WorkerRouting", "WorkerSpec", "command_words", "exception_class", "inspect_queue", "judge_failed_jobs",
    "judge_key_split", "judge_queue", "judge_trend", "keyspace_dbs", "parse_job_line", "parse_run_time",
    "parse_worker_command", "prefix_origin", "queue_key", "read_failed_jobs", "route_queues",
    "route_worker", "scan_queue_keys", "snapshot_from_probe", "split_queue_key", "worker_settings",
]
