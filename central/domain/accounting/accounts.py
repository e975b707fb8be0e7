"""Chart of accounts: the roles postings use, default accounts, per-site overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from central.domain.accounting.errors import ChartOfAccountsError


class AccountType(StrEnum):
    """Where an account sits in the balance sheet or P&L (also the beancount root)."""

    ASSET = "Assets"
    LIABILITY = "Liabilities"
    EQUITY = "Equity"
    INCOME = "Income"
    EXPENSE = "Expenses"


class AccountRole(StrEnum):
    """What a posting rule means by an account; the chart maps each role to a real account."""

    INVENTORY = "inventory"
    STOCK_IN_TRANSIT = "stock_in_transit"
    GR_IR_CLEARING = "gr_ir_clearing"
    ACCOUNTS_PAYABLE = "accounts_payable"
    OPENING_BALANCE = "opening_balance_clearing"
    COGS = "cogs"
    CONSUMPTION = "consumption"
    SCRAP = "scrap_expense"
    INVENTORY_GAIN = "inventory_difference_gain"
    INVENTORY_LOSS = "inventory_difference_loss"
    PRICE_DIFFERENCE = "price_differences"
    REVALUATION = "revaluation"
    ROUNDING = "rounding"


@dataclass(frozen=True)
class Account:
    """A ledger account, e.g. Account("1400", "Inventory", AccountType.ASSET)."""

    code: str
    name: str
    type: AccountType

    def __post_init__(self) -> None:
        if not self.code or not self.code.isalnum():
            raise ChartOfAccountsError(f"account code {self.code!r} must be letters/digits only")
        if not self.name.strip():
            raise ChartOfAccountsError(f"account {self.code} needs a name")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


DEFAULT_ACCOUNTS: Mapping[AccountRole, Account] = {
    AccountRole.INVENTORY: Account("1400", "Inventory", AccountType.ASSET),
    AccountRole.STOCK_IN_TRANSIT: Account("1450", "Stock in transit", AccountType.ASSET),
    AccountRole.ACCOUNTS_PAYABLE: Account("2000", "Accounts payable", AccountType.LIABILITY),
    AccountRole.GR_IR_CLEARING: Account("2150", "GR/IR clearing", AccountType.LIABILITY),
    AccountRole.OPENING_BALANCE: Account("2990", "Opening balance clearing", AccountType.EQUITY),
    AccountRole.INVENTORY_GAIN: Account("4300", "Inventory difference gain", AccountType.INCOME),
    AccountRole.REVALUATION: Account("4400", "Revaluation", AccountType.INCOME),
    AccountRole.COGS: Account("5000", "Cost of goods sold", AccountType.EXPENSE),
    AccountRole.CONSUMPTION: Account("5100", "Consumption", AccountType.EXPENSE),
    AccountRole.SCRAP: Account("5200", "Scrap expense", AccountType.EXPENSE),
    AccountRole.INVENTORY_LOSS: Account("5300", "Inventory difference loss", AccountType.EXPENSE),
    AccountRole.PRICE_DIFFERENCE: Account("5400", "Price differences", AccountType.EXPENSE),
    AccountRole.ROUNDING: Account("5900", "Rounding", AccountType.EXPENSE),
}


@dataclass(frozen=True)
class ChartOfAccounts:
    """Maps (site, role) to an account: per-site overrides first, then the defaults.

    Args:
        defaults: the account for each role at every site without an override.
        site_overrides: accounts for a role at one site, keyed by (site, role).
    """

    defaults: Mapping[AccountRole, Account] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    site_overrides: Mapping[tuple[str, AccountRole], Account] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [role.value for role in AccountRole if role not in self.defaults]
        if missing:
            raise ChartOfAccountsError(f"no default account for roles: {', '.join(missing)}")
        by_code: dict[str, Account] = {}
        for account in [*self.defaults.values(), *self.site_overrides.values()]:
            known = by_code.setdefault(account.code, account)
            if known != account:
                raise ChartOfAccountsError(
                    f"account code {account.code} is used for both {known} and {account}"
                )

    def account(self, site: str, role: AccountRole) -> Account:
        """The account a posting for `role` at `site` goes to."""
        return self.site_overrides.get((site, role), self.defaults[role])

    def accounts(self) -> list[Account]:
        """Every distinct account of the chart, ordered by code."""
        distinct = {a.code: a for a in [*self.defaults.values(), *self.site_overrides.values()]}
        return [distinct[code] for code in sorted(distinct)]

    def by_code(self, code: str) -> Account:
        """The account with this code."""
        for account in [*self.defaults.values(), *self.site_overrides.values()]:
            if account.code == code:
                return account
        raise ChartOfAccountsError(f"no account with code {code!r} in the chart")
