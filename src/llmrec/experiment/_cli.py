"""``llmrec demo`` and ``llmrec reproduce``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmrec.experiment.config import ExperimentConfig
    from llmrec.experiment.run import ExperimentResult

__all__ = ["register"]


def register(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the study on the embedded synthetic Netflix data and print the tables",
        description=(
            "Generate synthetic Netflix-format data (cached), build profileData50, "
            "profileData60 and the probe truth (gold from the held-out probe ratings), "
            "write and cost the fine-tuning files, and evaluate popularity, "
            "item-kNN and EASE; with OPENAI_API_KEY or --base-url, the OpenAI backends too."
        ),
    )
    demo.add_argument("--out", type=Path, default=Path("llmrec-demo"), help="output folder")
    demo.add_argument("--base-url", default=None, help="an OpenAI-compatible endpoint")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)

    rep = sub.add_parser(
        "reproduce",
        help="run an experiment config (TOML or JSON) end to end",
        description="Reproduce the study's Tables 2-3 and Figure 2 from a config file.",
    )
    rep.add_argument("config", type=Path, help="experiment config (.toml or .json)")
    rep.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: results/CONFIG-NAME under the current folder)",
    )
    rep.add_argument(
        "--dry-run",
        action="store_true",
        help="run only the free local stages and print every paid step with its cost",
    )
    rep.add_argument(
        "--allow-unknown-cost",
        action="store_true",
        help="run paid steps whose cost is unknown (a model without a price on a server not "
        "marked free); same as allow_unknown_cost = true in the config",
    )
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    rep.set_defaults(func=_reproduce)


def _print_plan(result: ExperimentResult) -> None:
    from llmrec.experiment.plan import FINETUNE_OFF

    print("Paid steps (estimated before anything is sent):")
    total = 0.0
    unknown = 0
    steps = [line for line in result.plan if line.reason != FINETUNE_OFF]
    if not steps:
        print("  (none)")
    off = len(result.plan) - len(steps)
    if off:
        print(f"  {FINETUNE_OFF}: no fine-tuning step planned")
    for line in steps:
        print(f"  - {line}")
        if line.will_run and line.usd is None:
            unknown += 1
        elif line.will_run and line.usd is not None:
            total += line.usd
    more = f" plus {unknown} step(s) of unknown cost" if unknown else ""
    print(f"  total that this run would spend: {total:.4f} USD{more}")
    from llmrec.experiment.budget import worst_case_total

    worst = worst_case_total(result.plan)
    print(f"  worst case (every answer at its max_tokens cap): {worst:.4f} USD")
    spend = result.document.spend
    if spend is not None:
        print(f"  spent by this run: {spend.spent_usd:.4f} USD (budget {spend.budget_usd:.4f} USD)")


def _print_summary(result: ExperimentResult, config: ExperimentConfig, seconds: float) -> None:
    from llmrec.experiment.report import render_text
    from llmrec.experiment.report_truths import gold_head_share

    data = result.results.get("data", {})
    print(
        f"Data: {data.get('n_ratings', 0):,} ratings from {data.get('n_users', 0):,} users on "
        f"{data.get('n_movies', 0):,} movies ({data.get('first_date')} to "
        f"{data.get('last_date')})"
    )
    for name, ds in result.results.get("datasets", {}).items():
        ts = ds.get("truth_stats", {})
        ft = ds.get("finetune", {})
        share, among = gold_head_share(result.document.datasets[name], config.n_head)
        usd = ft.get("training_cost_usd", 0)
        cost = "unknown USD" if usd is None else f"{usd:.2f} USD"
        if not config.finetune.enabled:
            cost = f"would cost {cost} (fine-tuning is off)"
        print(
            f"{name} ({ds.get('kind', 'neighbour')} truth): {ts.get('n_examples', 0):,} "
            "users with gold "
            f"({'n/a' if share is None else f'{share:.1%}'} of gold items among {among}); "
            f"split {ds['n_train']:,}/{ds['n_val']:,}/{ds['n_test']:,}; "
            f"fine-tuning file {ft.get('train_tokens', 0):,} tokens, "
            f"{cost} for {ft.get('n_epochs')} epochs "
            f"(validated: {ft.get('train_valid')})"
        )
    print()
    print(render_text(result.document, config))
    if result.reused:
        print(f"Reused {len(result.reused)} finished stages from {result.out_dir}.")
    print(f"Report: {result.report_path}")
    print(f"Figure: {result.figure_path}")
    if (result.out_dir / "summary.png").exists():
        print(f"Summary figure (every backend on every truth): {result.out_dir / 'summary.png'}")
    print(f"Results: {result.out_dir / 'results.json'}")
    _print_plan(result)
    print(f"Done in {seconds:.1f} s.")


def _demo(args: argparse.Namespace) -> int:
    from llmrec.experiment.demo import demo_config
    from llmrec.experiment.run import run

    config = demo_config(base_url=args.base_url)
    start = time.perf_counter()
    result = run(config, args.out, progress=not args.quiet)
    _print_summary(result, config, time.perf_counter() - start)
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from llmrec.errors import ConfigError
    from llmrec.experiment.config import ExperimentConfig
    from llmrec.experiment.run import run
    from llmrec.experiment.validate import check_config

    config = ExperimentConfig.from_file(args.config)
    if args.allow_unknown_cost:
        config = config.model_copy(update={"allow_unknown_cost": True})
    try:
        check_config(config)  # run() checks too; here the error can name the file
    except ConfigError as exc:
        raise ConfigError(f"{args.config}: {exc}") from None
    out = args.out if args.out is not None else Path("results") / args.config.stem
    start = time.perf_counter()
    result = run(config, out, progress=not args.quiet, dry_run=args.dry_run)
    if args.dry_run:
        print(f"Dry run: free stages done in {out}; nothing was sent to any API.")
        for stage in result.ran:
            print(f"  ran     {stage}")
        for stage in result.reused:
            print(f"  reused  {stage}")
        todo = list(result.planned)  # named as the run's stage log names them
        todo += [f"probe:{p.label}" for p in (result.document.probes or {}).values() if p.planned]
        for stage in todo:
            print(f"  to run  {stage}")
        _print_plan(result)
        return 0
    _print_summary(result, config, time.perf_counter() - start)
    return 0
