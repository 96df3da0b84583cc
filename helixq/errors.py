"""Errors of the console script.

BrokerError (shared.errors)
├── StackError      the local stack could not start or lost a process
│   ├── ChildExited a supervised process ended while it should have been running
│   └── NotReady    a started process did not become ready in time
├── ApiError        the API answered with an error (its envelope's message)
└── ApiUnreachable  no answer from the API at all: wrong URL, not running
"""

from shared.errors import BrokerError


class StackError(BrokerError):
    code = "stack_failed"


class ChildExited(StackError):
    code = "process_exited"


class NotReady(StackError):
    code = "process_not_ready"


class ApiError(BrokerError):
    code = "api_error"

    def __init__(self, message: str, *, status: int, error_code: str) -> None:
        super().__init__(message, details={"status": status, "code": error_code})
        self.status = status
        self.error_code = error_code


class ApiUnreachable(BrokerError):
    code = "api_unreachable"


class RequestsFailed(BrokerError):
    """`submit --wait --fail-on-error`: the batch ended with unsuccessful items."""

    code = "requests_failed"
