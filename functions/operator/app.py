"""Operator API (IAM auth): the hold queue, finding an order, its timeline; approve or reject a held cancellation."""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError, ServiceError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, ValidationError

from backout.errors import IllegalTransition, OrderNotFound
from backout.operator import DecisionConflict, decide
from backout.ops.find import find_orders
from backout.ops.holds import list_holds
from backout.ops.logs import saga_logger
from backout.repo.orders import OrdersRepository

logger = saga_logger()
tracer = Tracer()
app = APIGatewayHttpResolver()


class DecisionBody(BaseModel):
    """What the operator sends."""

    decision: Literal["approve", "reject"]
    note: str = Field(default="", max_length=500)


def _actor() -> str:
    ctx = app.current_event.request_context
    iam = (ctx.raw_event.get("authorizer") or {}).get("iam") or {}
    return str(iam.get("userArn") or iam.get("userId") or "local-operator")


@app.get("/operator/holds")
def holds() -> dict[str, Any]:
    """Every order waiting for a person, oldest first."""
    return _json_safe({"holds": list_holds(OrdersRepository())})


@app.get("/operator/find")
def find() -> dict[str, Any]:
    """Orders matching a platform order number, payment id, refund id or tracking number."""
    query = app.current_event.get_query_string_value("q", "") or ""
    if not query.strip():
        raise BadRequestError("q is required: a platform order number, payment id, refund id or tracking number")
    return {"matches": find_orders(query, OrdersRepository())}


@app.get("/operator/orders/<order_id>/timeline")
def timeline(order_id: str) -> dict[str, Any]:
    """The order record and every step on its timeline."""
    repo = OrdersRepository()
    order = repo.get_order(order_id)
    if order is None:
        raise NotFoundError(f"unknown order {order_id}")
    facts = [f.model_dump(mode="json") for f in repo.ledger(order_id).facts.values()]
    return _json_safe({"order": order, "ledger": facts, "timeline": repo.timeline(order_id)})


def _json_safe(value: Any) -> Any:
    """DynamoDB sets (a string set in the record) as sorted lists: everything this API returns is JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_json_safe(v) for v in value)
    return value


@app.post("/operator/orders/<order_id>/decision")
def decision(order_id: str) -> dict[str, Any]:
    """Approve or reject a held cancellation."""
    try:
        body = DecisionBody.model_validate(app.current_event.json_body or {})
    except (ValidationError, ValueError) as exc:
        raise BadRequestError(f"body must be {{'decision': 'approve'|'reject', 'note': str}}: {exc}") from exc
    try:
        return decide(order_id, body.decision, _actor(), body.note, OrdersRepository())
    except OrderNotFound as exc:
        raise NotFoundError(str(exc)) from exc
    except (DecisionConflict, IllegalTransition) as exc:
        raise ServiceError(409, str(exc)) from exc


@logger.inject_lambda_context(correlation_id_path="pathParameters.order_id")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """HTTP API (v2) handler."""
    return app.resolve(event, context)
