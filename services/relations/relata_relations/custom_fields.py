"""Custom field definitions and the validation of their values, free of HTTP and persistence."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from relata_common.fields import KEY_PATTERN

CustomFieldType = Literal["text", "number", "date", "boolean", "choice", "money"]
_TRUE = {"true", "1", "yes", "ja", "y", "j"}
_FALSE = {"false", "0", "no", "nee", "n"}


class CustomFieldDefinition(BaseModel):
    """A field an organisation adds to its relations, with its type and validation."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(pattern=KEY_PATTERN, description="stable identifier, e.g. member_since")
    label: str = Field(min_length=1, max_length=200)
    type: CustomFieldType
    required: bool = False
    applies_to: Literal["person", "organisation", "both"] = "both"
    choices: list[str] | None = Field(default=None, description="allowed values of a choice field")
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    max_length: int | None = Field(default=None, ge=1, le=10_000)
    pattern: str | None = Field(default=None, max_length=500, description="regular expression")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")

    @model_validator(mode="after")
    def _consistent(self) -> CustomFieldDefinition:
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice field needs a non-empty list of choices")
        if self.type != "choice" and self.choices is not None:
            raise ValueError("only a choice field has choices")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise ValueError(f"pattern is not a valid regular expression: {error}") from None
        low, high = self.min_value, self.max_value
        if low is not None and high is not None and low > high:
            raise ValueError("min_value is greater than max_value")
        return self

    def applies(self, relation_type: str) -> bool:
        return self.applies_to in ("both", relation_type)

    def normalise(self, value: Any) -> Any:
        """The stored (JSON) form of a value, or ValueError saying why it is not acceptable."""
        match self.type:
            case "text":
                return self._text(value)
            case "number":
                return self._within_range(_decimal(value))
            case "date":
                return _date(value).isoformat()
            case "boolean":
                return _boolean(value)
            case "choice":
                if value not in (self.choices or []):
                    raise ValueError(f"must be one of {self.choices}")
                return value
            case "money":
                return self._money(value)
        raise AssertionError(self.type)

    def _text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be text")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"longer than {self.max_length} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ValueError(f"does not match the pattern {self.pattern}")
        return value

    def _within_range(self, number: Decimal) -> int | float:
        if self.min_value is not None and number < self.min_value:
            raise ValueError(f"less than the minimum {self.min_value}")
        if self.max_value is not None and number > self.max_value:
            raise ValueError(f"greater than the maximum {self.max_value}")
        return int(number) if number == number.to_integral_value() else float(number)

    def _money(self, value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            amount, currency = value.get("amount"), value.get("currency", self.currency)
        else:
            amount, currency = value, self.currency
        if currency != self.currency:
            raise ValueError(f"currency must be {self.currency}")
        number = _decimal(amount)
        self._within_range(number)
        return {"amount": str(number.quantize(Decimal("0.01"))), "currency": currency}


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    try:
        number = (
            Decimal(str(value).strip().replace(",", "."))
            if isinstance(value, str)
            else Decimal(str(value))
        )
    except (InvalidOperation, ValueError):
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    return number


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("must be a date (YYYY-MM-DD)")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("must be true or false")


def validate_custom_values(
    values: dict[str, Any],
    definitions: dict[str, CustomFieldDefinition],
    relation_type: str,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Normalised values and the (key, reason) of each bad one, required ones included."""
    normalised: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            errors.append((key, "no such custom field"))
        elif not definition.applies(relation_type):
            errors.append((key, f"not a field of a {relation_type}"))
        elif value is not None:
            try:
                normalised[key] = definition.normalise(value)
            except ValueError as error:
                errors.append((key, str(error)))
    for key, definition in definitions.items():
        missing = key not in normalised and all(k != key for k, _ in errors)
        if definition.required and definition.applies(relation_type) and missing:
            errors.append((key, "required"))
    return normalised, errors
