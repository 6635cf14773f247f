"""Model-based adversarial generator (issue 13): hypothesis state machines over provider events.

| file | what it does |
| --- | --- |
| ``story.py`` | the model: one order's story, and what it says is owed (granted / refused / either) |
| ``machine.py`` | the ``RuleBasedStateMachine``: rules for the store, buyer, carrier, gateway, operator, scheduler, faults |
| ``providers.py`` | the gateways' side: taking the payment, refund settlements, disputes, one-shot faults |
| ``bodies.py`` | webhook bodies shaped on ``events/`` (WooCommerce, Stripe, PayPal, AfterShip) |
| ``drive.py`` | signed posts, the operator route, the watchdog, quiescence, :class:`OneShotFaults` |
| ``epilogue.py`` | "the days after": pending refunds settle, the carrier answers, the watchdog runs |
| ``ledgers.py`` | the providers' own records (localstripe, PayPal fake, store, carrier, stock counts) |
| ``checks.py`` | the invariants, each violation with its story |
| ``run.py`` | ``run_model(env, examples, steps)`` and the report (``backout model``) |
"""
