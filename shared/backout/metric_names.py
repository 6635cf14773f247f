"""The metric names Backout emits (namespace ``Backout``, EMF through Powertools Metrics).

One list shared by the code that emits, the template's alarms and dashboard, and the
test that checks the two agree. Add a name here before emitting it.
"""

from __future__ import annotations

NAMESPACE = "Backout"

# Ingress (dimension: provider)
WEBHOOKS_RECEIVED = "WebhooksReceived"
WEBHOOKS_REJECTED = "WebhooksRejected"
WEBHOOKS_DUPLICATE = "WebhooksDuplicate"
WEBHOOKS_IGNORED = "WebhooksIgnored"
WEBHOOKS_FAILED = "WebhooksFailed"  # answered 5xx (our fault; the provider retries)

# Dispatch
DELIVERIES_DISPATCHED = "DeliveriesDispatched"
DELIVERIES_PARKED = "DeliveriesParked"

# Orders and cancellations (dimensions: channel; Cancellations also initiator)
ORDERS_PLACED = "OrdersPlaced"
CANCELLATIONS = "Cancellations"

# Saga (SagaOutcomes dimension: outcome; SagaDuration in seconds from the request to the end)
SAGA_OUTCOMES = "SagaOutcomes"
SAGA_DURATION = "SagaDuration"
OPERATOR_HOLDS = "OperatorHolds"  # dimension: reason (the error that stopped the saga, or "guardrail")
GUARDRAIL_HOLDS = "GuardrailHolds"  # dimension: guardrail

# Money and stock (PaymentsSettled dimension: outcome; Refunds and RefundedAmount dimension: currency)
PAYMENTS_SETTLED = "PaymentsSettled"
REFUNDS = "Refunds"
REFUNDED_AMOUNT = "RefundedAmount"  # minor units of the dimension's currency
RESTOCKED_UNITS = "RestockedUnits"
RESTOCK_SKIPPED_UNITS = "RestockSkippedUnits"

# Guardrails (scheduled; CancellationRate dimension: guardrail = a name in backout.ops.rates.GUARDRAILS)
CANCELLATION_RATE = "CancellationRate"  # percent over the guardrail's window
CANCELLATION_RATE_THRESHOLD = "CancellationRateThreshold"  # percent
WEEKLY_CANCELLATIONS = "WeeklyCancellations"  # this ISO week so far
WEEKLY_CANCELLATIONS_LIMIT = "WeeklyCancellationsLimit"  # trailing mean + 20 %
WEEKLY_CANCELLATIONS_EXCEEDED = "WeeklyCancellationsExceeded"  # 1 when above the limit, else 0

# Inventory audit (scheduled)
INVENTORY_ERROR_RATE = "InventoryErrorRate"  # percent of audited SKUs that differ
INVENTORY_SKUS_AUDITED = "InventorySkusAudited"
INVENTORY_SKUS_DIFFERING = "InventorySkusDiffering"

# Dead letters re-driven by `backout replay` (dimension: queue)
DEAD_LETTERS_REPLAYED = "DeadLettersReplayed"

#: Dimension values of CancellationRate (kept here so the template's alarms can be checked without importing ops).
GUARDRAIL_NAMES = ("PayPal3Month", "OzonSellerInitiated")

# Watchdog (scheduled): long waits heartbeated, and waits resumed because their webhook was lost
WAITS_HEARTBEATED = "WaitsHeartbeated"
WAITS_RESUMED_BY_WATCHDOG = "WaitsResumedByWatchdog"
WATCHDOG_WAIT_FAILURES = "WatchdogWaitFailures"  # waits (or executions) whose check raised this pass; alarmed
OPERATOR_HOLDS_OPEN = "OperatorHoldsOpen"  # orders waiting for a person at the pass
OLDEST_HOLD_AGE = "OldestHoldAgeSeconds"  # age of the oldest of them (0 when none); alarmed against OperatorQueueMaxAgeSeconds
