"""The escape suite, run against both sandbox backends: every attempt is stopped, reported with a clear reason,
and the backend keeps working afterwards."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from tests.integration.tools.conftest import MEMORY_MB, OUTPUT_CAP, TIMEOUT_S, sandbox_settings
from toolbox import ResourceLimitExceeded, SandboxUnavailable, ToolContext, ToolTimeout
from toolbox.python_exec import PythonExec, PythonExecArgs, PythonExecResult

SANDBOX_UID = 65534
REPO = Path(__file__).resolve().parents[3]


async def _run(tool: PythonExec, context: ToolContext, code: str, **args: object) -> PythonExecResult:
    return await tool.run(PythonExecArgs.model_validate({"code": code, **args}), context)


def _sandbox_processes() -> list[str]:
    """Processes of the sandbox uid still alive (zombies excluded)."""
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(SANDBOX_UID)] and not fields["State"].strip().startswith(
            "Z"
        ):
            alive.append(f"{pid} {fields['Name'].strip()}")
    return alive


async def _still_works(tool: PythonExec, context: ToolContext) -> None:
    result = await _run(tool, context, "print(sum(range(10)))")
    assert (result.exit_code, result.stdout) == (0, "45\n")
    # A killed sandbox's processes may take a moment to be reaped; poll briefly, then insist.
    for _ in range(50):
        if not _sandbox_processes():
            break
        await asyncio.sleep(0.1)
    assert _sandbox_processes() == [], "sandboxed processes outlived their run"


async def test_runs_code_with_the_workspace_as_working_directory(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    (sandbox_context.workspace / "input.txt").write_text("3 4\n")
    code = "a, b = map(int, open('input.txt').read().split())\nopen('out.txt', 'w').write(str(a * b))\nprint('done')"
    result = await _run(python_exec, sandbox_context, code)
    assert (result.exit_code, result.stdout, result.timed_out, result.truncated) == (
        0,
        "done\n",
        False,
        False,
    )
    assert (sandbox_context.workspace / "out.txt").read_text() == "12"
    assert result.backend in ("docker", "bwrap")


async def test_a_failing_script_is_a_result_with_its_traceback(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    result = await _run(python_exec, sandbox_context, "raise ValueError('bad input')")
    assert result.exit_code == 1
    assert "ValueError: bad input" in result.stderr


async def test_read_only_roots_are_readable_not_writable(
    python_exec: PythonExec, reachable_dir: Path
) -> None:
    data = reachable_dir / "data"
    data.mkdir()
    (data / "in.csv").write_text("a,b\n")
    workspace = reachable_dir / "workspace"
    workspace.mkdir()
    context = ToolContext(workspace=workspace, read_only_roots=(data,))
    code = f"print(open({str(data / 'in.csv')!r}).read(), end='')\nopen({str(data / 'new.csv')!r}, 'w')"
    result = await _run(python_exec, context, code)
    assert result.stdout == "a,b\n"
    assert result.exit_code == 1
    assert "Read-only file system" in result.stderr or "PermissionError" in result.stderr
    assert not (data / "new.csv").exists()


async def test_reading_files_outside_the_workspace_fails(
    python_exec: PythonExec, sandbox_context: ToolContext, tmp_path: Path
) -> None:
    secret = tmp_path / "service-secret.txt"
    secret.write_text("TOP-SECRET-FILE")
    code = f"""
for path in ['/etc/shadow', {str(secret)!r}, {str(REPO / "pyproject.toml")!r}, '../service-secret.txt']:
    try:
        print('READ', path, open(path).read())
    except OSError as e:
        print('DENIED', path, type(e).__name__)
"""
    result = await _run(python_exec, sandbox_context, code)
    assert result.exit_code == 0
    assert "TOP-SECRET-FILE" not in result.stdout
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["DENIED"] * 4
    await _still_works(python_exec, sandbox_context)


async def test_writing_outside_the_workspace_fails(
    python_exec: PythonExec, sandbox_context: ToolContext, tmp_path: Path
) -> None:
    targets = [
        tmp_path / "planted.txt",
        Path("/usr/lib/planted.txt"),
        Path("/etc/planted.txt"),
        Path("/planted"),
    ]
    code = f"""
for path in {[str(t) for t in targets]!r} + ['../planted.txt']:
    try:
        open(path, 'w').write('x')
        print('WROTE', path)
    except OSError as e:
        print('DENIED', path, type(e).__name__, e.strerror)
"""
    result = await _run(python_exec, sandbox_context, code)
    assert "WROTE" not in result.stdout, result.stdout
    assert result.stdout.count("DENIED") == 5
    assert not any(t.exists() for t in targets)
    assert not (tmp_path / "planted.txt").exists()
    await _still_works(python_exec, sandbox_context)


async def test_no_network_connection_can_be_opened(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        code = f"""
import socket
for host, port in [('127.0.0.1', {port}), ('1.1.1.1', 53), ('8.8.8.8', 443)]:
    try:
        socket.create_connection((host, port), timeout=1)
        print('CONNECTED', host)
    except OSError as e:
        print('REFUSED', host, e)
"""
        result = await _run(python_exec, sandbox_context, code)
        assert "CONNECTED" not in result.stdout
        assert result.stdout.count("REFUSED") == 3
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing reached the host's loopback
    await _still_works(python_exec, sandbox_context)


async def test_a_fork_bomb_is_contained_and_stopped(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    started = time.monotonic()
    with pytest.raises(ToolTimeout, match=f"wall-clock timeout of {TIMEOUT_S:g} s") as caught:
        await _run(python_exec, sandbox_context, code)
    assert time.monotonic() - started < TIMEOUT_S + 8
    assert caught.value.details["timed_out"] is True
    await _still_works(python_exec, sandbox_context)


async def test_a_memory_bomb_hits_the_memory_limit(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))"
    with pytest.raises(ResourceLimitExceeded, match=f"memory limit of {MEMORY_MB} MiB"):
        await _run(python_exec, sandbox_context, code)
    await _still_works(python_exec, sandbox_context)


async def test_an_endless_loop_is_killed_at_the_timeout(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    started = time.monotonic()
    with pytest.raises(ToolTimeout, match="wall-clock timeout of 1 s and was killed"):
        await _run(
            python_exec, sandbox_context, "print('started', flush=True)\nwhile True:\n    pass", timeout_s=1
        )
    assert time.monotonic() - started < 1 + 8
    await _still_works(python_exec, sandbox_context)


@pytest.mark.parametrize(
    "code",
    [
        "print('x' * 20_000_000)",
        "import sys\nwhile True:\n    sys.stderr.write('y' * 65536)",
        "f = open('/proc/self/fd/1', 'w')\nwhile True:\n    f.write('z' * 65536)",
    ],
    ids=["one-huge-print", "endless-stderr", "direct-fd-write"],
)
async def test_huge_output_is_capped_and_stopped(
    python_exec: PythonExec, sandbox_context: ToolContext, code: str
) -> None:
    with pytest.raises(ResourceLimitExceeded, match=f"more than {OUTPUT_CAP} bytes of output") as caught:
        await _run(python_exec, sandbox_context, code)
    details = caught.value.details
    assert details["truncated"] is True
    assert len(str(details["stdout"])) <= OUTPUT_CAP
    assert len(str(details["stderr"])) <= OUTPUT_CAP
    await _still_works(python_exec, sandbox_context)


async def test_the_services_environment_secrets_are_not_visible(
    python_exec: PythonExec, sandbox_context: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TROUPE_TEST_SECRET", "s3cr3t-service-value")
    code = f"""
import asyncio
import os
print(dict(os.environ))
for path in ['/proc/self/environ', '/proc/1/environ', '/proc/{os.getpid()}/environ']:
    try:
        print(path, open(path, 'rb').read())
    except OSError as e:
        print(path, 'DENIED', type(e).__name__)
"""
    result = await _run(python_exec, sandbox_context, code)
    assert result.exit_code == 0
    assert "s3cr3t-service-value" not in result.stdout + result.stderr
    assert "TROUPE_TEST_SECRET" not in result.stdout
    await _still_works(python_exec, sandbox_context)


async def test_writing_past_the_runner_to_the_sandboxs_own_output_is_still_bounded(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    # /proc/1 is the sandbox's first process (the runner, or bwrap's init): its stdout is not capped by the
    # runner, so the backend must bound it (the container log's max-size; bwrap refuses the open).
    code = "f = open('/proc/1/fd/1', 'w')\nwhile True:\n    f.write('w' * 65536)\n    f.flush()"
    try:
        result = await _run(python_exec, sandbox_context, code, timeout_s=2)
        assert result.exit_code != 0
        assert "PermissionError" in result.stderr
    except (ToolTimeout, ResourceLimitExceeded) as stopped:
        assert len(str(stopped.details["stdout"])) <= OUTPUT_CAP
    await _still_works(python_exec, sandbox_context)


async def test_auto_prefers_the_container_engine_and_falls_back_to_bwrap(tmp_path: Path) -> None:
    from toolbox import ToolSettings
    from toolbox.sandbox import choose_sandbox

    assert (await choose_sandbox(ToolSettings(sandbox_backend="auto"))).name == "docker"
    no_engine = ToolSettings(sandbox_backend="auto", docker_base_url=f"unix://{tmp_path / 'none.sock'}")
    assert (await choose_sandbox(no_engine)).name == "bwrap"
    with pytest.raises(
        SandboxUnavailable, match=r"no image 'troupe-sandbox:missing'.*infra/sandbox\.sh install"
    ):
        await choose_sandbox(ToolSettings(sandbox_backend="docker", image="troupe-sandbox:missing"))


async def test_a_fork_bomb_does_not_starve_a_run_beside_it(
    python_exec: PythonExec, reachable_dir: Path
) -> None:
    bomb_ws, other_ws = reachable_dir / "bomb", reachable_dir / "other"
    bomb_ws.mkdir()
    other_ws.mkdir()
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    worker = "import subprocess, time\ntime.sleep(1)\nprint(subprocess.run(['echo', 'forked fine'], capture_output=True, text=True).stdout, end='')"
    bombed, beside = await asyncio.gather(
        _run(python_exec, ToolContext(workspace=bomb_ws), bomb, timeout_s=3),
        # Generous: starting a sandbox takes seconds on a loaded machine. What matters is that it can fork.
        _run(python_exec, ToolContext(workspace=other_ws), worker, timeout_s=20),
        return_exceptions=True,
    )
    assert isinstance(bombed, ToolTimeout)
    assert isinstance(beside, PythonExecResult), beside
    assert (beside.exit_code, beside.stdout) == (0, "forked fine\n")


_NESTED_NAMESPACES = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
NEWUSER, NEWNS, NEWNET, SIGCHLD = 0x10000000, 0x20000, 0x40000000, 17

def in_child(attempt):
    pid = os.fork()
    if pid == 0:
        os._exit(attempt())
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

def unshare(flags):
    return lambda: 0 if libc.unshare(flags) == 0 else ctypes.get_errno()

def clone(flags):
    def attempt():
        pid = libc.syscall(56, flags | SIGCHLD, 0, 0, 0, 0)  # x86_64 clone, fork-like
        if pid == 0:
            os._exit(0)
        if pid < 0:
            return ctypes.get_errno()
        os.waitpid(pid, 0)
        return 0
    return attempt

for name, attempt in [
    ("unshare NEWUSER", unshare(NEWUSER)),
    ("unshare NEWUSER|NEWNS", unshare(NEWUSER | NEWNS)),
    ("unshare NEWUSER|NEWNET", unshare(NEWUSER | NEWNET)),
    ("clone NEWUSER|NEWNET", clone(NEWUSER | NEWNET)),
]:
    print(name, "=", "ALLOWED" if in_child(attempt) == 0 else "REFUSED")
"""


async def test_nested_user_mount_and_network_namespaces_are_refused(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    # A nested user namespace gives the code every capability over fresh namespaces: mount, netfilter...
    result = await _run(python_exec, sandbox_context, _NESTED_NAMESPACES)
    assert result.exit_code == 0, result.stderr
    verdicts = dict(line.split(" = ") for line in result.stdout.splitlines())
    assert verdicts == {
        "unshare NEWUSER": "REFUSED",
        "unshare NEWUSER|NEWNS": "REFUSED",
        "unshare NEWUSER|NEWNET": "REFUSED",
        "clone NEWUSER|NEWNET": "REFUSED",
    }
    await _still_works(python_exec, sandbox_context)


async def test_a_netlink_socket_is_refused(python_exec: PythonExec, sandbox_context: ToolContext) -> None:
    code = """
import socket
for protocol in (12, 0):  # NETLINK_NETFILTER (nf_tables), NETLINK_ROUTE
    try:
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol).close()
        print('OPENED', protocol)
    except OSError as e:
        print('REFUSED', protocol, e.errno)
with socket.socket(socket.AF_UNIX) as a, socket.socket(socket.AF_INET) as b:
    print('unix and inet sockets still open')
"""
    result = await _run(python_exec, sandbox_context, code)
    assert "OPENED" not in result.stdout, result.stdout
    assert result.stdout.count("REFUSED") == 2
    assert "unix and inet sockets still open" in result.stdout


async def test_threads_and_subprocesses_still_run(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    # clone3 is refused with ENOSYS, so libc must fall back to clone for threads and processes.
    code = """
import subprocess, threading
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as pool:
    print(sum(pool.map(lambda n: n * n, range(10))))
t = threading.Thread(target=print, args=('thread ran',))
t.start(); t.join()
print(subprocess.run(['python3', '-c', 'print(6 * 7)'], capture_output=True, text=True).stdout, end='')
"""
    result = await _run(python_exec, sandbox_context, code)
    assert (result.exit_code, result.stdout) == (0, "285\nthread ran\n42\n"), result.stderr


async def test_filling_dev_shm_is_capped(python_exec: PythonExec, sandbox_context: ToolContext) -> None:
    code = """
written = 0
try:
    for i in range(6):
        with open(f'/dev/shm/fill{i}', 'wb') as f:
            for _ in range(16):
                f.write(bytes(1 << 20)); f.flush(); written += 1
except OSError as e:
    print('stopped', e.errno)
print('MiB', written)
"""
    try:
        result = await _run(python_exec, sandbox_context, code)
        written = int(result.stdout.split()[-1])
    except ResourceLimitExceeded:
        written = 0  # the memory cgroup stopped it first
    assert written <= 16
    await _still_works(python_exec, sandbox_context)


async def test_memory_is_capped_across_processes(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    # Each child stays under the per-process limit; together they hold 2.5 times the run's memory limit.
    code = f"""
import os, time
ready, go = os.pipe()
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        os.close(ready)
        block = bytearray(b'1') * ({MEMORY_MB * 5 // 8} << 20)  # written, so resident
        os.write(go, b'x')
        time.sleep(2)
        os._exit(0)
    children.append(pid)
os.close(go)
held = len(os.read(ready, 4) + os.read(ready, 4) + os.read(ready, 4) + os.read(ready, 4))
for pid in children:
    os.waitpid(pid, 0)
print('held', held)
"""
    try:
        result = await _run(python_exec, sandbox_context, code, timeout_s=20)
        held = int(result.stdout.split()[-1])
    except ResourceLimitExceeded as stopped:
        held = int(str(stopped.details["stdout"]).split()[-1] or 0) if stopped.details["stdout"] else 0
    assert held < 4, "four processes held 2.5x the run's memory limit at once"
    await _still_works(python_exec, sandbox_context)


async def test_writing_past_the_workspace_quota_fails(python_exec: PythonExec, reachable_dir: Path) -> None:
    from executor_svc.workspaces import Workspaces

    workspaces = Workspaces(reachable_dir / "workspaces", quota_mb=32, retention_s=0)
    workspace = workspaces.open("acme", "t-quota")
    try:
        code = """
written = 0
try:
    for i in range(8):
        with open(f'part{i}', 'wb') as f:
            for _ in range(8):
                f.write(bytes(1 << 20)); f.flush(); written += 1
except OSError as e:
    print('stopped', e.strerror)
print('MiB', written)
"""
        result = await _run(python_exec, ToolContext(workspace=workspace), code)
        assert "stopped No space left on device" in result.stdout, result.stdout + result.stderr
        assert int(result.stdout.split()[-1]) <= 32
    finally:
        workspaces.remove("acme", "t-quota")
    assert not workspace.exists()


_SOCKET_FAMILY_TRICKS = """
import ctypes, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
HIGH = -0x100000000  # 0xFFFFFFFF00000000: socket() reads its family as an int, so the kernel drops these bits
for name, family, kind, protocol in [
    ('NETLINK_NETFILTER with high bits', HIGH | socket.AF_NETLINK, socket.SOCK_RAW, 12),
    ('NETLINK_ROUTE with high bits', HIGH | socket.AF_NETLINK, socket.SOCK_RAW, 0),
    ('VSOCK', 40, socket.SOCK_STREAM, 0),
    ('ALG', 38, socket.SOCK_SEQPACKET, 0),
]:
    fd = libc.syscall(ctypes.c_long(41), ctypes.c_long(family), ctypes.c_long(kind), ctypes.c_long(protocol))
    print(name, '=', 'OPENED' if fd >= 0 else 'REFUSED')
with socket.socket(socket.AF_UNIX) as a, socket.socket(socket.AF_INET) as b, socket.socket(socket.AF_INET6) as c:
    print('unix and inet sockets = OPENED')
"""


async def test_redteam_no_socket_family_beyond_unix_and_inet_opens_even_with_high_bits_in_the_argument(
    python_exec: PythonExec, sandbox_context: ToolContext
) -> None:
    # A 64-bit comparison on socket's 32-bit family let AF_NETLINK through with junk in the high bits.
    result = await _run(python_exec, sandbox_context, _SOCKET_FAMILY_TRICKS)
    assert result.exit_code == 0, result.stderr
    assert dict(line.split(" = ") for line in result.stdout.splitlines()) == {
        "NETLINK_NETFILTER with high bits": "REFUSED",
        "NETLINK_ROUTE with high bits": "REFUSED",
        "VSOCK": "REFUSED",
        "ALG": "REFUSED",
        "unix and inet sockets": "OPENED",
    }


async def test_redteam_the_bwrap_backend_hands_the_workspace_over_off_the_event_loop(
    sandbox_context: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The walk touches every entry the task's earlier runs left: 200k files held the loop for 2 s.
    from toolbox.sandbox import bwrap_backend
    from toolbox.sandbox.base import give_workspace_to as real

    on_loop: list[bool] = []

    def recording(workspace: Path, uid: int, gid: int) -> None:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        real(workspace, uid, gid)

    monkeypatch.setattr(bwrap_backend, "give_workspace_to", recording)
    settings = sandbox_settings("bwrap")
    tool = PythonExec(settings, bwrap_backend.BwrapSandbox(settings))
    result = await _run(tool, sandbox_context, "print('ran')")
    assert result.stdout == "ran\n"
    assert on_loop == [False]
