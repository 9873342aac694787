"""A third-party tool as an entry point would provide it (used by the registry tests)."""

from __future__ import annotations

from pydantic import BaseModel

from toolbox import ToolContext, ToolSettings, ToolSpec


class EchoArgs(BaseModel):
    text: str


class EchoResult(BaseModel):
    echoed: str


class Echo:
    def __init__(self, name: str = "echo") -> None:
        self.spec = ToolSpec(
            name=name,
            description="Echo the text back.",
            args_model=EchoArgs,
            result_model=EchoResult,
            timeout_s=1,
        )

    async def run(self, args: EchoArgs, context: ToolContext) -> EchoResult:
        return EchoResult(echoed=args.text)


def make_echo(settings: ToolSettings) -> Echo:
    return Echo()


ready_tool = Echo("echo_ready")
not_a_tool = object()
