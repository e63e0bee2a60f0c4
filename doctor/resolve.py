"""TRANSITIONAL (issue 12): moved to :mod:`doctor.net.dns`. The lead removes this shim once its importers
are rewritten."""

# TRANSITIONAL (issue 12): re-export shim for the old module path; the lead removes it.

from doctor.net.dns import Resolution, is_ip, make_resolver, parse_nameserver, resolve_chain  # noqa: F401
