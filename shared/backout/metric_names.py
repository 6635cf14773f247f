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

# Dispatch
DELIVERIES_DISPATCHED = "DeliveriesDispatched"
DELIVERIES_PARKED = "DeliveriesParked"
