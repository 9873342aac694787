"""A code_analyzer result over a large synthetic project, with one path from main to process_data."""

from __future__ import annotations

import itertools
from typing import Any

PATH = ["app.cli.main", "app.core.run", "app.data.process_data"]


def large_analysis(noise_functions: int = 5_000, unresolved: int = 2_000) -> dict[str, Any]:
    names = PATH + [f"app.noise.m{i // 50}.f{i}" for i in range(noise_functions)]
    functions = [
        {"name": n, "kind": "function", "file": f"{n.replace('.', '/')}.py", "line": 1} for n in names
    ]
    edges = [
        {"caller": a, "callee": b, "file": "app/x.py", "line": i}
        for i, (a, b) in enumerate(itertools.pairwise(names))
    ]
    edges.append({"caller": PATH[0], "callee": PATH[1], "file": "app/cli.py", "line": 99})  # a second site
    missing = [
        {
            "caller": names[i % len(names)],
            "expression": f"obj{i}.go",
            "file": "app/y.py",
            "line": i,
            "reason": "?",
        }
        for i in range(unresolved)
    ]
    return {
        "language": "python",
        "sources": [PATH[0]],
        "targets": [PATH[-1]],
        "paths": [PATH],
        "paths_truncated": False,
        "mermaid": "flowchart LR\n" + "\n".join(f"  n{i} --> n{i + 1}" for i in range(len(PATH) - 1)),
        "unresolved": missing,
        "errors": [{"file": "app/bad.py", "line": 3, "message": "invalid syntax"}],
        "graph": {
            "language": "python",
            "root": "/src/app",
            "files": noise_functions // 50 + 3,
            "functions": functions,
            "edges": edges,
            "external": [],
            "unresolved": missing,
            "errors": [],
        },
    }
