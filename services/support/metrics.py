"""Support's metrics. Labels are low-cardinality: never an id or an email."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from .incidents import Effect, Outcome


class SupportMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.failures = Counter(
            "switchboard_support_failures_total",
            "Failure messages taken in, by integration and what they did to the incident "
            "(opened, commented, duplicate, superseded).",
            ["integration", "outcome"],
            registry=registry,
        )
        self.tickets_created = Counter(
            "switchboard_support_tickets_created_total",
            "Zendesk tickets created, by integration (found existing ones are not counted).",
            ["integration"],
            registry=registry,
        )
        self.ticket_comments = Counter(
            "switchboard_support_ticket_comments_total",
            "Comments added to incident tickets, by integration.",
            ["integration"],
            registry=registry,
        )
        self.tickets_solved = Counter(
            "switchboard_support_tickets_solved_total",
            "Incident tickets solved after a later success, by integration.",
            ["integration"],
            registry=registry,
        )
        self.zendesk_errors = Counter(
            "switchboard_support_zendesk_errors_total",
            "Zendesk calls that failed, by operation and kind (transient, permanent, auth).",
            ["operation", "kind"],
            registry=registry,
        )
        self.incidents_open = Gauge(
            "switchboard_support_incidents_open",
            "Incidents open now, across all integrations.",
            registry=registry,
        )
        self.incidents_resolved = Counter(
            "switchboard_support_incidents_resolved_total",
            "Incidents resolved by a later success, by integration.",
            ["integration"],
            registry=registry,
        )
        self.replays = Counter(
            "switchboard_support_replays_total",
            "Failed steps queued for replay, by integration and scope (one, window).",
            ["integration", "scope"],
            registry=registry,
        )
        self.messages = Counter(
            "switchboard_support_messages_total",
            "Messages consumed, by topic kind (failure, result) and outcome (ok, unreadable, "
            "handed_back).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.console_logins = Counter(
            "switchboard_support_console_logins_total",
            "Console login attempts, by outcome (ok, rejected).",
            ["outcome"],
            registry=registry,
        )

    def start_at_zero(self, integrations: tuple[str, ...] | list[str]) -> None:
        """Every series with known label values exists from the start at 0, so the first ticket
        or failure after a start is an increase that alerts can see."""
        for name in integrations:
            for outcome in Outcome:
                self.failures.labels(name, outcome.value)
            for counter in (
                self.tickets_created,
                self.ticket_comments,
                self.tickets_solved,
                self.incidents_resolved,
            ):
                counter.labels(name)
            for scope in ("one", "window"):
                self.replays.labels(name, scope)
        for effect in Effect:
            for kind in ("transient", "permanent", "auth"):
                self.zendesk_errors.labels(effect.value, kind)
