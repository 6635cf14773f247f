"""The operator's web console (issue 16): Flask pages over one OperatorTarget, served by waitress on localhost.

    from backout_dev.console import create_app, start_console
    app = create_app(target)                    # a Flask app; target: backout_dev.targets.OperatorTarget
    console = start_console(target, port=0)     # waitress on 127.0.0.1 in a thread; console.url, console.stop()
"""

from backout_dev.console.app import create_app
from backout_dev.console.serve import Console, serve_forever, start_console

__all__ = ["Console", "create_app", "serve_forever", "start_console"]
