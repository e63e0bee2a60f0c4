"""The diagnosis: symptom playbooks loaded from ``playbooks/*.md``, their causes ranked against a report.

One idea per module, dependencies pointing down the list:

- :mod:`~doctor.diagnosis.frontmatter`: the strict YAML-subset front matter parser, ``PlaybookError``;
- :mod:`~doctor.diagnosis.templates`: the ``{placeholder}`` next-step templates and ``fill``;
- :mod:`~doctor.diagnosis.playbook`: ``Term``/``Expr``/``Cause``/``Playbook``, the validator, loading;
- :mod:`~doctor.diagnosis.matching`: findings indexed by signal and scope, a cause's state and score;
- :mod:`~doctor.diagnosis.nextsteps`: a supported cause's next steps filled from the run;
- :mod:`~doctor.diagnosis.ranking`: ``diagnose``, ranking by strength, verdicts;
- :mod:`~doctor.diagnosis.causal`: which causes explain which, per scope; ``root_causes``.

The package needs only :mod:`doctor.model`, :mod:`doctor.config` and :mod:`doctor.registry` (the
known check ids and their order); the engine, CLI and renderers call into it, never the reverse.
"""

from __future__ import annotations

from doctor.diagnosis.causal import root_causes
from doctor.diagnosis.frontmatter import PlaybookError, parse_front_matter, split_front_matter
from doctor.diagnosis.matching import (
    COMPLETED,
    DOWNGRADE,
    TIER_SCORE,
    TIER_STATE,
    Assessed,
    Index,
    assess,
    assess_all,
    vantage_of,
)
from doctor.diagnosis.nextsteps import next_steps
from doctor.diagnosis.playbook import (
    PLAYBOOK_DIR_ENV,
    TIERS,
    VANTAGES,
    Cause,
    Expr,
    Playbook,
    Term,
    checks_for_playbook,
    explanations,
    get_playbook,
    load_playbooks,
    parse_playbook,
    playbook_dir,
)
from doctor.diagnosis.ranking import (
    STATE_RANK,
    STRONG,
    diagnose,
    diagnose_playbook,
    invalid_result,
    strength,
    top_causes,
    verdict,
)
from doctor.diagnosis.templates import PLACEHOLDERS, fill

__all__ = [
    "COMPLETED", "DOWNGRADE", "PLACEHOLDERS", "PLAYBOOK_DIR_ENV", "STATE_RANK", "STRONG", "TIERS", "TIER_SCORE",
    "TIER_STATE", "VANTAGES", "Assessed", "Cause", "Expr", "Index", "Playbook", "PlaybookError", "Term",
    "assess", "assess_all", "checks_for_playbook", "diagnose", "diagnose_playbook", "explanations", "fill",
    "get_playbook", "invalid_result", "load_playbooks", "next_steps", "parse_front_matter", "parse_playbook",
    "playbook_dir", "root_causes", "split_front_matter", "strength", "top_causes", "vantage_of", "verdict",
]
