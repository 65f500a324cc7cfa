"""The events service's tables (``events_*``) on the node's ``Database``.

Every method is one transaction and blocking: call it through
``asyncio.to_thread``. Rows become the frozen models of ``models.py``; a
target is kept as the JSON of the ``Target`` structure ``PutTargets`` got,
so every member (``SqsParameters``, ``RetryPolicy``, …) is reported back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from loam.services.events.models import DEFAULT_BUS, Bus, Rule, Target
from loam.store.sql import Database, Transaction

__all__ = ["SCHEMA", "EventsStore", "TargetLimitExceeded"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS events_buses (
    name {text_key} PRIMARY KEY,
    description TEXT,
    created {real} NOT NULL,
    modified {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS events_rules (
    bus {text_key} NOT NULL,
    name {text_key} NOT NULL,
    event_pattern TEXT,
    schedule_expression TEXT,
    state TEXT NOT NULL,
    description TEXT,
    role_arn TEXT,
    created {real} NOT NULL,
    schedule_anchor {real},
    fired_until {real},
    PRIMARY KEY (bus, name)
);
CREATE TABLE IF NOT EXISTS events_targets (
    bus {text_key} NOT NULL,
    rule {text_key} NOT NULL,
    id {text_key} NOT NULL,
    arn TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (bus, rule, id)
);
CREATE INDEX IF NOT EXISTS events_targets_by_arn ON events_targets (arn);
CREATE TABLE IF NOT EXISTS events_tags (
    arn {text_key} NOT NULL,
    tag_key {text_key} NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (arn, tag_key)
);
CREATE TABLE IF NOT EXISTS events_outbox (
    id {text_key} PRIMARY KEY,
    target_arn TEXT NOT NULL,
    payload {blob} NOT NULL,
    target TEXT NOT NULL,
    created {real} NOT NULL,
    not_before {real} NOT NULL,
    leased_until {real} NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_outbox_due ON events_outbox (not_before)
"""

_RULE_COLUMNS = ("bus, name, event_pattern, schedule_expression, state, description, role_arn, "
                 "created, schedule_anchor, fired_until")


class TargetLimitExceeded(Exception):
    """Putting these targets would leave the rule with more than the limit."""


def _rule(row: Sequence[Any]) -> Rule:
    return Rule(row[0], row[1], row[2], row[3], row[4], row[5], row[6], float(row[7]),
                None if row[8] is None else float(row[8]),
                None if row[9] is None else float(row[9]))


def _target(row: Sequence[Any]) -> Target:
    return Target(row[0], row[1], json.loads(row[2]))


class EventsStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_schema(self, now: float) -> None:
        """The tables, and the default bus (which always exists)."""
        self.database.schema(SCHEMA)
        self.database.execute(
            "INSERT INTO events_buses (name, description, created, modified) VALUES (?, NULL, ?, ?)"
            " ON CONFLICT (name) DO NOTHING", (DEFAULT_BUS, now, now))

    # --- buses -----------------------------------------------------------------

    def create_bus(self, bus: Bus, tags: Sequence[tuple[str, str, str]]) -> None:
        """Raises ``loam.store.RecordExists`` when the name is taken."""
        with self.database.transaction() as tx:
            tx.execute("INSERT INTO events_buses (name, description, created, modified)"
                       " VALUES (?, ?, ?, ?)", (bus.name, bus.description, bus.created,
                                                bus.modified))
            _put_tags(tx, tags)

    def bus(self, name: str) -> Bus | None:
        rows = self.database.execute(
            "SELECT name, description, created, modified FROM events_buses WHERE name = ?",
            (name,))
        return Bus(rows[0][0], rows[0][1], float(rows[0][2]), float(rows[0][3])) if rows else None

    def buses(self, prefix: str, after: str, limit: int) -> list[Bus]:
        rows = self.database.execute(
            "SELECT name, description, created, modified FROM events_buses"
            " WHERE name > ? AND substr(name, 1, ?) = ? ORDER BY name LIMIT ?",
            (after, len(prefix), prefix, limit))
        return [Bus(r[0], r[1], float(r[2]), float(r[3])) for r in rows]

    def delete_bus(self, name: str, bus_arn: str, rule_arns: Sequence[str]) -> None:
        """The bus, its rules, their targets and every tag on them."""
        with self.database.transaction() as tx:
            tx.execute("DELETE FROM events_targets WHERE bus = ?", (name,))
            tx.execute("DELETE FROM events_rules WHERE bus = ?", (name,))
            tx.execute("DELETE FROM events_buses WHERE name = ?", (name,))
            for arn in (bus_arn, *rule_arns):
                tx.execute("DELETE FROM events_tags WHERE arn = ?", (arn,))

    # --- rules -----------------------------------------------------------------

    def put_rule(self, rule: Rule, tags: Sequence[tuple[str, str, str]]) -> None:
        """Create or replace the rule; ``tags`` are applied only when it is new."""
        with self.database.transaction() as tx:
            changed = tx.rowcount(
                "UPDATE events_rules SET event_pattern = ?, schedule_expression = ?, state = ?,"
                " description = ?, role_arn = ?, schedule_anchor = ?, fired_until = ?"
                " WHERE bus = ? AND name = ?",
                (rule.event_pattern, rule.schedule_expression, rule.state, rule.description,
                 rule.role_arn, rule.schedule_anchor, rule.fired_until, rule.bus, rule.name))
            if changed == 0:
                tx.execute(f"INSERT INTO events_rules ({_RULE_COLUMNS}) VALUES"
                           " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (rule.bus, rule.name, rule.event_pattern, rule.schedule_expression,
                            rule.state, rule.description, rule.role_arn, rule.created,
                            rule.schedule_anchor, rule.fired_until))
                _put_tags(tx, tags)

    def rule(self, bus: str, name: str) -> Rule | None:
        rows = self.database.execute(
            f"SELECT {_RULE_COLUMNS} FROM events_rules WHERE bus = ? AND name = ?", (bus, name))
        return _rule(rows[0]) if rows else None

    def rules(self, bus: str, prefix: str, after: str, limit: int) -> list[Rule]:
        rows = self.database.execute(
            f"SELECT {_RULE_COLUMNS} FROM events_rules WHERE bus = ? AND name > ?"
            " AND substr(name, 1, ?) = ? ORDER BY name LIMIT ?",
            (bus, after, len(prefix), prefix, limit))
        return [_rule(r) for r in rows]

    def count_rules(self) -> int:
        return int(self.database.execute("SELECT COUNT(*) FROM events_rules")[0][0])

    def set_state(self, bus: str, name: str, state: str, fired_until: float | None) -> bool:
        """Enable or disable a rule; ``fired_until`` restarts its schedule's horizon
        (runs that fell due while it was disabled are not fired)."""
        return self.database.rowcount(
            "UPDATE events_rules SET state = ?, fired_until = COALESCE(?, fired_until)"
            " WHERE bus = ? AND name = ?", (state, fired_until, bus, name)) > 0

    def delete_rule(self, bus: str, name: str, rule_arn: str, force: bool) -> bool:
        """False (nothing deleted) while targets remain, unless ``force``."""
        with self.database.transaction() as tx:
            left = tx.execute("SELECT COUNT(*) FROM events_targets WHERE bus = ? AND rule = ?",
                              (bus, name))[0][0]
            if left and not force:
                return False
            tx.execute("DELETE FROM events_targets WHERE bus = ? AND rule = ?", (bus, name))
            tx.execute("DELETE FROM events_rules WHERE bus = ? AND name = ?", (bus, name))
            tx.execute("DELETE FROM events_tags WHERE arn = ?", (rule_arn,))
            return True

    def rule_names_by_target(self, bus: str, arn: str, after: str, limit: int) -> list[str]:
        rows = self.database.execute(
            "SELECT DISTINCT rule FROM events_targets WHERE bus = ? AND arn = ? AND rule > ?"
            " ORDER BY rule LIMIT ?", (bus, arn, after, limit))
        return [r[0] for r in rows]

    def pattern_rules(self, bus: str) -> list[tuple[Rule, list[Target]]]:
        """The bus's enabled rules with an event pattern, each with its targets."""
        with self.database.transaction() as tx:
            rules = [_rule(r) for r in tx.execute(
                f"SELECT {_RULE_COLUMNS} FROM events_rules WHERE bus = ?"
                " AND event_pattern IS NOT NULL ORDER BY name", (bus,))]
            rules = [r for r in rules if r.enabled]
            return [(r, _targets(tx, bus, r.name)) for r in rules]

    def schedule_rules(self) -> list[Rule]:
        rows = self.database.execute(
            f"SELECT {_RULE_COLUMNS} FROM events_rules WHERE schedule_expression IS NOT NULL"
            " ORDER BY bus, name")
        return [r for r in map(_rule, rows) if r.enabled]

    # --- targets ---------------------------------------------------------------

    def targets(self, bus: str, rule: str) -> list[Target]:
        with self.database.transaction() as tx:
            return _targets(tx, bus, rule)

    def put_targets(self, bus: str, rule: str, targets: Sequence[Target], limit: int) -> None:
        """Add or replace targets by Id; raises ``TargetLimitExceeded`` past ``limit``."""
        with self.database.transaction() as tx:
            have = {t.id for t in _targets(tx, bus, rule)}
            if len(have | {t.id for t in targets}) > limit:
                raise TargetLimitExceeded()
            for t in targets:
                tx.execute("DELETE FROM events_targets WHERE bus = ? AND rule = ? AND id = ?",
                           (bus, rule, t.id))
                tx.execute("INSERT INTO events_targets (bus, rule, id, arn, document)"
                           " VALUES (?, ?, ?, ?, ?)",
                           (bus, rule, t.id, t.arn, json.dumps(t.document)))

    def remove_targets(self, bus: str, rule: str, ids: Sequence[str]) -> list[str]:
        """Remove targets by Id; the Ids the rule did not have."""
        missing: list[str] = []
        with self.database.transaction() as tx:
            for target_id in ids:
                if tx.rowcount("DELETE FROM events_targets WHERE bus = ? AND rule = ? AND id = ?",
                               (bus, rule, target_id)) == 0:
                    missing.append(target_id)
        return missing

    # --- tags ------------------------------------------------------------------

    def tags(self, arn: str) -> list[tuple[str, str]]:
        rows = self.database.execute(
            "SELECT tag_key, tag_value FROM events_tags WHERE arn = ? ORDER BY tag_key", (arn,))
        return [(r[0], r[1]) for r in rows]

    def tag(self, tags: Sequence[tuple[str, str, str]]) -> None:
        with self.database.transaction() as tx:
            _put_tags(tx, tags)

    def untag(self, arn: str, keys: Sequence[str]) -> None:
        with self.database.transaction() as tx:
            for key in keys:
                tx.execute("DELETE FROM events_tags WHERE arn = ? AND tag_key = ?", (arn, key))


def _targets(tx: Transaction, bus: str, rule: str) -> list[Target]:
    rows = tx.execute("SELECT id, arn, document FROM events_targets WHERE bus = ? AND rule = ?"
                      " ORDER BY id", (bus, rule))
    return [_target(r) for r in rows]


def _put_tags(tx: Transaction, tags: Sequence[tuple[str, str, str]]) -> None:
    """(arn, key, value) triples; a key already on the resource takes the new value."""
    for arn, key, value in tags:
        tx.execute("INSERT INTO events_tags (arn, tag_key, tag_value) VALUES (?, ?, ?)"
                   " ON CONFLICT (arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
                   (arn, key, value))
