"""Errors of the sandbox layer. The code interpreter tool turns them into messages for the model.

ServiceUnavailable
└── SandboxUnavailable    sandbox_unavailable: bubblewrap, libseccomp or the interpreter environment missing,
    │                                          or a sandbox that would not start
    └── SandboxBusy       sandbox_busy: every session slot stayed busy for the whole queue wait
BadRequest
└── SandboxInputError     sandbox_bad_input: an input file that cannot be copied in (missing, too large)
"""

from __future__ import annotations

from agentcreator.core.errors import BadRequest, ServiceUnavailable


class SandboxUnavailable(ServiceUnavailable):
    code = "sandbox_unavailable"


class SandboxBusy(SandboxUnavailable):
    code = "sandbox_busy"


class SandboxInputError(BadRequest):
    code = "sandbox_bad_input"
