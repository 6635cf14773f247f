"""Serving the console with waitress, on the loopback interface only.

``serve_forever`` is what `backout console` runs in the foreground; ``start_console`` runs it on a
background thread next to a LocalEnvironment (`backout serve`, `backout demo`, the browser tests).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from waitress.server import create_server

from backout_dev.console.app import create_app
from backout_dev.targets.base import OperatorTarget

HOST = "127.0.0.1"  # never another interface: the console has no login of its own


@dataclass
class Console:
    """A console served on a background thread."""

    url: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        """Close the listening socket and let the thread end."""
        self.server.close()
        self.thread.join(timeout=5)


def _server(target: OperatorTarget, port: int) -> Any:
    return create_server(create_app(target), host=HOST, port=port, threads=4, ident="backout-console")


def start_console(target: OperatorTarget, port: int = 0) -> Console:
    """Serve the console for ``target`` on 127.0.0.1:``port`` (0: any free port) in a daemon thread."""
    server = _server(target, port)
    thread = threading.Thread(target=server.run, name="backout-console", daemon=True)
    thread.start()
    return Console(url=f"http://{HOST}:{server.effective_port}", server=server, thread=thread)


def serve_forever(target: OperatorTarget, port: int, announce: Any = print) -> None:
    """Serve the console in the foreground until interrupted."""
    server = _server(target, port)
    announce(f"Backout console for {target.name} on http://{HOST}:{server.effective_port}  (Ctrl-C to stop)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
