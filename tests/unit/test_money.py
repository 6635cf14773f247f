"""Tests for backout.money: exact minor-unit conversion and the Money model."""

from __future__ import annotations

from decimal import Decimal

import pytest
from backout.money import (
    CURRENCY_EXPONENTS,
    MAX_MINOR,
    CurrencyMismatchError,
    Money,
    exponent,
    to_decimal_string,
    to_minor,
)
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("JPY", 0),
        ("jpy", 0),
        ("KRW", 0),
        ("XPF", 0),
        ("USD", 2),
        ("EUR", 2),
        ("ISK", 2),
        ("KWD", 3),
        ("BHD", 3),
        ("IQD", 3),
        ("LYD", 3),
    ],
)
def test_exponent(currency: str, expected: int) -> None:
    assert exponent(currency) == expected


def test_exponent_table_lists_only_non_default_currencies() -> None:
    assert set(CURRENCY_EXPONENTS.values()) == {0, 3}
    with pytest.raises(TypeError):
        CURRENCY_EXPONENTS["USD"] = 2  # type: ignore[index]


@pytest.mark.parametrize("bad", ["US", "USDD", "U$D", "12A", "", "ÜSD", " usd"])
def test_exponent_rejects_malformed_codes(bad: str) -> None:
    with pytest.raises(ValueError):
        exponent(bad)


def test_exponent_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        exponent(840)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("12.30", "USD", 1230),
        ("12.3", "USD", 1230),
        ("12", "USD", 1200),
        ("0.01", "usd", 1),
        ("0", "USD", 0),
        ("12.300", "USD", 1230),
        ("500", "JPY", 500),
        ("500.00", "JPY", 500),
        ("12.345", "KWD", 12345),
        ("0.1", "KWD", 100),
        ("0.1", "USD", 10),
        ("19.99", "EUR", 1999),
        (12, "USD", 1200),
        (12, "JPY", 12),
        (Decimal("12.30"), "USD", 1230),
        (Decimal("1E+2"), "USD", 10000),
        ("92233720368547758.07", "USD", MAX_MINOR),
    ],
)
def test_to_minor_exact(value: str | int | Decimal, currency: str, expected: int) -> None:
    result = to_minor(value, currency)
    assert result == expected
    assert type(result) is int


def test_to_minor_is_exact_where_float_is_not() -> None:
    assert to_minor("0.29", "USD") == 29  # int(0.29 * 100) == 28
    assert to_minor("1.005", "KWD") == 1005


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        ("12.305", "USD"),
        ("0.001", "USD"),
        ("0.5", "JPY"),
        ("1.2345", "KWD"),
        ("NaN", "USD"),
        ("nan", "USD"),
        ("Infinity", "USD"),
        ("-inf", "USD"),
        ("1e3", "USD"),
        ("1_000", "USD"),
        ("+12", "USD"),
        (" 12", "USD"),
        ("12 ", "USD"),
        ("12.", "USD"),
        (".5", "USD"),
        ("", "USD"),
        ("1,000.00", "USD"),
        ("١٢", "USD"),
        ("-0", "USD"),
        ("-0.00", "USD"),
        ("-1", "USD"),
        ("1" * 65, "USD"),
        ("92233720368547758.08", "USD"),
        (Decimal("NaN"), "USD"),
        (Decimal("sNaN"), "USD"),
        (Decimal("Infinity"), "USD"),
        (Decimal("-0"), "USD"),
        (Decimal("1E+999999999"), "USD"),
        ("12.30", "XX"),
    ],
)
def test_to_minor_rejects(value: str | Decimal, currency: str) -> None:
    with pytest.raises(ValueError):
        to_minor(value, currency)


@pytest.mark.parametrize("value", [12.3, 1.0, True, None, b"12", [12]])
def test_to_minor_rejects_non_decimal_types(value: object) -> None:
    with pytest.raises(TypeError):
        to_minor(value, "USD")  # type: ignore[arg-type]


def test_to_minor_negative_only_when_allowed() -> None:
    assert to_minor("-12.30", "USD", allow_negative=True) == -1230
    assert to_minor(-3, "JPY", allow_negative=True) == -3
    with pytest.raises(ValueError):
        to_minor("-12.30", "USD")
    with pytest.raises(ValueError):
        to_minor("-0.00", "USD", allow_negative=True)


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (1230, "USD", "12.30"),
        (5, "USD", "0.05"),
        (0, "USD", "0.00"),
        (500, "JPY", "500"),
        (0, "JPY", "0"),
        (12345, "KWD", "12.345"),
        (7, "kwd", "0.007"),
        (-5, "USD", "-0.05"),
        (-500, "JPY", "-500"),
    ],
)
def test_to_decimal_string(minor: int, currency: str, expected: str) -> None:
    assert to_decimal_string(minor, currency) == expected


@pytest.mark.parametrize("minor", [1.0, True, "12", Decimal(1)])
def test_to_decimal_string_rejects_non_int(minor: object) -> None:
    with pytest.raises(TypeError):
        to_decimal_string(minor, "USD")  # type: ignore[arg-type]


_CURRENCIES = st.sampled_from(["USD", "EUR", "JPY", "KRW", "KWD", "BHD", "ISK", "gbp"])


@given(minor=st.integers(min_value=0, max_value=MAX_MINOR), currency=_CURRENCIES)
def test_round_trip_minor(minor: int, currency: str) -> None:
    assert to_minor(to_decimal_string(minor, currency), currency) == minor


@given(minor=st.integers(min_value=-MAX_MINOR, max_value=MAX_MINOR), currency=_CURRENCIES)
def test_round_trip_signed(minor: int, currency: str) -> None:
    text = to_decimal_string(minor, currency)
    assert to_minor(text, currency, allow_negative=True) == minor
    assert Decimal(text) == Decimal(minor).scaleb(-exponent(currency))


class TestMoney:
    def test_normalises_currency(self) -> None:
        money = Money(amount=1230, currency="usd")
        assert money.currency == "USD"
        assert money == Money(amount=1230, currency="USD")

    def test_parse(self) -> None:
        assert Money.parse("12.30", "usd") == Money(amount=1230, currency="USD")
        assert Money.parse("500", "JPY").amount == 500
        assert Money.parse("12.345", "KWD").to_decimal_string() == "12.345"
        with pytest.raises(ValueError):
            Money.parse("12.305", "USD")
        with pytest.raises(ValueError):
            Money.parse("-1.00", "USD")

    @pytest.mark.parametrize("amount", [-1, 1.0, 12.5, "1230", True, Decimal(1), MAX_MINOR + 1])
    def test_rejects_bad_amounts(self, amount: object) -> None:
        with pytest.raises(ValidationError):
            Money(amount=amount, currency="USD")  # type: ignore[arg-type]

    @pytest.mark.parametrize("currency", ["US", "USDX", "1SD", 840, b"USD", None])
    def test_rejects_bad_currency(self, currency: object) -> None:
        with pytest.raises(ValidationError):
            Money(amount=1, currency=currency)  # type: ignore[arg-type]

    def test_rejects_extra_fields(self) -> None:
        with pytest.raises(ValidationError):
            Money(amount=1, currency="USD", note="x")  # type: ignore[call-arg]

    def test_frozen_and_hashable(self) -> None:
        money = Money(amount=1, currency="USD")
        with pytest.raises(ValidationError):
            money.amount = 2
        assert len({money, Money(amount=1, currency="usd")}) == 1

    def test_add_and_sub_same_currency(self) -> None:
        a = Money(amount=1230, currency="USD")
        b = Money(amount=70, currency="USD")
        assert a + b == Money(amount=1300, currency="USD")
        assert a - b == Money(amount=1160, currency="USD")
        assert a - a == Money(amount=0, currency="USD")

    def test_sub_cannot_go_negative(self) -> None:
        with pytest.raises(ValueError):
            Money(amount=1, currency="USD") - Money(amount=2, currency="USD")

    def test_refuses_mixed_currencies(self) -> None:
        usd = Money(amount=100, currency="USD")
        eur = Money(amount=100, currency="EUR")
        with pytest.raises(CurrencyMismatchError):
            usd + eur
        with pytest.raises(CurrencyMismatchError):
            usd - eur

    def test_refuses_non_money_operands(self) -> None:
        usd = Money(amount=100, currency="USD")
        with pytest.raises(TypeError):
            usd + 1
        with pytest.raises(TypeError):
            usd - Decimal(1)
