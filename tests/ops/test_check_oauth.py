"""`latchkey check` for an Okta connector over OAuth: the token, the scopes granted and missing,
and the app's admin role each get a line, and a wrong key, a missing scope or a missing admin
role is a problem that says what to do.  Against the Okta sandbox with API tokens switched off."""

from __future__ import annotations

import pytest

from bot.check import OK, PROBLEM, run_checks
from bot.config import parse_config
from tests.support.cli import run, serve_env
from tests.support.config import config_text
from tests.support.harness import make_settings
from tests.support.okta_oauth import READ_SCOPES, oauth_entry, pem, public_jwk, rsa_key


@pytest.fixture
def oauth_okta(okta, monkeypatch):
    okta.ssws_enabled = False
    monkeypatch.setenv("OKTA_PRIVATE_KEY", pem(rsa_key("app")))
    return okta


def okta_rows(tmp_path, slack, okta, client_id: str) -> dict[str, tuple[str, str]]:
    config = parse_config(config_text(okta.url, okta_auth=oauth_entry(client_id)))
    return {f.what: (f.status, f.detail) for f in run_checks(make_settings(tmp_path, slack.url), config)
            if f.subject == "okta"}


def test_a_well_set_up_app_passes_showing_its_scopes_and_role(tmp_path, slack, oauth_okta):
    app = oauth_okta.add_service_app({"k1": public_jwk(rsa_key("app"), "k1")})
    rows = okta_rows(tmp_path, slack, oauth_okta, app)
    assert {status for status, _ in rows.values()} == {OK}
    assert rows["oauth access token"][1] == f"app {app}, key 'k1', DPoP-bound token"
    assert rows["oauth scopes"][1].startswith("granted: okta.users.read, okta.groups.read")
    assert rows["oauth admin role"][1] == "holds Super Administrator"
    assert "sync users" in rows and "provision admin roles" in rows


def test_a_key_okta_does_not_know_is_one_clear_problem(tmp_path, slack, oauth_okta):
    app = oauth_okta.add_service_app({"k1": public_jwk(rsa_key("other"), "k1")})
    rows = okta_rows(tmp_path, slack, oauth_okta, app)
    status, detail = rows["oauth access token"]
    assert status == PROBLEM and "Okta refused the client assertion" in detail
    assert "key 'k1'" in detail and "register the public half of the key" in detail
    assert all(status == PROBLEM and detail.startswith("no access token") for what, (status, detail)
               in rows.items() if what != "oauth access token")


def test_a_missing_scope_is_named_where_it_is_needed(tmp_path, slack, oauth_okta):
    app = oauth_okta.add_service_app({"k1": public_jwk(rsa_key("app"), "k1")}, scopes=READ_SCOPES)
    rows = okta_rows(tmp_path, slack, oauth_okta, app)
    assert rows["oauth scopes"][0] == PROBLEM
    assert rows["oauth scopes"][1].startswith("asked for but not granted: okta.groups.manage, "
                                              "okta.apps.manage, okta.roles.manage")
    status, detail = rows["provision group membership"]
    assert status == PROBLEM and "lacks okta.groups.manage" in detail
    assert rows["sync users"][0] == rows["oauth admin role"][0] == OK


def test_an_app_without_an_admin_role_is_told_it_sees_no_users(tmp_path, slack, oauth_okta):
    app = oauth_okta.add_service_app({"k1": public_jwk(rsa_key("app"), "k1")}, roles=())
    rows = okta_rows(tmp_path, slack, oauth_okta, app)
    assert rows["oauth admin role"][0] == PROBLEM and "holds no admin role" in rows["oauth admin role"][1]
    assert f"POST /oauth2/v1/clients/{app}/roles" in rows["oauth admin role"][1]
    status, detail = rows["sync users"]
    assert status == PROBLEM and "the app sees no users: it probably has no admin role" in detail
    assert rows["provision group membership"] == (PROBLEM, "the app holds no admin role; see "
                                                           "`oauth admin role` for the role to assign")


def test_the_check_command_exits_1_for_a_wrong_key_and_never_shows_it(tmp_path, slack, oauth_okta):
    app = oauth_okta.add_service_app({"k1": public_jwk(rsa_key("other"), "k1")})
    env = {**serve_env(tmp_path, slack.url, config_text(oauth_okta.url, okta_auth=oauth_entry(app))),
           "OKTA_PRIVATE_KEY": pem(rsa_key("app"))}
    result = run(["check"], env=env)
    assert result.returncode == 1
    said = " ".join(result.stdout.split())
    assert "oauth access token" in said and "Okta refused the client assertion" in said
    assert not any(line in result.stdout + result.stderr for line in pem(rsa_key("app")).splitlines()[1:-1])
