"""The console's pages with Flask's test client over an in-memory OperatorTarget (no AWS, no browser)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from backout_dev.console import create_app
from tests.console.fake_target import PNG, SECRETS, FakeTarget


@pytest.fixture()
def target() -> FakeTarget:
    return FakeTarget()


@pytest.fixture()
def client(target: FakeTarget) -> Any:
    return create_app(target).test_client()


def csrf(client: Any, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def rows(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/orders/([^"]+)"', page)


def test_the_queue_lists_held_orders_with_reason_age_owed_and_deadline(client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    assert rows(page) == ["ozon:77", "woocommerce:1"]  # default: longest waiting first
    assert "2510.00 USD" in page and "150000 JPY" in page  # minor units in the currency's own exponent
    assert "1d 3h" in page and "2h 1m" in page
    assert "2026-12-20 00:00:00 UTC" in page and "dispute_evidence_due" in page
    assert '<th scope="col">' in page and "<main" in page and "<nav" in page and '<label for="channel">' in page


def test_the_queue_sorts_and_filters_with_plain_query_parameters(client: Any) -> None:
    assert rows(client.get("/?sort=owed&dir=asc").get_data(as_text=True)) == ["ozon:77", "woocommerce:1"]
    page = client.get("/?sort=owed&dir=desc").get_data(as_text=True)
    assert rows(page) == ["woocommerce:1", "ozon:77"] and 'class="num" aria-sort="descending"' in page
    assert rows(client.get("/?sort=age&dir=asc").get_data(as_text=True)) == ["woocommerce:1", "ozon:77"]
    assert rows(client.get("/?channel=ozon").get_data(as_text=True)) == ["ozon:77"]
    assert rows(client.get("/?reason=OperatorRequired").get_data(as_text=True)) == ["woocommerce:1"]
    page = client.get("/?channel=ozon&reason=OperatorRequired").get_data(as_text=True)
    assert rows(page) == [] and "with these filters" in page


def test_the_order_page_shows_the_ledger_and_the_timeline_as_steps_and_waits(client: Any) -> None:
    resp = client.get("/orders/woocommerce:1")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<caption>Captures</caption>" in page and "<caption>Disputes</caption>" in page
    assert re.search(r"<caption>Stock</caption>.*MUG-1.*not restocked \(yet\)", page, re.S)
    assert "2510.00 USD" in page  # the capture's amount and the order total
    assert re.search(r'<li class="step">.*?order_recorded.*?from woocommerce:1:order.created', page, re.S)
    assert re.search(r'<li class="wait">.*?held_for_operator', page, re.S)
    assert "2026-12-07 10:00:02 UTC" in page


def test_no_page_shows_a_secret_or_card_data(client: Any, target: FakeTarget) -> None:
    token = csrf(client, "/orders/woocommerce:1")
    pages = [client.get(p).get_data(as_text=True) for p in
             ("/", "/orders/woocommerce:1", "/orders/ozon:77", "/report", "/dead-letters", "/audit", "/find?q=pi_TEST1")]
    pages.append(client.post("/orders/woocommerce:1/decision", data={"decision": "approve", "csrf_token": token},
                             follow_redirects=True).get_data(as_text=True))
    for page in pages:
        for secret in SECRETS:
            assert secret not in page
    assert "(hidden)" in pages[1]  # the planted keys were there, and replaced


def test_approve_with_a_note_is_a_csrf_protected_post_and_shows_who_decided(client: Any, target: FakeTarget) -> None:
    token = csrf(client, "/orders/woocommerce:1")
    resp = client.post("/orders/woocommerce:1/decision",
                       data={"decision": "approve", "note": "refund approved by phone", "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == "/orders/woocommerce:1"
    assert ("decide", ("woocommerce:1", "approve", "refund approved by phone")) in target.calls
    page = client.get("/orders/woocommerce:1").get_data(as_text=True)
    assert "Approved by arn:aws:iam::1:user/ops" in page and "CANCELLED" in page


def test_a_post_without_its_csrf_token_is_refused_and_decides_nothing(client: Any, target: FakeTarget) -> None:
    for path, data in (("/orders/woocommerce:1/decision", {"decision": "approve"}), ("/dead-letters/replay", {}),
                       ("/audit", {})):
        resp = client.post(path, data=data)
        assert resp.status_code == 400 and "The form was refused" in resp.get_data(as_text=True)
        resp = client.post(path, data={**data, "csrf_token": "forged"})
        assert resp.status_code == 400
    assert [c for c, _ in target.calls if c in ("decide", "replay", "audit")] == []


def test_a_second_approval_shows_the_409_plainly(client: Any) -> None:
    token = csrf(client, "/orders/woocommerce:1")
    client.post("/orders/woocommerce:1/decision", data={"decision": "approve", "csrf_token": token})
    resp = client.post("/orders/woocommerce:1/decision", data={"decision": "approve", "note": "again",
                                                               "csrf_token": token})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert 'role="alert"><strong>Refused (HTTP 409):</strong> order woocommerce:1 is CANCELLED, not on hold' in page
    assert ">again</textarea>" in page  # the operator's note is kept on the page


def test_a_bad_verb_or_a_long_note_is_refused_before_the_target_is_asked(client: Any, target: FakeTarget) -> None:
    token = csrf(client, "/orders/woocommerce:1")
    assert client.post("/orders/woocommerce:1/decision", data={"decision": "refund", "csrf_token": token}).status_code == 400
    resp = client.post("/orders/woocommerce:1/decision", data={"decision": "reject", "note": "x" * 501, "csrf_token": token})
    assert resp.status_code == 400 and "longer than 500" in resp.get_data(as_text=True)
    assert not [c for c in target.calls if c[0] == "decide"]


def test_an_unknown_order_is_a_404_page(client: Any) -> None:
    resp = client.get("/orders/woocommerce:404")
    assert resp.status_code == 404 and "unknown order woocommerce:404" in resp.get_data(as_text=True)


def test_find_goes_straight_to_a_single_match(client: Any) -> None:
    resp = client.get("/find?q=ozon:77")
    assert resp.status_code == 302 and resp.headers["Location"] == "/orders/ozon:77"
    assert "No order matches" in client.get("/find?q=nothing").get_data(as_text=True)


def test_the_report_shows_the_guardrails_the_week_and_the_chart(client: Any, target: FakeTarget) -> None:
    page = client.get("/report").get_data(as_text=True)
    assert "PayPal3Month" in page and "16.00 %" in page and "breached" in page and "no orders" in page
    assert "9 cancellations" in page and "Above the limit" in page and "2026-11-30" in page
    assert '<img src="/report/chart.png" alt="' in page
    resp = client.get("/report/chart.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png" and resp.data == PNG
    [(_, path)] = [c for c in target.calls if c[0] == "chart"]
    assert not __import__("os").path.exists(path)  # the temp file is gone after serving


def test_dead_letters_are_listed_and_replayed(client: Any, target: FakeTarget) -> None:
    page = client.get("/dead-letters").get_data(as_text=True)
    assert "m-1" in page and "DispatchDeadLetterQueue" in page and "1h 6m" in page
    resp = client.post("/dead-letters/replay", data={"csrf_token": csrf(client, "/dead-letters")})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "1 re-driven, 0 left on their queue" in page and "No dead letters." in page


def test_the_audit_runs_on_a_post_and_lists_its_findings(client: Any, target: FakeTarget) -> None:
    assert "MUG-9" not in client.get("/audit").get_data(as_text=True)
    assert ("audit", None) not in target.calls  # a GET runs nothing
    page = client.post("/audit", data={"csrf_token": csrf(client, "/audit")}).get_data(as_text=True)
    assert "40 SKUs audited, 1 differ" in page and "MUG-9" in page and "ledger says 5" in page
    assert "over the 0.5 % threshold" in page


def test_a_target_error_is_shown_not_raised_and_foreign_hosts_are_refused(target: FakeTarget) -> None:
    from backout_dev.targets.base import TargetError

    def down() -> list[Any]:
        raise TargetError(0, "http://127.0.0.1:1 unreachable: refused")

    target.holds = down  # type: ignore[method-assign]
    client = create_app(target).test_client()
    resp = client.get("/")
    assert resp.status_code == 502 and "unreachable: refused" in resp.get_data(as_text=True)
    assert client.get("/report", headers={"Host": "evil.example"}).status_code == 400
    headers = client.get("/report").headers
    assert "default-src 'none'" in headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"


def test_times_read_as_utc_and_the_epoch_reads_as_not_given() -> None:
    from backout_dev.console.present import age, money, when

    assert when("2026-12-07T23:16:35.301945+00:00") == "2026-12-07 23:16:35 UTC"
    assert when("2026-12-08T01:16:35+02:00") == "2026-12-07 23:16:35 UTC"
    assert when("1970-01-01T00:00:00Z") == "not given" and when(None) == "—"
    assert money(12345, "KWD") == "12.345 KWD" and money(500, "JPY") == "500 JPY" and money(None, "USD") == "—"
    assert age(59) == "59s" and age(3600) == "1h 0m" and age(-1) == "—"


def test_each_line_says_what_happened_to_its_stock() -> None:
    from backout_dev.console.present import stock_lines

    order = {"currency": "USD", "lines": [{"line_id": "1", "sku": "A", "quantity": 1, "unit_price": 100},
                                          {"line_id": "2", "sku": "B", "quantity": 1, "unit_price": 100, "custom": True},
                                          {"line_id": "3", "sku": "", "quantity": 2, "unit_price": 100}]}
    timeline = [{"step": "stock_restored", "detail": {"sku": "A", "quantity": 1}},
                {"step": "restock_skipped_custom", "detail": {"sku": "B", "quantity": 1}},
                {"step": "restock_needs_a_person", "detail": {"line_id": "3", "quantity": 2}}]
    assert [line["stock"] for line in stock_lines(order, timeline)] == [
        "restored", "not restocked: custom-made (rule 6)", "not restocked: no SKU, needs a person"]
    gone = [{"step": "restock_skipped_goods_with_buyer", "detail": {"units": 4}}]
    assert {line["stock"] for line in stock_lines(order, gone)} == {"not restocked: the goods are with the buyer"}
