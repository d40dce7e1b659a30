"""Set-up takes nothing but the repository and the package index.

A fresh machine failed to install lmpipe because requirements.lock pinned a wheel by a path
(`name @ file:///tmp/...`) that existed only where the lock was written. This module finds such
references in the files set-up reads, so a test (tests/test_setup_sources.py) and `make lock`
refuse them:

    python -m pipeline.setup_check [FILE ...]   # default: every set-up file; exit 1 on a finding
"""
from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from pipeline.env import PACKAGE_DIR

REPO = PACKAGE_DIR.parent
# What set-up reads: the lock, the project's requirements, and the scripts that install.
SETUP_FILES = ("requirements.lock", "pyproject.toml", "Makefile", ".ci/run")
# A location instead of a name: a direct reference (PEP 440 `name @ url`), a URL or VCS scheme,
# an absolute or home path, or a pip option that adds somewhere other than the index.
LOCATION = re.compile(r"(?:\s@\s|\bfile:|\bhttps?://|\bgit\+|\bs3://|(?:^|[\s='\"])~/"
                      r"|(?:^|[\s='\"])/(?!tmp/lmpipe-lock)\w|--find-links|\s-f\s|--index-url|"
                      r"--extra-index-url|\bcurl\b|\bwget\b)")


def _content_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines that say something: comments dropped."""
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
        if text.strip():
            out.append((number, text))
    return out


def locked_requirements(path: Path) -> list[str]:
    """Problems in a requirements file: every line must be exactly `name==version`."""
    problems = []
    for number, line in _content_lines(path):
        where = f"{path.name}:{number}"
        if LOCATION.search(" " + line):
            problems.append(f"{where}: {line.strip()!r} names a location, not a package of the index")
            continue
        try:
            req = Requirement(line.strip())
        except InvalidRequirement as exc:
            problems.append(f"{where}: {line.strip()!r} is not a requirement ({exc})")
            continue
        pins = [s for s in req.specifier if s.operator == "=="]
        if len(pins) != 1 or len(req.specifier) != 1 or "*" in pins[0].version:
            problems.append(f"{where}: {line.strip()!r} is not pinned as name==version")
    return problems


def project_requirements(path: Path) -> list[str]:
    """Problems in pyproject.toml's dependencies and extras: no direct references."""
    project = tomllib.loads(path.read_text()).get("project", {})
    groups = {"dependencies": project.get("dependencies", []),
              **{f"optional-dependencies.{k}": v for k, v in project.get("optional-dependencies", {}).items()}}
    problems = []
    for group, reqs in groups.items():
        for line in reqs:
            if LOCATION.search(" " + line) or Requirement(line).url:
                problems.append(f"{path.name} [{group}]: {line!r} names a location, not a package of the index")
    return problems


def script_locations(path: Path) -> list[str]:
    """Problems in an install script: a URL, a path outside the repo, a download tool."""
    return [f"{path.name}:{number}: {text.strip()!r} fetches from outside the repo and the index"
            for number, text in _content_lines(path) if LOCATION.search(text)]


def setup_fetches() -> list[str]:
    """Files set-up fetches itself must come from a wheel pinned by name==version."""
    from pipeline.curate import lid
    try:
        req = Requirement(lid.WHEEL)
    except InvalidRequirement:
        return [f"pipeline/curate/lid.py: WHEEL {lid.WHEEL!r} is not a requirement"]
    pinned = len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==" and not req.url
    return [] if pinned else [f"pipeline/curate/lid.py: WHEEL {lid.WHEEL!r} is not pinned as name==version"]


def check(path: Path) -> list[str]:
    if path.name == "pyproject.toml":
        return project_requirements(path)
    if path.suffix in (".lock", ".txt", ".new") or path.name.startswith("requirements"):
        return locked_requirements(path)
    return script_locations(path)


def check_all(files: list[Path] | None = None) -> list[str]:
    files = files or [REPO / name for name in SETUP_FILES]
    problems = [p for f in files for p in check(f)]
    return problems + setup_fetches()


if __name__ == "__main__":
    found = check_all([Path(a) for a in sys.argv[1:]] or None)
    for problem in found:
        print(problem, file=sys.stderr)
    sys.exit(1 if found else 0)
