"""Rolling a queue's ECS service out safely: the per-queue view, the gate's rules, the soak, their rendering.

Pure: these modules read a report, the facts and the config, and never parse arguments nor touch the
terminal. ``doctor.commands.gate`` and ``doctor.commands.watch`` build a run on top of them; the live
soak view (``doctor.tui.watch_view``) depends on them, never the other way round.

- :mod:`doctor.rollout.views`: ``QueueView`` and ``build_views`` (one view per heavy queue, with the root
  causes a new task of it would meet).
- :mod:`doctor.rollout.rules`: ``GateRequest``, ``changes`` (each request's kind: wake / widen / drain /
  scale-in / no-change), ``evaluate`` -> ``RuleVerdict`` list, ``GateDecision``.
- :mod:`doctor.rollout.soak`: ``watch`` over an injected sampler, ``summarise`` -> ``SoakResult`` (verdicts
  with notes, by the platform's healthy-state definition).
- :mod:`doctor.rollout.render`: text / json / junit of a decision and of a soak.
"""
