"""Financial postings for goods movements: a double-entry journal with stock valuation.

Pure domain code (standard library only). Post a `Movement` to a `Ledger`; every movement
yields at most one balanced `JournalEntry`, exactly once per event id, and the inventory
account always equals the sum of the valuation layers.
"""

from central.domain.accounting.accounts import (
    DEFAULT_ACCOUNTS,
    Account,
    AccountRole,
    AccountType,
    ChartOfAccounts,
)
from central.domain.accounting.errors import (
    AccountingError,
    ChartOfAccountsError,
    DocumentReversed,
    IdempotencyConflict,
    InvalidMovement,
    MissingUnitCost,
    NegativeStockRefused,
    QuantityExceedsDocument,
    ReferenceMismatch,
    ReferenceNotFound,
    ReversalNotAllowed,
    StaleRevaluation,
    UnknownCurrency,
)
from central.domain.accounting.export import beancount_account, to_beancount, to_csv
from central.domain.accounting.journal import (
    AccountingPeriod,
    EntryKind,
    JournalEntry,
    JournalLine,
    entry_id_for,
)
from central.domain.accounting.ledger import (
    InvariantViolation,
    Ledger,
    LedgerConfig,
    SiteConfig,
    TrialBalanceRow,
    replay,
)
from central.domain.accounting.money import (
    ROUNDING,
    UNIT_COST_PLACES,
    Money,
    minor_unit,
    quantize_money,
    quantize_unit_cost,
)
from central.domain.accounting.movements import Movement, MovementType
from central.domain.accounting.rules import (
    RULES_V1,
    PostingRule,
    PriceUse,
    RuleSet,
    StockEffect,
    ValuationBasis,
)
from central.domain.accounting.store import (
    Changeset,
    DocumentRecord,
    InMemoryLedgerStore,
    LedgerStore,
    PostedEvent,
    PostingResult,
)
from central.domain.accounting.valuation import (
    ItemValuation,
    NegativeStockPolicy,
    ValuationLayer,
    ValuationMethod,
)

__all__ = [
    "DEFAULT_ACCOUNTS",
    "ROUNDING",
    "RULES_V1",
    "UNIT_COST_PLACES",
    "Account",
    "AccountRole",
    "AccountType",
    "AccountingError",
    "AccountingPeriod",
    "Changeset",
    "ChartOfAccounts",
    "ChartOfAccountsError",
    "DocumentRecord",
    "DocumentReversed",
    "EntryKind",
    "IdempotencyConflict",
    "InMemoryLedgerStore",
    "InvalidMovement",
    "InvariantViolation",
    "ItemValuation",
    "JournalEntry",
    "JournalLine",
    "Ledger",
    "LedgerConfig",
    "LedgerStore",
    "MissingUnitCost",
    "Money",
    "Movement",
    "MovementType",
    "NegativeStockPolicy",
    "NegativeStockRefused",
    "PostedEvent",
    "PostingResult",
    "PostingRule",
    "PriceUse",
    "QuantityExceedsDocument",
    "ReferenceMismatch",
    "ReferenceNotFound",
    "ReversalNotAllowed",
    "RuleSet",
    "SiteConfig",
    "StaleRevaluation",
    "StockEffect",
    "TrialBalanceRow",
    "UnknownCurrency",
    "ValuationBasis",
    "ValuationLayer",
    "ValuationMethod",
    "beancount_account",
    "entry_id_for",
    "minor_unit",
    "quantize_money",
    "quantize_unit_cost",
    "replay",
    "to_beancount",
    "to_csv",
]
