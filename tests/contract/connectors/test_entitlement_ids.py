"""The one entitlement-id codec (connectors.base): ids stored by every connector before it existed
read back unchanged, and an id part holding a colon cannot split the id."""

from __future__ import annotations

import pytest

from connectors.base import InvalidRequestError, entitlement_id, parse_entitlement_id

STORED = [  # one id of each shape each connector wrote to requests and catalog rows
    ("group:00g1abc2DEF:member", ("group", "00g1abc2DEF", "member")),  # Okta
    ("app:0oa1abc:access", ("app", "0oa1abc", "access")),
    ("role:APP_ADMIN:assigned", ("role", "APP_ADMIN", "assigned")),
    ("role:administrator:assigned", ("role", "administrator", "assigned")),  # Celigo
    ("integration:65f0000000000000000000aa:monitor",
     ("integration", "65f0000000000000000000aa", "monitor")),
    ("source:qP2x_9:role:1ZxVb3", ("source", "qP2x_9", "role:1ZxVb3")),  # Segment
    ("course:0a7e5c1e-3f5b-4c38-9b54-3c1d0e6f2b11:in_progress",  # Percipio
     ("course", "0a7e5c1e-3f5b-4c38-9b54-3c1d0e6f2b11", "in_progress")),
]


@pytest.mark.parametrize("stored, parts", STORED)
def test_ids_stored_before_the_codec_read_back_unchanged(stored, parts):
    """Given an id as a connector stored it, when parsed and encoded again, then the same parts and the same text."""
    assert parse_entitlement_id(stored) == parts
    resource_type, resource_id, slug = parts
    assert entitlement_id(resource_type, resource_id, *slug.split(":")) == stored


def test_a_colon_inside_a_part_cannot_split_the_id():
    """Given a resource id holding ':' and '%', when encoded and parsed, then it comes back whole."""
    text = entitlement_id("group", "a:b%c", "member")
    assert text == "group:a%3Ab%25c:member"
    assert parse_entitlement_id(text) == ("group", "a:b%c", "member")


@pytest.mark.parametrize("text", ["nonsense", "group:g1", "group::member", ":g1:member", "group:g1:"])
def test_malformed_ids_are_invalid(text):
    """Given an id without three non-empty parts, when parsed, then InvalidRequestError."""
    with pytest.raises(InvalidRequestError):
        parse_entitlement_id(text)
