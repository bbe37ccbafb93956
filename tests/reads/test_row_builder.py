"""Read models kept by their rows' stored values (RowBuilder) and JSON kept per read model (EncodedShape)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest

from server.crypto.keys import Keyring, use_keyring
from server.models.datasets import Dataset
from server.models.rows import RowBuilder
from server.rest.common import EncodedShape

COLUMNS = ("id", "name", "quality_score")


@dataclass(frozen=True)
class Named:
    id: str
    name: str
    score: float | None


@pytest.fixture
def builder():
    built: list[tuple] = []

    def build(values: tuple) -> Named:
        built.append(values)
        return Named(*values)

    with use_keyring(Keyring.generate()):
        made = RowBuilder(Dataset, COLUMNS, build, capacity=3)
        made.built = built
        yield made


def test_the_same_stored_values_give_the_same_object_built_once(builder):
    first = builder(("ds_1", "orders", None))
    again = builder(["ds_1", "orders", None])
    assert again is first and len(builder.built) == 1


def test_any_changed_column_builds_a_new_object(builder):
    first = builder(("ds_1", "orders", None))
    changed = builder(("ds_1", "orders", 0.5))
    assert changed is not first and changed.score == 0.5 and len(builder.built) == 2


def test_values_that_cannot_be_kept_are_built_every_time(builder):
    # a driver that decodes a JSON column gives a dict: nothing to key by, so nothing is kept
    one, two = builder(("ds_1", {"a": 1}, None)), builder(("ds_1", {"a": 1}, None))
    assert one == two and one is not two and len(builder.built) == 2


def test_a_type_error_of_the_build_itself_reaches_the_caller():
    def build(values: tuple) -> Named:
        raise TypeError("not a score")

    with use_keyring(Keyring.generate()):
        made = RowBuilder(Dataset, COLUMNS, build)
        with pytest.raises(TypeError, match="not a score"):
            made(("ds_1", "orders", None))
        assert made.cache_info().currsize == 0


def test_at_most_capacity_rows_are_kept(builder):
    for n in range(5):
        builder((f"ds_{n}", "x", None))
    assert builder.cache_info().currsize == 3
    builder(("ds_0", "x", None))  # fell out first: built again
    assert len(builder.built) == 6


def test_another_keyring_never_shares_what_was_built():
    builder = RowBuilder(Dataset, COLUMNS, lambda values: Named(*values))
    with use_keyring(Keyring.generate()):
        first = builder(("ds_1", "orders", None))
    with use_keyring(Keyring.generate()):
        assert builder(("ds_1", "orders", None)) is not first


def test_encoded_json_is_reused_per_object_and_matches_a_fresh_encoding():
    shape = EncodedShape(lambda item: {"id": item.id, "name": item.name}, capacity=2)
    item = Named("ds_1", "orders", None)
    encoded = shape(item)
    assert shape(item) is encoded
    assert orjson.loads(orjson.dumps([encoded])) == [{"id": "ds_1", "name": "orders"}]
    # an equal but distinct object is encoded on its own; the oldest entry falls out past the capacity
    other = Named("ds_1", "orders", None)
    assert shape(other) is not encoded
    shape(Named("ds_2", "x", None))
    assert shape(item) is not encoded
