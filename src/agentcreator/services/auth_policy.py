"""The password policy, shared by registration, password change and ``create-admin``."""

from __future__ import annotations

from agentcreator.core.config import AuthSettings
from agentcreator.core.errors import ValidationFailed


def _fail(message: str, code: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, code=code,
                            details=[{"loc": ["body", field], "msg": message, "type": code}])


def password_problem(settings: AuthSettings, password: str, *, email: str | None = None) -> str | None:
    """Why ``password`` is too weak, or None when it is acceptable."""
    if len(password) < settings.password_min_length:
        return f"Password must be at least {settings.password_min_length} characters long"
    if not any(ch.isalpha() for ch in password):
        return "Password must contain at least one letter"
    if not any(not ch.isalpha() and not ch.isspace() for ch in password):
        return "Password must contain at least one digit or symbol"
    if email and password.strip().lower() == email.strip().lower():
        return "Password must not be the same as the email address"
    return None


def check_new_password(settings: AuthSettings, password: str, confirm: str | None, *,
                       email: str | None = None, field: str = "password") -> None:
    """Raise 422 (``weak_password`` or ``password_mismatch``) unless the new password is acceptable."""
    problem = password_problem(settings, password, email=email)
    if problem is not None:
        raise _fail(problem, "weak_password", field)
    if confirm is not None and confirm != password:
        raise _fail("Passwords do not match", "password_mismatch", "confirm_password")
