"""``run(config, out_dir)``: the study end to end, one resumable stage at a time.

data → every configured truth (neighbour, probe, last-N, time split) → split → fine-tuning
files (validated, costed) → optional hosted fine-tuning → every backend on every truth's test
split, fitted on that truth's fitting ratings (checked for leakage; see
:mod:`llmrec.experiment.truths`) → metrics with 95 % intervals and paired tests against the
baseline → a backend × truth summary → ``results.json``, per-user CSV, ``report.md``,
``figure.png`` and ``summary.png``.

Every stage writes its artifacts into ``out_dir`` and is recorded in ``stages.json`` with a key
derived from its config; a rerun reuses every finished stage whose key still matches. Paid calls
go through the OpenAI backend's response cache, so a rerun never pays twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec._io import atomic_open, write_json_atomic
from llmrec.data import Catalog, Ratings
from llmrec.data.netflix import ProbeSet
from llmrec.errors import ConfigError
from llmrec.experiment.budget import check_budget
from llmrec.experiment.candidates import CandidateRanking, prepare_ranking
from llmrec.experiment.config import BackendSpec, ExperimentConfig
from llmrec.experiment.costs import CostLine
from llmrec.experiment.data_source import load_source
from llmrec.experiment.results import (
    BackendEntry,
    DatasetResult,
    FittingSet,
    PlanLine,
    Results,
    StageLog,
)
from llmrec.experiment.stages import StageStore, stage_key
from llmrec.experiment.truths import (
    build_truth,
    check_fitting,
    fitting_ratings,
    load_source_probe,
    stage_inputs,
)
from llmrec.truth import ProfileDataset

__all__ = ["ExperimentResult", "run"]


@dataclass
class ExperimentResult:
    """What :func:`run` produced: the results document and where each artifact is."""

    out_dir: Path
    results: dict[str, Any]
    """The ``results.json`` document as a dict (``document`` is the typed form)."""
    document: Results = field(default_factory=lambda: Results(config={}))
    plan: list[CostLine] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.md"

    @property
    def figure_path(self) -> Path:
        return self.out_dir / "figure.png"


def _write_recs(path: Path, users: list[int], recs: list[Any]) -> None:
    with atomic_open(path, "w") as fh:
        for user, rec in zip(users, recs, strict=True):
            fh.write(json.dumps({"user_id": user, **rec.to_dict()}, sort_keys=True) + "\n")


class _Runner:
    def __init__(
        self, config: ExperimentConfig, out_dir: Path, *, progress: bool, dry_run: bool
    ) -> None:
        self.config = config
        self.out = out_dir
        self.progress = progress
        self.dry_run = dry_run
        self.store = StageStore(out_dir)
        self.results = Results(config=json.loads(config.to_json()), datasets={})
        self.plan: list[CostLine] = []
        self._probe: ProbeSet | None = None
        self.finished_steps: set[int] = set()
        """Indices of plan lines whose stage an earlier run finished (they cost nothing now)."""
        self.ranking: dict[str, CandidateRanking] = {}
        """Truths with ``ranking = "candidates"``: their :class:`CandidateRanking`."""
        self.dpo_models: dict[str, str | None] = {}
        """The DPO arm's trained folder per data set (see experiment.local_dpo)."""

    # -- stages -----------------------------------------------------------------------------
    def data(self) -> tuple[Ratings, Catalog]:
        ratings, catalog = load_source(self.config.data, progress=self.progress)
        self.data_key = stage_key(self.config.data.model_dump(mode="json"), ratings.fingerprint())
        stats = ratings.stats().to_dict()
        stats["n_titles"] = len(catalog)
        self.results.data = stats
        return ratings, catalog

    def probe(self) -> ProbeSet | None:
        """The source's probe set, loaded once when a probe truth asks for it."""
        if self._probe is None and any(t.kind == "probe" for t in self.config.truth.values()):
            self._probe = load_source_probe(self.config.data)
        return self._probe

    def truth(self, name: str, ratings: Ratings) -> tuple[str, ProfileDataset]:
        spec = self.config.truth[name]
        probe = self.probe() if spec.kind == "probe" else None
        key = stage_key(self.data_key, *stage_inputs(spec, probe))
        path = f"truth/{name}.jsonl"

        def work() -> None:
            ds = build_truth(spec, ratings, probe=probe, progress=self.progress)
            ds.meta["name"] = name
            ds.save(self.out / path)

        self.store.run(f"truth:{name}", key, [path], work)
        return key, ProfileDataset.load(self.out / path)

    def split(
        self, name: str, truth_key: str, dataset: ProfileDataset
    ) -> tuple[str, dict[str, ProfileDataset]]:
        s = self.config.split
        key = stage_key(truth_key, s.model_dump(mode="json"))
        paths = {part: f"truth/{name}.{part}.jsonl" for part in ("train", "val", "test")}

        def work() -> None:
            parts = dataset.split(s.train, s.val, s.test, seed=s.seed)
            for part, ds in zip(("train", "val", "test"), parts, strict=True):
                ds.save(self.out / paths[part])

        self.store.run(f"split:{name}", key, list(paths.values()), work)
        return key, {part: ProfileDataset.load(self.out / p) for part, p in paths.items()}

    def finetune_files(
        self, name: str, split_key: str, parts: dict[str, ProfileDataset], catalog: Catalog
    ) -> dict[str, Any]:
        from llmrec.finetune import estimate_training_cost, export_chat_jsonl, validate_chat_jsonl

        ft = self.config.finetune
        key = stage_key(split_key, self.config.template.model_dump(mode="json"), ft.model)
        train, val = f"finetune/{name}.train.jsonl", f"finetune/{name}.val.jsonl"
        summary_path = f"finetune/{name}.summary.json"

        def work() -> None:
            export_chat_jsonl(parts["train"], self.config.template, catalog, self.out / train)
            export_chat_jsonl(parts["val"], self.config.template, catalog, self.out / val)
            summary: dict[str, Any] = {}
            for label, rel in (("train", train), ("val", val)):
                report = validate_chat_jsonl(self.out / rel, model=ft.model)
                summary[f"{label}_valid"] = report.ok
                summary[f"{label}_findings"] = [str(f) for f in report.findings[:20]]
            table, priced = _training_prices(self.config)
            est = estimate_training_cost(
                self.out / train, model=ft.model, n_epochs=ft.n_epochs, prices=table
            )
            summary["train_examples"] = est.n_examples
            summary["train_tokens"] = est.total_tokens
            summary["billed_tokens"] = est.billed_tokens
            summary["training_cost_usd"] = est.usd if priced else None
            summary["n_epochs"] = ft.n_epochs
            summary["model"] = ft.model
            write_json_atomic(self.out / summary_path, summary)

        files_stage = key if not self.config.prices else stage_key(key, self.config.prices)
        self.store.run(f"finetune-files:{name}", files_stage, [train, val, summary_path], work)
        summary: dict[str, Any] = json.loads((self.out / summary_path).read_text("utf-8"))
        summary["key"] = key
        summary["train_file"] = train
        summary["val_file"] = val
        if ft.provider == "local":  # compute, not USD: see experiment.local_finetune
            return summary
        usd = summary["training_cost_usd"]
        if self._free_server():
            usd = 0.0
        self.plan.append(
            CostLine(
                step=f"fine-tune {ft.model} on {name}",
                requests=1,
                input_tokens=int(summary["billed_tokens"]),
                output_tokens=0,
                usd=None if usd is None else float(usd),
                will_run=ft.enabled and name not in ft.fine_tuned_models,
                kind="training",
            )
        )
        if self.store.is_done(f"finetune-job:{name}", self._job_key(key)):
            self.finished_steps.add(len(self.plan) - 1)
        return summary

    def _free_server(self) -> bool:
        """Whether the experiment's server is said to bill nothing (never inferred)."""
        import os

        if self.config.free and not (self.config.base_url or os.environ.get("OPENAI_BASE_URL")):
            raise ConfigError(
                "free = true says the server at base_url bills nothing, but no base_url (nor "
                "$OPENAI_BASE_URL) is set, so requests would go to https://api.openai.com/v1, "
                "which bills; set base_url to your own server or remove free = true"
            )
        return self.config.free

    def _job_key(self, files_key: str) -> str:
        ft = self.config.finetune
        return stage_key(files_key, ft.model_dump(mode="json", exclude={"poll_interval"}))

    def check_budget(self) -> None:
        """Stop before anything is sent unless every paid step still to run fits the budget."""
        todo = [line for i, line in enumerate(self.plan) if i not in self.finished_steps]
        check_budget(
            todo, self.config.budget_usd, allow_unknown_cost=self.config.allow_unknown_cost
        )

    def hosted_finetune(self, name: str, files_key: str, summary: dict[str, Any]) -> str | None:
        """Return the fine-tuned model id for ``name`` (given, or from a job run now).

        The job's manifest (``finetune/NAME.manifest.json``) is written after every change, so
        an interrupted run resumes following the same job instead of starting another; the
        finished model id is recorded as a stage, so a rerun sends nothing.
        """
        ft = self.config.finetune
        if name in ft.fine_tuned_models:
            return ft.fine_tuned_models[name]
        if ft.provider == "local":
            from llmrec.experiment.local_finetune import train_local_arm

            return train_local_arm(self, name, files_key, summary)
        if not ft.enabled or self.dry_run:
            return None
        key = self._job_key(files_key)
        model_path = f"finetune/{name}.model.json"
        # the whole run was checked against the budget before anything was sent
        # (check_budget); the job checks its own estimate again before uploading
        known = summary["training_cost_usd"] is not None and not self._free_server()

        def work() -> None:
            from llmrec.finetune import FineTuner

            table, _ = _training_prices(self.config, free=not known)
            tuner = FineTuner(
                _openai_client(self.config),
                manifest=self.out / f"finetune/{name}.manifest.json",
                progress=self.progress,
                poll_interval=ft.poll_interval,
                prices=table,
            )
            if not tuner.has_job():
                tuner.start(
                    self.out / summary["train_file"],
                    validation_file=self.out / summary["val_file"],
                    model=ft.model,
                    n_epochs=ft.n_epochs,
                    batch_size=ft.batch_size,
                    learning_rate_multiplier=ft.learning_rate_multiplier,
                    suffix=ft.suffix,
                    seed=ft.seed,
                    max_cost_usd=self.config.budget_usd if known else None,
                )
            final = tuner.wait()
            write_json_atomic(
                self.out / model_path,
                {"fine_tuned_model": final.fine_tuned_model, "job_id": final.job_id},
            )

        self.store.run(f"finetune-job:{name}", key, [model_path], work)
        model = json.loads((self.out / model_path).read_text("utf-8")).get("fine_tuned_model")
        return str(model) if model else None

    def plan_backend(
        self,
        name: str,
        spec: BackendSpec,
        split_key: str,
        parts: dict[str, ProfileDataset],
        catalog: Catalog,
        fine_tuned_model: str | None,
    ) -> _Planned:
        """Build one backend and add what it costs to the plan; nothing is sent.

        Language-model backends are priced, checked for credentials and budgeted through the
        capability protocol only."""
        from llmrec.experiment.secrets import reveal_secrets
        from llmrec.recommenders import get_recommender
        from llmrec.recommenders.capabilities import LanguageModelBackend, fine_tuned_arm
        from llmrec.recommenders.registry import get_recommender_factory

        cfg = reveal_secrets(dict(spec.config))
        entry = BackendEntry(backend=spec.name, label=spec.display, llm=False)
        test = parts["test"]
        why_not: str | None = None
        awaits_job = False
        by_class = fine_tuned_arm(get_recommender_factory(spec.name)) is not None
        if by_class and "model" not in cfg:
            cfg["model"], why_not = self._fine_tuned_model(fine_tuned_model)
            awaits_job = fine_tuned_model is None and why_not is None
        rec = get_recommender(spec.name, **cfg)
        if not by_class and fine_tuned_arm(rec) and isinstance(rec, LanguageModelBackend):
            fine_tuned_model = _arm_model(self, name, rec, fine_tuned_model)
            model, why_not = self._fine_tuned_model(fine_tuned_model)  # set by its config
            rec = rec.with_model(model)
            awaits_job = fine_tuned_model is None and why_not is None
        planned = _Planned(name, spec, entry, rec, why_not, awaits_job)
        if isinstance(rec, LanguageModelBackend):
            entry.llm = True
            planned.rec = rec = rec.with_run_settings(self._run_settings())
            credentials = rec.credentials()
            if why_not is None and not credentials.present:
                planned.why_not = f"no {' or '.join(credentials.names)} (and no base_url)"
            line = self._plan_llm(name, spec, rec, test, catalog, will_run=planned.why_not is None)
            planned.line = len(self.plan) - 1
            if planned.why_not is not None:
                entry.skipped = planned.why_not
                entry.estimated_cost_usd = line.usd
            elif not awaits_job and self.store.is_done(*self._backend_stage(planned, split_key)):
                self.finished_steps.add(planned.line)
        return planned

    def _backend_stage(self, planned: _Planned, split_key: str) -> tuple[str, str]:
        spec = planned.spec
        if planned.name in self.ranking:
            return self.ranking[planned.name].stage(spec, planned.rec)
        key = stage_key(split_key, spec.name, planned.rec.to_config()["config"], self.config.k)
        return f"backend:{planned.name}:{spec.display}", key

    def run_backend(
        self,
        planned: _Planned,
        split_key: str,
        parts: dict[str, ProfileDataset],
        train_ratings: Ratings,
        catalog: Catalog,
        fine_tuned_model: str | None,
    ) -> BackendEntry:
        """Run one planned backend on the test split (after the budget check of the run)."""
        entry, spec, name = planned.entry, planned.spec, planned.name
        if planned.why_not is not None:
            return entry
        if self.dry_run:
            entry.planned = True
            return entry
        rec = planned.rec
        if planned.awaits_job:
            fine_tuned_model = _arm_model(self, name, rec, fine_tuned_model)
            if fine_tuned_model is None:
                entry.skipped = "the fine-tuning job gave no model"
                return entry
            rec = rec.with_model(fine_tuned_model)
            if planned.line is not None:
                self._replan(planned.line, name, spec, rec, parts["test"], catalog)
        if name in self.ranking:  # ranking = "candidates": rank_many on the candidate sets
            ranking = self.ranking[name]
            return ranking.run(spec, rec, entry, train_ratings, catalog, parts["train"])
        test = parts["test"]
        stage, key = self._backend_stage(_Planned(name, spec, entry, rec, None, False), split_key)
        path = f"recs/{name}/{spec.display}.jsonl"
        config_path = f"recs/{name}/{spec.display}.config.json"

        failed = [0]

        def work() -> None:
            write_json_atomic(self.out / config_path, {**rec.to_config(), "k": self.config.k})
            rec.fit(train_ratings, catalog, parts["train"])
            recs = rec.recommend_many(test.profiles, self.config.k, progress=self.progress)
            _write_recs(self.out / path, test.user_ids, recs)
            failed[0] = sum(1 for r in recs if "failed" in (r.diagnostics or {}))

        self.store.run(stage, key, [path, config_path], work)
        if failed[0]:
            # failed answers are not cached: the next run asks for them again
            self.store.forget(stage)
        entry.recommendations = path
        return entry

    def _replan(
        self,
        index: int,
        name: str,
        spec: BackendSpec,
        rec: Any,
        test: ProfileDataset,
        catalog: Catalog,
    ) -> None:
        """Price a backend again once its model is known; the run must still fit the budget."""
        old = self.plan[index]
        self._plan_llm(name, spec, rec, test, catalog, will_run=old.will_run)
        self.plan[index] = self.plan.pop()
        if self.plan[index].usd != old.usd:
            self.check_budget()

    def _fine_tuned_model(self, fine_tuned_model: str | None) -> tuple[str, str | None]:
        """The model a fine-tuned backend runs, and why it cannot run (``None``: it can)."""
        if fine_tuned_model is not None:
            return fine_tuned_model, None
        if self.config.finetune.provider == "local":
            from llmrec.experiment.local_finetune import planned_local_model

            return planned_local_model(self.config.finetune, dry_run=self.dry_run)
        from llmrec.finetune.job import planned_model_id

        planned = planned_model_id(self.config.finetune.model)
        if self.config.finetune.enabled:
            return planned, None  # the job runs first and gives the model
        return planned, (
            "needs a fine-tuned model: enable finetune or set finetune.fine_tuned_models"
        )

    def known_fine_tuned_model(self, name: str, files_key: str) -> str | None:
        """The fine-tuned model for ``name`` if it is given or an earlier run's job made it."""
        ft = self.config.finetune
        if name in ft.fine_tuned_models:
            return ft.fine_tuned_models[name]
        if ft.provider == "local":
            from llmrec.experiment.local_finetune import known_local_model

            return known_local_model(self, name, files_key) if ft.enabled else None
        model_path = self.out / f"finetune/{name}.model.json"
        if ft.enabled and self.store.is_done(f"finetune-job:{name}", self._job_key(files_key)):
            model = json.loads(model_path.read_text("utf-8")).get("fine_tuned_model")
            return str(model) if model else None
        return None

    def _run_settings(self) -> Any:
        from llmrec.recommenders.capabilities import RunSettings

        return RunSettings(
            template=self.config.template,
            cache_path=self.out / "llm-cache.sqlite",
            base_url=self.config.base_url,
            keyless_server=self.config.base_url is not None,
            free=self._free_server(),
            prices=self.config.prices or None,
            fail_fast=self.config.fail_fast,
        )

    def _plan_llm(
        self,
        name: str,
        spec: BackendSpec,
        rec: Any,
        test: ProfileDataset,
        catalog: Catalog,
        *,
        will_run: bool,
    ) -> CostLine:
        if name in self.ranking:  # ranking = "candidates": the ranking requests, every order
            line = self.ranking[name].cost_line(spec, rec, catalog, will_run=will_run)
            self.plan.append(line)
            return line
        est = rec.estimate_cost(test.profiles, self.config.k, catalog)
        line = CostLine(
            step=f"{spec.display} on {name} ({len(test)} test users, model {est.model})",
            requests=est.requests,
            input_tokens=est.input_tokens,
            output_tokens=est.output_tokens,
            usd=est.usd,
            will_run=will_run,
        )
        self.plan.append(line)
        return line


@dataclass
class _Planned:
    """A backend built and priced, waiting for the run's budget check."""

    name: str
    spec: BackendSpec
    entry: BackendEntry
    rec: Any
    why_not: str | None
    awaits_job: bool
    """Runs the model of this run's fine-tuning job (known only once the job ends)."""
    line: int | None = None
    """Its line in the plan (language-model backends)."""


def _arm_model(runner: _Runner, name: str, rec: Any, sft_model: str | None) -> str | None:
    from llmrec.experiment.local_dpo import arm_model

    return arm_model(runner, name, rec, sft_model)


def _training_prices(config: ExperimentConfig, *, free: bool = False) -> tuple[Any, bool]:
    """The price table for the fine-tuning estimate and whether it prices the model.

    A model without a training price (or a free server, ``free=True``) is priced at 0 so its
    tokens are still counted; the second value says whether the USD figure is real."""
    from llmrec.openai_api.prices import ModelPrice, merge_prices, training_price

    table = config.price_table()
    model = config.finetune.model
    try:
        training_price(model, table)
        priced = True
    except ConfigError:
        priced = False
    if free or not priced:
        table = merge_prices({model: ModelPrice(input=0.0, output=0.0, training=0.0)}, table)
    return table, priced and not free


def _openai_client(config: ExperimentConfig) -> Any:
    """The hosted fine-tuning client: the one key rule; a ``base_url`` server needs no key."""
    from llmrec.openai_api.client import make_client

    return make_client(
        base_url=config.base_url, keyless_ok=config.base_url is not None, sdk_retries=None
    )


def run(
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    dry_run: bool = False,
) -> ExperimentResult:
    """Reproduce the study with ``config``, writing every artifact into ``out_dir``.

    With ``dry_run=True`` only the free local stages run (data, truth, split, fine-tuning files,
    so token counts are exact); the returned plan lists every paid step with its request count,
    tokens and cost, and nothing is sent to any API.
    """
    from llmrec.experiment.evaluation import evaluate_dataset
    from llmrec.experiment.local_dpo import prepare_dpo_arm, train_dpo_arm
    from llmrec.experiment.outdir import prepare_out_dir
    from llmrec.experiment.report import write_outputs
    from llmrec.experiment.summary import build_summary
    from llmrec.experiment.validate import check_config

    check_config(config)  # every name and option, before any stage runs or anything is written
    out = prepare_out_dir(out_dir)
    write_json_atomic(out / "config.json", json.loads(config.to_json()))
    runner = _Runner(config, out, progress=progress, dry_run=dry_run)
    ratings, catalog = runner.data()
    # 1. the free local stages of every data set, and every paid step priced
    prepared = []
    for name in config.truth:
        truth_key, dataset = runner.truth(name, ratings)
        split_key, parts = runner.split(name, truth_key, dataset)
        prepare_ranking(runner, name, split_key, parts["test"], ratings)
        summary = runner.finetune_files(name, split_key, parts, catalog)
        known_model = runner.known_fine_tuned_model(name, summary["key"])
        prepare_dpo_arm(runner, name, split_key, parts, ratings, catalog, summary, known_model)
        planned = [
            runner.plan_backend(name, spec, split_key, parts, catalog, known_model)
            for spec in config.backends
        ]
        prepared.append((name, dataset, split_key, parts, summary, planned))
    # 2. the whole run against the budget, before anything is sent
    if not dry_run:
        runner.check_budget()
    # 3. the paid steps
    for name, dataset, split_key, parts, summary, planned in prepared:
        ft_model = runner.hosted_finetune(name, summary["key"], summary)
        train_dpo_arm(runner, name, summary, ft_model)
        spec, test_users = config.truth[name], parts["test"].user_ids
        probe = runner.probe() if spec.kind == "probe" else None
        train_ratings = fitting_ratings(spec, ratings, test_users, probe=probe)
        check_fitting(spec, train_ratings, ratings, test_users, probe=probe)
        entries = [
            runner.run_backend(p, split_key, parts, train_ratings, catalog, ft_model)
            for p in planned
        ]
        fields: dict[str, Any] = {
            "truth_stats": dataset.stats().to_dict(),
            "n_train": len(parts["train"]),
            "n_val": len(parts["val"]),
            "n_test": len(parts["test"]),
            "finetune": summary,
            "fine_tuned_model": ft_model,
            "backends": entries,
            "kind": spec.kind,
            "fitting": FittingSet.of(spec.kind, train_ratings),
        }
        if name in runner.ranking:
            fields["ranking"] = runner.ranking[name].result(entries, evaluate=not dry_run)
        elif not dry_run:
            fields.update(
                evaluate_dataset(
                    name,
                    config,
                    out,
                    parts["test"],
                    entries,
                    ratings,
                    store=runner.store,
                    upstream_key=split_key,
                    progress=progress,
                    fitting=train_ratings,
                )
            )
        runner.results.datasets[name] = DatasetResult(**fields)
    if not dry_run:
        runner.results.summary = build_summary(runner.results.datasets)
    runner.results.plan = [PlanLine(**line.to_dict()) for line in runner.plan]
    runner.results.stages = StageLog(reused=runner.store.reused, ran=runner.store.ran)
    if not dry_run:
        write_outputs(out, runner.results, config)
    return ExperimentResult(
        out_dir=out,
        results=runner.results.to_json_dict(),
        document=runner.results,
        plan=runner.plan,
        reused=runner.store.reused,
        ran=runner.store.ran,
        dry_run=dry_run,
    )
