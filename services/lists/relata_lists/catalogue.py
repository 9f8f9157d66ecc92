"""The field catalogue's vocabulary, defined once in :mod:`relata_common.fields` and named
here for the modules of this service that read it."""

from relata_common.fields import (
    OPERATORS,
    RELATIVE_OPS,
    STANDARD_FIELDS,
    FieldSpec,
    FieldType,
    custom_field,
    lookup,
)

__all__ = [
    "OPERATORS",
    "RELATIVE_OPS",
    "STANDARD_FIELDS",
    "FieldSpec",
    "FieldType",
    "custom_field",
    "lookup",
]
