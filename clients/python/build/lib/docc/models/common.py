"""What every model shares: tolerant parsing (a newer server may add fields) and the list envelope."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Model(BaseModel):
    """A resource as the server answers it. Unknown fields are kept (`model_extra`), never an error, so an
    older SDK keeps working against a newer server; the SDK's tests check there are none."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=False)


class Input(BaseModel):
    """A request body: unknown fields are refused here already, as the server would refuse them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def body(self) -> dict[str, Any]:
        """The JSON the server expects: only the fields that were given."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class PageMeta(Model):
    total: int
    limit: int
    offset: int
    page: int
    per_page: int


class PageLinks(Model):
    self_: str | None = Field(default=None, alias="self")
    next: str | None = None
    prev: str | None = None


class Page(Model, Generic[T]):
    """One page of a list: `{data, meta, links}`."""

    data: list[T]
    meta: PageMeta
    links: PageLinks
