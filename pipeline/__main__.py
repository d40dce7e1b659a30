"""`lmpipe <stage> [--set key=value ...]`, the same as `python -m pipeline <stage>`."""
from __future__ import annotations

import argparse
import logging
import sys

from pipeline import stages
from pipeline.errors import PipelineError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmpipe",
        description="End-to-end data-to-model pipeline. Run one stage with its params.yaml section.",
        epilog="stages:\n" + "\n".join(f"  {n:<10} {d}" for n, (_, d) in stages.STAGES.items())
        + "\n\nexample: lmpipe pretrain --set pretrain.max_steps=100 --set profile=tiny",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="<stage>", required=True)
    for name, (_, description) in stages.STAGES.items():
        p = sub.add_parser(name, help=description, description=description)
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a param, e.g. --set pretrain.lr=1e-3 (repeatable)")
        p.add_argument("--params", default=None, help="params file (default: ./params.yaml)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    from pipeline.runner import run_stage

    try:
        run_stage(args.command, args.overrides, args.params)
    except PipelineError as exc:
        print(f"lmpipe {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
