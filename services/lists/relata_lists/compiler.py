"""Compiling a filter tree to one SQL condition over the read model, and what it depends on.

Relative dates are computed here from ``today`` (given, so a test or a daily run decides what
today is), which keeps the SQL free of ``now()`` and the indexes usable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    Numeric,
    Text,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from relata_common.fields import RELATIVE_OPS, FieldSpec, custom_key, lookup
from relata_common.filters import (
    SEPARATOR,
    AllOf,
    AnyOf,
    ContactCriterion,
    DonationCriterion,
    FieldCriterion,
    FunctionCriterion,
    ListCriterion,
    NotOf,
    Period,
    RegistrationCriterion,
    day_start,
    field_criteria,
    is_number,
    parse_day,
    period_start,
    walk,
)
from relata_lists.models import (
    memberships,
    rm_contact_links,
    rm_donations,
    rm_functions,
    rm_registrations,
    rm_relations,
)

r = rm_relations

STATUS = "status"
FUNCTIONS = "functions"
CONTACT_MOMENTS = "contact_moments"
DONATIONS = "donations"
REGISTRATIONS = "registrations"


def list_aspect(list_id: uuid.UUID) -> str:
    return f"list:{list_id}"


def field_aspect(name: str) -> str:
    """The aspect of one read model column (``cities``) or custom field (``custom.level``):
    what a criterion on it depends on, and what a relation event that changed it touches."""
    return f"field:{name}"


def spec_aspect(spec: FieldSpec) -> str:
    return field_aspect(spec.name if spec.column == "custom" else spec.column)


# Rough relative cost of checking one criterion for one relation: a column comparison, a
# membership or function lookup, a registration lookup, an aggregate over donations or contacts.
CRITERION_COST: dict[type, int] = {
    FieldCriterion: 1,
    ListCriterion: 2,
    FunctionCriterion: 3,
    RegistrationCriterion: 3,
    ContactCriterion: 10,
    DonationCriterion: 10,
}


def cost(node: Any) -> int:
    """How expensive a (sub)filter is to check for one relation, roughly."""
    if isinstance(node, AllOf):
        return sum(cost(child) for child in node.all)
    if isinstance(node, AnyOf):
        return sum(cost(child) for child in node.any)
    if isinstance(node, NotOf):
        return cost(node.not_)
    return CRITERION_COST.get(type(node), 10)


def cheapest_first(children: list[Any]) -> list[Any]:
    """Children of ``all``/``any`` in ascending cost. PostgreSQL evaluates AND and OR in the
    order written and stops at the first false (true) operand, so when a cheap city check comes
    first, the sum over donations only runs for the relations in that city."""
    return sorted(children, key=cost)


def _like_pattern(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Compiler:
    today: date
    custom: dict[str, FieldSpec]

    def condition(self, node: Any) -> ColumnElement[bool]:
        """The SQL condition (over ``rm_relations``) that a matching relation meets."""
        if isinstance(node, AllOf):
            return and_(*(self.condition(child) for child in cheapest_first(node.all)))
        if isinstance(node, AnyOf):
            return or_(*(self.condition(child) for child in cheapest_first(node.any)))
        if isinstance(node, NotOf):
            return not_(self.condition(node.not_))
        if isinstance(node, FieldCriterion):
            return self._field(node)
        if isinstance(node, FunctionCriterion):
            return self._function(node)
        if isinstance(node, ContactCriterion):
            return self._contact(node)
        if isinstance(node, DonationCriterion):
            return self._donations(node)
        if isinstance(node, RegistrationCriterion):
            return self._registration(node)
        if isinstance(node, ListCriterion):
            return exists().where(
                memberships.c.list_id == node.list_id,
                memberships.c.relation_id == r.c.relation_id,
            )
        raise TypeError(f"not a filter node: {node!r}")

    def matching(self, node: Any) -> ColumnElement[bool]:
        """The condition plus the base rule: only active relations are in any list."""
        return and_(r.c.status == "active", self.condition(node))

    # --- fields --------------------------------------------------------------------------------

    def _field(self, node: FieldCriterion) -> ColumnElement[bool]:
        spec = lookup(node.field, self.custom)
        assert spec is not None, "filters are checked before they are compiled"
        if spec.column == "custom":
            return self._custom(spec, node.op, node.value)
        column = r.c[spec.column]
        if node.op in RELATIVE_OPS:
            period = Period.model_validate(node.value)
            return and_(column.is_not(None), self._relative(column, spec, node.op, period))
        if spec.multi:  # never NULL: the comparison is true or false
            return self._multi(column, node.op, node.value)
        if node.op in ("empty", "not_empty", "not_equals"):
            return self._scalar(column, spec, node.op, node.value)
        # A missing value does not match, and so ``not`` of the criterion does: two-valued
        # logic, while the column stays bare so its index can serve the comparison.
        compare = self._date if spec.type in ("date", "datetime") else self._scalar
        return and_(column.is_not(None), compare(column, spec, node.op, node.value))

    def _scalar(self, column: Any, spec: FieldSpec, op: str, value: Any) -> ColumnElement[bool]:
        textual = spec.type == "text"
        folded = func.lower(column) if textual else column

        def norm(v: Any) -> Any:
            if spec.type in ("number", "money") and is_number(v):
                return _number_bind(v)
            return v.lower() if textual and isinstance(v, str) else v

        match op:
            case "equals":
                return folded == norm(value)
            case "not_equals":
                return or_(column.is_(None), folded != norm(value))
            case "contains":
                return column.ilike(f"%{_like_pattern(value)}%", escape="\\")
            case "starts_with":
                return column.ilike(f"{_like_pattern(value)}%", escape="\\")
            case "in":
                return folded.in_([norm(v) for v in value])
            case "lt":
                return column < norm(value)
            case "gt":
                return column > norm(value)
            case "between":
                return column.between(norm(value[0]), norm(value[1]))
            case "empty":
                return or_(column.is_(None), column == "") if textual else column.is_(None)
            case "not_empty":
                return and_(column.is_not(None), column != "") if textual else column.is_not(None)
        raise AssertionError(op)

    def _multi(self, column: Any, op: str, value: Any) -> ColumnElement[bool]:
        joined = SEPARATOR + func.array_to_string(column, SEPARATOR)
        match op:
            case "equals":
                return column.contains([value.lower()])
            case "not_equals":
                return not_(column.contains([value.lower()]))
            case "in":
                return column.overlap([v.lower() for v in value])
            case "contains":
                return joined.like(f"%{_like_pattern(value.lower())}%", escape="\\")
            case "starts_with":
                return joined.like(f"%{SEPARATOR}{_like_pattern(value.lower())}%", escape="\\")
            case "empty":
                return func.cardinality(column) == 0
            case "not_empty":
                return func.cardinality(column) > 0
        raise AssertionError(op)

    def _date(self, column: Any, spec: FieldSpec, op: str, value: Any) -> ColumnElement[bool]:
        day = cast(column, Date) if spec.type == "datetime" else column
        match op:
            case "equals":
                return day == parse_day(value)
            case "lt":
                return day < parse_day(value)
            case "gt":
                return day > parse_day(value)
            case "between":
                return day.between(parse_day(value[0]), parse_day(value[1]))
            case "empty":
                return column.is_(None)
            case "not_empty":
                return column.is_not(None)
        raise AssertionError(op)

    def _relative(
        self, column: Any, spec: FieldSpec, op: str, period: Period
    ) -> ColumnElement[bool]:
        start = period_start(self.today, period)
        bound: Any = start
        if spec.type == "datetime":
            bound = day_start(start)
        match op:
            case "within_last":
                return column >= bound
            case "more_than_ago":
                return column < bound
            case "less_than_ago":
                return column > bound
        raise AssertionError(op)

    # --- custom fields: typed by their JSON values -------------------------------------------

    def _custom(self, spec: FieldSpec, op: str, value: Any) -> ColumnElement[bool]:
        key = custom_key(spec.name)
        element = r.c.custom[key]
        kind = func.jsonb_typeof(element)
        text_value = element.astext
        # Text orders by code point, whatever the database's collation: one meaning, and the
        # one the Python evaluator has (ISO dates sort alike either way).
        ordered = text_value.collate("C")
        number = case(
            (kind == "number", cast(text_value, Numeric)),
            (kind == "object", cast(element["amount"].astext, Numeric)),
        )
        if op in RELATIVE_OPS:
            start = period_start(self.today, Period.model_validate(value)).isoformat()
            comparison = {
                "within_last": ordered >= start,
                "more_than_ago": ordered < start,
                "less_than_ago": ordered > start,
            }[op]
            return func.coalesce(and_(kind == "string", comparison), false())
        if op == "empty":
            return not_(r.c.custom.has_key(key))
        if op == "not_empty":
            return r.c.custom.has_key(key)
        if op in ("contains", "starts_with"):
            pattern = _like_pattern(str(value))
            pattern = f"%{pattern}%" if op == "contains" else f"{pattern}%"
            return func.coalesce(text_value.ilike(pattern, escape="\\"), false())
        if op in ("in", "equals", "not_equals"):
            values = value if op == "in" else [value]
            matches = func.coalesce(
                or_(*(self._custom_equals(element, number, v) for v in values)), false()
            )
            return matches if op != "not_equals" else not_(matches)
        numeric = is_number(value) or (isinstance(value, list) and all(map(is_number, value)))
        # Numbers (and money amounts) compare as numbers; ISO dates compare as text.
        target = number if numeric else ordered
        guard = kind.in_(["number", "object"]) if numeric else kind == "string"
        match op:
            case "lt":
                comparison = target < _sql_value(value)
            case "gt":
                comparison = target > _sql_value(value)
            case "between":
                comparison = target.between(_sql_value(value[0]), _sql_value(value[1]))
            case _:
                raise AssertionError(op)
        return func.coalesce(and_(guard, comparison), false())

    @staticmethod
    def _custom_equals(element: Any, number: Any, value: Any) -> ColumnElement[bool]:
        if is_number(value):
            return func.coalesce(number == Decimal(str(value)), false())
        if isinstance(value, bool):
            return element == func.to_jsonb(value)
        return func.lower(element.astext) == str(value).lower()

    # --- facts from other services ------------------------------------------------------------

    def _function(self, node: FunctionCriterion) -> ColumnElement[bool]:
        f = rm_functions
        conditions = [f.c.subject_id == r.c.relation_id]
        if node.role is not None:
            conditions.append(f.c.role == node.role)
        if node.active:
            conditions += [
                f.c.start_date <= self.today,
                or_(f.c.end_date.is_(None), f.c.end_date >= self.today),
            ]
        if node.at is not None:
            conditions.append(f.c.object_id == node.at)
        if node.at_list is not None:
            members = select(memberships.c.relation_id).where(memberships.c.list_id == node.at_list)
            conditions.append(f.c.object_id.in_(members))
        return exists().where(*conditions)

    def _since(self, within_last: Period | None, this_year: bool = False) -> date | None:
        if this_year:
            return date(self.today.year, 1, 1)
        return period_start(self.today, within_last) if within_last else None

    def _contact(self, node: ContactCriterion) -> ColumnElement[bool]:
        links = rm_contact_links
        conditions = [links.c.relation_id == r.c.relation_id]
        if node.contact_kinds:
            conditions.append(links.c.kind.in_(node.contact_kinds))
        if node.direction:
            conditions.append(links.c.direction == node.direction)
        since = self._since(node.within_last, node.this_year)
        if since is not None:
            conditions.append(links.c.occurred_at >= day_start(since))
        if node.min_count == 1:
            return exists().where(*conditions)
        count = select(func.count()).select_from(links).where(*conditions).scalar_subquery()
        return count >= node.min_count

    def _donations(self, node: DonationCriterion) -> ColumnElement[bool]:
        d = rm_donations
        conditions = [d.c.relation_id == r.c.relation_id]
        since = self._since(node.within_last)
        if since is not None:
            conditions.append(d.c.received_on >= since)
        checks = []
        total = select(func.coalesce(func.sum(d.c.amount), 0)).where(*conditions).scalar_subquery()
        if node.total_more_than is not None:
            checks.append(total > node.total_more_than)
        if node.total_at_least is not None:
            checks.append(total >= node.total_at_least)
        if node.min_count:
            count = select(func.count()).select_from(d).where(*conditions).scalar_subquery()
            checks.append(count >= node.min_count)
        return and_(*checks)

    def _registration(self, node: RegistrationCriterion) -> ColumnElement[bool]:
        g = rm_registrations
        return exists().where(
            g.c.relation_id == r.c.relation_id,
            g.c.event_code == node.event_code,
            g.c.status.in_(node.statuses),
        )


INT64 = 2**63


def _number_bind(value: Any) -> Any:
    """A number to compare an integer column with: a whole number in range as itself (so
    the column's index serves), any other (2.5, 1e20) as a numeric, compared exactly."""
    if isinstance(value, int) and -INT64 <= value < INT64:
        return value
    if isinstance(value, float) and value.is_integer() and -INT64 <= value < INT64:
        return int(value)
    return literal(Decimal(str(value)), Numeric())


def _sql_value(value: Any) -> Any:
    # A plain text parameter: PostgreSQL's grammar allows no COLLATE on a BETWEEN bound, and
    # the collation of the other side decides the comparison.
    return Decimal(str(value)) if is_number(value) else literal(value, Text())


# --- what a filter depends on ----------------------------------------------------------------


def aspects(node: Any, custom: dict[str, FieldSpec]) -> set[str]:
    """What changes can change the outcome of this filter for a relation: the read model
    columns (and custom fields) it compares, the facts it counts, the lists it reads."""
    found: set[str] = {STATUS}
    for _, item in walk(node):
        if isinstance(item, FieldCriterion):
            spec = lookup(item.field, custom)
            if spec is not None:
                found.add(spec_aspect(spec))
        elif isinstance(item, FunctionCriterion):
            found.add(FUNCTIONS)
            if item.at_list is not None:
                found.add(list_aspect(item.at_list))
        elif isinstance(item, ContactCriterion):
            found.add(CONTACT_MOMENTS)
        elif isinstance(item, DonationCriterion):
            found.add(DONATIONS)
        elif isinstance(item, RegistrationCriterion):
            found.add(REGISTRATIONS)
        elif isinstance(item, ListCriterion):
            found.add(list_aspect(item.list_id))
    return found


# Operators on a multi-valued column (cities, postal codes, ...) whose outcome for a relation
# depends only on whether given values are among the relation's values.
VALUE_OPS = ("equals", "not_equals", "in")
# Operators whose outcome can be compared for the old and the new values of a column.
GUARDED_OPS = (*VALUE_OPS, "contains", "starts_with", "empty", "not_empty")


def guarded_values(node: FieldCriterion) -> tuple[str, ...] | None:
    """The (lower-cased) values a criterion on a multi-valued column compares with, or None
    when its outcome cannot be judged from the values that changed."""
    if node.op in ("empty", "not_empty"):
        return ()
    values = node.value if node.op == "in" else [node.value]
    if node.op not in GUARDED_OPS or not isinstance(values, list):
        return None
    if not all(isinstance(v, str) for v in values):
        return None
    return tuple(v.lower() for v in values)


Guard = tuple[str, tuple[str, ...]]
"""A criterion on a multi-valued column as its operator and (lower-cased) values."""


def guards(node: Any, custom: dict[str, FieldSpec]) -> dict[str, tuple[Guard, ...]]:
    """Per multi-valued column aspect: the criteria on it, when every one of them can be
    judged from the old and new values (see :func:`may_change`). A column left out must be
    re-checked on any change of it."""
    found: dict[str, list[Guard]] = {}
    unguarded: set[str] = set()
    for item in field_criteria(node):
        spec = lookup(item.field, custom)
        if spec is None or not spec.multi:
            continue
        aspect = spec_aspect(spec)
        values = guarded_values(item)
        if values is None:
            unguarded.add(aspect)
        else:
            found.setdefault(aspect, []).append((item.op, values))
    return {aspect: tuple(items) for aspect, items in found.items() if aspect not in unguarded}


def may_change(guard: Guard, old: frozenset[str], new: frozenset[str]) -> bool:
    """Whether a criterion on a multi-valued column can have another outcome for the new
    values than for the old: only a value that came or went can make a difference."""
    op, values = guard
    if op in ("empty", "not_empty"):
        return bool(old) != bool(new)
    delta = old ^ new
    if op in VALUE_OPS:
        return any(v in delta for v in values)
    if op == "contains":
        return any(v in item for v in values for item in delta)
    if op == "starts_with":
        return any(item.startswith(v) for v in values for item in delta)
    return True


def is_relative(node: Any) -> bool:
    """Whether the outcome can change with the date alone, without any event."""
    for _, item in walk(node):
        if isinstance(item, FieldCriterion) and item.op in RELATIVE_OPS:
            return True
        if isinstance(item, FunctionCriterion) and item.active:
            return True
        if isinstance(item, ContactCriterion) and (item.within_last or item.this_year):
            return True
        if isinstance(item, DonationCriterion) and item.within_last:
            return True
    return False


def describe(node: Any) -> str:
    """A criterion in words, for the record of why a relation entered or left a list."""
    if isinstance(node, FieldCriterion) and node.op in RELATIVE_OPS:
        period = Period.model_validate(node.value).describe()
        return (
            f"{node.field} "
            + {
                "within_last": f"within the last {period}",
                "more_than_ago": f"more than {period} ago",
                "less_than_ago": f"less than {period} ago",
            }[node.op]
        )
    if isinstance(node, FieldCriterion):
        value = "" if node.value is None else f" {node.value!r}"
        return f"{node.field} {node.op.replace('_', ' ')}{value}"
    if isinstance(node, FunctionCriterion):
        where = (
            f" at {node.at}"
            if node.at
            else f" at a member of list {node.at_list}"
            if node.at_list
            else ""
        )
        return f"{'active ' if node.active else ''}function {node.role or 'any role'}{where}"
    if isinstance(node, ContactCriterion):
        period = (
            "this year"
            if node.this_year
            else f"in the last {node.within_last.describe()}"
            if node.within_last
            else "ever"
        )
        kinds = "/".join(node.contact_kinds) or "any"
        return f"at least {node.min_count} {kinds} contact moment(s) {period}"
    if isinstance(node, DonationCriterion):
        period = f" in the last {node.within_last.describe()}" if node.within_last else ""
        parts = [
            f"total > {node.total_more_than}" if node.total_more_than is not None else "",
            f"total >= {node.total_at_least}" if node.total_at_least is not None else "",
            f"at least {node.min_count} donations" if node.min_count else "",
        ]
        return f"donations{period}: " + ", ".join(p for p in parts if p)
    if isinstance(node, RegistrationCriterion):
        return f"registered for {node.event_code}"
    if isinstance(node, ListCriterion):
        return f"member of list {node.list_id}"
    if isinstance(node, NotOf):
        return f"not ({describe(node.not_)})"
    if isinstance(node, AllOf | AnyOf):
        return "all of" if isinstance(node, AllOf) else "any of"
    return repr(node)


def leaves(node: Any) -> list[Any]:
    """The criteria of a tree (a ``not`` counts as one criterion with its child)."""
    if isinstance(node, AllOf):
        return [leaf for child in node.all for leaf in leaves(child)]
    if isinstance(node, AnyOf):
        return [leaf for child in node.any for leaf in leaves(child)]
    return [node]
