"""`python -m tests.chaos --runs N --seed S [--infra embedded|real|both]`: N randomised fault runs, a summary
table, the figures as JSON; exits 1 if anything was lost, duplicated, left in a gap or went backwards."""

import argparse
import asyncio
import logging
import random
import signal
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from tests.chaos.faults import CABINET_FAULTS, KINDS, REAL_ONLY, TUBE_FAULTS
from tests.chaos.lab import LAB_FAULTS
from tests.chaos.report import summarise, table, write_json
from tests.chaos.robots import ROBOT_FAULTS
from tests.chaos.run import RunConfig, RunResult, run_once


def plan(runs: int, seed: int, infra: str) -> list[RunConfig]:
    """The runs of a seed: (path, fault kind) pairs in turn, every pair equally often (the sorter's kinds, the lab
    path's, the tube system's, the cabinet's and the robots'), infra and per-run seeds drawn."""
    rng = random.Random(seed)
    kinds = [("sorter", kind) for kind in KINDS] + [("lab", kind) for kind in LAB_FAULTS]
    kinds += [("tubes", kind) for kind in TUBE_FAULTS] + [("cabinet", kind) for kind in CABINET_FAULTS]
    kinds += [("robots", kind) for kind in ROBOT_FAULTS]
    configs = []
    for index in range(runs):
        if index % len(kinds) == 0:
            rng.shuffle(kinds)
        path, kind = kinds[index % len(kinds)]
        repeats = rng.choice((1, 1, 2))
        run_infra = infra if infra != "both" else ("embedded", "real")[index % 2]
        run_infra = "real" if kind in REAL_ONLY else run_infra
        configs.append(RunConfig(index, rng.randrange(1, 2**31), run_infra, (kind,) * repeats, Path(), path=path))
    return configs


async def _main(args: argparse.Namespace) -> int:
    results: list[RunResult] = []
    started = time.monotonic()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # finish the runs under way (their processes stop), start no more
        loop.add_signal_handler(signum, stopping.set)
    slots = asyncio.Semaphore(args.parallel)

    async def one(cfg: RunConfig) -> None:
        async with slots:
            if stopping.is_set():
                return
            cfg = replace(cfg, base_dir=args.work_dir, keep=args.keep)
            result = await run_once(cfg)
            results.append(result)
            _print_run(result, args.runs)

    await asyncio.gather(*(one(cfg) for cfg in plan(args.runs, args.seed, args.infra)))
    if stopping.is_set():
        print(f"\nstopped after {len(results)} of {args.runs} run(s)", flush=True)
    results.sort(key=lambda r: r.index)
    summary = summarise(results)
    print()
    print(table(summary))
    meta = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": args.runs,
        "seed": args.seed,
        "infra": args.infra,
        "parallel": args.parallel,
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    write_json(args.json, meta, summary, results)
    print(f"\n{len(results)} run(s) in {meta['minutes']} min; figures in {args.json}")
    return 0 if all(r.ok for r in results) else 1


def _print_run(result: RunResult, runs: int) -> None:
    verdict = result.verdict
    figures = (
        f"accepted {verdict.accepted} stored {verdict.stored} dup {verdict.duplicates} lost {verdict.lost}"
        if verdict
        else "no verdict"
    )
    status = "ok" if result.ok else "FAIL"
    print(
        f"run {result.index + 1:>3}/{runs} {result.infra:<8} {'+'.join(result.labels):<44} {figures:<48} "
        f"{result.seconds:5.1f}s {status}",
        flush=True,
    )
    for line in ([result.error] if result.error else []) + (verdict.problems if verdict else []):
        print(f"      {line}  (logs: {result.run_dir})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, help="seed of the whole plan (default: a new one, printed)")
    parser.add_argument("--infra", choices=("embedded", "real", "both"), default="both")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/chaos-results.json"))
    parser.add_argument("--work-dir", type=Path, default=Path("test-artifacts/chaos"))
    parser.add_argument("--parallel", type=int, default=2, help="runs at the same time (each has its own processes)")
    parser.add_argument("--keep", action="store_true", help="keep every run's directory, not only failed ones")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1_000_000)
    print(f"chaos: {args.runs} run(s), seed {args.seed} (again: --seed {args.seed}), infra {args.infra}", flush=True)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:  # the lab system runs in this process: its complaints about killed gateways go to a file
        args.work_dir.mkdir(parents=True, exist_ok=True)
        lab_system = logging.getLogger("simulators.clinical.hl7_system")
        lab_system.addHandler(logging.FileHandler(args.work_dir / "lab-system.log"))
        lab_system.propagate = False
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
