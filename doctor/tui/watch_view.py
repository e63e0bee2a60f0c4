"""The live soak view for ``ame-doctor watch``: one row per queue with a backlog sparkline.

A thin client: the sampling and the verdict are ``doctor.rollout.soak.watch``; this only displays its
ticks. It depends on ``doctor.rollout`` and nothing there imports it (``ame-doctor watch`` opens it on
a terminal).
"""

from __future__ import annotations

import threading

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Header, Sparkline, Static

from doctor.config import Config
from doctor.rollout.render import render_summary
from doctor.rollout.soak import NO_STORM, QueueSoak, Sampler, SoakResult, summarise, watch
from doctor.rollout.views import QueueView


class QueuePanel(Vertical):
    DEFAULT_CSS = """
    QueuePanel { height: auto; border: round $primary; padding: 0 1; }
    QueuePanel Sparkline { height: 3; }
    """

    def __init__(self, queue: str, service: str) -> None:
        super().__init__(id=f"queue-{queue}")
        self.queue = queue
        self.border_title = f"{queue} — {service}"
        self.line = Static("waiting for the first sample…", id=f"line-{queue}")
        self.spark = Sparkline([], summary_function=max, id=f"spark-{queue}")

    def compose(self) -> ComposeResult:
        yield self.line
        yield self.spark

    def update_from(self, view: QueueView, soak: QueueSoak) -> None:
        summarise(soak, NO_STORM)
        self.spark.data = [float(s.backlog or 0) for s in soak.samples]
        rate = f"{soak.drain_rate_per_min:+.1f}/min" if soak.drain_rate_per_min is not None else "rate ?"
        tte = f", empty in {soak.time_to_empty_s:.0f}s" if soak.time_to_empty_s else ""
        if view.desired == 0 and view.running == 0:  # held at 0: idle, and a backlog waiting for it is the finding
            state = "IDLE AT 0" + (" WITH A BACKLOG" if view.backlog_known and view.backlog else "")
        else:
            state = "STEADY" if view.steady else "NOT STEADY"
        self.line.update(
            f"backlog {view.backlog if view.backlog_known else '?'} ({rate}{tte})  tasks {view.running}/{view.desired} "
            f"{state}  restarts {soak.restarts}  new errors: {', '.join(soak.new_errors) or 'none'}")


class WatchApp(App[SoakResult]):
    TITLE = "ame-doctor watch"
    BINDINGS = [("q", "quit_watch", "Quit")]

    def __init__(self, sampler: Sampler, config: Config, interval: float, duration: float) -> None:
        super().__init__()
        self.sampler = sampler
        self.config = config
        self.interval = interval
        self.duration = duration
        self.result: SoakResult | None = None
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        for name, q in self.config.queues.items():
            yield QueuePanel(name, q.service)
        yield Static("", id="verdict")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"cluster {self.config.ecs.cluster} — every {self.interval:g}s for {self.duration:g}s"
        self.run_worker(self._run, thread=True, exclusive=True)

    def _run(self) -> None:
        def on_tick(t: float, views: dict[str, QueueView], soaks: dict[str, QueueSoak]) -> None:
            self.call_from_thread(self._tick, t, views, soaks)

        def sleep(s: float) -> None:
            self._stop.wait(s)

        result = watch(self.sampler, self.config.ecs.cluster, self.interval, self.duration,
                       self.config.run.restart_storm, on_tick, sleep=sleep, stopped=self._stop.is_set)
        self.call_from_thread(self._done, result)

    def _tick(self, t: float, views: dict[str, QueueView], soaks: dict[str, QueueSoak]) -> None:
        for name, view in views.items():
            panels = self.query(f"#queue-{name}")
            if panels:
                panels.first(QueuePanel).update_from(view, soaks[name])

    def _done(self, result: SoakResult) -> None:
        self.result = result
        self.query_one("#verdict", Static).update(render_summary(result) + "\npress q to quit")

    def action_quit_watch(self) -> None:
        self._stop.set()
        self.exit(self.result)


def run_watch_tui(sampler: Sampler, config: Config, interval: float, duration: float) -> SoakResult:
    app = WatchApp(sampler, config, interval, duration)
    result = app.run()
    if result is None:  # quit before the end: the verdict covers what was observed
        result = app.result or SoakResult(cluster=config.ecs.cluster, started_at="", interval_s=interval,
                                          duration_s=duration, queues=[])
    return result
