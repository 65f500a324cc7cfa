"""Fires enabled schedule rules, once per run, across restarts.

Each schedule rule keeps ``fired_until``: every run at or before it has been
handled. ``fire_due(now)`` takes each rule's runs in ``(fired_until, now]``;
those no older than the catch-up window (``catchup_s``) become scheduled
events, enqueued for the rule's targets in the one transaction that moves
``fired_until`` to ``now`` (a compare-and-swap: a node racing another, or a
rule changed meanwhile, fires nothing). Runs older than the window (the node
was down longer) are skipped and logged. So a restart neither repeats a run
(the horizon moved with the enqueue) nor loses one inside the window.

A rule starts its horizon when it is created, when its expression changes
and when it is enabled: runs that fell due while it was disabled never fire.
A ``rate`` schedule is phased from that moment, to the minute.

All times are UTC epoch seconds from the injected clock.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from loam.services.events.documents import format_time, scheduled_event
from loam.services.events.models import Arns, Delivery, Rule, Target
from loam.services.events.outbox import insert_deliveries, new_delivery
from loam.services.events.schedule import Schedule, ScheduleError, parse
from loam.services.events.store import EventsStore
from loam.services.events.transform import RenderContext, render

__all__ = ["DEFAULT_CATCHUP_S", "ScheduleRunner"]

log = logging.getLogger("loam.events")

DEFAULT_CATCHUP_S = 900.0
MAX_RUNS_PER_RULE = 1000  # per fire_due call: a window's runs for the shortest rate
_JUST_BEFORE = timedelta(microseconds=1)


class _Raced(Exception):
    """The rule changed (or another node fired it) since it was read."""


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class ScheduleRunner:
    def __init__(self, store: EventsStore, arns: Arns, *, catchup_s: float = DEFAULT_CATCHUP_S
                 ) -> None:
        self.store = store
        self.arns = arns
        self.catchup_s = catchup_s
        self.fired = 0
        self.skipped = 0

    def fire_due(self, now: float) -> int:
        """Fire every run due at ``now``; how many deliveries were enqueued (blocking)."""
        enqueued = 0
        for rule in self.store.schedule_rules():
            try:
                enqueued += self._fire_rule(rule, now)
            except _Raced:
                continue
        return enqueued

    def next_fire(self) -> float | None:
        """When the earliest enabled schedule is next due (epoch seconds)."""
        times: list[float] = []
        for rule in self.store.schedule_rules():
            schedule = self._schedule(rule)
            if schedule is not None:
                t = schedule.next_after(_utc(rule.fired_until or rule.created))
                if t is not None:
                    times.append(t.timestamp())
        return min(times, default=None)

    def _schedule(self, rule: Rule) -> Schedule | None:
        assert rule.schedule_expression is not None
        try:
            return parse(rule.schedule_expression, _utc(rule.schedule_anchor or rule.created))
        except ScheduleError:  # validated by PutRule; a stored one cannot be bad
            log.error("rule %s: stored schedule %r does not parse", rule.name,
                      rule.schedule_expression)
            return None

    def _fire_rule(self, rule: Rule, now: float) -> int:
        assert rule.schedule_expression is not None
        horizon = rule.fired_until if rule.fired_until is not None else rule.created
        if now <= horizon:
            return 0
        schedule = self._schedule(rule)
        if schedule is None:
            return 0
        # A run exactly ``catchup_s`` old still fires: the window is [now - catchup_s, now].
        start = _utc(horizon)
        window = _utc(now - self.catchup_s) - _JUST_BEFORE
        if window > start:
            late = schedule.fires_between(start, window, MAX_RUNS_PER_RULE)
            if late:
                self.skipped += len(late)
                log.warning("rule %s: %d scheduled run(s) from %s missed by more than %.0f s;"
                            " skipped", rule.name, len(late), format_time(late[0].timestamp()),
                            self.catchup_s)
            start = window
        runs = [t.timestamp() for t in schedule.fires_between(start, _utc(now), MAX_RUNS_PER_RULE)]
        if not runs and start == _utc(horizon):
            return 0  # nothing due and nothing skipped: the horizon may stay where it is
        targets = self.store.targets(rule.bus, rule.name) if runs else []
        rows = [d for t in runs for d in self._deliveries(rule, targets, t, now)]
        self._commit(rule, now, rows)
        self.fired += len(runs)
        return len(rows)

    def _deliveries(self, rule: Rule, targets: Sequence[Target], fire_time: float,
                    now: float) -> list[Delivery]:
        rule_arn = self.arns.rule(rule.bus, rule.name)
        event = scheduled_event(rule_arn, self.arns.account_id, self.arns.region, fire_time)
        context = RenderContext(event, rule_arn, rule.name, format_time(now))
        return [new_delivery(t.document, render(t.document, context), now, rule_arn)
                for t in targets]

    def _commit(self, rule: Rule, now: float, rows: Sequence[Delivery]) -> None:
        with self.store.database.transaction() as tx:
            moved = tx.rowcount(
                "UPDATE events_rules SET fired_until = ? WHERE bus = ? AND name = ?"
                " AND fired_until = ? AND schedule_expression = ? AND state = ?",
                (now, rule.bus, rule.name, rule.fired_until, rule.schedule_expression,
                 rule.state))
            if moved != 1:
                raise _Raced()
            insert_deliveries(tx, rows)
