"""HTTP client for the Celigo integrator.io API (`/v1`): wire JSON, pagination and errors only.

It knows URLs, the Bearer header, Celigo's `Link` pagination and Celigo's error envelope
(`{"errors": [{"code", "message", "field"}]}`); connector.py maps the JSON onto Latchkey's model.
Each list method returns ONE page and a cursor (None at the end).  The cursor is the query string
of Celigo's `Link rel="next"` URL, re-sent to our own host and path: following the absolute URL
would let a Link header send the token to another host.  (baton-celigo stores the raw header
value and so never gets past the first page.)

Retries follow connectors/http.py; Celigo's 429 carries `Retry-After` in whole seconds, which
`ApiClient.retry_after` already reads.  Retrying a share PUT is safe: it replaces the record with
the same body every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from connectors.base import ConnectorError
from connectors.http import ApiClient

# The hosts Celigo's API reference lists, one per region an account can live in.
REGION_HOSTS = {"us": "https://api.integrator.io", "eu": "https://api.eu.integrator.io",
                "au": "https://api.au.integrator.io", "ca": "https://api.ca.integrator.io"}


def celigo_base_url(region: str, base_url: str | None = None) -> str:
    """The API root for a region (`us`, `eu`, `au`, `ca`), or `base_url` (e.g. a sandbox) when given.

    Paths (`/v1/...`) are added by the client, so an override must be a bare origin: anything that
    would change where requests go (a path, query, fragment or credentials) is refused.
    """
    key = region.strip().lower()
    if key not in REGION_HOSTS:
        raise ValueError(f"Celigo region must be one of {sorted(REGION_HOSTS)}, not {region!r}")
    if base_url is None:
        return REGION_HOSTS[key]
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"Celigo base_url scheme must be http or https, not {parts.scheme!r}")
    if "@" in parts.netloc:  # not echoed: it may hold a password
        raise ValueError("Celigo base_url must not contain user info (credentials)")
    if not parts.hostname:
        raise ValueError("Celigo base_url has no host name")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("Celigo base_url must be an origin only, without path, query or fragment")
    _ = parts.port  # raises ValueError for a port that is not a number in range
    return f"{parts.scheme}://{parts.netloc}"


class CeligoClient(ApiClient):
    """One Celigo account, one API token, one pooled `httpx.Client`."""

    api_name = "Celigo"

    def __init__(self, base_url: str, token: str, *, max_attempts: int = 5,
                 timeout: float = 10.0, sleep: Callable[[float], None] = time.sleep) -> None:
        if not token.strip():
            raise ValueError("Celigo token is empty")
        super().__init__(base_url, {"Authorization": f"Bearer {token}",
                                    "Accept": "application/json"},
                         max_attempts=max_attempts, timeout=timeout, sleep=sleep)

    # -- reads ----------------------------------------------------------------------------------
    def token_info(self) -> dict:
        """`{"_userId", "scope"}`; Celigo documents `scope` "*" for a Full access token."""
        return self.request("GET", "/v1/tokenInfo").json()

    def list_shares(self, cursor: str | None = None) -> tuple[list[dict], str | None]:
        """Account shares ("ashares"): one per user of the account, the owner excepted."""
        return self._list("/v1/ashares", cursor)

    def get_share(self, share_id: str) -> dict:
        return self.request("GET", _share_path(share_id)).json()

    def list_integrations(self, cursor: str | None = None) -> tuple[list[dict], str | None]:
        return self._list("/v1/integrations", cursor)

    # -- writes ---------------------------------------------------------------------------------
    def put_share(self, share_id: str, share: dict) -> None:
        """Replace a share: Celigo erases every writable field the body omits (204, no body)."""
        self.request("PUT", _share_path(share_id), json=share)

    # -- plumbing -------------------------------------------------------------------------------
    def _list(self, path: str, cursor: str | None) -> tuple[list[dict], str | None]:
        params = parse_qsl(cursor, keep_blank_values=True) if cursor else None
        response = self.request("GET", path, params=params)
        items = response.json()
        if not isinstance(items, list):
            raise ConnectorError(f"Celigo GET {path} answered {type(items).__name__}, not a list")
        return items, _next_cursor(response, path, cursor)

    def describe_error(self, response: httpx.Response) -> str:
        return _describe(response)


def _describe(response: httpx.Response) -> str:
    """`code: message (field); ...` from Celigo's error envelope, if there is one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return response.reason_phrase
    return "; ".join(_one_error(error) for error in errors if isinstance(error, dict))


def _one_error(error: dict) -> str:
    text = f"{error.get('code', 'error')}: {error.get('message', '')}"
    return f"{text} ({error['field']})" if error.get("field") else text


def _next_cursor(response: httpx.Response, path: str, cursor: str | None) -> str | None:
    link = response.links.get("next")
    if link is None:
        return None
    parts = urlsplit(link.get("url", ""))
    # A next link to another path, or one that would re-read this page, would loop or wander.
    if parts.path != path or not parts.query or parts.query == cursor:
        raise ConnectorError(f"Celigo GET {path} sent an unusable next link ({parts.path!r})")
    return parts.query


def _share_path(share_id: str) -> str:
    """Percent-encode the id, so an odd id cannot reach another endpoint."""
    return f"/v1/ashares/{quote(share_id, safe='')}"
