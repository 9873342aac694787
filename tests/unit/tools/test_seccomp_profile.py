"""The container seccomp profile shipped in the repo refuses what the bwrap filter refuses."""

from __future__ import annotations

import json

from toolbox.sandbox.seccomp_filter import CLONE_NAMESPACE_FLAGS, DENIED_SYSCALLS
from toolbox.sandbox.seccomp_profile import PROFILE_PATH, derive_profile

PROFILE = json.loads(PROFILE_PATH.read_text())


def _allowing(name: str) -> list[dict[str, object]]:
    return [r for r in PROFILE["syscalls"] if name in r["names"] and r["action"] == "SCMP_ACT_ALLOW"]


def test_no_rule_allows_a_denied_call() -> None:
    assert {name for name in DENIED_SYSCALLS if _allowing(name)} == set()


def test_clone_is_allowed_only_without_namespace_flags_and_clone3_is_enosys() -> None:
    mask = sum(CLONE_NAMESPACE_FLAGS)
    assert [r["args"] for r in _allowing("clone")] == [
        [{"index": 0, "value": mask, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    ]
    assert _allowing("clone3") == []
    assert [r.get("errnoRet") for r in PROFILE["syscalls"] if "clone3" in r["names"]] == [38]


def test_redteam_sockets_are_allowed_only_for_unix_and_inet_compared_exactly() -> None:
    # An NE or EQ on one family compares all 64 bits, and the kernel reads only the low 32: high bits slip by.
    assert [r["args"] for r in _allowing("socket")] == [
        [{"index": 0, "value": family, "valueTwo": 0, "op": "SCMP_CMP_EQ"}] for family in (1, 2, 10)
    ]
    refused = [
        r["args"][0] for r in PROFILE["syscalls"] if "socket" in r["names"] and r.get("errnoRet") == 97
    ]
    assert {a["value"] for a in refused if a["op"] == "SCMP_CMP_EQ"} == {0, 3, 4, 5, 6, 7, 8, 9}
    assert [a["value"] for a in refused if a["op"] == "SCMP_CMP_GT"] == [10]


def test_deriving_from_a_default_that_allows_everything_keeps_the_denials() -> None:
    default = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "unshare", "clone", "socket"], "action": "SCMP_ACT_ALLOW"}],
    }
    derived = derive_profile(default)["syscalls"]
    assert derived[0] == {"names": ["read"], "action": "SCMP_ACT_ALLOW"}
    assert not any("unshare" in r["names"] and r["action"] == "SCMP_ACT_ALLOW" for r in derived)
