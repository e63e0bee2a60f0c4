"""A simulated AME production in AWS (moto) — shared by the demo and the tests.

``build_world(session, spec)`` creates, through ordinary boto3 calls (so it works against moto
in-process or moto's HTTP server via ``AWS_ENDPOINT_URL``): the VPC and worker subnets with a NAT
route and an S3 gateway endpoint, the worker / Redis / Aurora / endpoint security groups, the
ElastiCache replication group, the Aurora cluster, the S3 bucket, the SSM parameters, the ECS
cluster with one Fargate service per heavy queue and a running task each, and the awslogs
groups with a normal startup line per task.

moto gaps bent here (never in the product): ElastiCache does not report its security groups, so
the world also creates the ENIs real ElastiCache creates (description ``ElastiCache <member>``);
moto's ``create_service`` starts no tasks, so tasks are run with ``group=service:<name>``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

HEAVY = ("sync", "image", "bulk")


@dataclass
class WorldSpec:
    region: str = "eu-west-1"
    cluster: str = "propertyfeedtemplate-production"
    app_name: str = "propertyfeedtemplate"
    ssm_path: str = "/propertyfeedtemplate/production/"
    bucket: str = "propertyfeedtemplate-production-media"
    queues: tuple[str, ...] = HEAVY
    service_prefix: str = "propertyfeedtemplate-"
    redis_port: int = 6379          # the value put in SSM (tests: the real redis-server's port)
    db_port: int = 3306             # the value put in SSM (tests: the real MariaDB's port)
    db_name: str = "ame"
    db_username: str = "ame"
    db_password: str = "s3cret-db-password"
    redis_password: str | None = None
    app_key: str = "base64:" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    extra_params: dict[str, str] = field(default_factory=dict)
    running_tasks: int = 1
    image: str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/propertyfeedtemplate:prod"


@dataclass
class World:
    spec: WorldSpec
    vpc_id: str = ""
    worker_subnets: list[str] = field(default_factory=list)
    data_subnet: str = ""
    route_table: str = ""
    nat_gateway: str = ""
    s3_endpoint: str = ""
    worker_sg: str = ""
    redis_sg: str = ""
    aurora_sg: str = ""
    endpoint_sg: str = ""
    redis_group: str = "ame-redis"
    redis_host: str = ""
    db_cluster: str = "ame-aurora"
    db_writer_endpoint: str = ""
    db_reader_endpoint: str = ""
    db_instance_endpoints: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)  # queue -> service
    task_definitions: dict[str, str] = field(default_factory=dict)  # service -> arn
    tasks: dict[str, list[str]] = field(default_factory=dict)  # service -> task arns
    log_groups: dict[str, str] = field(default_factory=dict)  # service -> group

    def param(self, key: str) -> str:
        return self.spec.ssm_path + key

    def worker_command(self, queue: str) -> list[str]:
        return ["php", "artisan", "queue:work", "redis", f"--queue={queue}", "--tries=3", "--timeout=60",
                "--memory=256"]


def build_world(session: Any, spec: WorldSpec | None = None) -> World:
    spec = spec or WorldSpec()
    w = World(spec=spec)
    ec2 = session.client("ec2", region_name=spec.region)
    w.vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=w.vpc_id, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=w.vpc_id, EnableDnsHostnames={"Value": True})
    az = spec.region + "a"
    for i, cidr in enumerate(("10.20.1.0/24", "10.20.2.0/24")):
        w.worker_subnets.append(ec2.create_subnet(
            VpcId=w.vpc_id, CidrBlock=cidr, AvailabilityZone=spec.region + "ab"[i])["Subnet"]["SubnetId"])
    w.data_subnet = ec2.create_subnet(VpcId=w.vpc_id, CidrBlock="10.20.10.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
    public = ec2.create_subnet(VpcId=w.vpc_id, CidrBlock="10.20.100.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=w.vpc_id)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    w.nat_gateway = ec2.create_nat_gateway(SubnetId=public, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    w.route_table = ec2.create_route_table(VpcId=w.vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=w.route_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=w.nat_gateway)
    for sn in w.worker_subnets:
        ec2.associate_route_table(RouteTableId=w.route_table, SubnetId=sn)
    w.s3_endpoint = ec2.create_vpc_endpoint(
        VpcId=w.vpc_id, ServiceName=f"com.amazonaws.{spec.region}.s3", RouteTableIds=[w.route_table],
        VpcEndpointType="Gateway")["VpcEndpoint"]["VpcEndpointId"]

    def sg(name: str) -> str:
        return str(ec2.create_security_group(GroupName=name, Description=name, VpcId=w.vpc_id)["GroupId"])

    w.worker_sg, w.redis_sg, w.aurora_sg, w.endpoint_sg = sg("ame-worker"), sg("ame-redis"), sg("ame-aurora"), sg("ame-endpoints")
    for group, port in ((w.redis_sg, 6379), (w.aurora_sg, 3306), (w.endpoint_sg, 443)):
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
            "UserIdGroupPairs": [{"GroupId": w.worker_sg, "Description": "ame workers"}]}])

    ecache = session.client("elasticache", region_name=spec.region)
    rg = ecache.create_replication_group(
        ReplicationGroupId=w.redis_group, ReplicationGroupDescription="ame queues", Engine="redis",
        CacheNodeType="cache.t3.medium", NumCacheClusters=2, SecurityGroupIds=[w.redis_sg],
        AuthToken=spec.redis_password if spec.redis_password else None,
        TransitEncryptionEnabled=bool(spec.redis_password),
    ) if spec.redis_password else ecache.create_replication_group(
        ReplicationGroupId=w.redis_group, ReplicationGroupDescription="ame queues", Engine="redis",
        CacheNodeType="cache.t3.medium", NumCacheClusters=2, SecurityGroupIds=[w.redis_sg])
    del rg
    desc = ecache.describe_replication_groups(ReplicationGroupId=w.redis_group)["ReplicationGroups"][0]
    w.redis_host = desc["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
    for member in desc.get("MemberClusters", []):
        ec2.create_network_interface(SubnetId=w.data_subnet, Description=f"ElastiCache {member}", Groups=[w.redis_sg])

    rds = session.client("rds", region_name=spec.region)
    cl = rds.create_db_cluster(
        DBClusterIdentifier=w.db_cluster, Engine="aurora-mysql", MasterUsername="admin",
        MasterUserPassword="admin-password-1", VpcSecurityGroupIds=[w.aurora_sg], DatabaseName=spec.db_name,
    )["DBCluster"]
    w.db_writer_endpoint, w.db_reader_endpoint = cl["Endpoint"], cl["ReaderEndpoint"]
    for n in (1, 2):
        inst = rds.create_db_instance(
            DBInstanceIdentifier=f"{w.db_cluster}-{n}", DBClusterIdentifier=w.db_cluster, Engine="aurora-mysql",
            DBInstanceClass="db.r6g.large")["DBInstance"]
        w.db_instance_endpoints[inst["DBInstanceIdentifier"]] = inst.get("Endpoint", {}).get("Address", "")
    if not all(w.db_instance_endpoints.values()):
        for inst in rds.describe_db_instances()["DBInstances"]:
            w.db_instance_endpoints[inst["DBInstanceIdentifier"]] = inst["Endpoint"]["Address"]

    s3 = session.client("s3", region_name=spec.region)
    s3.create_bucket(Bucket=spec.bucket, CreateBucketConfiguration={"LocationConstraint": spec.region})

    ssm = session.client("ssm", region_name=spec.region)
    params = {
        "APP_NAME": spec.app_name, "APP_ENV": "production", "APP_KEY": spec.app_key,
        "DB_CONNECTION": "mysql", "DB_HOST": w.db_writer_endpoint, "DB_PORT": str(spec.db_port),
        "DB_DATABASE": spec.db_name, "DB_USERNAME": spec.db_username, "DB_PASSWORD": spec.db_password,
        "REDIS_HOST": w.redis_host, "REDIS_PORT": str(spec.redis_port), "QUEUE_CONNECTION": "redis",
        "AWS_BUCKET": spec.bucket, "AWS_DEFAULT_REGION": spec.region, "LOG_CHANNEL": "stderr",
    }
    if spec.redis_password:
        params["REDIS_PASSWORD"] = spec.redis_password
    params.update(spec.extra_params)
    secure = {"APP_KEY", "DB_PASSWORD", "REDIS_PASSWORD"}
    for key, value in params.items():
        ssm.put_parameter(Name=w.param(key), Value=value, Type="SecureString" if key in secure else "String",
                          Overwrite=True)
    account = session.client("sts", region_name=spec.region).get_caller_identity()["Account"]

    ecs = session.client("ecs", region_name=spec.region)
    logs = session.client("logs", region_name=spec.region)
    ecs.create_cluster(clusterName=spec.cluster)
    for queue in spec.queues:
        service = spec.service_prefix + queue
        w.services[queue] = service
        group = f"/ecs/{service}"
        w.log_groups[service] = group
        logs.create_log_group(logGroupName=group)
        secrets = [{"name": k, "valueFrom": f"arn:aws:ssm:{spec.region}:{account}:parameter{w.param(k)}"}
                   for k in ("APP_KEY", "DB_PASSWORD", "DB_HOST", "REDIS_HOST")]
        env = [{"name": k, "value": params[k]} for k in ("APP_NAME", "APP_ENV", "DB_PORT", "DB_DATABASE",
                                                         "DB_USERNAME", "REDIS_PORT", "QUEUE_CONNECTION",
                                                         "AWS_BUCKET", "LOG_CHANNEL")]
        td = ecs.register_task_definition(
            family=service, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
            executionRoleArn=f"arn:aws:iam::{account}:role/ame-ecs-execution",
            taskRoleArn=f"arn:aws:iam::{account}:role/ame-worker-task",
            containerDefinitions=[{
                "name": "app", "image": spec.image, "essential": True, "memory": 1024,
                "command": w.worker_command(queue), "workingDirectory": "/var/www/html",
                "environment": env, "secrets": secrets,
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": group, "awslogs-region": spec.region, "awslogs-stream-prefix": "ecs"}},
            }],
        )["taskDefinition"]["taskDefinitionArn"]
        w.task_definitions[service] = td
        netcfg = {"awsvpcConfiguration": {"subnets": list(w.worker_subnets), "securityGroups": [w.worker_sg],
                                          "assignPublicIp": "DISABLED"}}
        # moto reports runningCount from MOTO_ECS_SERVICE_RUNNING at creation (read in-process, which is
        # also where ThreadedMotoServer runs); set it so the healthy service is steady.
        saved = os.environ.get("MOTO_ECS_SERVICE_RUNNING")
        os.environ["MOTO_ECS_SERVICE_RUNNING"] = str(spec.running_tasks)
        try:
            ecs.create_service(
                cluster=spec.cluster, serviceName=service, taskDefinition=td, desiredCount=spec.running_tasks,
                launchType="FARGATE", platformVersion="1.4.0", networkConfiguration=netcfg,
                enableExecuteCommand=True,
                deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
            )
        finally:
            if saved is None:
                os.environ.pop("MOTO_ECS_SERVICE_RUNNING", None)
            else:
                os.environ["MOTO_ECS_SERVICE_RUNNING"] = saved
        w.tasks[service] = []
        if spec.running_tasks:
            run = ecs.run_task(
                cluster=spec.cluster, taskDefinition=td, count=spec.running_tasks, launchType="FARGATE",
                group=f"service:{service}", networkConfiguration=netcfg, startedBy="ecs-svc/1234567890",
                enableExecuteCommand=True,
            )
            for t in run["tasks"]:
                w.tasks[service].append(t["taskArn"])
                task_id = t["taskArn"].rsplit("/", 1)[-1]
                put_log_lines(logs, group, f"ecs/app/{task_id}",
                              [f"   INFO  Processing jobs from the [{queue}] queue."])
    bend_ecs_exec(w, account)
    backdate_deployments(w, account)
    return w


def bend_ecs_exec(w: World, account: str) -> None:
    """moto drops ``enableExecuteCommand`` and reports no ``managedAgents`` / ``runtimeId``: set what real ECS
    reports for services deployed with ``--enable-execute-command`` (Fargate 1.4.0, agent RUNNING). Works when
    moto runs in this process (in-process mock or ThreadedMotoServer); a no-op otherwise."""
    try:
        from moto.ecs.models import ecs_backends

        backend = ecs_backends[account][w.spec.region]
    except Exception:
        return
    names = set(w.services.values())
    for svc in list(backend.services.values()):
        if svc.name in names:
            svc.enable_execute_command = True  # type: ignore[attr-defined]
    arns = {a for arns in w.tasks.values() for a in arns}
    for tasks in list(backend.tasks.values()):
        for t in list(tasks.values()):
            if t.task_arn not in arns:
                continue
            t.enable_execute_command = True  # type: ignore[attr-defined]
            t.platform_version = t.platform_version or "1.4.0"
            for i, c in enumerate(t.containers):
                c.runtime_id = f"{t.id}-{i}"  # type: ignore[attr-defined]
                c.managed_agents = [{"name": "ExecuteCommandAgent", "lastStatus": "RUNNING"}]  # type: ignore[attr-defined]


def backdate_deployments(w: World, account: str, ago: timedelta = timedelta(days=1)) -> None:
    """moto dates a service's deployment at its creation, i.e. now, and the tests and the demo then stop tasks
    minutes in the past: as in production, the deployment the tasks belong to was created before them. A no-op
    when moto does not run in this process."""
    try:
        from moto.ecs.models import ecs_backends

        backend = ecs_backends[account][w.spec.region]
    except Exception:
        return
    created = datetime.now(UTC) - ago
    names = set(w.services.values())
    for svc in list(backend.services.values()):
        if svc.name in names:
            for d in svc.deployments:
                d["createdAt"] = d["updatedAt"] = created


def pin_ecs_task_status(endpoint_url: str | None = None) -> None:
    """moto advances a task's lastStatus on every describe; keep tasks RUNNING instead.

    In-process: moto's state manager; server mode: its ``/moto-api/state-manager`` endpoint.
    """
    transition = {"progression": "manual", "times": 10**9}
    if endpoint_url is None:
        from moto.moto_api import state_manager

        state_manager.set_transition(model_name="ecs::task", transition=transition)
        return
    import json
    import urllib.request

    req = urllib.request.Request(
        endpoint_url.rstrip("/") + "/moto-api/state-manager/set-transition",
        data=json.dumps({"model_name": "ecs::task", "transition": transition}).encode(), method="POST")
    urllib.request.urlopen(req, timeout=10).read()


def put_log_lines(logs: Any, group: str, stream: str, lines: list[str], at: float | None = None) -> None:
    """Append ``lines`` to a stream, written at ``at`` (epoch seconds; default now) one millisecond apart."""
    start = time.time() if at is None else at
    put_log_events(logs, group, stream, [(start + i / 1000, line) for i, line in enumerate(lines)])


def put_log_events(logs: Any, group: str, stream: str, events: list[tuple[float, str]]) -> None:
    """Append ``(epoch seconds, message)`` events to a stream (created when missing), oldest first."""
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": int(t * 1000), "message": m} for t, m in sorted(events)])
