"""The vocabulary of adjustment rules: what triggers a rule and what actions it carries out.
The automation service runs rules; the gateway offers them to functional administrators. Both
read and check them with these models."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreatedTrigger(Strict):
    """When a relation is created."""

    kind: Literal["created"]


class FieldChangedTrigger(Strict):
    """When a field of a relation changes."""

    kind: Literal["field_changed"]
    field: str = Field(description="a standard field or custom.<key>")


class ListTrigger(Strict):
    """When a relation enters or leaves a relation list."""

    kind: Literal["entered_list", "left_list"]
    list_id: uuid.UUID


class ButtonTrigger(Strict):
    """When someone presses the button on a card (a form places it there)."""

    kind: Literal["button"]
    label: str = Field(min_length=1, max_length=100, description="the button's text")


Trigger = Annotated[
    CreatedTrigger | FieldChangedTrigger | ListTrigger | ButtonTrigger,
    Field(discriminator="kind"),
]


class SetField(Strict):
    kind: Literal["set_field"]
    field: str = Field(description="a standard field or custom.<key>")
    value: Any = Field(description='"{actor}" is who pressed the button, "{today}" the date')


class ClearField(Strict):
    kind: Literal["clear_field"]
    field: str = Field(description="a standard field or custom.<key>")


class AddFunction(Strict):
    kind: Literal["add_function"]
    role: str
    object_id: uuid.UUID = Field(description="the organisation")


class EndFunction(Strict):
    kind: Literal["end_function"]
    role: str
    object_id: uuid.UUID | None = Field(default=None, description="any, when not given")


class SelectionAction(Strict):
    kind: Literal["add_to_selection", "remove_from_selection"]
    selection_id: uuid.UUID


class LogContactMoment(Strict):
    kind: Literal["log_contact_moment"]
    contact_kind: Literal["phone", "email", "visit", "letter", "meeting", "other"] = "other"
    direction: Literal["in", "out"] = "out"
    subject: str = Field(min_length=1, max_length=200)


Action = Annotated[
    SetField | ClearField | AddFunction | EndFunction | SelectionAction | LogContactMoment,
    Field(discriminator="kind"),
]
