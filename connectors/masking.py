"""Masking: the one function that keeps secrets out of every text Latchkey writes anywhere.

An error text can quote a credential Latchkey never meant to show: a proxy that echoes the
`Authorization` header, an API that repeats the request, a library that prints a URL with its
password.  Such text is stored (a request's last error, the audit log), shown in Slack, posted to
the audit channel, exported and logged, so `mask()` is applied where error texts are born
(connectors) and again at every one of those exits.

It masks two things:

* every secret the process was configured with (`remember()`: the tokens and private keys of
  Settings and of the YAML config, registered when the config is loaded and again when it is
  reloaded), also in their URL-encoded and JSON-escaped forms, and each part of a private key
  that could be quoted alone (a line of a PEM's body, a private member of a JWK);
* anything shaped like a credential: the value of an Authorization header (any scheme), a
  token after SSWS / GenieKey / Bearer / Basic / DPoP, Slack tokens, `token=` / `api_key=` /
  `password=` / `client_assertion=`-style pairs (also as JSON), the body of a PEM private key,
  the private members of a JWK, and the user info of a URL.

It lives in `connectors`, the layer below the rest: connectors mask where error texts are born,
and `storage` and `bot` may import it without breaking the dependency rule (nothing here
imports anything of Latchkey's).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import quote

MASK = "[redacted]"
MIN_SECRET = 4  # shorter values (a region, a number) are no secret, and masking them garbles text
_JWK_PRIVATE = ("d", "p", "q", "dp", "dq", "qi")  # the private members of RSA and EC JWKs

_VALUE = r"[^\s\"'&,;<>()\[\]{}]+"  # a credential's characters, up to a delimiter
_SEP = r"""["']?\s*[:=]\s*["']?"""  # key=value, key: value, "key": "value"
_PARAM = rf"""(?:\[redacted\]|\w+="[^"]*"|{_VALUE})"""  # a token, a Digest parameter, or masked
# Each pattern: (what to keep)(the credential), applied in this order, after the known secrets
# (so that a secret is masked whole, and "[redacted]" may already stand in a value).
_CREDENTIALS = [re.compile(pattern) for pattern in (
    # An Authorization header, whatever its scheme: keep the scheme, mask its credentials
    # (one token, or Digest's parameters).
    rf"(?i)(\b(?:proxy-)?authorization{_SEP}(?:[a-z][\w-]*\s+(?=\S))?)"
    rf"({_PARAM}(?:\s*,\s*{_PARAM})*)",
    # A scheme and its credentials anywhere: Okta's SSWS and Opsgenie's GenieKey always
    # (PagerDuty's `Token token=` is a key=value pair, below); Bearer and DPoP when what
    # follows looks like a token rather than a word (a digit or token punctuation in it);
    # Basic when it is base64, in whole groups of four.
    rf"(\b(?:SSWS|GenieKey)\s+)({_VALUE})",
    r"(?i)(\b(?:bearer|dpop)\s+)((?=[A-Za-z0-9._~+/-]*[0-9._~+/=-])[A-Za-z0-9._~+/-]{6,}=*)",
    r"(?i)(\bbasic\s+)((?:[A-Za-z0-9+/]{4}){2,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![\w+/=]))",
    # Slack tokens: bot, user, refresh, configuration (xox?-) and app-level (xapp-).
    r"()(\bxox[a-z]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+)",
    # key=value pairs, in a query string, a form, a header or JSON.
    rf"(?i)(\b(?:[a-z0-9]+[_-])?(?:token|api[_-]?key|apikey|password|passwd|secret|signature"
    rf"|assertion){_SEP})({_VALUE})",
    # A private key: the body of a PEM block, and the private members of a JWK (RFC 7518).
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)([^-]+)(?=-----END)",
    r'("(?:d|p|q|dp|dq|qi)"\s*:\s*")([A-Za-z0-9_-]+)',
    # The user info of a URL: scheme://user:password@host.
    r"(://)([^/\s@\"'\[]+)(?=@)",
)]
# A word each pattern above needs: most texts (labels, names, ids) hold none of these and no
# known secret, and are passed by one search instead of a substitution per pattern.
_HINTS = (r'(?i:authoriz|ssws|geniekey|bearer|basic|dpop|xox|xapp|token|key|passw|secret|signature'
          r'|assertion|://)|"(?:d|p|q|dp|dq|qi)"\s*:')



class Secrets:
    """The secret values to mask, and the masking itself.  The process has one (`remember`,
    `mask`, `mask_all` and `excerpt` below are its methods); a test may make its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: frozenset[str] = frozenset()
        self._pattern: re.Pattern | None = None
        self._worth_a_look = re.compile(_HINTS)  # a known secret or a hint

    def remember(self, values: Iterable[str | None]) -> None:
        """Mask these secret values from now on, for the life of the process (a secret rotated
        out of the config stays masked: texts from the time it was used may still quote it)."""
        forms = {form for value in values if value for part in _parts(value)
                 if len(part) >= MIN_SECRET
                 for form in (part, quote(part, safe=""), json.dumps(part)[1:-1])}
        with self._lock:
            if not forms <= self._known:
                self._known = self._known | forms
                # Longest first, so that a secret containing another is masked whole.
                known = "|".join(re.escape(v) for v in sorted(self._known, key=len, reverse=True))
                self._pattern = re.compile(known)
                self._worth_a_look = re.compile(f"{known}|{_HINTS}")

    def mask(self, text: str, also: Mapping[str, str] | None = None) -> str:
        """`text` with every remembered secret, every value in `also` (written as its label
        instead) and everything shaped like a credential replaced."""
        if also:
            for value in sorted((v for v in also if len(v) >= MIN_SECRET), key=len, reverse=True):
                text = text.replace(value, also[value])
        pattern, worth_a_look = self._pattern, self._worth_a_look
        if not worth_a_look.search(text):
            return text
        if pattern is not None:
            text = pattern.sub(MASK, text)
        for credential in _CREDENTIALS:
            text = credential.sub(rf"\1{MASK}", text)
        return text

    def mask_all(self, value):
        """`mask()` applied to every string inside `value` (dicts, lists and tuples walked)."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):
            return {key: self.mask_all(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.mask_all(item) for item in value]
        return value

    def excerpt(self, text: str, limit: int = 300) -> str:
        """A raw body (an API's answer) fit to be quoted in an error: masked first, so that no
        secret is cut in two where the mask could no longer know it; then one line, clipped."""
        text = " ".join(self.mask(text).split())
        return text if len(text) <= limit else text[:limit - 1] + "…"


def _parts(secret: str) -> list[str]:
    """The secret, and what of it a text could quote on its own: each line of a PEM private
    key's body, each private member of a JWK."""
    parts = [secret]
    if "PRIVATE KEY-----" in secret:
        body = secret.replace("\\n", "\n")  # a PEM squeezed into one line
        parts += [line.strip() for line in body.splitlines()
                  if line.strip() and not line.startswith("-----")]
    elif secret.lstrip().startswith("{"):
        try:
            members = json.loads(secret)
        except ValueError:
            members = None
        if isinstance(members, dict):
            parts += [str(members[name]) for name in _JWK_PRIVATE if name in members]
    return parts


_process = Secrets()
remember, mask, mask_all, excerpt = _process.remember, _process.mask, _process.mask_all, _process.excerpt
