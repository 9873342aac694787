"""The process that runs first inside every sandbox (either backend), with the sandbox's python3.

It is shipped into the sandbox as `python3 -c <this file's text>`, so it must stand alone (standard library,
no toolbox imports). It runs the user's code as a child with rlimits, forwards at most cap+1 bytes of each
output stream (the extra byte tells the host that output was cut) and kills the child's process group as soon
as either stream passes the cap, so a huge output stops the run instead of filling a disk.
Arguments: cap_bytes memory_bytes max_processes max_file_bytes cpu_seconds code.
"""

import os
import resource
import selectors
import signal
import subprocess
import sys


def main() -> int:
    cap, memory, processes, file_bytes, cpu = (int(a) for a in sys.argv[1:6])
    code = sys.argv[6]

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if processes > 0:  # 0: the backend limits processes itself (a container's pids cgroup)
            resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    # -E -s: ignore PYTHON* variables and user site-packages, but keep the workspace importable.
    child = subprocess.Popen(
        [sys.executable, "-E", "-s", "-c", code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=limit,
        start_new_session=True,
    )
    assert child.stdout is not None and child.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ, 1)
    selector.register(child.stderr, selectors.EVENT_READ, 2)
    sent = {1: 0, 2: 0}
    while selector.get_map():
        for key, _ in selector.select(timeout=0.1):
            data = os.read(key.fd, 65536)
            if not data:
                selector.unregister(key.fileobj)
                continue
            room = cap + 1 - sent[key.data]
            if room > 0:
                os.write(key.data, data[:room])
            sent[key.data] += len(data)
            if sent[key.data] > cap:
                os.killpg(child.pid, signal.SIGKILL)
                selector.close()
                return 128 + signal.SIGKILL
        # Descendants may hold the pipes open after the child exits (a fork bomb): the run ends with the child.
        if child.poll() is not None and not selector.select(timeout=0):
            break
    status = child.wait()
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main())
