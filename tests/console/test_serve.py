"""Serving the console: waitress on the loopback interface, and `backout console`'s refusal without a stack."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

from backout_dev.console import start_console
from tests.console.fake_target import FakeTarget


def test_the_console_is_served_on_loopback_only() -> None:
    console = start_console(FakeTarget())
    try:
        assert console.url.startswith("http://127.0.0.1:")
        assert console.server.adj.listen[0][-1][0] == "127.0.0.1"  # waitress's bound address
        with urllib.request.urlopen(console.url + "/report", timeout=10) as resp:  # noqa: S310 - loopback
            assert resp.status == 200 and b"PayPal3Month" in resp.read()
    finally:
        console.stop()


def test_backout_console_without_a_running_stack_says_so(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    import backout_dev.env
    from backout_dev.cli import main

    monkeypatch.setattr(backout_dev.env, "ENDPOINT_FILE", tmp_path / "endpoint")  # no `backout serve` running
    assert main(["console", "--port", "0"]) == 1
    assert "no running `backout serve` found" in capsys.readouterr().err
