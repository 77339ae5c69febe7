"""``run(config, out_dir)``: the study end to end, one resumable stage at a time.

data → truth → split → fine-tuning files (validated, costed) → optional hosted fine-tuning →
every backend on the test split → metrics with 95 % intervals and paired tests against the
baseline → ``results.json``, per-user CSV, ``report.md`` and ``figure.png``.

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
from llmrec.errors import BudgetExceededError
from llmrec.experiment.config import BackendSpec, ExperimentConfig
from llmrec.experiment.costs import CostLine
from llmrec.experiment.data_source import load_source
from llmrec.experiment.results import BackendEntry, DatasetResult, PlanLine, Results, StageLog
from llmrec.experiment.stages import StageStore, stage_key
from llmrec.truth import NeighbourTruth, ProfileDataset

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

    # -- stages -----------------------------------------------------------------------------
    def data(self) -> tuple[Ratings, Catalog]:
        ratings, catalog = load_source(self.config.data, progress=self.progress)
        self.data_key = stage_key(self.config.data.model_dump(mode="json"), ratings.fingerprint())
        stats = ratings.stats().to_dict()
        stats["n_titles"] = len(catalog)
        self.results.data = stats
        return ratings, catalog

    def truth(self, name: str, ratings: Ratings) -> tuple[str, ProfileDataset]:
        tcfg = self.config.truth[name]
        key = stage_key(self.data_key, tcfg.model_dump(mode="json"))
        path = f"truth/{name}.jsonl"

        def work() -> None:
            ds = NeighbourTruth(tcfg).build(ratings, progress=self.progress)
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
            est = estimate_training_cost(self.out / train, model=ft.model, n_epochs=ft.n_epochs)
            summary["train_examples"] = est.n_examples
            summary["train_tokens"] = est.total_tokens
            summary["billed_tokens"] = est.billed_tokens
            summary["training_cost_usd"] = est.usd
            summary["n_epochs"] = ft.n_epochs
            summary["model"] = ft.model
            write_json_atomic(self.out / summary_path, summary)

        self.store.run(f"finetune-files:{name}", key, [train, val, summary_path], work)
        summary: dict[str, Any] = json.loads((self.out / summary_path).read_text("utf-8"))
        summary["key"] = key
        summary["train_file"] = train
        summary["val_file"] = val
        if ft.provider == "local":  # compute, not USD: see experiment.local_finetune
            return summary
        self.plan.append(
            CostLine(
                step=f"fine-tune {ft.model} on {name}",
                requests=1,
                input_tokens=int(summary["billed_tokens"]),
                output_tokens=0,
                usd=float(summary["training_cost_usd"]),
                will_run=ft.enabled and name not in ft.fine_tuned_models,
                kind="training",
            )
        )
        return summary

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
        cost = float(summary["training_cost_usd"])
        if cost > self.config.budget_usd:
            raise BudgetExceededError(
                f"fine-tuning on {name} is estimated at {cost:.2f} USD, above the budget of "
                f"{self.config.budget_usd:.2f} USD; raise budget_usd to allow it"
            )
        key = stage_key(files_key, ft.model_dump(mode="json", exclude={"poll_interval"}))
        model_path = f"finetune/{name}.model.json"

        def work() -> None:
            from llmrec.finetune import FineTuner

            tuner = FineTuner(
                _openai_client(self.config),
                manifest=self.out / f"finetune/{name}.manifest.json",
                progress=self.progress,
                poll_interval=ft.poll_interval,
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
                    max_cost_usd=self.config.budget_usd,
                )
            final = tuner.wait()
            write_json_atomic(
                self.out / model_path,
                {"fine_tuned_model": final.fine_tuned_model, "job_id": final.job_id},
            )

        self.store.run(f"finetune-job:{name}", key, [model_path], work)
        model = json.loads((self.out / model_path).read_text("utf-8")).get("fine_tuned_model")
        return str(model) if model else None

    def backend(
        self,
        name: str,
        spec: BackendSpec,
        split_key: str,
        parts: dict[str, ProfileDataset],
        train_ratings: Ratings,
        catalog: Catalog,
        fine_tuned_model: str | None,
    ) -> BackendEntry:
        """Run one backend on the test split (or plan it); language-model backends are priced,
        checked for credentials and budgeted through the capability protocol only."""
        from llmrec.recommenders import get_recommender
        from llmrec.recommenders.capabilities import LanguageModelBackend, uses_fine_tuned_model
        from llmrec.recommenders.registry import get_recommender_factory

        cfg = dict(spec.config)
        entry = BackendEntry(backend=spec.name, label=spec.display, llm=False)
        test = parts["test"]
        why_not: str | None = None
        by_class = uses_fine_tuned_model(get_recommender_factory(spec.name))
        if by_class and "model" not in cfg:
            cfg["model"], why_not = self._fine_tuned_model(fine_tuned_model)
        rec = get_recommender(spec.name, **cfg)
        if not by_class and uses_fine_tuned_model(rec) and isinstance(rec, LanguageModelBackend):
            model, why_not = self._fine_tuned_model(fine_tuned_model)  # set by its config
            rec = rec.with_model(model)
        if isinstance(rec, LanguageModelBackend):
            entry.llm = True
            rec = rec.with_run_settings(self._run_settings())
            credentials = rec.credentials()
            if why_not is None and not credentials.present:
                why_not = f"no {' or '.join(credentials.names)} (and no base_url)"
            line = self._plan_llm(name, spec, rec, test, catalog, will_run=why_not is None)
            if why_not is not None:
                entry.skipped = why_not
                entry.estimated_cost_usd = line.usd
                return entry
            if self.dry_run:
                entry.planned = True
                return entry
            self._check_budget(f"{spec.display} on {name}", line)
        elif self.dry_run:
            entry.planned = True
            return entry
        key = stage_key(split_key, spec.name, rec.to_config()["config"], self.config.k)
        path = f"recs/{name}/{spec.display}.jsonl"
        config_path = f"recs/{name}/{spec.display}.config.json"

        def work() -> None:
            write_json_atomic(self.out / config_path, {**rec.to_config(), "k": self.config.k})
            rec.fit(train_ratings, catalog, parts["train"])
            recs = rec.recommend_many(test.profiles, self.config.k, progress=self.progress)
            _write_recs(self.out / path, test.user_ids, recs)

        self.store.run(f"backend:{name}:{spec.display}", key, [path, config_path], work)
        entry.recommendations = path
        return entry

    def _fine_tuned_model(self, fine_tuned_model: str | None) -> tuple[str, str | None]:
        """The model a fine-tuned backend runs, and why it cannot run (``None``: it can)."""
        if fine_tuned_model is not None:
            return fine_tuned_model, None
        if self.config.finetune.provider == "local":
            from llmrec.experiment.local_finetune import planned_local_model

            return planned_local_model(self.config.finetune, dry_run=self.dry_run)
        from llmrec.finetune.job import planned_model_id

        planned = planned_model_id(self.config.finetune.model)
        if self.dry_run and self.config.finetune.enabled:
            return planned, None  # the job would run first and give the model
        return planned, (
            "needs a fine-tuned model: enable finetune or set finetune.fine_tuned_models"
        )

    def _run_settings(self) -> Any:
        from llmrec.recommenders.capabilities import RunSettings

        return RunSettings(
            template=self.config.template,
            cache_path=self.out / "llm-cache.sqlite",
            base_url=self.config.base_url,
            keyless_server=self.config.base_url is not None,
        )

    def _check_budget(self, what: str, line: CostLine) -> None:
        """Stop before a paid step above the budget (or of unknown cost)."""
        if self.config.base_url is not None:
            return  # a server of the user's own: nothing is billed
        budget = self.config.budget_usd
        if line.usd is None:
            raise BudgetExceededError(
                f"{what} has an unknown cost (no price for its model); it cannot be checked "
                f"against the budget of {budget:.2f} USD"
            )
        if line.usd > budget:
            raise BudgetExceededError(
                f"{what} is estimated at {line.usd:.2f} USD, above the "
                f"budget of {budget:.2f} USD; raise budget_usd to allow it"
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
        est = rec.estimate_cost(test.profiles, self.config.k, catalog)
        line = CostLine(
            step=f"{spec.display} on {name} ({len(test)} test users)",
            requests=est.requests,
            input_tokens=est.input_tokens,
            output_tokens=est.output_tokens,
            usd=est.usd,
            will_run=will_run,
        )
        self.plan.append(line)
        return line


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
    from llmrec.experiment.report import write_outputs

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "config.json", json.loads(config.to_json()))
    runner = _Runner(config, out, progress=progress, dry_run=dry_run)
    ratings, catalog = runner.data()
    for name in config.truth:
        truth_key, dataset = runner.truth(name, ratings)
        split_key, parts = runner.split(name, truth_key, dataset)
        summary = runner.finetune_files(name, split_key, parts, catalog)
        ft_model = runner.hosted_finetune(name, summary["key"], summary)
        train_ratings = ratings.for_users(parts["test"].user_ids, exclude=True)
        entries = [
            runner.backend(name, spec, split_key, parts, train_ratings, catalog, ft_model)
            for spec in config.backends
        ]
        fields: dict[str, Any] = {
            "truth_stats": dataset.stats().to_dict(),
            "n_train": len(parts["train"]),
            "n_val": len(parts["val"]),
            "n_test": len(parts["test"]),
            "finetune": summary,
            "fine_tuned_model": ft_model,
            "backends": entries,
        }
        if not dry_run:
            fields.update(evaluate_dataset(name, config, out, parts["test"], entries, ratings))
        runner.results.datasets[name] = DatasetResult(**fields)
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
