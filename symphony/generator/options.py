"""What a generation run is asked for, checked at once with messages that name the argument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

ANOMALIES: Final = (
    "late_store",
    "missing_store",
    "warm_fridge",
    "impossible_travel",
    "card_testing",
    "velocity",
    "outlier_amount",
    "refund_abuse",
)
"""Every anomaly the generator can plant, in planting order."""

FRAUD_ANOMALIES: Final = (
    "impossible_travel",
    "card_testing",
    "velocity",
    "outlier_amount",
    "refund_abuse",
)

BAD_RECORD_KINDS: Final = (
    "truncated_line",
    "wrong_types",
    "negative_amount",
    "duplicate_transaction_id",
    "unknown_store",
)
"""Kinds of bad sales-file line, planted round-robin in this order."""

MAX_STORES: Final = 9999
MAX_BAD_FRACTION: Final = 0.5
MAX_TRANSACTIONS_PER_STORE: Final = 100_000


class OptionError(ValueError):
    """A bad generation argument; the message names the argument, the value and what is allowed."""


@dataclass(frozen=True, kw_only=True)
class GenerateOptions:
    """One generation run. The same options always give byte-identical output."""

    stores: int = 2900
    business_date: date = date(2026, 11, 27)
    seed: int = 0
    transactions_per_store: int = 200
    bad_fraction: float = 0.01
    anomalies: tuple[str, ...] = ANOMALIES

    def __post_init__(self) -> None:
        if not 1 <= self.stores <= MAX_STORES:
            raise OptionError(
                f"--stores {self.stores} is not allowed: expected a whole number from 1 to "
                f"{MAX_STORES}"
            )
        if not 1 <= self.transactions_per_store <= MAX_TRANSACTIONS_PER_STORE:
            raise OptionError(
                f"--transactions-per-store {self.transactions_per_store} is not allowed: "
                f"expected a whole number from 1 to {MAX_TRANSACTIONS_PER_STORE}"
            )
        if not 0.0 <= self.bad_fraction <= MAX_BAD_FRACTION:
            raise OptionError(
                f"--bad-fraction {self.bad_fraction} is not allowed: expected a fraction from 0 "
                f"to {MAX_BAD_FRACTION}"
            )
        if not 0 <= self.seed < 2**63:
            raise OptionError(f"--seed {self.seed} is not allowed: expected 0 to 2**63 - 1")
        unknown = [name for name in self.anomalies if name not in ANOMALIES]
        if unknown:
            raise OptionError(
                f"--anomalies {','.join(unknown)} is not allowed: expected all, none or a "
                f"comma-separated list of {', '.join(ANOMALIES)}"
            )
        if not 2000 <= self.business_date.year <= 2100:
            raise OptionError(
                f"--date {self.business_date.isoformat()} is not allowed: expected a date in "
                "the years 2000 to 2100"
            )


def parse_anomalies(text: str) -> tuple[str, ...]:
    """``all``, ``none`` or ``name,name`` as a tuple of anomaly names in planting order."""
    cleaned = text.strip()
    if cleaned == "all":
        return ANOMALIES
    if cleaned in ("none", ""):
        return ()
    names = [name.strip() for name in cleaned.split(",") if name.strip()]
    unknown = [name for name in names if name not in ANOMALIES]
    if unknown:
        raise OptionError(
            f"--anomalies {','.join(unknown)} is not allowed: expected all, none or a "
            f"comma-separated list of {', '.join(ANOMALIES)}"
        )
    return tuple(name for name in ANOMALIES if name in names)
