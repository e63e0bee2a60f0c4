"""TRANSITIONAL (issue 12): moved to :mod:`doctor.facts.network`, :mod:`doctor.facts.security_groups`,
:mod:`doctor.facts.cidr`, :mod:`doctor.facts.datastores`; ``norm`` is :func:`doctor.util.norm_host`.
The lead removes this shim once its importers are rewritten."""

# TRANSITIONAL (issue 12): re-export shim for the old module path; the lead removes it.

from doctor.facts.cidr import covers, overlaps, rule_covers_port  # noqa: F401
from doctor.facts.datastores import (  # noqa: F401
    DataStore,
    aurora_clusters,
    aurora_endpoints,
    aurora_instances,
    aurora_store,
    cache_clusters,
    redis_endpoints,
    redis_groups,
    redis_store,
    store_via_chain,
)
from doctor.facts.network import (  # noqa: F401
    AWS_SERVICES,
    Path,
    Subnet,
    WorkerNetwork,
    endpoint_for,
    path_to_service,
    region,
    route_table_for,
    route_tables,
    vpc_cidrs,
    vpc_endpoints,
    vpc_info,
    worker_network,
)
from doctor.facts.security_groups import prefix_list_cidrs, security_groups  # noqa: F401
from doctor.util import norm_host as norm  # noqa: F401
