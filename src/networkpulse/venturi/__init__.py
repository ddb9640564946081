"""Stage 3, venturi: parse and filter raw events into skinny interaction records, counting every drop."""

from networkpulse.venturi.extract import extract, read_interactions
from networkpulse.venturi.rules import RULES, Rule, rules_markdown
from networkpulse.venturi.stats import FilterStats
from networkpulse.venturi.types import InteractionBatch

__all__ = [
    "RULES",
    "FilterStats",
    "InteractionBatch",
    "Rule",
    "extract",
    "read_interactions",
    "rules_markdown",
]
