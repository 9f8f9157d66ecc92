"""What a typed query means and how matches rank — free of the index that executes it.

A query becomes a :class:`QueryPlan`: *identifier* clauses (an e-mail address, a phone number,
a relation number, a postal code with house number: any one of them suffices) and *word* clauses
(every typed word must match a word of a name, organisation name or city: exactly, as a
prefix or with one typo).

The plan is run as :func:`tiers`, cheapest and most telling first, and the order is by tier,
then by score within the tier:

1. an exact identifier (e-mail, phone, relation number, postal code);
2. every typed word matches a word exactly;
3. an identifier prefix, or every word matches exactly or as a prefix;
4. every word matches exactly, as a prefix or with one typo.

A relation is listed once, in the first tier it matches. Within a tier every clause of that
tier carries a constant score and the scores of the clauses a relation matches add up: a name
word (30 exact, 10 prefix, 3 typo) counts more than a city word (``CITY_FACTOR``), and so does
an exact word next to prefixes. Running the tiers in order lets the index stop as soon as a
page is full, instead of scoring every relation that matches a common word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from relata_search.documents import SearchDocument
from relata_search.normalise import (
    compact,
    digits_of,
    email_key,
    phone_keys,
    postal_keys,
    query_phone,
    query_postal,
    tokens,
)

Kind = Literal["term", "prefix", "fuzzy", "fuzzy_prefix"]

EXACT_IDENTIFIER = 1000.0
IDENTIFIER_PREFIX = 60.0
POSTAL_CODE_ONLY = 100.0
WORD_EXACT = 30.0
WORD_PREFIX = 10.0
WORD_TYPO = 3.0
CITY_FACTOR = 0.4  # a city word counts less than a name word: 'Berg' the name beats Bergen
MIN_FUZZY_LENGTH = 4  # below this one typo turns almost any word into a match
MIN_FUZZY_PREFIX_LENGTH = 6  # a typo while still typing: costly, so only on longer words
MAX_WORDS = 8


@dataclass(frozen=True)
class Clause:
    field: str
    kind: Kind
    value: str
    score: float


@dataclass(frozen=True)
class QueryPlan:
    text: str
    identifiers: tuple[Clause, ...]
    words: tuple[tuple[Clause, ...], ...]

    @property
    def empty(self) -> bool:
        return not self.identifiers and not self.words


def plan_query(text: str) -> QueryPlan:
    text = text.strip()
    return QueryPlan(text, tuple(_identifier_clauses(text)), tuple(_word_clauses(text)))


def _identifier_clauses(text: str) -> list[Clause]:
    clauses: list[Clause] = []
    if "@" in text or ("." in text and " " not in text):
        key = email_key(text)
        clauses.append(Clause("email", "term", key, EXACT_IDENTIFIER))
        if len(key) >= 3:
            clauses.append(Clause("email", "prefix", key, IDENTIFIER_PREFIX))
    digits = digits_of(text)
    if digits:
        phone = query_phone(text)
        if phone:
            clauses.append(Clause("phone", "term", phone, EXACT_IDENTIFIER))
        if len(digits) <= 12:
            clauses.append(Clause("number", "term", digits, EXACT_IDENTIFIER))
        if len(digits) >= 4:
            clauses.append(Clause("phone", "prefix", digits, IDENTIFIER_PREFIX))
            clauses.append(Clause("number", "prefix", digits, IDENTIFIER_PREFIX / 2))
        if len(digits) == 4:
            clauses.append(Clause("postal", "prefix", digits, IDENTIFIER_PREFIX / 3))
    postal = query_postal(text)
    if postal:
        with_number = not postal[-1].isalpha() or len(postal) > 6
        score = EXACT_IDENTIFIER if with_number else POSTAL_CODE_ONLY
        clauses.append(Clause("postal", "term", postal, score))
        clauses.append(Clause("postal", "prefix", postal, IDENTIFIER_PREFIX))
    return clauses


def _word_clauses(text: str) -> list[tuple[Clause, ...]]:
    words = tokens(text)[:MAX_WORDS]
    if not words or (digits_of(text) is not None) or query_postal(text):
        return []  # identifiers only: their words ('3511', 'ab') are not names
    groups = []
    for position, word in enumerate(words):
        last = position == len(words) - 1
        # Earlier words were typed out (a prefix only from 3 letters); the last may still grow.
        prefix = last or len(word) >= 3
        clauses = [Clause("name", "term", word, WORD_EXACT)]
        if prefix:
            clauses.append(Clause("name", "prefix", word, WORD_PREFIX))
        if len(word) >= MIN_FUZZY_LENGTH:
            clauses.append(Clause("name", "fuzzy", word, WORD_TYPO))
        if last and len(word) >= MIN_FUZZY_PREFIX_LENGTH:
            clauses.append(Clause("name", "fuzzy_prefix", word, WORD_TYPO))
        clauses.append(Clause("city", "term", word, WORD_EXACT * CITY_FACTOR))
        if prefix:
            clauses.append(Clause("city", "prefix", word, WORD_PREFIX * CITY_FACTOR))
        groups.append(tuple(clauses))
    return groups


# --- tiers: the order in which a plan runs ------------------------------------------------------

IDENTIFIER_KINDS: tuple[frozenset[Kind], ...] = (
    frozenset({"term"}),
    frozenset(),
    frozenset({"prefix"}),
    frozenset(),
)
WORD_KINDS: tuple[frozenset[Kind], ...] = (
    frozenset(),
    frozenset({"term"}),
    frozenset({"term", "prefix"}),
    frozenset({"term", "prefix", "fuzzy", "fuzzy_prefix"}),
)


def tiers(plan: QueryPlan) -> list[QueryPlan]:
    """The plan as the sub-plans to run in order; a relation belongs to the first it matches.

    Empty tiers, and tiers that would match exactly what the previous one did, are left out.
    """
    out: list[QueryPlan] = []
    for identifier_kinds, word_kinds in zip(IDENTIFIER_KINDS, WORD_KINDS, strict=True):
        tier = _restrict(plan, identifier_kinds, word_kinds)
        if not tier.empty and (not out or not _same_matches(out[-1], tier)):
            out.append(tier)
    return out


def _restrict(
    plan: QueryPlan, identifier_kinds: frozenset[Kind], word_kinds: frozenset[Kind]
) -> QueryPlan:
    identifiers = tuple(c for c in plan.identifiers if c.kind in identifier_kinds)
    groups = tuple(tuple(c for c in group if c.kind in word_kinds) for group in plan.words)
    if not word_kinds or not all(groups):
        groups = ()
    return QueryPlan(plan.text, identifiers, groups)


def _same_matches(earlier: QueryPlan, later: QueryPlan) -> bool:
    """A later tier that only repeats an earlier one's clauses finds nothing new."""
    return set(later.identifiers) <= set(earlier.identifiers) and later.words == earlier.words


# --- matching only on the fields a caller may see ----------------------------------------------

INDEX_FIELD_OF = {
    "email": "email",
    "phone": "phone",
    "relation_number": "number",
    "postal_code": "postal",
    "city": "city",
    "first_name": "name",
    "initials": "name",
    "infix": "name",
    "last_name": "name",
    "organisation_name": "name",
}
"""Each document field a search can match on, and the index field that holds its terms."""


def restricted(plan: QueryPlan, allowed: frozenset[str]) -> QueryPlan:
    """The plan with only the clauses on index fields that an allowed document field feeds.

    A word that no allowed field can match leaves the words no way to match: a caller who may
    not see cities must not find "Jan Utrecht". The index field ``name`` holds every name
    part, so a hit can still have matched a hidden one; :func:`explained` checks that."""
    index_fields = {INDEX_FIELD_OF[field] for field in allowed}
    identifiers = tuple(c for c in plan.identifiers if c.field in index_fields)
    words = tuple(tuple(c for c in group if c.field in index_fields) for group in plan.words)
    return QueryPlan(plan.text, identifiers, words if all(words) else ())


def allowed_sources(sources: list[Source], allowed: frozenset[str]) -> list[Source]:
    return [source for source in sources if source[1] in allowed]


def explained(plan: QueryPlan, sources: list[Source]) -> bool:
    """Whether these sources alone make the plan match: an identifier, or every word."""

    def matches(clause: Clause) -> bool:
        return any(
            clause.field == field and any(clause_matches(clause, term) for term in terms)
            for field, _, _, terms in sources
        )

    if any(matches(clause) for clause in plan.identifiers):
        return True
    return bool(plan.words) and all(any(map(matches, group)) for group in plan.words)


# --- which field matched ------------------------------------------------------------------------


def within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance ≤ 1 (a transposition counts as one), like the index's."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        i, j = diffs[0], diffs[-1]
        return len(diffs) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def clause_matches(clause: Clause, term: str) -> bool:
    value = clause.value
    if clause.kind == "term":
        return term == value
    if clause.kind == "prefix":
        return term.startswith(value)
    if clause.kind == "fuzzy":
        return within_one_edit(value, term)
    n = len(value)
    return any(within_one_edit(value, term[:k]) for k in (n - 1, n, n + 1) if 0 < k <= len(term))


Source = tuple[str, str, str, list[str]]


def match_sources(document: SearchDocument) -> list[Source]:
    """(index field, document field, shown value, its terms), most telling field first.

    Computed when a document is indexed and stored with it, so marking the matched field of
    a hit costs no normalising at query time.
    """
    names = document["names"]
    out: list[Source] = [("email", "email", e, [email_key(e)]) for e in document["emails"]]
    out += [("phone", "phone", p, phone_keys(p)) for p in document["phones"]]
    number = str(document["relation_number"])
    out.append(("number", "relation_number", number, [compact(number)]))
    for address in document["addresses"]:
        keys = postal_keys(address.get("postal_code"), address.get("house_number"))
        if keys:
            parts = (address.get("postal_code"), address.get("house_number"))
            shown = " ".join(v for v in parts if v)
            out.append(("postal", "postal_code", shown, keys))
    for field in ("last_name", "first_name", "infix", "initials"):
        if field in names:
            out.append(("name", field, names[field], tokens(names[field])))
    if document["organisation_name"]:
        org = document["organisation_name"]
        out.append(("name", "organisation_name", org, tokens(org)))
    for address in document["addresses"]:
        if address.get("city"):
            out.append(("city", "city", address["city"], tokens(address["city"])))
    return out


def matched_field(plan: QueryPlan, sources: list[Source]) -> tuple[str, str] | None:
    """The document field (and its value) that made the best-scoring clause match."""
    clauses = [*plan.identifiers, *(c for group in plan.words for c in group)]
    best: tuple[float, str, str] | None = None
    for field, name, shown, terms in sources:
        for clause in clauses:
            if clause.field != field or (best is not None and clause.score <= best[0]):
                continue
            if any(clause_matches(clause, term) for term in terms):
                best = (clause.score, name, shown)
    return None if best is None else (best[1], best[2])
