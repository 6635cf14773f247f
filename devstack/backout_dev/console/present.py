"""What the console shows, computed from the target's JSON: money, ages, the ledger by kind, the timeline.

Pure functions, no Flask. The order record and every timeline detail pass through an allow-list
(``ORDER_FIELDS``) or a deny-list of secret-looking keys (``_SECRET_WORDS``), so a field added to the
stack later is not shown just because it exists.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from backout.money import to_decimal_string

__all__ = ["ORDER_FIELDS", "age", "ledger_sections", "money", "order_summary", "safe_detail", "sort_holds",
           "stock_lines", "timeline_entries", "when"]

#: The order record's fields the console shows (never tokens, keys, card data or provider payloads).
ORDER_FIELDS = ("order_id", "channel", "external_id", "status", "hold_reason", "currency", "total",
                "refunded_total", "gateway", "payment_ref", "shipped", "placed_at", "updated_at")

#: A detail key containing one of these words is never rendered (its value is replaced).
_SECRET_WORDS = re.compile(r"secret|token|passw|api_?key|signature|credential|card|iban|email|phone|"
                           r"^(authorization|pan|cvc|cvv|exp_month|exp_year|number)$", re.I)
HIDDEN = "(hidden)"

#: Timeline steps that start a wait (a person, a platform, a carrier, a window) rather than act.
_WAIT_STEPS = {"cooling_off_opened", "held_for_operator", "guardrail_hold", "cancel_request_queued",
               "restock_needs_a_person"}

#: Ledger kinds in the order the order page shows them, with their headings.
LEDGER_KINDS = (("authorization", "Payments (authorizations)"), ("capture", "Captures"), ("refund", "Refunds"),
                ("dispute", "Disputes"), ("parcel", "Parcels"), ("decision", "Platform decisions"),
                ("withdrawal", "Withdrawals"), ("operator", "Operator decisions"))


def money(minor: Any, currency: Any) -> str:
    """``251000, "USD"`` -> ``"2500.00 USD"``; an unknown amount -> ``"—"``."""
    if isinstance(minor, bool) or not isinstance(minor, int) or not currency:
        return "—"
    return f"{to_decimal_string(minor, str(currency))} {currency}"


def age(seconds: Any) -> str:
    """``93784`` -> ``"1d 2h"``, ``300`` -> ``"5m"``: how long something has waited, for a person."""
    if not isinstance(seconds, int) or seconds < 0:
        return "—"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


def when(iso: Any) -> str:
    """An ISO 8601 time as ``2026-12-07 23:16:35 UTC``; anything else as it is (or ``—``)."""
    if not iso:
        return "—"
    try:
        at = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    if at.year == 1970:  # a fact Backout made itself carries no provider time (the epoch)
        return "not given"
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def safe_detail(value: Any, limit: int = 300) -> Any:
    """A timeline or ledger detail with secret-looking keys hidden and long texts cut."""
    if isinstance(value, dict):
        return {str(k): HIDDEN if _SECRET_WORDS.search(str(k)) else safe_detail(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe_detail(v, limit) for v in value]
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


def order_summary(order: dict[str, Any]) -> dict[str, Any]:
    """The order record reduced to ``ORDER_FIELDS``, amounts formatted, and its lines (sku, quantity, price)."""
    out = {k: order.get(k) for k in ORDER_FIELDS if k in order}
    currency = order.get("currency")
    for key in ("total", "refunded_total"):
        if key in out:
            out[key] = money(out[key], currency)
    for key in ("placed_at", "updated_at"):
        if key in out:
            out[key] = when(out[key])
    out["lines"] = [{"sku": line.get("sku") or "(no SKU)", "quantity": line.get("quantity"),
                     "unit_price": money(line.get("unit_price"), currency), "custom": bool(line.get("custom"))}
                    for line in order.get("lines") or [] if isinstance(line, dict)]
    return out


def stock_lines(order: dict[str, Any], timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order's lines, each with what happened to its stock, read from the timeline's restock steps."""
    steps = [(str(t.get("step", "")), t.get("detail") or {}) for t in timeline]
    goods_with_buyer = any(step == "restock_skipped_goods_with_buyer" for step, _ in steps)
    raws = [r for r in order.get("lines") or [] if isinstance(r, dict)]
    out = []
    for raw, line in zip(raws, order_summary(order)["lines"]):
        mine = {step for step, d in steps if (d.get("sku") and d.get("sku") == raw.get("sku"))
                or (d.get("line_id") and d.get("line_id") == raw.get("line_id"))}
        if "stock_restored" in mine:
            stock = "restored"
        elif "restock_skipped_custom" in mine:
            stock = "not restocked: custom-made (rule 6)"
        elif "restock_needs_a_person" in mine:
            stock = "not restocked: no SKU, needs a person"
        elif goods_with_buyer:
            stock = "not restocked: the goods are with the buyer"
        else:
            stock = "not restocked (yet)"
        out.append(line | {"stock": stock})
    return out


def ledger_sections(ledger: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ledger's facts grouped by kind (only kinds present), each fact with its amount formatted."""
    sections = []
    for kind, heading in LEDGER_KINDS:
        facts = sorted((f for f in ledger if f.get("kind") == kind), key=lambda f: str(f.get("at", "")))
        if facts:
            sections.append({"kind": kind, "heading": heading, "facts": [
                {"object_id": f.get("object_id", ""), "state": f.get("state", ""), "at": when(f.get("at")),
                 "amount": money(f.get("amount"), f.get("currency")) if f.get("amount") else "—",
                 "source": f.get("source_id", ""), "payment_ref": f.get("payment_ref", ""),
                 "detail": safe_detail(f.get("detail") or {})} for f in facts]})
    return sections


def _is_wait(step: str) -> bool:
    return step in _WAIT_STEPS or step.startswith(("waiting", "awaiting")) or "_wait" in step


def timeline_entries(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each timeline step as ``{"at", "step", "kind": "step"|"wait", "source", "detail"}``, oldest first.

    ``source`` is the webhook delivery (or operator) that caused the step, when the step names one.
    """
    out = []
    for item in sorted(timeline, key=lambda t: str(t.get("at", ""))):
        detail = dict(item.get("detail") or {})
        source = detail.pop("source", None) or detail.pop("source_id", None) or (
            f"operator {detail['actor']}" if "actor" in detail else "")
        step = str(item.get("step", ""))
        out.append({"at": when(item.get("at")), "step": step, "kind": "wait" if _is_wait(step) else "step",
                    "source": str(source), "detail": safe_detail(detail)})
    return out


_SORT_KEYS = {"age": lambda h: h.get("age_seconds") or 0, "owed": lambda h: h.get("owed_minor") or 0,
              "deadline": lambda h: h.get("deadline") or "9999", "reason": lambda h: str(h.get("reason", "")),
              "channel": lambda h: str(h.get("channel", ""))}


def sort_holds(holds: list[dict[str, Any]], channel: str = "", reason: str = "", sort: str = "age",
               descending: bool = True) -> list[dict[str, Any]]:
    """Holds filtered by channel and reason (exact, empty = any) and sorted by one of ``_SORT_KEYS``."""
    kept = [h for h in holds if (not channel or h.get("channel") == channel) and (not reason or h.get("reason") == reason)]
    return sorted(kept, key=_SORT_KEYS.get(sort, _SORT_KEYS["age"]), reverse=descending)
