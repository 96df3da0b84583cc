"""Errors of the console script.

BrokerError (shared.errors)
└── StackError      the local stack could not start or lost a process
"""

from shared.errors import BrokerError


class StackError(BrokerError):
    code = "stack_failed"
