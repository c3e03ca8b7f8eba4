"""channels.auth: argon2id passwords, agent tokens, customer identities, the secret rules."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import jwt
import pytest

from assistant.errors import ConfigError
from assistant.store.base import AgentAccount
from channels.auth import AgentAuth, check_login, check_password, hash_password, sign_user_id, token_secret
from channels.errors import AccessError

DANA = AgentAccount(name="dana", password_hash="", display_name="Dana S.", inboxes=("billing", "default"))


def test_passwords_are_argon2id_hashes_that_only_the_right_password_opens() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("$argon2id$") and "correct horse" not in first
    assert first != second  # a salt of its own each time
    assert check_password(first, "correct horse")
    assert not check_password(first, "correct horsE")
    assert not check_password("not-a-hash", "correct horse")
    with pytest.raises(ValueError):
        hash_password("")


def test_a_login_with_an_unknown_name_or_a_wrong_password_is_the_same_error() -> None:
    account = AgentAccount(name="dana", password_hash=hash_password("s3cret"))
    assert check_login(account, "s3cret") is account
    for who, password in ((account, "wrong"), (None, "s3cret")):
        with pytest.raises(AccessError) as err:
            check_login(who, password)
        assert err.value.code == "bad_credentials" and err.value.http_status == 401


def test_a_token_names_the_agent_and_inboxes_and_expires() -> None:
    auth = AgentAuth("shared-secret", token_minutes=15)
    issued = auth.issue(DANA, now=1_000_000)
    assert issued.expires_at == 1_000_000 + 15 * 60
    assert issued.to_json()["agent"] == {"name": "dana", "display_name": "Dana S.",
                                         "inboxes": ["billing", "default"]}
    fresh = auth.issue(DANA)
    agent = auth.verify_agent_token(fresh.token)
    assert (agent.name, agent.inboxes) == ("dana", ("billing", "default"))
    with pytest.raises(AccessError, match="expired") as err:
        auth.verify_agent_token(issued.token)  # issued in 1970
    assert err.value.code == "unauthorized"


def test_workers_sharing_the_secret_accept_each_others_tokens_and_no_one_else_does() -> None:
    token = AgentAuth("shared").issue(DANA).token
    assert AgentAuth("shared").verify_agent_token(token).name == "dana"
    for bad in (AgentAuth("other").issue(DANA).token, token[:-3] + "abc", "garbage", ""):
        with pytest.raises(AccessError) as err:
            AgentAuth("shared").verify_agent_token(bad)
        assert err.value.code == "unauthorized"


def test_a_token_with_widened_inboxes_or_no_algorithm_is_refused() -> None:
    secret = "a-shared-secret-of-at-least-32-bytes"
    auth = AgentAuth(secret)
    claims: dict[str, Any] = jwt.decode(auth.issue(DANA).token, options={"verify_signature": False})
    claims["inboxes"] = ["*"]
    forged = jwt.encode(claims, secret, algorithm="HS256")  # signed with the raw secret, not the key
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (forged, unsigned):
        with pytest.raises(AccessError):
            auth.verify_agent_token(token)


def test_a_token_carries_a_tag_of_the_account_it_was_issued_for() -> None:
    auth = AgentAuth("shared")
    dana = AgentAccount(name="dana", password_hash=hash_password("first password"), inboxes=("billing",))
    tag = auth.verify_agent_token(auth.issue(dana).token).account_tag
    assert tag == auth.account_tag(dana) and dana.password_hash not in tag
    reset = AgentAccount(name="dana", password_hash=hash_password("first password"), inboxes=("billing",))
    renamed = AgentAccount(name="dana", password_hash=dana.password_hash, inboxes=("billing",),
                           display_name="Dana S.")
    widened = AgentAccount(name="dana", password_hash=dana.password_hash, inboxes=("*",))
    assert auth.account_tag(reset) != tag  # same password, new salt: a reset all the same
    assert auth.account_tag(renamed) == tag and auth.account_tag(widened) != tag
    assert AgentAuth("other").account_tag(dana) != tag  # keyed: a token tells nothing of the hash
    claims: dict[str, Any] = jwt.decode(auth.issue(dana).token, options={"verify_signature": False})
    del claims["acc"]  # a token from before tags, signed with the right key
    with pytest.raises(AccessError) as err:
        auth.verify_agent_token(jwt.encode(claims, auth._key, algorithm="HS256"))
    assert err.value.code == "unauthorized"


def test_customer_identity_is_the_hmac_the_site_computes() -> None:
    site_side = hmac.new(b"site-secret", b"user-42", hashlib.sha256).hexdigest()
    assert sign_user_id("site-secret", "user-42") == site_side
    auth = AgentAuth("t", identity_secret="site-secret")
    assert auth.verify_customer("user-42", site_side)
    assert auth.verify_customer("user-42", site_side.upper())  # hex is hex
    assert not auth.verify_customer("user-43", site_side)
    assert not auth.verify_customer("user-42", "ünïcode")
    assert not AgentAuth("t").verify_customer("user-42", sign_user_id("", "user-42"))  # off without a secret


def test_several_workers_or_the_redis_bus_need_a_shared_token_secret(settings: Any) -> None:
    assert token_secret(settings) != token_secret(settings)  # one process: random per start
    several = settings.model_copy(update={"server": settings.server.model_copy(update={"workers": 4})})
    redis = settings.model_copy(update={"bus": settings.bus.model_copy(update={"backend": "redis"})})
    for s in (several, redis):
        with pytest.raises(ConfigError, match="token_secret"):
            AgentAuth.from_settings(s)
    with pytest.raises(ConfigError):
        token_secret(settings, workers=2)
    shared = settings.model_copy(update={"server": settings.server.model_copy(
        update={"workers": 4, "token_secret": "s"})})
    assert token_secret(shared) == "s"


def test_assistant_serve_with_several_workers_refuses_to_start_without_a_token_secret(
        settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from channels.cli import main

    assert main(["--data-dir", str(settings.data_dir), "serve", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "config_invalid" in err and "server.token_secret" in err
