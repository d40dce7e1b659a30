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
        epilog="example: lmpipe pretrain --set profile=tiny --set pretrain.lr=1e-3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="<stage>", required=True)
    for name, (_, description) in stages.STAGES.items():
        p = sub.add_parser(name, help=description, description=description)
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a param, e.g. --set pretrain.lr=1e-3 (repeatable)")
        p.add_argument("--params", default=None, help="params file (default: ./params.yaml)")
        if name == "report":
            p.add_argument("--open", action="store_true",
                           help="print the path of the report page (index.html) instead of running the stage")
    p = sub.add_parser("inspect", help="pipeline state, or a readable summary of one stage's outputs")
    p.add_argument("stage", nargs="?", choices=list(stages.STAGES), help="the stage to summarise")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--params", default=None, help="params file (default: ./params.yaml)")
    p = sub.add_parser("plots", help="render the DVC plots offline to HTML and PNG")
    p.add_argument("--out", default="data/plots", help="output directory (default: data/plots)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    try:
        if args.command == "inspect":
            from pipeline.inspect import main as inspect_main

            return inspect_main(args.stage, args.json, args.params)
        if args.command == "plots":
            from pipeline.plots import render_all

            for path in render_all(args.out):
                print(path)
            return 0
        if getattr(args, "open", False):
            from pipeline.report import page_path

            print(page_path(args.overrides, args.params))
            return 0
        from pipeline.runner import run_stage

        run_stage(args.command, args.overrides, args.params)
    except PipelineError as exc:
        print(f"lmpipe {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
