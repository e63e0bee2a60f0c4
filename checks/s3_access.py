"""s3.access — the workers' bucket exists and is reachable, and the worker subnets have a path to S3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from doctor.checkapi import CheckContext, check, load_meta
from doctor.facts.network import path_to_service, worker_network
from doctor.model import Finding

META = load_meta(__file__)


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    values = ctx.attempt("SSM values", ctx.facts.ssm_values) or {}
    param = ctx.config.ssm.path + "AWS_BUCKET"
    bucket = (values.get("AWS_BUCKET") or "").strip()
    problems = 0
    evidence: dict[str, Any] = {}
    if not bucket:
        if values:  # (when SSM itself could not be read, attempt() already said so)
            ctx.unknown(f"{param} is not set (ssm.values reports it)", unlock=param)
    else:
        found = yield from _bucket(ctx, bucket, param)
        problems += 0 if found else 1
        evidence["bucket"] = bucket
    paths = ctx.attempt("network path to S3", lambda: path_to_service(ctx.facts, "s3"))
    if paths is not None:
        net = worker_network(ctx.facts)
        if not net.subnets:
            ctx.unknown("no worker subnets (services missing or without awsvpc networkConfiguration)",
                             unlock="ecs:DescribeServices")
        missing = [p for p in paths.values() if not p.ok]
        evidence["paths"] = {sid: p.evidence() for sid, p in paths.items()}
        if missing:
            problems += 1
            sids = [p.subnet for p in missing]
            tables = sorted({p.route_table or "?" for p in missing})
            services = sorted({s for sid in sids for s in net.subnet_services.get(sid, [])})
            yield ctx.finding(
                "no_network_path", "+".join(sids),
                evidence={"subnets": [p.evidence() for p in missing], "route_tables": tables, "services": services},
                resources=[*sids, *tables, *services], subnets=", ".join(sids),
                notes="; ".join(p.note for p in missing if p.note), tables=", ".join(tables),
                table_ids=" ".join(tables), vpc_id=net.subnets[sids[0]].vpc_id)
    if problems == 0 and (bucket or paths):
        variant = None if bucket and paths else "bucket_only" if bucket else "paths_only"
        yield ctx.finding("ok", bucket or "s3", evidence=evidence, variant=variant, bucket=bucket)
    if not bucket and paths is None and ctx.unknown_reason is None:
        ctx.unknown("nothing to check")


def _bucket(ctx: CheckContext, bucket: str, param: str) -> Any:
    s3 = ctx.aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(e.response.get("Error", {}).get("Code", ""))
        headers = e.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
        if status == 404 or code in ("404", "NoSuchBucket", "NotFound"):
            yield ctx.finding("bucket_missing", bucket, evidence={"bucket": bucket, "parameter": param, "http_status": 404},
                              resources=[bucket, param], bucket=bucket, param=param)
            return False
        if status == 403 or code in ("403", "AccessDenied", "Forbidden"):
            ctx.unknown(f"HeadBucket on {bucket} was denied", unlock="s3:ListBucket")
            yield ctx.finding("access_denied", bucket, evidence={"bucket": bucket, "parameter": param, "http_status": 403,
                                                                 "iam_action": "s3:ListBucket"},
                              resources=[bucket, param], bucket=bucket)
            return False
        if status == 301 or code in ("301", "PermanentRedirect"):
            where = headers.get("x-amz-bucket-region", "another region")
            yield ctx.finding("wrong_region", bucket, evidence={"bucket": bucket, "bucket_region": where},
                              resources=[bucket, param], bucket=bucket, region=where)
            return False
        raise
