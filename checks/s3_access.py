"""s3.access — the workers' bucket exists and is reachable, and the worker subnets have a path to S3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from doctor.engine import CheckContext, CheckUnknown
from doctor.model import Finding
from doctor.netinfo import attempt, path_to_service, worker_network
from doctor.registry import CheckMeta, check

META = CheckMeta(
    id="s3.access",
    title="The S3 bucket exists and the worker subnets can reach S3",
    order=6,
    proves="AWS_BUCKET from SSM exists and answers HeadBucket (404 missing and 403 denied told apart); every worker "
    "subnet has a path to S3: a gateway endpoint on its route table, an interface endpoint, or a NAT route.",
    why="Image and bulk jobs read and write the media bucket. A renamed or deleted bucket fails every such job; "
    "private Fargate subnets without a NAT route or S3 endpoint hang on S3 until the job times out.",
    remediation="Fix AWS_BUCKET in SSM, or add the S3 gateway endpoint to the worker route tables: `aws ec2 "
    "modify-vpc-endpoint --vpc-endpoint-id <vpce> --add-route-table-ids <rtb>`.",
    iam_actions=("ssm:GetParametersByPath", "s3:ListBucket", "ecs:DescribeServices", "ec2:DescribeSubnets",
                 "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints"),
    needs=("aws",),
)


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    values = attempt(ctx, "SSM values", ctx.facts.ssm_values) or {}
    param = ctx.config.ssm.path + "AWS_BUCKET"
    bucket = (values.get("AWS_BUCKET") or "").strip()
    problems = 0
    evidence: dict[str, Any] = {}
    if not bucket:
        if values:  # (when SSM itself could not be read, attempt() already said so)
            ctx.mark_unknown(f"{param} is not set (ssm.values reports it)", unlock=param)
    else:
        found = yield from _bucket(ctx, bucket, param)
        problems += 0 if found else 1
        evidence["bucket"] = bucket
    paths = attempt(ctx, "network path to S3", lambda: path_to_service(ctx.facts, "s3"))
    if paths is not None:
        net = worker_network(ctx.facts)
        if not net.subnets:
            ctx.mark_unknown("no worker subnets (services missing or without awsvpc networkConfiguration)",
                             unlock="ecs:DescribeServices")
        missing = [p for p in paths.values() if not p.ok]
        evidence["paths"] = {sid: p.evidence() for sid, p in paths.items()}
        if missing:
            problems += 1
            sids = [p.subnet for p in missing]
            tables = sorted({p.route_table or "?" for p in missing})
            services = sorted({s for sid in sids for s in net.subnet_services.get(sid, [])})
            yield ctx.finding(
                "no_network_path", "+".join(sids), "error",
                f"Worker subnet(s) {', '.join(sids)} have no path to S3",
                detail="No S3 gateway endpoint on their route table(s), no S3 interface endpoint and no NAT route: "
                "S3 calls from the tasks hang until they time out. " + "; ".join(p.note for p in missing if p.note),
                evidence={"subnets": [p.evidence() for p in missing], "route_tables": tables, "services": services},
                resources=[*sids, *tables, *services], signals=["s3.no_network_path"],
                remediation=f"Add the S3 gateway endpoint to {', '.join(tables)}: aws ec2 modify-vpc-endpoint "
                f"--vpc-endpoint-id <s3 gateway vpce> --add-route-table-ids {' '.join(tables)} (or create one: aws ec2 "
                f"create-vpc-endpoint --vpc-id {net.subnets[sids[0]].vpc_id} --service-name "
                f"com.amazonaws.<region>.s3 --route-table-ids {' '.join(tables)})")
    if problems == 0 and (bucket or paths):
        yield ctx.finding("ok", bucket or "s3", "info",
                          (f"Bucket {bucket} is reachable" if bucket else "S3 bucket not checked")
                          + (" and every worker subnet has a path to S3" if paths else ""),
                          evidence=evidence, signals=["s3.ok"], remediation="")
    if not bucket and paths is None:
        raise CheckUnknown(ctx.unknown_reason or "nothing to check", ctx.unlock)


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
            yield ctx.finding("bucket_missing", bucket, "error", f"Bucket {bucket} ({param}) does not exist",
                              detail="HeadBucket returned 404: every job that stores or reads media fails.",
                              evidence={"bucket": bucket, "parameter": param, "http_status": 404},
                              resources=[bucket, param], signals=["s3.bucket_missing"],
                              remediation=f"Correct {param} to the real bucket (aws s3api list-buckets) or create it; "
                              "then redeploy the worker services.")
            return False
        if status == 403 or code in ("403", "AccessDenied", "Forbidden"):
            ctx.mark_unknown(f"HeadBucket on {bucket} was denied", unlock="s3:ListBucket")
            yield ctx.finding("access_denied", bucket, "warning",
                              f"HeadBucket on {bucket} was denied (403): needs s3:ListBucket",
                              detail="The doctor's identity lacks s3:ListBucket on the bucket, or the bucket belongs "
                              "to another account. Check the worker task role's policy grants the bucket too.",
                              evidence={"bucket": bucket, "parameter": param, "http_status": 403,
                                        "iam_action": "s3:ListBucket"},
                              resources=[bucket, param], signals=["s3.access_denied"],
                              remediation=f"Grant s3:ListBucket on arn:aws:s3:::{bucket} (and s3:GetObject/PutObject "
                              f"on arn:aws:s3:::{bucket}/*) to the worker task role and the doctor's role.")
            return False
        if status == 301 or code in ("301", "PermanentRedirect"):
            where = headers.get("x-amz-bucket-region", "another region")
            yield ctx.finding("wrong_region", bucket, "warning", f"Bucket {bucket} is in {where}",
                              detail="Workers configured with a different AWS_DEFAULT_REGION get redirects.",
                              evidence={"bucket": bucket, "bucket_region": where}, resources=[bucket, param],
                              signals=["s3.wrong_region"],
                              remediation=f"Set AWS_DEFAULT_REGION for the workers to {where}.")
            return False
        raise
