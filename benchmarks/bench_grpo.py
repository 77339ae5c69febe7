"""Benchmark: GRPO on the tiny model, plain TRL GRPOTrainer against llmrec's --method grpo.

Both start from the same SFT model on the same users, with the same settings.

The reference point of the GRPO work: plain TRL ``GRPOTrainer`` with learning rate 1e-4, 8 epochs,
8 generations per prompt, beta 0 and temperature 1, on a tiny random-weight model partially
trained with SFT on 48 users, lifts their greedy NDCG@10 from about 0.25 to about 0.75.

What runs, all offline:

1. the data: 48 users of the study's profileData50 truth on llmrec's synthetic Netflix data
   (600 users, 120 movies; ``--data random``: ``tiny_dataset``'s users with random gold lists)
   exported as the study's chat file (the prompt asks for 5 movies);
2. the tiny random-weight Llama model (``build_tiny_model``), partially trained with a plain TRL
   ``SFTTrainer`` (full weights, learning rate 2e-3, ``--sft-epochs``): the shared SFT start;
3. plain TRL ``GRPOTrainer`` (full weights; its own defaults for everything not named above; a
   reward function calling llmrec's ``RankingReward``, the evaluation's NDCG@10);
4. ``llmrec finetune local --method grpo`` as a command, given the same settings on its command
   line;
5. the greedy answers of the SFT start and of both results on the same users, scored by
   ``RankingReward``, with a one-sided paired t-test of each result against the start.

No llmrec training code is used for 2 and 3: llmrec gives the data, the model builder and the
metric only. Torch runs on one thread (``OMP_NUM_THREADS=1``): on shared cores it is several
times faster than two.

    OMP_NUM_THREADS=1 python benchmarks/bench_grpo.py [--work DIR] [--only sft|trl|llmrec] \
        [-- MORE LLMREC OPTIONS]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from llmrec.data.catalog import Catalog
from llmrec.finetune.export import export_chat_jsonl
from llmrec.finetune.local import RankingReward
from llmrec.prompts import PromptTemplate
from llmrec.testing.tiny_model import build_tiny_model, tiny_dataset
from llmrec.truth.dataset import ProfileDataset

TEMPLATE = PromptTemplate(n_recommendations=5)


def _rows(train_file: Path) -> list[list[dict[str, str]]]:
    return [json.loads(line)["messages"] for line in train_file.read_text().splitlines()]


def plain_sft(model: Path, train_file: Path, out: Path, epochs: float, seed: int) -> Path:
    """The shared SFT start: plain TRL ``SFTTrainer``, prompt-completion data, full weights."""
    import datasets
    import transformers
    import trl

    if (out / "model.safetensors").is_file():
        return out
    rows = [{"prompt": m[:-1], "completion": m[-1:]} for m in _rows(train_file)]
    args = trl.SFTConfig(
        output_dir=str(out / "checkpoints"), num_train_epochs=epochs,
        per_device_train_batch_size=8, learning_rate=2e-3, lr_scheduler_type="constant",
        logging_steps=10, save_strategy="no", report_to=[], disable_tqdm=True, bf16=False,
        gradient_checkpointing=False, dataloader_pin_memory=False, seed=seed,
    )  # fmt: skip
    net = transformers.AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model)
    trainer = trl.SFTTrainer(
        model=net, args=args, train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
    )  # fmt: skip
    trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    trainer.train()
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    return out


def greedy_rewards(
    folder: Path, train_file: Path, reward: RankingReward, golds, profiles, max_new_tokens: int
) -> list[float]:
    """Each user's NDCG@10 (``reward``) of the model's greedy answer to their prompt."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    net = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    texts = [
        tokenizer.apply_chat_template(m[:-1], tokenize=False, add_generation_prompt=True)
        for m in _rows(train_file)
    ]
    answers: list[str] = []
    for start in range(0, len(texts), 16):
        batch = tokenizer(texts[start : start + 16], return_tensors="pt", padding=True,
                          add_special_tokens=False)  # fmt: skip
        with torch.no_grad():
            out = net.generate(**batch, do_sample=False, max_new_tokens=max_new_tokens,
                               pad_token_id=tokenizer.pad_token_id)  # fmt: skip
        new = out[:, batch["input_ids"].shape[1] :]
        answers.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    return reward.score(answers, golds, profiles)


def plain_grpo(sft: Path, train_file: Path, out: Path, reward: RankingReward, golds, profiles,
               args: argparse.Namespace) -> float:  # fmt: skip
    """Plain TRL ``GRPOTrainer`` from ``sft`` into ``out``; returns the wall seconds."""
    import datasets
    import transformers
    import trl

    start = time.perf_counter()
    rows = [
        {"prompt": m[:-1], "gold": list(g), "profile": list(p)}
        for m, g, p in zip(_rows(train_file), golds, profiles, strict=True)
    ]

    def ndcg(prompts, completions, gold, profile, **_):  # type: ignore[no-untyped-def]
        return reward.score([c[-1]["content"] for c in completions], gold, profile)

    config = trl.GRPOConfig(
        output_dir=str(out / "checkpoints"), learning_rate=args.lr, num_train_epochs=args.epochs,
        num_generations=args.num_generations, beta=args.beta, temperature=args.temperature,
        max_completion_length=args.max_new_tokens, logging_steps=16, save_strategy="no",
        report_to=[], disable_tqdm=True, bf16=False, gradient_checkpointing=False,
        dataloader_pin_memory=False, seed=args.seed,
    )  # fmt: skip
    net = transformers.AutoModelForCausalLM.from_pretrained(sft, dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(sft)
    trainer = trl.GRPOTrainer(
        model=net, reward_funcs=[ndcg], args=config,
        train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer,
    )  # fmt: skip
    trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    trainer.train()
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    curve = [e["reward"] for e in trainer.state.log_history if "reward" in e]
    zero = [e["frac_reward_zero_std"] for e in trainer.state.log_history if "reward" in e]
    print(f"  plain TRL: sampled reward {curve[0]:.3f} -> {curve[-1]:.3f}, share of zero-std "
          f"groups {zero[0]:.2f} -> {zero[-1]:.2f} ({len(curve)} logs)")  # fmt: skip
    return time.perf_counter() - start


def llmrec_grpo(sft: Path, train_file: Path, catalog_file: Path, out: Path,
                args: argparse.Namespace) -> float:  # fmt: skip
    """``llmrec finetune local --method grpo`` with the same settings; returns wall seconds."""
    command = [
        sys.executable, "-m", "llmrec.cli", "finetune", "local", str(train_file),
        "--method", "grpo", "--model", str(sft), "--out", str(out),
        "--catalog", str(catalog_file), "--learning-rate", str(args.lr),
        "--epochs", str(args.epochs), "--num-generations", str(args.num_generations),
        "--beta", str(args.beta), "--temperature", str(args.temperature),
        "--max-new-tokens", str(args.max_new_tokens), "--full-weights",
        "--seed", str(args.seed), "--save-steps", "100000", "--quiet", *args.llmrec_args,
    ]  # fmt: skip
    print("  $ llmrec " + " ".join(command[4:]))
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    manifest = json.loads((out / "local-train-manifest.json").read_text())
    curve = [r["reward"] for r in manifest["rewards"]]
    print(f"  llmrec: sampled reward {curve[0]:.3f} -> {curve[-1]:.3f} "
          f"({manifest['optimizer_steps']} steps)")  # fmt: skip
    return seconds


def _line(name: str, before: list[float], after: list[float], seconds: float | None) -> str:
    from scipy.stats import ttest_rel

    n = len(before)
    p = float(ttest_rel(after, before, alternative="greater").pvalue)
    wall = "" if seconds is None else f", {seconds:.0f} s"
    return (f"{name:>10}: greedy NDCG@10 {sum(before) / n:.3f} -> {sum(after) / n:.3f} "
            f"(paired t-test, one-sided p = {p:.2g}{wall})")  # fmt: skip


def grpo_users(data: str, n_users: int) -> tuple[Catalog, ProfileDataset]:
    """The users GRPO trains on: the study's profileData50 truth on llmrec's synthetic Netflix
    data (``synthetic``: gold lists share the taste groups' favourites, as real users' do), or
    ``tiny_dataset``'s users (``random``: each gold list drawn at random, memorisation only)."""
    if data == "random":
        return tiny_dataset(n_users, 200, profile_len=10, gold_len=5, seed=0)
    from llmrec.experiment.config import SyntheticSource
    from llmrec.experiment.data_source import load_source
    from llmrec.truth import NeighbourTruth

    source = SyntheticSource(kind="synthetic", n_users=600, n_movies=120, n_ratings=20_000, seed=5)
    ratings, catalog = load_source(source, progress=False)
    truth = NeighbourTruth.profile_data_50(n_users=n_users, seed=0)
    return catalog, truth.build(ratings, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="folder kept between runs")
    parser.add_argument("--only", choices=("sft", "trl", "llmrec"), default=None)
    parser.add_argument("--users", type=int, default=48)
    parser.add_argument("--data", choices=("synthetic", "random"), default="synthetic")
    parser.add_argument("--sft-epochs", type=float, default=20)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--epochs", type=float, default=8)
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--beta", type=float, default=0.0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tag", default="", help="suffix of the output folders")
    parser.add_argument("llmrec_args", nargs="*", help="more `llmrec finetune local` options")
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = args.work or Path(tempfile.mkdtemp(prefix="llmrec-bench-grpo-"))
    work.mkdir(parents=True, exist_ok=True)

    catalog, users = grpo_users(args.data, args.users)
    golds = [list(e.gold) for e in users]
    profiles = [list(e.profile) for e in users]
    tiny = build_tiny_model(work / "tiny", catalog, template=TEMPLATE)
    train_file = export_chat_jsonl(users, TEMPLATE, catalog, work / "train.jsonl")
    catalog_file = catalog.save(work / "catalog.jsonl")
    reward = RankingReward(catalog, template=TEMPLATE)
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s)")  # fmt: skip
    print(f"{args.users} users, lr {args.lr}, {args.epochs} epochs, {args.num_generations} "
          f"generations, beta {args.beta}, temperature {args.temperature}, "
          f"max_new_tokens {args.max_new_tokens}")  # fmt: skip

    sft = plain_sft(tiny, train_file, work / f"sft-{args.sft_epochs:g}", args.sft_epochs, args.seed)
    before = greedy_rewards(sft, train_file, reward, golds, profiles, args.max_new_tokens)
    lines = [_line("SFT start", before, before, None)]
    if args.only in (None, "trl"):
        out = work / f"trl{args.tag}"
        seconds = plain_grpo(sft, train_file, out, reward, golds, profiles, args)
        after = greedy_rewards(out, train_file, reward, golds, profiles, args.max_new_tokens)
        lines.append(_line("plain TRL", before, after, seconds))
    if args.only in (None, "llmrec"):
        out = work / f"llmrec{args.tag}"
        seconds = llmrec_grpo(sft, train_file, catalog_file, out, args)
        after = greedy_rewards(out, train_file, reward, golds, profiles, args.max_new_tokens)
        lines.append(_line("llmrec", before, after, seconds))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
