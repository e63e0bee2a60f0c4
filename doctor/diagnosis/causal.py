"""The causal model: which supported causes explain which, per scope, and the root causes of a run.

A cause's scope is the set of queues its supporting findings are about (a service counts as its
queue); a cause whose findings are all platform-wide has no scope and overlaps every other one.
A cause E *explains* a cause C when the playbooks declare it (``explains`` / ``yields_to``), E's
state is at least as strong as C's (confirmed > likely > possible; the score does not enter: a
confirmed fault explains a confirmed consequence whatever their scores), and their scopes overlap;
E explains C only on the overlap.

A confirmed or likely cause that nothing explains is a root cause with its whole scope. One that is
explained on part of its scope is assessed again on the rest, and is a root cause there only if that
still confirms it or makes it likely (the bulk service's bootstrap failure does not explain the
image queue's backlog). A possible cause is never a root cause. Root causes rank by state, then
score, never by file order; each lists what it explains, directly or through other causes, with the
scope where the explanation holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from doctor.config import Config
from doctor.diagnosis.frontmatter import PlaybookError
from doctor.diagnosis.matching import Index, assess, uids
from doctor.diagnosis.nextsteps import next_steps
from doctor.diagnosis.playbook import Cause, Playbook, explanations, load_playbooks
from doctor.diagnosis.ranking import STRONG, SUPPORTED, strength
from doctor.model import (
    CauseResult,
    Diagnosis,
    ExplainedCause,
    Finding,
    PlaybookResult,
    Report,
    RootCause,
    Scope,
)

# A scope: None is everywhere (platform-wide), a set names queues; the empty set (nowhere) only
# ever comes out of ``meet`` when two scopes do not overlap.
Queues = frozenset[str] | None
NOWHERE: frozenset[str] = frozenset()


def meet(a: Queues, b: Queues) -> Queues:
    """Where two scopes overlap: the other one when one is platform-wide, else the common queues."""
    if a is None:
        return b
    if b is None:
        return a
    return a & b


@dataclass
class Node:
    """One supported cause of the run: its result, definition (when the playbooks still have it),
    supporting findings and scope."""

    qid: str  # playbook/cause
    playbook: str
    result: CauseResult
    cause: Cause | None
    support: list[Finding]
    scope: Queues

    @property
    def rank(self) -> tuple[int, float]:
        return strength(self.result.state, self.result.score)


class Graph:
    """The supported causes of a run and the explanations between them (``edges[e]``: what e explains)."""

    def __init__(self, results: list[PlaybookResult], report: Report, idx: Index,
                 relation: dict[str, list[str]], definitions: dict[str, Cause]) -> None:
        by_uid = {f.uid: f for _, f in report.findings()}
        self.nodes: dict[str, Node] = {}
        for book in results:
            for r in book.causes:
                if r.state not in SUPPORTED:
                    continue
                qid = f"{book.id}/{r.id}"
                support = [by_uid[u] for u in r.evidence if u in by_uid]
                queues = frozenset(q for f in support for q in idx.queues(f))
                self.nodes[qid] = Node(qid, book.id, r, definitions.get(qid), support, queues or None)
        self.edges: dict[str, list[str]] = {qid: [] for qid in self.nodes}
        for qid, node in self.nodes.items():
            for other in relation.get(qid, []):
                c = self.nodes.get(other)
                if c is not None and node.rank[0] <= c.rank[0] and meet(node.scope, c.scope) != NOWHERE:
                    self.edges[qid].append(other)

    def explainers(self, qid: str) -> list[str]:
        return [e for e, targets in self.edges.items() if qid in targets]

    def unexplained(self, qid: str) -> Queues:
        """The part of the cause's scope nothing explains: its whole scope, part of it, or NOWHERE."""
        node, explainers = self.nodes[qid], self.explainers(qid)
        if not explainers:
            return node.scope
        if node.scope is None:  # a platform-wide cause is explained wherever its explainer holds
            return NOWHERE
        covered = {q for e in explainers for q in (meet(self.nodes[e].scope, node.scope) or node.scope)}
        return node.scope - covered

    def explained_by(self, qid: str, scope: Queues) -> list[tuple[Node, Queues]]:
        """Everything the cause explains within ``scope``, directly or through others, with where (strongest first)."""
        found: dict[str, Queues] = {}
        frontier = [(qid, scope)]
        while frontier:
            here, where = frontier.pop(0)
            for nxt in self.edges[here]:
                part = meet(where, self.nodes[nxt].scope)
                if part == NOWHERE or nxt == qid:
                    continue
                if nxt in found:  # reached again, through another cause: where it holds grows
                    before = found[nxt]
                    part = None if before is None or part is None else before | part
                    if part == before:
                        continue
                found[nxt] = part
                frontier.append((nxt, part))
        return sorted(((self.nodes[q], s) for q, s in found.items()), key=lambda ns: (ns[0].rank, ns[0].qid))


def _scope(queues: Queues, report: Report, config: Config) -> Scope:
    """The model's scope: the queues and the ECS services that serve them (empty lists: platform-wide)."""
    if not queues:
        return Scope()
    service_of = {q: s for s, q in config.services.items()} | {q: t.service for q, t in report.target.queues.items()}
    names = sorted(queues)
    return Scope(services=[service_of[q] for q in names if q in service_of], queues=names)


def _root(node: Node, rest: Queues, graph: Graph, idx: Index, report: Report, config: Config) -> RootCause | None:
    """The cause as a root cause on ``rest`` (its whole scope, or the part nothing explains), or None when
    the evidence on that part alone does not confirm it or make it likely."""
    r = node.result
    state, score, evidence, steps = r.state, r.score, r.evidence, r.next_steps
    if rest is not None and rest != node.scope:  # explained on part of its scope: judge the rest alone
        if node.cause is not None:
            state, score, support, _, _ = assess(node.cause, idx.restricted(rest))
            evidence = uids(support)
            steps = next_steps(node.cause, support, report, config) if state in SUPPORTED else []
        else:  # a saved report naming a cause the playbooks no longer have: keep its figures on that part
            evidence = [f.uid for f in node.support if idx.scope(f) is None or idx.scope(f) in rest]
    if state not in STRONG:
        return None
    return RootCause(
        playbook=node.playbook, cause=r.id, title=r.title, state=state, score=score,
        scope=_scope(rest, report, config), evidence=evidence, next_steps=steps,
        explains=[ExplainedCause(playbook=n.playbook, cause=n.result.id, title=n.result.title, state=n.result.state,
                                 score=n.result.score, scope=_scope(where, report, config))
                  for n, where in graph.explained_by(node.qid, rest)],
    )


def root_causes(results: list[PlaybookResult], report: Report, config: Config,
                books: list[Playbook] | None = None) -> Diagnosis:
    """The root causes of a diagnosed run, strongest first, each with what it explains.

    ``results`` are the run's playbook results (``report.playbooks``, also those of a saved report
    of an older schema); ``books`` the playbooks (default: loaded as for a run). Without readable
    playbooks no cause explains another, and every confirmed or likely cause is a root cause.
    """
    if books is None:
        try:
            books = load_playbooks()
        except PlaybookError:
            books = []
    relation = explanations(books) if books else {}
    definitions = {f"{b.id}/{c.id}": c for b in books for c in b.causes}
    idx = Index(report, config)
    graph = Graph(results, report, idx, relation, definitions)
    roots = []
    for qid, node in graph.nodes.items():
        rest = graph.unexplained(qid)
        if node.result.state in STRONG and rest != NOWHERE:
            root = _root(node, rest, graph, idx, report, config)
            if root is not None:
                roots.append(root)
    roots.sort(key=lambda r: (strength(r.state, r.score), r.playbook, r.cause))
    return Diagnosis(root_causes=roots)
