"""Password hashing, JWT access tokens, refresh-token hashing and the secret box."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pwdlib.hashers.bcrypt import BcryptHasher

from agentcreator.core.config import AuthSettings
from agentcreator.core.errors import Unauthorized
from agentcreator.core.security import PasswordHasher, SecretBox, TokenSigner, hash_token, new_refresh_secret

FAST = AuthSettings(argon2_time_cost=1, argon2_memory_cost=1024)
SECRET = secrets.token_urlsafe(48)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(FAST)


def test_hash_is_argon2id_salted_and_verifies(hasher: PasswordHasher) -> None:
    first, second = hasher.hash("Pass123!x"), hasher.hash("Pass123!x")
    assert first.startswith("$argon2id$") and first != second
    assert hasher.verify("Pass123!x", first) == (True, None)
    assert hasher.verify("Pass123!y", first) == (False, None)


def test_bcrypt_hash_verifies_and_asks_for_an_upgrade(hasher: PasswordHasher) -> None:
    imported = BcryptHasher(rounds=4).hash("Imported1!")
    valid, new_hash = hasher.verify("Imported1!", imported)
    assert valid is True
    assert new_hash is not None and new_hash.startswith("$argon2id$")
    assert hasher.verify("Imported1!", new_hash) == (True, None)
    assert hasher.verify("wrong", imported) == (False, None)


def test_weaker_argon2_parameters_are_upgraded() -> None:
    weak = PasswordHasher(FAST).hash("Pass123!x")
    stronger = PasswordHasher(AuthSettings(argon2_time_cost=2, argon2_memory_cost=2048))
    valid, new_hash = stronger.verify("Pass123!x", weak)
    assert valid and new_hash is not None and "m=2048,t=2" in new_hash


@pytest.mark.parametrize("stored", ["", "not-a-hash", "$argon2id$garbage", "$2b$04$short"])
def test_malformed_stored_hash_is_a_failed_verification(hasher: PasswordHasher, stored: str) -> None:
    assert hasher.verify("Pass123!x", stored) == (False, None)


def test_dummy_verify_checks_a_real_hash_with_the_configured_cost(hasher: PasswordHasher) -> None:
    """Unknown emails cost as much as known ones: the dummy check verifies a real argon2id hash made
    with the same parameters (no early return that would reveal which emails exist)."""
    real = hasher.hash("Pass123!x")
    dummy = hasher._dummy_hash
    assert dummy.startswith("$argon2id$")
    assert dummy.split("$")[2:4] == real.split("$")[2:4]  # version and m=,t=,p= cost parameters
    assert hasher.verify("not-the-password", dummy) == (False, None)
    hasher.dummy_verify()  # runs without raising


def test_access_token_round_trip() -> None:
    signer = TokenSigner(SECRET, FAST)
    claims = signer.verify(signer.issue("user-1", "sess-1", 3))
    assert (claims.user_id, claims.session_id, claims.token_version) == ("user-1", "sess-1", 3)
    assert claims.expires_at > datetime.now(UTC)
    assert signer.ttl_seconds == FAST.access_token_minutes * 60


def test_token_from_another_secret_is_refused() -> None:
    token = TokenSigner("another-secret-0123456789abcdef0123", FAST).issue("u", "s", 1)
    with pytest.raises(Unauthorized) as info:
        TokenSigner(SECRET, FAST).verify(token)
    assert info.value.code == "invalid_token"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_algorithm_is_refused_even_with_the_right_key() -> None:
    signer = TokenSigner(SECRET, FAST)
    claims = jwt.decode(signer.issue("u", "s", 1), options={"verify_signature": False})
    key = signer._key  # the derived HMAC key
    for algorithm in ("HS512", "none"):
        forged = jwt.encode(claims, None if algorithm == "none" else key, algorithm=algorithm)
        with pytest.raises(Unauthorized):
            signer.verify(forged)


def test_expired_and_incomplete_tokens_are_refused() -> None:
    signer = TokenSigner(SECRET, FAST)
    past = datetime.now(UTC) - timedelta(hours=1)
    base = {"sub": "u", "sid": "s", "ver": 1, "typ": "access", "iat": int(past.timestamp())}
    expired = jwt.encode({**base, "exp": int(past.timestamp()) + 60}, signer._key, algorithm="HS256")
    with pytest.raises(Unauthorized) as info:
        signer.verify(expired)
    assert info.value.code == "token_expired"
    future = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    for broken in ({k: v for k, v in base.items() if k != "sid"}, {**base, "ver": "1"}, {**base, "typ": "id"}):
        token = jwt.encode({**broken, "exp": future}, signer._key, algorithm="HS256")
        with pytest.raises(Unauthorized) as info:
            signer.verify(token)
        assert info.value.code == "invalid_token"


def test_refresh_secrets_are_random_and_hashes_deterministic() -> None:
    a, b = new_refresh_secret(), new_refresh_secret()
    assert a != b and len(a) >= 40 and "." not in a
    assert hash_token(a) == hash_token(a) != hash_token(b)
    assert len(hash_token(a)) == 64


def test_secret_box_round_trip_and_key_change() -> None:
    box = SecretBox(SECRET)
    ciphertext = box.encrypt("sk-provider-key")
    assert "sk-provider-key" not in ciphertext
    assert box.decrypt(ciphertext) == "sk-provider-key"
    with pytest.raises(ValueError, match="SECRET_KEY changed"):
        SecretBox("a-different-secret-0123456789abcdef").decrypt(ciphertext)
