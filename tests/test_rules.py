from __future__ import annotations

from decimal import Decimal

import pytest

from uslatam.history import released_versions
from uslatam.validate.rules.evidence import value_bounds


@pytest.mark.parametrize(
    ("words", "low", "high"),
    [
        ("2.8 million", 2_750_000, 2_850_000),
        ("222,000", 221_500, 222_500),
        ("222", 222, 222),  # a whole number without trailing zeros is exact
        ("7", 7, 7),
        ("1,234", 1_234, 1_234),
        ("1.5 billion", 1_450_000_000, 1_550_000_000),
        ("45%", 45, 45),
        ("4.5%", 4.45, 4.55),
        ("multi-billion", 2_000_000_000, 2_000_000_000),
        ("most", 50, 50),
    ],
)
def test_value_bounds_follow_the_rounding_the_words_imply(words: str, low, high) -> None:
    assert value_bounds(words) == (Decimal(str(low)), Decimal(str(high)))


@pytest.mark.parametrize("words", ["many", "2.8.1 million", "", "million"])
def test_unreadable_number_words(words: str) -> None:
    assert value_bounds(words) is None


def test_released_versions_skip_unreleased() -> None:
    changelog = "# Changelog\n\n## [Unreleased]\n\n## [1.1.0] - 2026-01-02\n\n## [1.0.0] - 2026-01-01\n"
    assert released_versions(changelog) == ["1.1.0", "1.0.0"]
