"""The synthetic data generator: one business day of the whole chain, deterministic by seed.

``python -m symphony generate --help`` for the command; docs/contracts.md for what it writes.
"""

from symphony.generator.options import (
    ANOMALIES,
    BAD_RECORD_KINDS,
    FRAUD_ANOMALIES,
    GenerateOptions,
    OptionError,
    parse_anomalies,
)
from symphony.generator.run import OUTPUTS, OutputNotEmpty, Written, generate

__all__ = [
    "ANOMALIES",
    "BAD_RECORD_KINDS",
    "FRAUD_ANOMALIES",
    "OUTPUTS",
    "GenerateOptions",
    "OptionError",
    "OutputNotEmpty",
    "Written",
    "generate",
    "parse_anomalies",
]
