"""How every connector finds out what its credentials allow: one convention, kept here once.

A probe makes one small read (or a write that changes nothing) and looks at the answer:

- it works: the capability is available;
- the target refuses it (401/403, `PermissionDeniedError`): the capability is unavailable, and
  the refusal, in words an operator can act on, is the reason;
- anything else (5xx, a timeout, a network error, 429 after the client's retries, a malformed
  answer) says nothing about the credentials, so it is RAISED, never reported as "unavailable":
  an outage during `latchkey check` must read as an outage, not as a token that lost its rights.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.base import Capability, PermissionDeniedError


def refusal(call: Callable[[], object]) -> PermissionDeniedError | None:
    """The target's refusal of `call()`, or None when it worked; every other error propagates."""
    try:
        call()
    except PermissionDeniedError as refused:
        return refused
    return None


def denied(refused: PermissionDeniedError) -> str:
    """The reason shown for a refusal, the same for every connector."""
    return f"permission denied: the token lacks the permission ({refused})"


def probe(action: str, subject: str, call: Callable[[], object]) -> Capability:
    """One capability from one probing call (see the module docstring for what counts)."""
    refused = refusal(call)
    return Capability(action, subject, refused is None, "" if refused is None else denied(refused))
