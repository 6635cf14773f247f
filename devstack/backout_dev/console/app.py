"""The operator's console: a small server-rendered Flask app over one OperatorTarget.

Every page reads the stack through ``target`` (backout_dev.targets.OperatorTarget) and nothing else,
so the same console works on the local stack and on a deployed one. Every POST carries a CSRF token
(Flask-WTF), the app answers only for loopback host names (``TRUSTED_HOSTS``), and pages are served with
a strict Content-Security-Policy: no scripts are needed, none are allowed.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from backout_dev.console import present
from backout_dev.targets.base import DecisionRefused, OperatorTarget, TargetError

NOTE_MAX = 500  # the decision route's own limit (functions/operator/app.py DecisionBody)
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


def create_app(target: OperatorTarget, *, trusted_hosts: list[str] | None = None) -> Flask:
    """The console for ``target``. ``trusted_hosts``: host names it answers for (default: loopback only)."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32),  # per process: sessions and CSRF tokens die with it
                      TRUSTED_HOSTS=trusted_hosts if trusted_hosts is not None else LOOPBACK_HOSTS,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict", WTF_CSRF_TIME_LIMIT=3600)
    CSRFProtect(app)
    app.jinja_env.filters.update(money=present.money, age=present.age, when=present.when)
    app.jinja_env.globals["target_name"] = target.name
    _routes(app, target)
    _errors(app)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'self'; img-src 'self'; "
                                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return app


def _errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[str, int]:
        return render_template("error.html", title="Refused", status=400,
                               message=f"The form was refused: {exc.description} Reload the page and try again."), 400

    @app.errorhandler(DecisionRefused)
    def _refused(exc: DecisionRefused) -> tuple[str, int]:
        return render_template("error.html", title="Refused", status=exc.status, message=exc.reason), exc.status

    @app.errorhandler(TargetError)
    def _target(exc: TargetError) -> tuple[str, int]:
        status = exc.status if exc.status >= 500 else 502  # 0: unreachable
        return render_template("error.html", title="The stack did not answer", status=status,
                               message=str(exc)), status


def _routes(app: Flask, target: OperatorTarget) -> None:  # noqa: C901 - one small view per page
    @app.get("/")
    def holds() -> str:
        everything = target.holds()
        channel, reason = request.args.get("channel", ""), request.args.get("reason", "")
        sort = request.args.get("sort", "age")
        descending = request.args.get("dir", "desc") != "asc"
        shown = present.sort_holds(everything, channel, reason, sort, descending)
        return render_template("holds.html", holds=shown, total=len(everything), channel=channel, reason=reason,
                               sort=sort, descending=descending,
                               channels=sorted({str(h.get("channel", "")) for h in everything}),
                               reasons=sorted({str(h.get("reason", "")) for h in everything}))

    @app.get("/find")
    def find() -> Any:
        query = request.args.get("q", "").strip()
        matches = target.find(query) if query else []
        if len(matches) == 1:
            return redirect(url_for("order", order_id=matches[0]["order_id"]))
        return render_template("find.html", query=query, matches=matches)

    @app.get("/orders/<path:order_id>")
    def order(order_id: str) -> str:
        return _order_page(target, order_id)

    @app.post("/orders/<path:order_id>/decision")
    def decide(order_id: str) -> Any:
        verb, note = request.form.get("decision", ""), request.form.get("note", "").strip()
        if verb not in ("approve", "reject"):
            abort(400, "decision must be approve or reject")
        if len(note) > NOTE_MAX:
            return _order_page(target, order_id, refusal=(400, f"the note is longer than {NOTE_MAX} characters"),
                               note=note), 400
        try:
            answer = target.decide(order_id, verb, note)
        except DecisionRefused as exc:
            return _order_page(target, order_id, refusal=(exc.status, exc.reason), note=note), exc.status
        actor = answer.get("actor")  # the identity the stack recorded; the timeline shows it in any case
        flash(f"{'Approved' if verb == 'approve' else 'Rejected'}{f' by {actor}' if actor else ''}"
              f" (request {answer.get('request_id', '')}).")
        return redirect(url_for("order", order_id=order_id), code=303)

    @app.get("/report")
    def report() -> str:
        return render_template("report.html", report=target.report())

    @app.get("/report/chart.png")
    def chart() -> Response:
        with tempfile.TemporaryDirectory(prefix="backout-console-") as tmp:
            written = Path(target.chart(str(Path(tmp) / "cancellations.png")))
            return Response(written.read_bytes(), mimetype="image/png")

    def letters_page(result: dict[str, Any] | None) -> str:
        try:  # the replay button works even when the stack cannot list its dead letters
            letters, problem = target.dead_letters(), ""
        except TargetError as exc:
            letters, problem = [], str(exc)
        return render_template("dead_letters.html", letters=letters, problem=problem, result=result)

    @app.get("/dead-letters")
    def dead_letters() -> str:
        return letters_page(None)

    @app.post("/dead-letters/replay")
    def replay() -> str:
        return letters_page(target.replay())

    @app.get("/audit")
    def audit_form() -> str:
        return render_template("audit.html", audit=None)

    @app.post("/audit")
    def audit() -> str:
        return render_template("audit.html", audit=target.audit())


def _order_page(target: OperatorTarget, order_id: str, refusal: tuple[int, str] | None = None,
                note: str = "") -> str:
    data = target.order(order_id)
    record = data.get("order") or {}
    return render_template("order.html", order_id=order_id, order=present.order_summary(record),
                           ledger=present.ledger_sections(data.get("ledger") or []),
                           stock=present.stock_lines(record, data.get("timeline") or []),
                           timeline=present.timeline_entries(data.get("timeline") or []),
                           on_hold=record.get("status") == "ON_HOLD", refusal=refusal, note=note, note_max=NOTE_MAX)
