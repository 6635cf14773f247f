"""Small helpers the local-stack scenario tests share: wait for a condition, read an order's status and steps."""

from __future__ import annotations

import time
from typing import Callable

from backout.repo.orders import OrdersRepository


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``check`` until it holds; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError("condition not reached")


def steps(order_id: str) -> list[str]:
    """The order's timeline steps, oldest first."""
    return [s["step"] for s in OrdersRepository().timeline(order_id)]


def status(order_id: str) -> str:
    """The order's status ("None" when the order is not recorded yet)."""
    return str((OrdersRepository().get_order(order_id) or {}).get("status"))
