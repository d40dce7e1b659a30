"""`lmpipe inspect [stage] [--json]`: what the pipeline and each stage produced.

Not a stage: it only reads artifacts (metrics/, plots/, the stage outputs named in params.yaml
`paths:`) and DVC's status; it never recomputes anything.
"""
from pipeline.inspect.cli import main

__all__ = ["main"]
