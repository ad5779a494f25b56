"""`switchboard status EMAIL`: where a customer stands, from support's admin API (search by
email, then the customer page): lifecycle, each integration's step, the latest events."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from rich.console import Group, RenderableType
from rich.table import Table

from .admin_api import AdminApi
from .errors import CliError
from .terminal import Terminal, new_table, plain, titled

#: timeline items shown, newest last (the console has them all)
TIMELINE_SHOWN: Final = 8


async def run_status(
    api: AdminApi, email: str, *, terminal: Terminal, as_json: bool = False
) -> int:
    """With `--json`, the last stdout line is `{"customers": [<customer page>, ...]}` (usually
    one; several when the address also belonged to another customer, e.g. after a change)."""
    pages = await customer_pages(api, email)
    out = terminal.tables(as_json)
    for page in pages:
        out.print(customer_view(page))
    if as_json:
        terminal.json_line({"customers": pages})
    return 0


async def customer_pages(api: AdminApi, email: str) -> list[dict[str, Any]]:
    found = await api.get("/api/customers", params={"q": email.strip()})
    customers: list[dict[str, Any]] = found.get("customers") or []
    # The search also matches earlier addresses; the customer who has it now comes first.
    wanted = email.strip().lower()
    current = [c for c in customers if str(c.get("email") or "").lower() == wanted]
    chosen = current or customers
    if not chosen:
        raise CliError("no customer with that email")
    return [
        await api.get(f"/api/customers/{quote(str(c['customer_id']), safe='')}") for c in chosen
    ]


def customer_view(page: dict[str, Any]) -> RenderableType:
    customer = page.get("customer") or {}
    return Group(
        titled(f"Customer {customer.get('customer_id')}", _customer_table(customer)),
        titled("Integrations", _integrations_table(page)),
        _timeline(page),
    )


def _customer_table(customer: dict[str, Any]) -> Table:
    table = new_table(
        "email", "lifecycle", "version", "needs support", "stripe customer", right=("version",)
    )
    table.add_row(
        plain(customer.get("email")),
        plain(customer.get("lifecycle")),
        plain(customer.get("version")),
        "yes" if customer.get("needs_support") else "no",
        plain(customer.get("stripe_customer_id")),
    )
    return table


def _integrations_table(page: dict[str, Any]) -> Table:
    table = new_table("integration", "status", "reason", "since / expected", "error", "ticket")
    integrations: dict[str, dict[str, Any]] = page.get("integrations") or {}
    for name, view in integrations.items():
        status = str(view.get("status") or "-")
        if view.get("attempts") and status in ("pending", "failed"):
            status += f" ({view['attempts']} attempts)"
        when = (
            f"expected {_time(view['expected_at'])}"
            if view.get("expected_at")
            else _time(view.get("since"))
        )
        incident = view.get("open_incident") or {}
        ticket = f"#{incident['ticket_id']}" if incident.get("ticket_id") else "-"
        table.add_row(
            plain(name),
            plain(status),
            plain(view.get("reason")),
            when,
            plain(view.get("error")),
            ticket,
        )
    return table


def _timeline(page: dict[str, Any]) -> RenderableType:
    items = sorted(
        (item for event in page.get("timeline") or [] for item in event.get("items") or []),
        key=lambda item: str(item.get("at") or "9999"),  # as the API sorts: undated last
    )
    shown = items[-TIMELINE_SHOWN:]
    earlier = len(items) - len(shown)
    table = new_table("at", "service", "outcome", "what")
    for item in shown:
        table.add_row(
            _time(item.get("at")),
            plain(item.get("service")),
            plain(item.get("outcome")),
            plain(item.get("summary")),
        )
    footer = f"{earlier} earlier in the console" if earlier else None
    return titled("Latest events", table, footer)


def _time(value: Any) -> str:
    """An ISO time to the second, UTC as the API gives it (`2025-03-01 09:00:00`)."""
    return "-" if not value else str(value)[:19].replace("T", " ")
