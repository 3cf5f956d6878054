"""The tool tests run real sandboxes: the sandbox suite's fixtures."""

from tests.sandbox.conftest import manager, manager_settings, sandbox_root

__all__ = ["manager", "manager_settings", "sandbox_root"]
