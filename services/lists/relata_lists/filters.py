"""Filters: a JSON tree of ``all`` / ``any`` / ``not`` over criteria, and its validation.

Shape checks come from pydantic; meaning checks (does the field exist, does the operator suit
it, does the value fit the operator) from :func:`check_filter`, which names the path of every
bad node.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from relata_common.errors import FieldError
from relata_lists.catalogue import RELATIVE_OPS, FieldSpec, lookup

Loc = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Period(_Strict):
    amount: int = Field(ge=0, le=10_000)
    unit: Literal["days", "weeks", "months", "years"]

    def describe(self) -> str:
        return f"{self.amount} {self.unit}"


class FieldCriterion(_Strict):
    """A standard or custom field compared with a value: ``{"kind": "field", ...}``."""

    kind: Literal["field"]
    field: str = Field(examples=["city", "birth_date", "custom.member_since"])
    op: str = Field(examples=["equals", "more_than_ago"])
    value: Any = None


class FunctionCriterion(_Strict):
    """Holds a role at an organisation: a given one (``at``) or any in a list (``at_list``)."""

    kind: Literal["function"]
    role: str | None = Field(default=None, description="any role when left out")
    at: uuid.UUID | None = None
    at_list: uuid.UUID | None = None
    active: bool = Field(default=True, description="only functions running today")


class ContactCriterion(_Strict):
    """Had contact moments: of a kind, a direction, in a period. Wrap in ``not`` for none."""

    kind: Literal["contact"]
    contact_kinds: list[Literal["phone", "email", "visit", "letter", "meeting", "other"]] = []
    direction: Literal["in", "out"] | None = None
    within_last: Period | None = None
    this_year: bool = False
    min_count: int = Field(default=1, ge=1)


class DonationCriterion(_Strict):
    """Donations (from the donations module) in a period, by total or count."""

    kind: Literal["donations"]
    within_last: Period | None = None
    total_more_than: Decimal | None = None
    total_at_least: Decimal | None = None
    min_count: int | None = Field(default=None, ge=1)


class RegistrationCriterion(_Strict):
    """Registered for an event (from the events module)."""

    kind: Literal["registration"]
    event_code: str = Field(min_length=1)
    statuses: list[Literal["registered", "attended", "cancelled"]] = ["registered", "attended"]


class ListCriterion(_Strict):
    """Is a member of another relation list."""

    kind: Literal["in_list"]
    list_id: uuid.UUID


class AllOf(_Strict):
    all: list[Node] = Field(min_length=1)


class AnyOf(_Strict):
    any: list[Node] = Field(min_length=1)


class NotOf(_Strict):
    not_: Node = Field(alias="not")


def node_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for combinator in ("all", "any", "not"):
            if combinator in value:
                return combinator
        return value.get("kind")
    for combinator, model in (("all", AllOf), ("any", AnyOf), ("not", NotOf)):
        if isinstance(value, model):
            return combinator
    return getattr(value, "kind", None)


Node = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[FieldCriterion, Tag("field")]
    | Annotated[FunctionCriterion, Tag("function")]
    | Annotated[ContactCriterion, Tag("contact")]
    | Annotated[DonationCriterion, Tag("donations")]
    | Annotated[RegistrationCriterion, Tag("registration")]
    | Annotated[ListCriterion, Tag("in_list")],
    Discriminator(node_tag),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def walk(node: Any, loc: Loc = ()) -> list[tuple[Loc, Any]]:
    """Every node with its path, parents before children."""
    if isinstance(node, AllOf):
        steps = [((*loc, "all", i), child) for i, child in enumerate(node.all)]
    elif isinstance(node, AnyOf):
        steps = [((*loc, "any", i), child) for i, child in enumerate(node.any)]
    elif isinstance(node, NotOf):
        steps = [((*loc, "not"), node.not_)]
    else:
        steps = []
    found = [(loc, node)]
    for child_loc, child in steps:
        found += walk(child, child_loc)
    return found


def referenced_lists(node: Any) -> set[uuid.UUID]:
    """The lists this filter reads the membership of."""
    found: set[uuid.UUID] = set()
    for _, item in walk(node):
        if isinstance(item, ListCriterion):
            found.add(item.list_id)
        elif isinstance(item, FunctionCriterion) and item.at_list is not None:
            found.add(item.at_list)
    return found


def check_filter(
    node: Any,
    *,
    custom: dict[str, FieldSpec],
    known_lists: set[uuid.UUID],
    max_depth: int,
    max_nodes: int,
    loc: Loc = ("body", "filter"),
) -> list[FieldError]:
    """Every meaning error in the tree, each with the path of its node."""
    nodes = walk(node, loc)
    errors: list[FieldError] = []
    if len(nodes) > max_nodes:
        errors.append(FieldError(loc, f"a filter has at most {max_nodes} nodes"))
    # Levels of all/any/not above the deepest node (a path holds ``all, i`` or ``not`` each).
    deepest = max(sum(p in ("all", "any", "not") for p in path[len(loc) :]) for path, _ in nodes)
    if deepest > max_depth:
        errors.append(FieldError(loc, f"a filter nests at most {max_depth} levels"))
    for path, item in nodes:
        if isinstance(item, FieldCriterion):
            errors += _check_field(item, path, custom)
        elif isinstance(item, ListCriterion) and item.list_id not in known_lists:
            errors.append(FieldError((*path, "list_id"), "no such relation list"))
        elif isinstance(item, FunctionCriterion):
            if item.at is not None and item.at_list is not None:
                errors.append(FieldError(path, "give at or at_list, not both"))
            if item.at_list is not None and item.at_list not in known_lists:
                errors.append(FieldError((*path, "at_list"), "no such relation list"))
        elif isinstance(item, DonationCriterion) and not _has_threshold(item):
            errors.append(FieldError(path, "give total_more_than, total_at_least or min_count"))
    return errors


def _has_threshold(item: DonationCriterion) -> bool:
    return not (item.total_more_than is None and item.total_at_least is None and not item.min_count)


def _check_field(item: FieldCriterion, path: Loc, custom: dict[str, FieldSpec]) -> list[FieldError]:
    spec = lookup(item.field, custom)
    if spec is None:
        return [FieldError((*path, "field"), f"no filterable field {item.field!r}")]
    if item.op not in spec.operators:
        allowed = ", ".join(spec.operators)
        return [
            FieldError(
                (*path, "op"),
                f"{item.op!r} does not apply to {spec.type} fields (use one of: {allowed})",
            )
        ]
    problem = value_problem(spec, item.op, item.value)
    return [FieldError((*path, "value"), problem)] if problem else []


def value_problem(spec: FieldSpec, op: str, value: Any) -> str | None:
    """Why a value does not fit an operator on a field, or None when it does."""
    if op in ("empty", "not_empty"):
        return None if value is None else f"{op} takes no value"
    if op in RELATIVE_OPS:
        try:
            Period.model_validate(value)
        except Exception:
            return 'give a period such as {"amount": 30, "unit": "days"}'
        return None
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            return "between takes a list of two values [low, high]"
        problems = [scalar_problem(spec, v) for v in value]
        return next((p for p in problems if p), None)
    if op == "in":
        if not isinstance(value, list) or not value:
            return "in takes a non-empty list of values"
        problems = [scalar_problem(spec, v) for v in value]
        return next((p for p in problems if p), None)
    if value is None:
        return f"{op} needs a value"
    return scalar_problem(spec, value)


def scalar_problem(spec: FieldSpec, value: Any) -> str | None:
    if spec.type == "any":
        return None if isinstance(value, str | int | float | bool) else "give a plain value"
    if spec.type in ("number", "money"):
        ok = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
        return None if ok else "give a number"
    if spec.type in ("date", "datetime"):
        if not isinstance(value, str):
            return "give a date as YYYY-MM-DD"
        try:
            (date if spec.type == "date" else datetime).fromisoformat(value)
        except ValueError:
            return "give a date as YYYY-MM-DD"
        return None
    if spec.type == "boolean":
        return None if isinstance(value, bool) else "give true or false"
    if spec.type == "choice" and spec.choices and value not in spec.choices:
        return f"give one of {list(spec.choices)}"
    return None if isinstance(value, str) else "give text"
