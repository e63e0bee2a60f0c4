"""What changed before it broke: changes and symptoms on one time axis, tied to the diagnosis' root causes.

One idea per module, dependencies pointing down the list:

- :mod:`~doctor.timeline.tokens`: typed resource tokens (``sg:sg-0abc``) and the normalisers that make them;
- :mod:`~doctor.timeline.catalogue`: the CloudTrail write events looked up, what each touches and how it reads;
- :mod:`~doctor.timeline.sources`: the window, one source's read and status, ``guarded``;
- :mod:`~doctor.timeline.cloudtrail`: ``LookupEvents`` per event name, principals, request-parameter redaction;
- :mod:`~doctor.timeline.ssm_history`: ``GetParameterHistory`` (versions, dates, who; never values);
- :mod:`~doctor.timeline.context`: what each worker service is made of (revision, roles, SGs, NACLs, logs);
- :mod:`~doctor.timeline.ecs`: deployments, failing service events, task stops and starts;
- :mod:`~doctor.timeline.logs`: first and last log line per error signature and service;
- :mod:`~doctor.timeline.observed`: symptoms the checks timed (queue ages, failed jobs, Sentry firstSeen);
- :mod:`~doctor.timeline.scope`: a root cause's scope as tokens;
- :mod:`~doctor.timeline.correlate`: changes before each root cause's first symptom, nearest first; leads;
- :mod:`~doctor.timeline.collect`: every source for one window; :mod:`~doctor.timeline.assemble`: the
  report's ``timeline``; :mod:`~doctor.timeline.runner`: both inside an engine run.
"""

from __future__ import annotations

from doctor.timeline.runner import TimelineJob

__all__ = ["TimelineJob"]  # the engine's entry; everything else from its own module (no name shadows a module)
