"""Use a GPU window fully: train the networks within one wall-clock budget, each resuming its
own run folder, and say how to bring the results home.

The networks, in this order (--jobs picks some): bbcu-l_x2, bbcu-m_x2, bbcu-dn_s25 (colour
Gaussian noise, sigma 25), bbcu-car_q10 (gray JPEG, quality 10), bbcu-l_x4, bbcu-m_x4. By
default they train in turn, each with an equal share of what is left of --minutes when its turn
comes (time a finished run does not use passes on). With --side-by-side they all train at once,
each in a process of its own with the whole budget: one small network's step keeps a large GPU
busy for only a part of its time (the rest is the host launching its many small kernels), so
runs side by side fill the gaps. Each trains in OUT/<job> as tools/train_torch.py does (images
on the GPU, bfloat16 autocast, channels-last) and stops after the step that passes its budget,
leaving a checkpoint that resumes exactly: the next window's same command goes on where this
one stopped. At the end a table gives each run's steps, images seen, images/s and hours, and
the commands that import each checkpoint as a model card (tools/import_torch.py) and ship it
(tools/ship.py).

Needs PyTorch, NumPy, Pillow and tqdm, not TensorFlow. The training images are read from
--train (default T91,BSD200 under ../shared/data/train; a device machine that gets only the
working tree needs a copy inside it, named here).

Examples (a 10-minute window; leave a minute for the start and the copy back):
  python tools/gpu_train.py --minutes 9 --out runs/gpu
  python tools/gpu_train.py --side-by-side --minutes 8 --train data/T91,data/BSD200
"""

import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from lce_models import cli

cli.require("torch", "PyTorch", "requirements-torch.txt")

from lce_models.data.images import training_folders  # noqa: E402  (after the check for PyTorch)
from lce_models.torch_twin import checkpoint, runs  # noqa: E402  (after the check for PyTorch)
from lce_models.training.plan import TrainingPlan  # noqa: E402  (after the check for PyTorch)

JOBS = {job.name: job for job in runs.WINDOW_JOBS}


def parse(argv):
    p = cli.parser(__doc__)
    p.add_argument("--minutes", type=float, default=9.0, help="the whole window's budget (default 9)")
    p.add_argument("--out", default="runs/gpu", help="folder of the run folders (default runs/gpu)")
    p.add_argument("--jobs", default=",".join(JOBS), help=f"comma-separated, from {', '.join(JOBS)} (default all)")
    p.add_argument("--side-by-side", action="store_true",
                   help="train the jobs at once, each in a process of its own with the whole budget (no progress "
                        "bars; each says when it ends)")
    runs.add_run_flags(p)
    args = p.parse_args(argv)
    runs.check_run_flags(p, args)
    unknown = [j for j in args.jobs.split(",") if j not in JOBS]
    if unknown:
        p.error(f"unknown job {unknown[0]!r}; choose from {', '.join(JOBS)}")
    args.jobs = [JOBS[j] for j in dict.fromkeys(args.jobs.split(","))]
    return args


def summary(job, out):
    """A table row of a run folder: what its checkpoint and log record."""
    _, _, whole = checkpoint.read(out / job.name / "net_g_latest.pth")
    record = whole["training"]
    log = (out / job.name / "log.jsonl").read_text().splitlines()
    rate = json.loads(log[-1])["images_per_s"]
    return (f"{job.name:<13} {record['steps']:>8} {record['images_seen']:>12} {rate:>9.1f} {record['hours']:>8.3f}  "
            f"{record['device']}")


def in_turn(args, plan, out, began):
    """Each job with an equal share of what is left of the budget when its turn comes. The first
    failure ends the window (raised), so none is left to return."""
    for i, job in enumerate(args.jobs):
        left = args.minutes - (time.monotonic() - began) / 60
        if left <= 0:
            print(f"{job.name}: no time left in this window")
            continue
        share = left / (len(args.jobs) - i)
        print(f"{job.name}: up to {share:.1f} min", flush=True)
        runs.train_job(job, out, plan, args.device, not args.no_progress, share, runs.speed_of(args), args.depth,
                       args.n_feats)
    return []


def side_by_side(args, plan, out, began):
    """Every job at once, each in a process of its own (spawned: CUDA does not survive a fork)
    with what is left of the budget and an equal part of the CPU threads. A job that fails is
    said at once and the others go on; returns the failures' one-line messages."""
    threads = max(1, (os.cpu_count() or 1) // len(args.jobs))
    minutes = args.minutes - (time.monotonic() - began) / 60
    print(f"{', '.join(job.name for job in args.jobs)}: side by side, up to {minutes:.1f} min each", flush=True)
    failed = []
    with ProcessPoolExecutor(len(args.jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        running = {pool.submit(runs.train_job, job, out, plan, args.device, False, minutes, runs.speed_of(args),
                               args.depth, args.n_feats, threads): job for job in args.jobs}
        for done in as_completed(running):
            name = running[done].name
            try:
                done.result()
            except (ValueError, FileNotFoundError, RuntimeError) as e:
                failed.append(f"{name}: {str(e).splitlines()[0]}")
                cli.log(f"error: {failed[-1]}")
                continue
            print(f"{name}: stopped after {(time.monotonic() - began) / 60:.1f} min", flush=True)
    return failed


@cli.main
def main(argv=None):
    args = parse(argv)
    began, out = time.monotonic(), Path(args.out)
    try:
        plan = TrainingPlan(steps=args.steps, batch_size=args.batch_size, patch=args.patch,
                            save_every=args.save_every, data=tuple(str(f) for f in training_folders(args.train)))
        failed = (side_by_side if args.side_by_side else in_turn)(args, plan, out, began)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise cli.UserError(str(e).splitlines()[0]) from None
    done = [job for job in args.jobs if (out / job.name / "net_g_latest.pth").is_file()]
    print(f"\n{'run':<13} {'steps':>8} {'images seen':>12} {'images/s':>9} {'hours':>8}  device")
    for job in done:
        print(summary(job, out))
    print("\nbring them home (check each with tools/evaluate.py --model imported/<card> before shipping it):")
    for job in done:
        print("\n".join(f"  {command}" for command in job.home_commands(out)))
    if failed:
        raise cli.UserError(f"{len(failed)} of {len(args.jobs)} jobs failed, the first: {failed[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
