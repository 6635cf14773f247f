"""Money as integer minor units, converted exactly (never via float).

Providers send money in two shapes: Stripe sends integer minor units
(``1230`` for 12.30 USD, ``500`` for 500 JPY) while Shopify, PayPal and
WooCommerce send decimal strings (``"12.30"``). Everything inside Backout
is kept as ``int`` minor units; this module converts at the edges.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CURRENCY_EXPONENTS",
    "DEFAULT_EXPONENT",
    "MAX_MINOR",
    "CurrencyMismatchError",
    "Money",
    "exponent",
    "normalise_currency",
    "to_decimal_string",
    "to_minor",
]

DEFAULT_EXPONENT = 2
"""Exponent of every ISO 4217 currency not listed in CURRENCY_EXPONENTS."""

MAX_MINOR = 2**63 - 1
"""Largest magnitude accepted in minor units (fits a signed 64-bit int)."""

_ZERO_DECIMAL = (
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
    "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
)  # fmt: skip
_THREE_DECIMAL = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")

CURRENCY_EXPONENTS: Mapping[str, int] = MappingProxyType(
    dict.fromkeys(_ZERO_DECIMAL, 0) | dict.fromkeys(_THREE_DECIMAL, 3)
)
"""Currencies whose exponent is not the default 2 (read-only mapping).

Zero-decimal codes follow Stripe's list (PROVIDERS.md); note that ISK is
deliberately absent: Stripe treats it as two-decimal (multiples of 100).
"""

_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_AMOUNT_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_MAX_AMOUNT_CHARS = 64


class CurrencyMismatchError(ValueError):
    """Raised when an operation mixes two different currencies."""


def normalise_currency(currency: str) -> str:
    """Return the upper-cased 3-letter ISO 4217 code or raise ValueError.

    Raises TypeError when ``currency`` is not a ``str``.
    """
    if not isinstance(currency, str):
        raise TypeError(f"currency must be str, not {type(currency).__name__}")
    code = currency.upper()
    if not _CURRENCY_RE.fullmatch(code):
        raise ValueError(f"invalid currency code: {currency!r}")
    return code


def exponent(currency: str) -> int:
    """Return the number of minor-unit digits of ``currency`` (0, 2 or 3)."""
    return CURRENCY_EXPONENTS.get(normalise_currency(currency), DEFAULT_EXPONENT)


def _parse_decimal(value: str | int | Decimal) -> Decimal:
    """Turn an accepted input into a finite Decimal; reject everything else."""
    if isinstance(value, (bool, float)):
        raise TypeError(f"amount must be str, int or Decimal, not {type(value).__name__}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"amount is not finite: {value!r}")
        return value
    if isinstance(value, str):
        if len(value) > _MAX_AMOUNT_CHARS or not _AMOUNT_RE.fullmatch(value):
            raise ValueError(f"malformed decimal amount: {value!r}")
        return Decimal(value)
    raise TypeError(f"amount must be str, int or Decimal, not {type(value).__name__}")


def _decimal_to_minor(amount: Decimal, exp: int) -> int:
    """Scale ``amount`` by 10**exp exactly, refusing to drop non-zero digits."""
    if not amount.is_finite():  # already refused upstream; keeps this total
        raise ValueError(f"amount is not finite: {amount!r}")
    sign, digits, dec_exp = amount.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    shift = int(dec_exp) + exp
    if coefficient and len(digits) + shift > len(str(MAX_MINOR)):
        raise ValueError("amount too large")
    scale: int = 10 ** abs(shift)
    magnitude, dropped = (coefficient * scale, 0) if shift >= 0 else divmod(coefficient, scale)
    if dropped:
        raise ValueError(f"{amount} has more than {exp} fractional digits")
    if magnitude > MAX_MINOR:
        raise ValueError("amount too large")
    return -magnitude if sign else magnitude


def to_minor(value: str | int | Decimal, currency: str, *, allow_negative: bool = False) -> int:
    """Convert a major-unit amount to integer minor units, exactly.

    ``value`` is a plain decimal string such as ``"12.30"`` (ASCII digits, an
    optional leading ``-`` and an optional fraction; no exponent, spaces,
    ``+`` or underscores), a ``Decimal``, or an ``int`` meaning whole major
    units (``to_minor(12, "USD") == 1200``). Floats are refused (TypeError).
    Extra fractional digits are accepted only when they are zeros
    (``"12.300"`` USD is 1230, ``"12.305"`` USD is a ValueError). NaN,
    infinities and negative zero are refused; negative amounts only when
    ``allow_negative`` is true.
    """
    exp = exponent(currency)
    amount = _parse_decimal(value)
    if amount.is_signed() and amount.is_zero():
        raise ValueError("negative zero amount")
    if amount.is_signed() and not allow_negative:
        raise ValueError(f"negative amount: {value!r}")
    return _decimal_to_minor(amount, exp)


def to_decimal_string(minor: int, currency: str) -> str:
    """Render integer minor units as a major-unit decimal string.

    ``1230`` USD -> ``"12.30"``, ``500`` JPY -> ``"500"``, ``12345`` KWD ->
    ``"12.345"``, ``-5`` USD -> ``"-0.05"``.
    """
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor must be int, not {type(minor).__name__}")
    exp = exponent(currency)
    sign = "-" if minor < 0 else ""
    if exp == 0:
        return f"{sign}{abs(minor)}"
    whole, fraction = divmod(abs(minor), 10**exp)
    return f"{sign}{whole}.{fraction:0{exp}d}"


class Money(BaseModel):
    """A non-negative amount in integer minor units of one currency."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    amount: Annotated[int, Field(strict=True, ge=0, le=MAX_MINOR)]
    currency: str

    @field_validator("currency", mode="before")
    @classmethod
    def _check_currency(cls, value: Any) -> str:
        """Normalise the currency code to three upper-case ASCII letters."""
        if not isinstance(value, str):
            # pydantic only turns ValueError into a ValidationError
            raise ValueError("currency must be a string")  # noqa: TRY004
        return normalise_currency(value)

    @classmethod
    def parse(cls, value: str | Decimal, currency: str) -> Money:
        """Build Money from a major-unit decimal string such as ``"12.30"``."""
        return cls(amount=to_minor(value, currency), currency=currency)

    def to_decimal_string(self) -> str:
        """Return the amount as a major-unit decimal string (``"12.30"``)."""
        return to_decimal_string(self.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        """Raise CurrencyMismatchError unless ``other`` shares our currency."""
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: object) -> Money:
        """Add two amounts of the same currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: object) -> Money:
        """Subtract an amount of the same currency; the result must be >= 0."""
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        if other.amount > self.amount:
            raise ValueError("Money cannot become negative")
        return Money(amount=self.amount - other.amount, currency=self.currency)
