"""Next steps (doctor.diagnosis.nextsteps, .templates): templates filled with the run's real names from the
target, the config and the evidence; unfilled placeholders fall back readably (synthetic reports, no servers)."""

from __future__ import annotations

import re

from doctor.diagnosis import fill
from doctor.model import CauseState

from support.diagnosis import CLUSTER, SERVICES, SG_EVIDENCE, cause, run


def test_next_steps_are_filled_with_real_names() -> None:
    c = cause(run(["sg.redis_ingress_missing"], evidence=SG_EVIDENCE), "missing-redis-ingress")
    joined = "\n".join(c.next_steps)
    assert ("aws ec2 authorize-security-group-ingress --group-id sg-0redis --protocol tcp --port 6379 "
            "--source-group sg-0worker") in joined
    assert f"--cluster {CLUSTER} --services {SERVICES['image']}" in joined
    assert SERVICES["sync"] not in joined  # only the affected service
    assert not re.search(r"\{[a-z_]+\}", joined)


def test_unfilled_placeholders_fall_back_readably() -> None:
    c = cause(run(["sg.redis_ingress_missing"]), "missing-redis-ingress")
    joined = "\n".join(c.next_steps)
    assert "--group-id <redis-sg-id>" in joined and "--source-group <worker-sg-id>" in joined
    assert not re.search(r"\{[a-z_]+\}", joined)
    # no service named by the evidence: one command per configured service
    assert all(f"--services {s} " in joined for s in SERVICES.values())


def test_ssm_steps_name_the_parameters_and_redeploy_every_service() -> None:
    param = "/propertyfeedtemplate/production/DB_PASSWORD"
    c = cause(run(["ssm.newer_than_tasks"], evidence={"ssm.newer_than_tasks": {"parameters": [param]}}),
              "stale-ssm-values")
    assert f"aws ssm put-parameter --name {param} --type SecureString --overwrite" in "\n".join(c.next_steps)
    redeploys = [s for s in c.next_steps if "--force-new-deployment" in s]
    assert sorted(redeploys) == sorted(f"aws ecs update-service --cluster {CLUSTER} --service {s} "
                                       "--force-new-deployment" for s in SERVICES.values())


def test_db_host_steps_use_the_target_names() -> None:
    c = cause(run(["dns.db_host_stale"], evidence={"dns.db_host_stale": {
        "host": "ame-old.cluster-abc.eu-west-1.rds.amazonaws.com",
        "writer_endpoint": "ame-aurora.cluster-xyz.eu-west-1.rds.amazonaws.com"}}), "bad-db-host")
    joined = "\n".join(c.next_steps)
    assert "aws ssm get-parameter --name /propertyfeedtemplate/production/DB_HOST" in joined
    assert "--value ame-aurora.cluster-xyz.eu-west-1.rds.amazonaws.com" in joined


def test_vantage_names_the_service() -> None:
    c = cause(run(["reach.aurora_timeout@task", "dns.db_ok"]), "db-path-blocked")
    assert all(SERVICES["image"] not in s for s in c.next_steps)
    assert any(SERVICES["sync"] in s for s in c.next_steps)


def test_log_group_comes_from_the_evidence() -> None:
    c = cause(run(["startup.runtime_dirs_missing"], evidence={"startup.runtime_dirs_missing": {
        "service": SERVICES["image"], "log_group": "/custom/image-workers"}}), "missing-runtime-dirs")
    joined = "\n".join(c.next_steps)
    assert "--log-group-name /custom/image-workers " in joined
    assert f"--service {SERVICES['image']} " in joined and SERVICES["bulk"] not in joined


def test_sg_ids_from_sg_ingress_style_evidence() -> None:
    ev = {"sg.redis_ingress_missing": {"kind": "redis", "store": "ame-redis", "port": 6379,
                                       "data_security_groups": ["sg-0data"], "worker_security_groups": ["sg-0wk"],
                                       "referenced_security_groups": ["sg-0old"], "services": [SERVICES["bulk"]]},
          "sg.aurora_ok": {"kind": "aurora", "store": "ame-aurora", "port": 3306,
                           "data_security_groups": ["sg-0aur"],
                           "granted_by": {SERVICES["sync"]: ["sg-0aur <- sg-0wk"]}}}
    books = run(["sg.redis_ingress_missing", "sg.old_ip_rules_only", "sg.aurora_ok"], evidence=ev)
    c = cause(books, "missing-redis-ingress")
    joined = "\n".join(c.next_steps)
    assert "authorize-security-group-ingress --group-id sg-0data --protocol tcp --port 6379 --source-group sg-0wk" \
        in joined
    assert "sg-0old" not in joined and f"--services {SERVICES['bulk']} " in joined
    # old /32 rules alone say nothing about Aurora
    assert cause(books, "missing-aurora-ingress").state == CauseState.ruled_out


def test_worker_sg_from_a_grant_when_the_sg_is_fine() -> None:
    ev = {"reach.aurora_timeout@task": {"vantage": f"task:{SERVICES['image']}"},
          "sg.aurora_ok": {"kind": "aurora", "data_security_groups": ["sg-0aur"],
                           "granted_by": {SERVICES["image"]: ["sg-0aur <- sg-0wk"]}}}
    c = cause(run(["reach.aurora_timeout@task", "dns.db_ok", "sg.aurora_ok"], evidence=ev), "db-path-blocked")
    assert any("--group-ids sg-0aur sg-0wk " in s for s in c.next_steps), c.next_steps


def test_writer_endpoint_and_cluster_from_dns_evidence() -> None:
    ev = {"dns.db_host_stale": {"host": "ame-old.cluster-x.eu-west-1.rds.amazonaws.com",
                                "writer_endpoints": {"ame-aurora": "ame-aurora.cluster-y.eu-west-1.rds.amazonaws.com"}}}
    c = cause(run(["dns.db_host_stale"], evidence=ev), "bad-db-host")
    joined = "\n".join(c.next_steps)
    assert "describe-db-clusters --db-cluster-identifier ame-aurora " in joined
    assert "--value ame-aurora.cluster-y.eu-west-1.rds.amazonaws.com" in joined


def test_fill() -> None:
    assert fill("a {cluster} {worker_sg} {weird_thing}", {"cluster": "c"}) == "a c <worker-sg-id> <weird-thing>"
    assert fill("mkdir storage/{cache,views}", {}) == "mkdir storage/{cache,views}"
