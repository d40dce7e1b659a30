"""Every pipeline module a stage runs is a dependency of that stage in dvc.yaml.

DVC reruns a stage only when a listed dependency changes, so a module the stage imports but does
not list (pipeline/config.py, a parent package's __init__.py) could change the stage's outputs
while `dvc status` says it is up to date. The imports are read from the source (ast), not by
importing: lazy imports inside functions count too, and no stage's libraries (torch) load.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from pipeline.stages import STAGES

REPO = Path(__file__).resolve().parent.parent


def module_file(name: str) -> Path | None:
    """The source file of module `name` (dotted), None when it is not one of ours."""
    path = REPO.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported(name: str, nested: bool = True) -> set[str]:
    """The pipeline modules that module `name` imports: with `nested`, also inside functions."""
    tree = ast.parse(module_file(name).read_text())
    nodes = ast.walk(tree) if nested else tree.body
    package = name if module_file(name).name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            # `from pipeline import config` imports the module pipeline.config
            found.update(f"{base}.{alias.name}" for alias in node.names if module_file(f"{base}.{alias.name}"))
    return {m for m in found if m.split(".")[0] == "pipeline" and module_file(m)}


def stage_files(stage: str) -> set[Path]:
    """Every source file `python -m pipeline <stage>` can execute. pipeline/__main__.py's own
    imports inside main() serve other commands (inspect, plots, report --open): only its
    module-level imports count, plus pipeline.runner, which main() calls to run a stage, and the
    stage's module, which pipeline.runner imports by name (pipeline.stages.load)."""
    seen = {"pipeline.__main__"}
    todo = imported("pipeline.__main__", nested=False) | {"pipeline.runner", STAGES[stage][0]}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        # importing a.b.c runs a/__init__.py and a/b/__init__.py first
        parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        todo |= (imported(name) | parents) - seen
    return {module_file(name).relative_to(REPO) for name in seen}


def code_deps(stage: str) -> list[Path]:
    """The stage's dvc.yaml deps under pipeline/ (the others are data, params files, the lock)."""
    deps = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][stage]["deps"]
    return [Path(d) for d in deps if isinstance(d, str) and d.split("/")[0] == "pipeline"]


def test_every_stage_is_in_dvc_yaml():
    assert set(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]) == set(STAGES)


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_deps_cover_its_code(stage):
    deps = code_deps(stage)
    missing = [d for d in deps if not (REPO / d).exists()]
    assert not missing, f"dvc.yaml: stage {stage}: deps {missing} do not exist"
    # a directory dep covers every file under it
    uncovered = sorted(str(f) for f in stage_files(stage) if not any(f == d or d in f.parents for d in deps))
    assert not uncovered, f"dvc.yaml: stage {stage} runs {uncovered} but does not list them in its deps"


def test_lazy_and_parent_imports_are_followed():
    """The walk sees an import inside a function (pipeline.config -> pipeline.stages) and the
    parent package a submodule import runs (validate -> pipeline.curate.normalize ->
    pipeline/curate/__init__.py)."""
    assert "pipeline.stages" in imported("pipeline.config")
    assert "pipeline.stages" not in imported("pipeline.config", nested=False)
    assert Path("pipeline/curate/__init__.py") in stage_files("validate")
