"""Where python_exec runs code: a container (Docker or Podman's Docker API) or bubblewrap."""

from toolbox.sandbox.base import FakeSandbox, RunLimits, Sandbox, SandboxRun
from toolbox.sandbox.choose import choose_sandbox
from toolbox.sandbox.outcome import stop_error

__all__ = ["FakeSandbox", "RunLimits", "Sandbox", "SandboxRun", "choose_sandbox", "stop_error"]
