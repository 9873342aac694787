"""The case file (eval/cases.toml): the projects, pinned, and the call-graph questions asked of each, with the
call paths a person found by reading the code."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CASES_FILE", "Case", "CaseFile", "Project", "load_cases", "names_match"]

CASES_FILE = Path(__file__).resolve().parent / "cases.toml"

_NAME = r"^[A-Za-z_$][\w$./-]*$"


def names_match(qualified: str, written: str) -> bool:
    """Whether `written` (as a task says it) names `qualified`, by code_analyzer's rule: the same name, or a
    dotted suffix of it (`Command.parse` names `lib/command.Command.parse`)."""
    return qualified == written or qualified.endswith("." + written)


class Project(BaseModel):
    """An open-source package at a pinned version; the task analyses the folder its archive unpacks to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*$")
    registry: Literal["pypi", "npm"]
    version: str = Field(pattern=r"^\d+(\.\d+)+$")
    layout: str = Field(description="what the case set gets from it: 'src layout', '__main__', 'large'...")

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


class Case(BaseModel):
    """One task: the call sequence from `source` to `target` in the project; `expected` lists the acceptable
    call paths as qualified names, from the source's to the target's (any one of them makes the case right)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    project: str
    source: str = Field(pattern=_NAME)
    target: str = Field(pattern=_NAME)
    expected: list[list[str]] = Field(min_length=1)
    note: str = ""

    @model_validator(mode="after")
    def _paths_run_from_source_to_target(self) -> Case:
        for path in self.expected:
            if len(path) < 2:
                raise ValueError(f"case {self.id}: an expected path has a source and a target at least")
            if not names_match(path[0], self.source) or not names_match(path[-1], self.target):
                raise ValueError(
                    f"case {self.id}: expected path {path} must start at {self.source!r} and end at {self.target!r}"
                )
            if len(set(path)) != len(path):
                raise ValueError(f"case {self.id}: expected path {path} visits a function twice")
        return self

    def question(self, root: Path) -> str:
        """The task as a user would write it (the offline planner and the scripted one both read this form)."""
        return f"Give me the call sequence from {self.source} to {self.target} in {root}"


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    project: list[Project] = Field(min_length=1)
    case: list[Case] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> CaseFile:
        names = [p.name for p in self.project]
        if len(set(names)) != len(names):
            raise ValueError("a project is listed twice")
        ids = [c.id for c in self.case]
        if len(set(ids)) != len(ids):
            raise ValueError(f"case ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        unknown = {c.project for c in self.case} - set(names)
        if unknown:
            raise ValueError(f"cases name projects that are not listed: {sorted(unknown)}")
        return self

    def projects(self) -> dict[str, Project]:
        return {p.name: p for p in self.project}


def load_cases(path: Path = CASES_FILE) -> CaseFile:
    return CaseFile.model_validate(tomllib.loads(path.read_text()))
