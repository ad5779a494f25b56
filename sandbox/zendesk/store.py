"""Zendesk Support records: tickets with their comments, requesters, and idempotency keys."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from sandbox.records import WALL_CLOCK, Clock, email_key, id_counter, iso

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")
TYPES = ("problem", "incident", "question", "task")
BASE_URL = "https://sandbox.zendesk.com/api/v2"


class Invalid(Exception):
    """A RecordInvalid: `details` maps a field to Zendesk's error entries."""

    def __init__(self, field_name: str, description: str, error: str = "InvalidValue") -> None:
        super().__init__(description)
        self.details = {field_name: [{"description": description, "error": error}]}


@dataclass
class Comment:
    id: int
    body: str
    public: bool
    author_id: int
    created_at: str


@dataclass
class Ticket:
    id: int
    subject: str
    requester_id: int
    requester_email: str
    submitter_id: int
    created_at: str
    updated_at: str
    status: str = "new"
    priority: str | None = None
    type: str | None = None
    external_id: str | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[int, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)

    @property
    def description(self) -> str:
        return self.comments[0].body if self.comments else ""


@dataclass(frozen=True)
class Remembered:
    """A created ticket's response, replayed for the same Idempotency-Key and body."""

    fingerprint: str
    expires_at: float
    status: int
    body: dict[str, Any]


def normalize_tags(tags: Any) -> list[str]:
    # Zendesk lower-cases tags and splits on spaces (a tag cannot contain one).
    words = [w.lower() for t in (tags or []) for w in str(t).split()]
    return list(dict.fromkeys(words))


class ZendeskStore:
    def __init__(self, bot_email: str, ttl_s: float, clock: Clock = WALL_CLOCK) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._ticket_ids = id_counter(1)
        self._user_ids = id_counter(9_000_001)
        self._comment_ids = id_counter(50_000_001)
        self.users: dict[str, tuple[int, str, str]] = {}
        self.tickets: dict[int, Ticket] = {}
        self.keys: dict[str, Remembered] = {}
        self.bot_id = self.user(bot_email, "Switchboard bot")

    def reset(self) -> None:
        self.tickets.clear()
        self.keys.clear()

    def user(self, email: str, name: str | None) -> int:
        """The user id for an email, creating the user when a name is given."""
        found = self.users.get(email_key(email))
        if found is not None:
            return found[0]
        if not name:
            raise Invalid("requester", "Requester: Name: is too short (minimum one character)")
        user_id = next(self._user_ids)
        self.users[email_key(email)] = (user_id, name, email.strip())
        return user_id

    # -- idempotency -----------------------------------------------------------------------
    def recall(self, key: str, fingerprint: str) -> Remembered | None:
        """The remembered response for `key`; raises ValueError if the body differs."""
        remembered = self.keys.get(key)
        if remembered is None or remembered.expires_at <= self._clock():
            self.keys.pop(key, None)
            return None
        if remembered.fingerprint != fingerprint:
            raise ValueError(key)
        return remembered

    def remember(self, key: str, fingerprint: str, status: int, body: dict[str, Any]) -> None:
        self.keys[key] = Remembered(fingerprint, self._clock() + self._ttl_s, status, body)

    # -- tickets ---------------------------------------------------------------------------
    def create(self, data: dict[str, Any]) -> Ticket:
        comment: dict[str, Any] = data["comment"] if isinstance(data.get("comment"), dict) else {}
        body = str(comment.get("body") or comment.get("html_body") or "")
        if not body.strip():
            raise Invalid("description", "Description: cannot be blank", "BlankValue")
        requester = data.get("requester") if isinstance(data.get("requester"), dict) else None
        if requester and requester.get("email"):
            requester_id = self.user(str(requester["email"]), requester.get("name"))
            requester_email = str(requester["email"]).strip()
        else:
            requester_id, requester_email = self.bot_id, self._email_of(self.bot_id)
        now = iso(self._clock())
        ticket = Ticket(
            id=next(self._ticket_ids),
            subject=str(data.get("subject") or body[:80]),
            requester_id=requester_id,
            requester_email=requester_email,
            submitter_id=self.bot_id,
            created_at=now,
            updated_at=now,
        )
        self._apply(ticket, {"status": "new", **data}, creating=True)
        ticket.comments.append(self._comment(body, comment.get("public", True)))
        self.tickets[ticket.id] = ticket
        return ticket

    def update(self, ticket: Ticket, data: dict[str, Any]) -> None:
        if ticket.status == "closed":
            raise Invalid("status", "Status: closed prevents ticket update")
        self._apply(ticket, data, creating=False)
        comment = data.get("comment")
        if isinstance(comment, dict) and (comment.get("body") or comment.get("html_body")):
            text = str(comment.get("body") or comment.get("html_body"))
            ticket.comments.append(self._comment(text, comment.get("public", True)))
        ticket.updated_at = iso(self._clock())

    def _apply(self, ticket: Ticket, data: dict[str, Any], *, creating: bool) -> None:
        for name, allowed in (("status", STATUSES), ("priority", PRIORITIES), ("type", TYPES)):
            if name in data and data[name] is not None and data[name] not in allowed:
                raise Invalid(name, f"{name.capitalize()}: {data[name]} is not valid")
        if data.get("status"):
            ticket.status = data["status"]
        for name in ("priority", "type", "external_id", "subject"):
            if name in data and (data[name] is not None or not creating):
                setattr(ticket, name, data[name])
        if "tags" in data:
            ticket.tags = normalize_tags(data["tags"])
        if not creating:
            ticket.tags = normalize_tags([*ticket.tags, *(data.get("additional_tags") or [])])
            removed = set(normalize_tags(data.get("remove_tags")))
            ticket.tags = [t for t in ticket.tags if t not in removed]
        for entry in data.get("custom_fields") or []:
            if isinstance(entry, dict) and "id" in entry:
                ticket.custom_fields[int(entry["id"])] = entry.get("value")

    def _comment(self, body: str, public: Any) -> Comment:
        return Comment(next(self._comment_ids), body, bool(public), self.bot_id, iso(self._clock()))

    def _email_of(self, user_id: int) -> str:
        return next(email for uid, _, email in self.users.values() if uid == user_id)

    def search(self, query: str) -> list[Ticket]:
        """Enough of Zendesk's search syntax to find tickets by field or by words."""
        try:
            terms = shlex.split(query)
        except ValueError:
            terms = query.split()
        found = list(self.tickets.values())
        for term in terms:
            name, sep, value = term.partition(":")
            if not sep:
                found = [t for t in found if term.lower() in f"{t.subject} {t.description}".lower()]
            elif name == "type":
                found = found if value == "ticket" else []
            elif name == "external_id":
                found = [t for t in found if t.external_id == value]
            elif name == "status":
                found = [t for t in found if t.status == value]
            elif name in ("tags", "tag"):
                found = [t for t in found if value.lower() in t.tags]
            elif name == "requester":
                found = [t for t in found if email_key(t.requester_email) == email_key(value)]
        return found

    # -- JSON ------------------------------------------------------------------------------
    def ticket_json(self, ticket: Ticket) -> dict[str, Any]:
        custom_fields = [{"id": k, "value": v} for k, v in ticket.custom_fields.items()]
        return {
            "url": f"{BASE_URL}/tickets/{ticket.id}.json",
            "id": ticket.id,
            "external_id": ticket.external_id,
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": ticket.created_at,
            "updated_at": ticket.updated_at,
            "type": ticket.type,
            "subject": ticket.subject,
            "raw_subject": ticket.subject,
            "description": ticket.description,
            "priority": ticket.priority,
            "status": ticket.status,
            "requester_id": ticket.requester_id,
            "submitter_id": ticket.submitter_id,
            "assignee_id": None,
            "organization_id": None,
            "group_id": None,
            "is_public": bool(ticket.comments and ticket.comments[0].public),
            "tags": list(ticket.tags),
            "custom_fields": custom_fields,
            "fields": custom_fields,
        }

    @staticmethod
    def comment_json(comment: Comment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "type": "Comment",
            "author_id": comment.author_id,
            "body": comment.body,
            "plain_body": comment.body,
            "public": comment.public,
            "created_at": comment.created_at,
        }

    def audit_json(self, ticket: Ticket) -> dict[str, Any]:
        last = ticket.comments[-1]
        return {
            "id": next(self._comment_ids),
            "ticket_id": ticket.id,
            "created_at": ticket.updated_at,
            "author_id": self.bot_id,
            "events": [self.comment_json(last)],
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "tickets": [
                {
                    "id": t.id,
                    "subject": t.subject,
                    "description": t.description,
                    "requester_email": t.requester_email,
                    "tags": list(t.tags),
                    "external_id": t.external_id,
                    "status": t.status,
                    "priority": t.priority,
                    "comments": [{"body": c.body, "public": c.public} for c in t.comments],
                }
                for t in self.tickets.values()
            ]
        }
