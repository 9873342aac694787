"""The container backend's seccomp profile: the engine's default allow-list without the calls `seccomp_filter`
denies. Podman's default (containers-common) allows unshare, clone with namespace flags, mount and setns
outright, so a container could build a nested user namespace and reach the kernel's netfilter code from it.

`seccomp.json` beside this module is generated, and checked in, with
`python -m toolbox.sandbox.seccomp_profile /usr/share/containers/seccomp.json`.
"""

from __future__ import annotations

import errno
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from toolbox.sandbox.seccomp_filter import (
    ALLOWED_SOCKET_FAMILIES,
    CLONE_NAMESPACE_FLAGS,
    DENIED_SYSCALLS,
    REFUSED_SOCKET_FAMILIES,
)

__all__ = ["PROFILE_PATH", "derive_profile", "profile_text"]

PROFILE_PATH = Path(__file__).with_name("seccomp.json")
_REPLACED = {*DENIED_SYSCALLS, "clone", "clone3", "socket"}


def derive_profile(default: dict[str, Any]) -> dict[str, Any]:
    """`default` with every rule on a denied call removed, then explicit rules: the denied calls fail with
    EPERM, clone only without namespace flags, clone3 with ENOSYS (libc falls back to clone), sockets only of
    the unix and inet families, compared on the whole register (see `seccomp_filter`)."""
    rules = []
    for rule in default["syscalls"]:
        names = [n for n in rule["names"] if n not in _REPLACED]
        if names:
            rules.append({**rule, "names": names})
    mask = 0
    for flag in CLONE_NAMESPACE_FLAGS:
        mask |= flag
    rules += [
        {"names": list(DENIED_SYSCALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [_arg(0, mask, "SCMP_CMP_MASKED_EQ", 0)]},
        *(
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": errno.EPERM,
                "args": [_arg(0, flag, "SCMP_CMP_MASKED_EQ", flag)],
            }
            for flag in CLONE_NAMESPACE_FLAGS
        ),
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
        *(
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [_arg(0, family, "SCMP_CMP_EQ")]}
            for family in ALLOWED_SOCKET_FAMILIES
        ),
        *(_refuse_socket(_arg(0, family, "SCMP_CMP_EQ")) for family in REFUSED_SOCKET_FAMILIES),
        _refuse_socket(_arg(0, max(ALLOWED_SOCKET_FAMILIES), "SCMP_CMP_GT")),
    ]
    return {**default, "syscalls": rules}


def _refuse_socket(arg: dict[str, Any]) -> dict[str, Any]:
    return {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EAFNOSUPPORT, "args": [arg]}


def _arg(index: int, value: int, op: str, value_two: int = 0) -> dict[str, Any]:
    return {"index": index, "value": value, "valueTwo": value_two, "op": op}


@cache
def profile_text() -> str:
    """The shipped profile as the engine API takes it (`security_opt=["seccomp=<json>"]`)."""
    return json.dumps(json.loads(PROFILE_PATH.read_text(encoding="utf-8")), separators=(",", ":"))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(
            "usage: python -m toolbox.sandbox.seccomp_profile <engine default seccomp.json>", file=sys.stderr
        )
        return 2
    default = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    PROFILE_PATH.write_text(json.dumps(derive_profile(default), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {PROFILE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
