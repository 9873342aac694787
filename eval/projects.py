"""The projects on disk: archives fetched once with the registries' own clients (pip, npm) into
.troupe/cache/eval/, then unpacked into a run's throwaway folder.

Source distributions and npm tarballs keep the tree as its authors lay it out (a `src/` folder, `__main__.py`),
which wheels do not always do.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

from eval.cases import Project

__all__ = ["CACHE", "archive", "fetch", "unpack"]

CACHE = Path(__file__).resolve().parents[1] / ".troupe" / "cache" / "eval"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def archive(project: Project, cache: Path = CACHE) -> Path | None:
    """The cached archive of the project's version, if there is one."""
    folder = cache / project.registry
    if not folder.is_dir():
        return None
    want = f"{_normal(project.name)}-{project.version}"
    for path in sorted(folder.iterdir()):
        stem = path.name.removesuffix(".tar.gz").removesuffix(".tgz")
        if stem != path.name and _normal(stem.rsplit("-", 1)[0]) + "-" + stem.rsplit("-", 1)[-1] == want:
            return path
    return None


def fetch(project: Project, cache: Path = CACHE) -> Path:
    """The project's archive, downloaded first if the cache does not have it."""
    found = archive(project, cache)
    if found is not None:
        return found
    folder = cache / project.registry
    folder.mkdir(parents=True, exist_ok=True)
    if project.registry == "pypi":
        # The source distribution of this package only (its build tools may come as wheels).
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", project.name, f"{project.name}=={project.version}", "-d", str(folder),
        ]  # fmt: skip
    else:
        command = [
            "npm",
            "pack",
            "--silent",
            f"{project.name}@{project.version}",
            "--pack-destination",
            str(folder),
        ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=600)
    found = archive(project, cache)
    if found is None:
        raise RuntimeError(f"{' '.join(command)} left no archive of {project.key} in {folder}")
    return found


def unpack(path: Path, into: Path) -> Path:
    """Unpack the archive under `into` (once) and return its top folder, the project's root."""
    with tarfile.open(path) as tar:
        tops = {member.name.lstrip("./").split("/", 1)[0] for member in tar.getmembers()}
        if len(tops) != 1:
            raise RuntimeError(f"{path.name} has {len(tops)} top folders, not one")
        root = into / tops.pop()
        if not root.is_dir():
            into.mkdir(parents=True, exist_ok=True)
            tar.extractall(into, filter="data")
    return root
