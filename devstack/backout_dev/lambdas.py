"""Run the real Lambda handlers in-process behind moto's Lambda service.

moto keeps Lambda's semantics (unknown functions, FunctionError, the error
name Step Functions sees); only the container is replaced by a call of the
handler in this process. ``LambdaFunction._invoke_lambda`` is the seam.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from moto.awslambda.models import LambdaFunction

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The parts of the Lambda context object handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        """Plenty: local handlers are not cut off."""
        return 300_000


@dataclass
class Invocation:
    """One recorded invocation (for tests and the demo's accounting)."""

    function: str
    event: Any
    errored: bool
    error_type: str | None


class InProcessLambdas:
    """Registry of handlers by function name, plugged into moto."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()
        self._original: Any = None
        #: Hooks run before a handler; a test may raise from one to simulate a crash.
        self.before: list[Callable[[str, Any], None]] = []
        #: Hooks run after a handler returned (its effects done); raising from one loses the response.
        self.after: list[Callable[[str, Any, Any], None]] = []

    def load(self, function_name: str, code_dir: Path, handler: str) -> None:
        """Import ``code_dir/<module>.py`` under a unique name and register its handler."""
        module_name, attr = handler.rsplit(".", 1)
        unique = f"backout_fn_{function_name}"
        spec = importlib.util.spec_from_file_location(unique, code_dir / f"{module_name}.py")
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {code_dir}/{module_name}.py")
        module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
        self.handlers[function_name] = getattr(module, attr)

    def invoke(self, function_name: str, arn: str, event: Any) -> tuple[str, bool, str]:
        """Call the handler; return moto's (payload, errored, logs) triple."""
        handler = self.handlers.get(function_name)
        if handler is None:
            return json.dumps({"errorType": "ResourceNotFoundException", "errorMessage": function_name}), True, ""
        payload = json.loads(event) if isinstance(event, (str, bytes)) and event else (event or {})
        try:
            for hook in list(self.before):
                hook(function_name, payload)
            result = handler(payload, LambdaContext(function_name, arn))
            for after in list(self.after):
                after(function_name, payload, result)
        except Exception as exc:  # the Lambda runtime reports any exception as a function error
            self._record(function_name, payload, True, type(exc).__name__)
            body = {"errorType": type(exc).__name__, "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc)[-3:]}
            return json.dumps(body), True, ""
        self._record(function_name, payload, False, None)
        return json.dumps(result), False, ""

    def _record(self, fn: str, event: Any, errored: bool, error_type: str | None) -> None:
        with self._lock:
            self.invocations.append(Invocation(fn, event, errored, error_type))

    def install(self) -> None:
        """Route moto's Lambda invocations to the registered handlers."""
        registry = self
        self._original = LambdaFunction._invoke_lambda

        def _invoke_lambda(fn: LambdaFunction, event: str | None = None) -> tuple[str, bool, str]:
            return registry.invoke(fn.function_name, fn.function_arn, event)

        LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]

    def uninstall(self) -> None:
        """Put moto's own invocation back."""
        if self._original is not None:
            LambdaFunction._invoke_lambda = self._original  # type: ignore[method-assign]
            self._original = None
