"""Errors raised when a message does not fit the contract.

ContractError
 └── UnknownEventType
"""


class ContractError(ValueError):
    """A message does not follow the wire contract (bad JSON, missing field, wrong type)."""


class UnknownEventType(ContractError):
    """The envelope names an event type this version of the contract does not know."""
