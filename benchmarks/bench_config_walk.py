"""Follow a config through ``llmrec.experiment.run``: how far the path wanders in llmrec's code.

The structure measure of ``docs/architecture.md`` ("a config followed through ``run`` goes down
the layers"). The demo config (``llmrec demo``) runs as a dry run (every free stage: data,
truths, splits, candidate sets, fine-tuning files, every paid step priced; nothing sent) under
``sys.setprofile``, after one untraced warm-up run in another folder, so imports and the
synthetic data's generation are not part of the path. At every Python ``call`` event the
*place* is the innermost frame whose module is under ``llmrec`` (the callee when it is
llmrec's, else the nearest llmrec caller); module bodies (imports) are skipped. Counted:

* **modules entered**: llmrec modules one of whose functions was called;
* **returns to a file it had left**: on the sequence of places' modules (files; code a
  dataclass generates counts as its module's), repeats collapsed, every ``A -> B -> A`` (the
  path went from ``A`` into ``B`` and came back to ``A``), in total and as distinct ``(A, B)``
  pairs (a loop calling the same helper once per item counts once there);
* **climbs back up a layer**: calls of an llmrec function from an llmrec place in a lower layer
  of the layer table (``tests/test_architecture.py``'s ``LAYERS``): a callback or a lower
  package reaching into a higher one. Given in total and as distinct (caller module, callee
  function) pairs, each with its count.

A run on another tree (say, the code before a change) only needs its ``src`` first on the path:
``PYTHONPATH=/path/to/src python benchmarks/bench_config_walk.py`` (the printout names the
llmrec it ran). Counts are of calls, not time: the machine's load does not change them.
``--config FILE`` follows another config (TOML or JSON) instead of the demo's.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def layer_table() -> dict[str, int]:
    """Package -> layer, from ``tests/test_architecture.py`` (the table the tests enforce)."""
    spec = importlib.util.spec_from_file_location(
        "_architecture", ROOT / "tests" / "test_architecture.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {pkg: i for i, row in enumerate(module.LAYERS) for pkg in row}


def package_of(module: str) -> str:
    """``llmrec.experiment.stages.data`` -> ``experiment``; the root ``llmrec`` -> ``llmrec``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _is_llmrec(frame: FrameType) -> bool:
    name = frame.f_globals.get("__name__", "")
    return isinstance(name, str) and (name == "llmrec" or name.startswith("llmrec."))


def _innermost(frame: FrameType | None) -> FrameType | None:
    while frame is not None and not _is_llmrec(frame):
        frame = frame.f_back
    return frame


@dataclass
class Walk:
    """What the profiler saw: places in order (modules, repeats collapsed) and the climbs."""

    layers: dict[str, int]
    places: list[str] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)
    climbs: Counter[tuple[str, str]] = field(default_factory=Counter)

    def on_event(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or frame.f_code.co_name == "<module>":
            return
        place = _innermost(frame)
        if place is None:
            return
        if place is frame:  # an llmrec function was called
            module = str(frame.f_globals["__name__"])
            self.modules.add(module)
            caller = _innermost(frame.f_back)
            if caller is not None:
                self._check_climb(str(caller.f_globals["__name__"]), module, frame)
        # the module, not co_filename: code a dataclass generates ("<string>") is its module's
        where = str(place.f_globals["__name__"])
        if not self.places or self.places[-1] != where:
            self.places.append(where)

    def _check_climb(self, caller: str, callee: str, frame: FrameType) -> None:
        low = self.layers.get(package_of(caller))
        high = self.layers.get(package_of(callee))
        if low is not None and high is not None and high > low:
            name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
            self.climbs[(caller, f"{callee}.{name}")] += 1


def returns(places: Sequence[str]) -> Counter[tuple[str, str]]:
    """Every ``A -> B -> A`` of a sequence without repeats, by ``(A, B)``."""
    triples = zip(places, places[1:], places[2:], strict=False)
    return Counter((a, b) for a, b, c in triples if a == c)


def follow(config: Any) -> Walk:
    """The walk of ``run(config)`` as a dry run (after an untraced warm-up run)."""
    from llmrec.experiment import run

    walk = Walk(layer_table())
    with tempfile.TemporaryDirectory(prefix="llmrec-walk-") as tmp:
        run(config, Path(tmp) / "warm-up", progress=False, dry_run=True)
        sys.setprofile(walk.on_event)
        try:
            run(config, Path(tmp) / "walk", progress=False, dry_run=True)
        finally:
            sys.setprofile(None)
    return walk


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="a config file (default: the demo's)")
    parser.add_argument("--top", type=int, default=15, help="pairs listed (default 15)")
    args = parser.parse_args(argv)

    import llmrec
    from llmrec.experiment import ExperimentConfig
    from llmrec.experiment.demo import demo_config

    config = ExperimentConfig.from_file(args.config) if args.config else demo_config()
    walk = follow(config)
    back = returns(walk.places)
    print(f"llmrec {llmrec.__version__} from {Path(llmrec.__file__).parent}")
    print(f"config: {args.config or 'the demo config'} (dry run)")
    print(f"modules entered: {len(walk.modules)}")
    print(
        f"returns to a file it had left (A -> B -> A): {sum(back.values())} in total, "
        f"{len(back)} distinct (A, B)"
    )
    for (a, b), n in back.most_common(args.top):
        print(f"  {n:8d}  {a} -> {b} -> back")
    print(
        f"climbs back up a layer: {sum(walk.climbs.values())} in total, "
        f"{len(walk.climbs)} distinct (caller, callee)"
    )
    for (caller, callee), n in walk.climbs.most_common(args.top):
        print(f"  {n:8d}  {caller} -> {callee}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
