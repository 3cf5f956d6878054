"""Passwords (argon2id; bcrypt accepted for imported hashes), JWT access tokens, opaque refresh
tokens, and symmetric encryption for secrets at rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.fernet import Fernet, InvalidToken
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from agentcreator.core.config import AuthSettings
from agentcreator.core.errors import Unauthorized


class PasswordHasher:
    def __init__(self, settings: AuthSettings) -> None:
        argon = Argon2Hasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_cost)
        self._hash = PasswordHash((argon, BcryptHasher()))
        self._dummy_hash = self._hash.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """Returns (valid, new_hash): new_hash is set when the stored hash should be upgraded
        (a bcrypt import, or weaker argon2 parameters)."""
        try:
            return self._hash.verify_and_update(password, hashed)
        except Exception:  # noqa: BLE001 - a malformed stored hash is a failed login, not a 500
            return False, None

    def dummy_verify(self) -> None:
        """Spend the same time as a real verification (no user-enumeration by timing)."""
        self.verify("not-the-password", self._dummy_hash)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    session_id: str
    token_version: int
    expires_at: datetime


def check_access(claims: AccessClaims, *, is_disabled: bool, token_version: int, revoked: bool) -> None:
    """Raise Unauthorized unless a verified access token still holds: its user is enabled, has not
    signed out everywhere since (token version) and its session is not revoked."""
    if is_disabled:
        raise Unauthorized("This account is disabled", code="account_disabled")
    if claims.token_version != token_version or revoked:
        raise Unauthorized("Session revoked; sign in again", code="session_revoked")


class TokenSigner:
    """Short-lived JWT access tokens. Only the configured HMAC algorithm is accepted."""

    def __init__(self, secret: str, settings: AuthSettings) -> None:
        self._key = hashlib.sha256(("access:" + secret).encode()).digest()
        self._alg = settings.jwt_algorithm
        self._ttl = timedelta(minutes=settings.access_token_minutes)

    @property
    def ttl_seconds(self) -> int:
        return int(self._ttl.total_seconds())

    def issue(self, user_id: str, session_id: str, token_version: int) -> str:
        now = datetime.now(UTC)
        payload = {
            "sub": user_id,
            "sid": session_id,
            "ver": token_version,
            "typ": "access",
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(payload, self._key, algorithm=self._alg)

    def verify(self, token: str) -> AccessClaims:
        try:
            data: dict[str, Any] = jwt.decode(
                token, self._key, algorithms=[self._alg],
                options={"require": ["sub", "sid", "ver", "exp", "iat", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Access token expired", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid access token", code="invalid_token") from exc
        if data.get("typ") != "access" or not isinstance(data.get("ver"), int):
            raise Unauthorized("Invalid access token", code="invalid_token")
        return AccessClaims(str(data["sub"]), str(data["sid"]), data["ver"],
                            datetime.fromtimestamp(data["exp"], UTC))


def new_refresh_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


class SecretBox:
    """Encrypts secrets at rest (e.g. provider API keys) with a key derived from SECRET_KEY."""

    def __init__(self, secret: str) -> None:
        key = hashlib.sha256(("secretbox:" + secret).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: SECRET_KEY changed or data corrupted") from exc
