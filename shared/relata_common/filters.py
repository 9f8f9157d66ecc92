"""Filters: a JSON tree of ``all`` / ``any`` / ``not`` over criteria, its validation, a walker,
and the one meaning of every operator.

The lists service compiles a tree to SQL over its read model; :func:`evaluate` decides it in
Python for one relation (automation's rule conditions). Both read the values
:func:`relata_common.fields.filter_values` makes of a relation, and both follow the meaning
below; ``tests/lists/test_filter_agreement.py`` holds them to it.

Meaning of a field criterion (``value`` is the criterion's value):

- A missing value never matches, except for ``empty``, ``not_equals`` (true when missing) and a
  criterion under ``not``: the logic is two-valued, ``not`` is the complement.
- Text is compared case-insensitively (both sides lower-cased): ``equals``, ``not_equals``,
  ``in``, ``contains``, ``starts_with``. ``empty`` is missing or ``""``. Choices (relation type,
  gender) compare exactly, being one of their choices.
- Multi-valued fields (street, postal code, city, country, e-mail, phone) match when any of the
  relation's values does; ``not_equals`` is "none equals"; ``empty`` is "has none".
- Numbers compare as numbers; ``between`` [low, high] includes both ends.
- Dates compare by day (a timestamp by its day in the local time zone); ``within_last``,
  ``more_than_ago`` and ``less_than_ago`` compare with the day the period before today.
- Custom fields compare by the JSON type of the relation's value: a number (or a money amount)
  with a number value, ``true``/``false`` with a boolean value, and otherwise as text,
  case-insensitively (a number's text is its decimal notation). ``lt``/``gt``/``between`` with
  text values, and the relative operators, compare text in code point order (ISO dates sort as
  dates). ``empty`` means the relation has no value for the key.

Letters whose lower case depends on context or on the locale (final sigma, dotted capital I)
may fold differently in PostgreSQL's ``lower`` and Python's; other letters fold alike.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterator, Mapping, Set
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from relata_common.errors import FieldError, InvalidInput
from relata_common.fields import RELATIVE_OPS, FieldSpec, custom_key, lookup

Loc = tuple[str | int, ...]
COMBINATORS = ("all", "any", "not")
MAX_FILTER_DEPTH = 12
"""Levels of all/any/not a filter may nest, unless a service sets its own bound."""
MAX_FILTER_NODES = 200
"""Nodes a filter may have, unless a service sets its own bound."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


MAX_PERIOD_DAYS = 200 * 366
"""The longest period a criterion may look back (two centuries, so no period leaves the
calendar, whatever its unit)."""
DAYS_PER_UNIT = {"days": 1, "weeks": 7, "months": 31, "years": 366}
MAX_TEXT_VALUE = 1_000
"""Characters a compared text value may have (a name, a postal code: far less)."""
MAX_VALUES = 1_000
"""Values an ``in`` list may have."""
FIRST_DAY, LAST_DAY = date(1000, 1, 1), date(9000, 12, 31)
"""The days a date value may name: any a relation's data has, with room to spare."""


class Period(_Strict):
    amount: int = Field(ge=0, le=MAX_PERIOD_DAYS)
    unit: Literal["days", "weeks", "months", "years"]

    @model_validator(mode="after")
    def _within_two_centuries(self) -> Period:
        if self.amount * DAYS_PER_UNIT[self.unit] > MAX_PERIOD_DAYS:
            raise ValueError(f"a period may reach back at most 200 years, not {self.describe()}")
        return self

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
        for combinator in COMBINATORS:
            if combinator in value:
                return combinator
        return value.get("kind")
    for combinator, model in (("all", AllOf), ("any", AnyOf), ("not", NotOf)):
        if isinstance(value, model):
            return combinator
    return getattr(value, "kind", None)


Criterion = (
    FieldCriterion
    | FunctionCriterion
    | ContactCriterion
    | DonationCriterion
    | RegistrationCriterion
    | ListCriterion
)

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

NODE: TypeAdapter[Any] = TypeAdapter(Node)


class FilterDoc(BaseModel):
    """Wrapper to validate a filter tree on its own."""

    filter: Node


# --- walking -----------------------------------------------------------------------------------


def children(node: Any) -> list[tuple[Loc, Any]]:
    """The child nodes of a node with the steps to them. Works on parsed trees and on raw JSON
    alike; a raw object with several of ``all``/``any``/``not`` (invalid, but not yet refused)
    has the children of each, so nothing in it escapes a check."""
    if isinstance(node, AllOf):
        return [(("all", i), child) for i, child in enumerate(node.all)]
    if isinstance(node, AnyOf):
        return [(("any", i), child) for i, child in enumerate(node.any)]
    if isinstance(node, NotOf):
        return [(("not",), node.not_)]
    if not isinstance(node, dict):
        return []
    found: list[tuple[Loc, Any]] = []
    for combinator in ("all", "any"):
        if isinstance(node.get(combinator), list):
            found += [((combinator, i), child) for i, child in enumerate(node[combinator])]
    if "not" in node:
        found.append((("not",), node["not"]))
    return found


def is_combinator(node: Any) -> bool:
    """An ``all``/``any``/``not`` node (raw: one whose children :func:`children` walks)."""
    if isinstance(node, AllOf | AnyOf | NotOf):
        return True
    return isinstance(node, dict) and (
        isinstance(node.get("all"), list) or isinstance(node.get("any"), list) or "not" in node
    )


def walk(node: Any, loc: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    """Every node with its path, parents before children, in document order. Iterative, so a
    raw tree nested a hundred thousand levels deep can be walked (and abandoned) safely."""
    stack: list[tuple[Loc, Any]] = [(loc, node)]
    while stack:
        path, item = stack.pop()
        yield path, item
        stack += [((*path, *step), child) for step, child in reversed(children(item))]


def levels(path: Loc, loc: Loc = ()) -> int:
    """Levels of all/any/not above the node at ``path`` (below ``loc``)."""
    return sum(p in COMBINATORS for p in path[len(loc) :])


def criteria(node: Any, loc: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    """Every criterion (a node that is not all/any/not) with its path."""
    return ((path, item) for path, item in walk(node, loc) if not is_combinator(item))


def field_criteria(node: Any) -> Iterator[FieldCriterion]:
    return (item for _, item in walk(node) if isinstance(item, FieldCriterion))


def referenced_lists(node: Any) -> set[uuid.UUID]:
    """The lists this filter reads the membership of."""
    found: set[uuid.UUID] = set()
    for _, item in walk(node):
        if isinstance(item, ListCriterion):
            found.add(item.list_id)
        elif isinstance(item, FunctionCriterion) and item.at_list is not None:
            found.add(item.at_list)
    return found


# --- validation --------------------------------------------------------------------------------


def parse_filter(
    raw: Any,
    *,
    custom: Mapping[str, FieldSpec],
    known_lists: Set[uuid.UUID] | None,
    max_depth: int,
    max_nodes: int,
    loc: Loc = ("body", "filter"),
) -> Any:
    """A validated filter tree, or 422 naming the path of every bad node. ``known_lists``
    None: list ids are not checked for existence."""
    if raw_nesting(raw) > max_depth * 2 + 2:
        raise InvalidInput.single(loc, f"a filter nests at most {max_depth} levels")
    try:
        node = NODE.validate_python(raw)
    except ValidationError as error:
        raise InvalidInput(
            [
                FieldError(
                    (*loc, *node_path(raw, e["loc"])),
                    e["msg"].removeprefix("Value error, "),
                    e["type"],
                )
                for e in error.errors(include_url=False)
            ]
        ) from None
    errors = check_filter(
        node,
        custom=custom,
        known_lists=known_lists,
        max_depth=max_depth,
        max_nodes=max_nodes,
        loc=loc,
    )
    if errors:
        raise InvalidInput(errors)
    return node


def node_path(raw: Any, loc: tuple[str | int, ...]) -> list[str | int]:
    """Pydantic's error location without the union tags it inserts at every node
    (``all.all.0.field.op`` becomes ``all.0.op``), so it reads as a path in the JSON."""
    path: list[str | int] = []
    value, at_node = raw, True
    for part in loc:
        if at_node and isinstance(value, dict) and part == node_tag(value):
            at_node = False  # the tag of the node here, not a key of it
            continue
        # The items of all/any and the child of not are nodes again.
        at_node = part == "not" or (isinstance(part, int) and path[-1:] in (["all"], ["any"]))
        path.append(part)
        value = _child(value, part)
    return path


def _child(value: Any, part: str | int) -> Any:
    if isinstance(value, dict) and isinstance(part, str):
        return value.get(part)
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    return None


def raw_nesting(raw: Any, depth: int = 0) -> int:
    """How deep a raw JSON value nests, without recursing past a sane bound."""
    if depth > 100:
        return depth
    if isinstance(raw, dict):
        return max((raw_nesting(v, depth + 1) for v in raw.values()), default=depth)
    if isinstance(raw, list):
        return max((raw_nesting(v, depth + 1) for v in raw), default=depth)
    return depth


def check_filter(
    node: Any,
    *,
    custom: Mapping[str, FieldSpec],
    known_lists: Set[uuid.UUID] | None,
    max_depth: int,
    max_nodes: int,
    loc: Loc = ("body", "filter"),
) -> list[FieldError]:
    """Every meaning error in the tree, each with the path of its node."""
    nodes = list(walk(node, loc))
    errors: list[FieldError] = []
    if len(nodes) > max_nodes:
        errors.append(FieldError(loc, f"a filter has at most {max_nodes} nodes"))
    if max(levels(path, loc) for path, _ in nodes) > max_depth:
        errors.append(FieldError(loc, f"a filter nests at most {max_depth} levels"))
    for path, item in nodes:
        if isinstance(item, FieldCriterion):
            errors += _check_field(item, path, custom)
        elif isinstance(item, ListCriterion):
            if not _known(item.list_id, known_lists):
                errors.append(FieldError((*path, "list_id"), "no such relation list"))
        elif isinstance(item, FunctionCriterion):
            if item.at is not None and item.at_list is not None:
                errors.append(FieldError(path, "give at or at_list, not both"))
            if item.at_list is not None and not _known(item.at_list, known_lists):
                errors.append(FieldError((*path, "at_list"), "no such relation list"))
        elif isinstance(item, DonationCriterion) and not _has_threshold(item):
            errors.append(FieldError(path, "give total_more_than, total_at_least or min_count"))
    return errors


def _known(list_id: uuid.UUID, known_lists: Set[uuid.UUID] | None) -> bool:
    return known_lists is None or list_id in known_lists


def _has_threshold(item: DonationCriterion) -> bool:
    return not (item.total_more_than is None and item.total_at_least is None and not item.min_count)


def _check_field(
    item: FieldCriterion, path: Loc, custom: Mapping[str, FieldSpec]
) -> list[FieldError]:
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
        except ValidationError:
            return 'give a period such as {"amount": 30, "unit": "days"}, at most 200 years'
        return None
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            return "between takes a list of two values [low, high]"
        problems = [scalar_problem(spec, v) for v in value]
        return next((p for p in problems if p), None)
    if op == "in":
        if not isinstance(value, list) or not value:
            return "in takes a non-empty list of values"
        if len(value) > MAX_VALUES:
            return f"in takes at most {MAX_VALUES} values"
        problems = [scalar_problem(spec, v) for v in value]
        return next((p for p in problems if p), None)
    if value is None:
        return f"{op} needs a value"
    return scalar_problem(spec, value)


def scalar_problem(spec: FieldSpec, value: Any) -> str | None:
    if isinstance(value, str) and len(value) > MAX_TEXT_VALUE:
        return f"give at most {MAX_TEXT_VALUE} characters"
    if spec.type == "any":
        return None if isinstance(value, str | int | float | bool) else "give a plain value"
    if spec.type in ("number", "money"):
        return None if is_number(value) else "give a number"
    if spec.type in ("date", "datetime"):
        if not isinstance(value, str):
            return "give a date as YYYY-MM-DD"
        try:
            day = parse_day(value) if spec.type == "datetime" else date.fromisoformat(value)
        except ValueError:
            return "give a date as YYYY-MM-DD"
        if not FIRST_DAY <= day <= LAST_DAY:
            return f"give a date between {FIRST_DAY} and {LAST_DAY}"
        return None
    if spec.type == "boolean":
        return None if isinstance(value, bool) else "give true or false"
    if spec.type == "choice" and spec.choices and value not in spec.choices:
        return f"give one of {list(spec.choices)}"
    return None if isinstance(value, str) else "give text"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


# --- dates -------------------------------------------------------------------------------------


def months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_start(today: date, period: Period) -> date:
    """The day ``period`` before ``today``."""
    match period.unit:
        case "days":
            return date.fromordinal(today.toordinal() - period.amount)
        case "weeks":
            return date.fromordinal(today.toordinal() - 7 * period.amount)
        case "months":
            return months_before(today, period.amount)
        case "years":
            return months_before(today, 12 * period.amount)
    raise AssertionError(period.unit)


def parse_day(value: str) -> date:
    """The day a criterion's date value names (a timestamp's day as written)."""
    return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)


def day_start(day: date) -> datetime:
    """The start of a day in the local time zone, as a timestamp's bound."""
    return datetime.combine(day, time.min).astimezone()


# --- evaluation in Python ----------------------------------------------------------------------

EVALUABLE = (FieldCriterion, ListCriterion)
"""Criteria :func:`evaluate` decides from one relation's values and lists; the others need
facts only the lists read model holds (functions, contact moments, donations, registrations)."""

SEPARATOR = "\x1f"
"""Joins a multi-valued field's values for contains/starts_with; never in a value."""


def not_evaluable(node: Any, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """The path and kind of every criterion :func:`evaluate` cannot decide."""
    return [
        (path, str(node_tag(item)))
        for path, item in criteria(node, loc)
        if not isinstance(item, EVALUABLE)
    ]


def evaluate(node: Any, values: Mapping[str, Any], lists: Set[uuid.UUID], today: date) -> bool:
    """Whether a relation meets a (parsed) filter: ``values`` as
    :func:`relata_common.fields.filter_values` makes them, ``lists`` the lists it is in."""
    if isinstance(node, AllOf):
        return all(evaluate(child, values, lists, today) for child in node.all)
    if isinstance(node, AnyOf):
        return any(evaluate(child, values, lists, today) for child in node.any)
    if isinstance(node, NotOf):
        return not evaluate(node.not_, values, lists, today)
    if isinstance(node, ListCriterion):
        return node.list_id in lists
    if isinstance(node, FieldCriterion):
        return _field(node, values, today)
    raise TypeError(f"not decidable from a relation's own values: {node_tag(node)}")


def _field(node: FieldCriterion, values: Mapping[str, Any], today: date) -> bool:
    spec = lookup(node.field)
    assert spec is not None, "filters are checked before they are evaluated"
    op, wanted = node.op, node.value
    if spec.column == "custom":
        return _custom(values.get("custom") or {}, custom_key(spec.name), op, wanted, today)
    value = values.get(spec.column)
    if op in RELATIVE_OPS:
        start = period_start(today, Period.model_validate(wanted))
        return value is not None and _relative(value, spec, op, start)
    if spec.multi:
        return _multi(value or [], op, wanted)
    if op in ("empty", "not_empty", "not_equals"):
        return _scalar(value, spec, op, wanted)
    if value is None:
        return False
    if spec.type in ("date", "datetime"):
        return _date(value, spec, op, wanted)
    return _scalar(value, spec, op, wanted)


def _scalar(value: Any, spec: FieldSpec, op: str, wanted: Any) -> bool:
    textual = spec.type == "text"

    def fold(v: Any) -> Any:
        return v.lower() if textual and isinstance(v, str) else v

    match op:
        case "equals":
            return fold(value) == fold(wanted)
        case "not_equals":
            return value is None or fold(value) != fold(wanted)
        case "contains":
            return str(wanted).lower() in str(value).lower()
        case "starts_with":
            return str(value).lower().startswith(str(wanted).lower())
        case "in":
            return fold(value) in [fold(v) for v in wanted]
        case "lt":
            return bool(value < wanted)
        case "gt":
            return bool(value > wanted)
        case "between":
            return bool(wanted[0] <= value <= wanted[1])
        case "empty":
            return value is None or (textual and value == "")
        case "not_empty":
            return not (value is None or (textual and value == ""))
    raise AssertionError(op)


def _multi(held: list[str], op: str, wanted: Any) -> bool:
    joined = SEPARATOR + SEPARATOR.join(held)
    match op:
        case "equals":
            return wanted.lower() in held
        case "not_equals":
            return wanted.lower() not in held
        case "in":
            return any(v.lower() in held for v in wanted)
        case "contains":
            return wanted.lower() in joined
        case "starts_with":
            return SEPARATOR + wanted.lower() in joined
        case "empty":
            return not held
        case "not_empty":
            return bool(held)
    raise AssertionError(op)


def _date(value: Any, spec: FieldSpec, op: str, wanted: Any) -> bool:
    day = value.astimezone().date() if spec.type == "datetime" else value
    match op:
        case "equals":
            return bool(day == parse_day(wanted))
        case "lt":
            return bool(day < parse_day(wanted))
        case "gt":
            return bool(day > parse_day(wanted))
        case "between":
            return bool(parse_day(wanted[0]) <= day <= parse_day(wanted[1]))
    raise AssertionError(op)


def _relative(value: Any, spec: FieldSpec, op: str, start: date) -> bool:
    bound: Any = day_start(start) if spec.type == "datetime" else start
    match op:
        case "within_last":
            return bool(value >= bound)
        case "more_than_ago":
            return bool(value < bound)
        case "less_than_ago":
            return bool(value > bound)
    raise AssertionError(op)


# --- custom fields: by the JSON type of the value ----------------------------------------------


def _custom(custom: Mapping[str, Any], key: str, op: str, wanted: Any, today: date) -> bool:
    element = custom.get(key)
    if op == "empty":
        return key not in custom
    if op == "not_empty":
        return key in custom
    if op in RELATIVE_OPS:
        start = period_start(today, Period.model_validate(wanted)).isoformat()
        return isinstance(element, str) and _ordered(element, op, start)
    if op in ("contains", "starts_with"):
        text = json_text(element)
        pattern = str(wanted).lower()
        if text is None:
            return False
        return pattern in text.lower() if op == "contains" else text.lower().startswith(pattern)
    if op in ("in", "equals", "not_equals"):
        candidates = wanted if op == "in" else [wanted]
        matches = any(_custom_equals(element, v) for v in candidates)
        return not matches if op == "not_equals" else matches
    bounds = wanted if op == "between" else [wanted]
    if all(is_number(v) for v in bounds):
        number = json_number(element)
        limits = [Decimal(str(v)) for v in bounds]
        return number is not None and _compare(number, op, limits)
    if not isinstance(element, str) or not all(isinstance(v, str) for v in bounds):
        return False
    return _compare(element, op, bounds)


def _ordered(value: str, op: str, start: str) -> bool:
    match op:
        case "within_last":
            return value >= start
        case "more_than_ago":
            return value < start
    return value > start


def _compare(value: Any, op: str, bounds: list[Any]) -> bool:
    match op:
        case "lt":
            return bool(value < bounds[0])
        case "gt":
            return bool(value > bounds[0])
        case "between":
            return bool(bounds[0] <= value <= bounds[1])
    raise AssertionError(op)


def _custom_equals(element: Any, wanted: Any) -> bool:
    if is_number(wanted):
        number = json_number(element)
        return number is not None and number == Decimal(str(wanted))
    if isinstance(wanted, bool):
        return isinstance(element, bool) and element == wanted
    text = json_text(element)
    return text is not None and text.lower() == str(wanted).lower()


def json_number(element: Any) -> Decimal | None:
    """A custom value as a number: a JSON number, or the amount of a money object."""
    if is_number(element):
        return Decimal(str(element))
    if isinstance(element, dict) and element.get("amount") is not None:
        amount = element["amount"]
        if isinstance(amount, bool | dict | list):
            return None
        try:
            return Decimal(str(amount).strip())
        except InvalidOperation:
            return None
    return None


def json_text(element: Any) -> str | None:
    """A custom value as text, as PostgreSQL's ``->>`` gives it: a string itself, null as
    nothing, anything else in jsonb's notation."""
    if element is None:
        return None
    if isinstance(element, str):
        return element
    return _jsonb(element)


def _jsonb(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        text = format(Decimal(str(value)), "f")
        return text.removeprefix("-") if Decimal(text) == 0 else text
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb(v) for v in value) + "]"
    # jsonb keeps an object's keys shortest first, then in byte order.
    keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
    return "{" + ", ".join(f"{_json_string(k)}: {_jsonb(value[k])}" for k in keys) + "}"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_ESCAPES["\t"] = "\\t"


def _json_string(text: str) -> str:
    escaped = "".join(_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 else c) for c in text)
    return f'"{escaped}"'
