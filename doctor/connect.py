"""TRANSITIONAL (issue 12): moved to :mod:`doctor.net.hostprobe` (probes) and :mod:`doctor.net.dns`
(``resolve``, ``DnsFailure``, ``is_ip``, ``parse_nameserver``). The lead removes this shim once its
importers are rewritten."""

# TRANSITIONAL (issue 12): re-export shim for the old module path; the lead removes it.

from doctor.net.dns import DnsFailure, is_ip, parse_nameserver, resolve  # noqa: F401
from doctor.net.hostprobe import Outcome, classify_oserror, mysql_check, mysql_greeting, redis_check  # noqa: F401
