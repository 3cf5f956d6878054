"""The password policy, shared by registration, password change and ``create-admin``.

At least ``auth.password_min_length`` characters (10 by default) and no composition rules, so long
passphrases are welcome; a password that zxcvbn (Dropbox's estimator, with its lists of the most
common passwords, words, names and keyboard patterns) rates below ``auth.password_min_score`` is
refused with its advice. The user's own email and name count as guessable words. docs/security.md.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

from agentcreator.core.config import AuthSettings
from agentcreator.core.errors import ValidationFailed

# zxcvbn's own ceiling (it refuses longer input): a passphrase is judged by its first 72 characters.
_ESTIMATED_CHARS = 72


def _fail(message: str, code: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, code=code,
                            details=[{"loc": ["body", field], "msg": message, "type": code}])


def password_problem(settings: AuthSettings, password: str, *, email: str | None = None,
                     name: str | None = None) -> str | None:
    """Why ``password`` is too weak, or None when it is acceptable."""
    if len(password) < settings.password_min_length:
        return f"Password must be at least {settings.password_min_length} characters long"
    if email and password.strip().lower() == email.strip().lower():
        return "Password must not be the same as the email address"
    hints = [value for value in (email, email.split("@")[0] if email else None, name) if value]
    estimate = zxcvbn(password[:_ESTIMATED_CHARS], user_inputs=[*hints, "agentcreator", "agent creator"])
    if estimate["score"] < settings.password_min_score:
        feedback = estimate["feedback"]
        advice = " ".join(part for part in (feedback.get("warning"), *feedback.get("suggestions", ())) if part)
        return ("This password is too common or too easy to guess" + (f": {advice}" if advice else ".")
                + " A few unrelated words make a strong passphrase.")
    return None


def check_new_password(settings: AuthSettings, password: str, confirm: str | None, *,
                       email: str | None = None, name: str | None = None, field: str = "password") -> None:
    """Raise 422 (``weak_password`` or ``password_mismatch``) unless the new password is acceptable."""
    problem = password_problem(settings, password, email=email, name=name)
    if problem is not None:
        raise _fail(problem, "weak_password", field)
    if confirm is not None and confirm != password:
        raise _fail("Passwords do not match", "password_mismatch", "confirm_password")
