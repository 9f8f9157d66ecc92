"""What forms are made of (administration): the catalogue of fields and sections a form may
place, and custom fields (kept by the relations service)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from relata_common.fields import KEY_PATTERN
from relata_gateway import labels
from relata_gateway.deps import ServicesDep, card_context
from relata_gateway.forms import SECTIONS, STANDARD_FIELDS, Labels
from relata_gateway.routes.administration.common import ADMIN, Administrator, answering

router = APIRouter(prefix="/admin", tags=["administration"])


class CatalogueItem(BaseModel):
    name: str = Field(description="what a form's tab names in its fields")
    kind: Literal["standard", "custom", "section"]
    labels: Labels = Field(description="the default label (a form may name its own)")
    type: str | None = Field(default=None, description="a custom field's type")


class Catalogue(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "name": "last_name",
                            "kind": "standard",
                            "labels": {"nl": "Achternaam", "en": "Last name"},
                        },
                        {
                            "name": "custom.member_since",
                            "kind": "custom",
                            "labels": {"nl": "Member since", "en": "Member since"},
                            "type": "date",
                        },
                        {
                            "name": "functions",
                            "kind": "section",
                            "labels": {"nl": "Functies", "en": "Functions"},
                        },
                    ]
                }
            ]
        }
    )

    items: list[CatalogueItem]


@router.get("/forms/catalogue", **ADMIN)
async def form_catalogue(_: Administrator, services: ServicesDep) -> Catalogue:
    """Every field and section a form may place, with default labels in Dutch and English:
    the standard fields, the custom fields (as defined now) and the card sections."""
    definitions = (await services.relations.call("GET", "/custom-fields")).json()
    return Catalogue(
        items=[
            *(
                CatalogueItem(name=name, kind="standard", labels=labels.DEFAULT_LABELS[name])
                for name in STANDARD_FIELDS
            ),
            *(
                CatalogueItem(
                    name=f"custom.{d['key']}",
                    kind="custom",
                    labels=labels.custom_label(d),
                    type=d.get("type"),
                )
                for d in definitions
            ),
            *(
                CatalogueItem(name=name, kind="section", labels=labels.DEFAULT_LABELS[name])
                for name in SECTIONS
            ),
        ]
    )


# --- custom fields -----------------------------------------------------------------------------

CUSTOM_FIELD_EXAMPLE: dict[str, Any] = {
    "key": "member_since",
    "label": "Lid sinds",
    "type": "date",
    "required": False,
    "applies_to": "person",
}


class CustomFieldInput(BaseModel):
    """A custom field definition as the relations service keeps it (key, label, type and
    validation); the service checks it and answers 422 naming the field."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [CUSTOM_FIELD_EXAMPLE]})

    key: str = Field(pattern=KEY_PATTERN, description="stable identifier")
    label: str = Field(min_length=1, max_length=200)
    type: Literal["text", "number", "date", "boolean", "choice", "money"]


class CustomField(BaseModel):
    """A custom field definition as the relations service answers it (its validation
    settings included)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [CUSTOM_FIELD_EXAMPLE | {"currency": "EUR"}]},
    )

    key: str
    label: str
    type: str


@router.get("/custom-fields", **ADMIN)
async def list_custom_fields(_: Administrator, services: ServicesDep) -> list[CustomField]:
    """Every custom field definition."""
    answer = await services.relations.call("GET", "/custom-fields")
    return [CustomField.model_validate(d) for d in answer.json()]


@router.post(
    "/custom-fields",
    status_code=status.HTTP_201_CREATED,
    **answering({409: "the key is taken", 422: "the definition is invalid"}),
)
async def define_custom_field(
    body: CustomFieldInput, _: Administrator, request: Request, services: ServicesDep
) -> CustomField:
    """Define a custom field (kept by the relations service); forms may then place it as
    ``custom.<key>``."""
    answer = await services.relations.call(
        "POST", "/custom-fields", json=body.model_dump(mode="json", exclude_none=True)
    )
    await labels.custom_fields_changed(card_context(request))
    return CustomField.model_validate(answer.json())


@router.put(
    "/custom-fields/{key}",
    **answering(
        {404: "no such custom field", 422: "the definition is invalid, or changes key or type"}
    ),
)
async def change_custom_field(
    key: Annotated[str, Path(pattern=KEY_PATTERN, description="the field's stable identifier")],
    body: CustomFieldInput,
    _: Administrator,
    request: Request,
    services: ServicesDep,
) -> CustomField:
    """Change a custom field's label or validation (its key and type never change); cards
    show the new label from the next request."""
    answer = await services.relations.call(
        "PUT", f"/custom-fields/{key}", json=body.model_dump(mode="json", exclude_none=True)
    )
    await labels.custom_fields_changed(card_context(request))
    return CustomField.model_validate(answer.json())
