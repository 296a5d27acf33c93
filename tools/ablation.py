"""The ablation of the unit options: BBCU-L with each sign-gradient estimator, with balanced weights, with
each attention kind, the binary-weight SRResNet and the float SRResNet, trained with equal
budgets (same steps, data, seed) and measured side by side.

Each row trains from scratch in RUNS/<row> (rerunning the command resumes or reuses it), then
is evaluated in Keras (Y PSNR / SSIM, x4), counted (Params / OPs in the papers' convention at a
180x320 LR input) and timed as an LCE flatbuffer on this machine (x86-64: LCE's portable
binary kernels, a ranking only, not an ARM64 figure). Writes a markdown table and JSON.

Examples:
  python tools/ablation.py --steps 300 --markdown docs/ablation.md --json docs/ablation.json
  python tools/ablation.py --rows approx,ede,srresnet-fp --steps 50
"""

import json
import sys
from dataclasses import asdict
from pathlib import Path

from lce_models import cli
from lce_models.data.degradations import Degradation
from lce_models.data.images import training_folders
from lce_models.evaluation.protocol import evaluate, keras_restorer
from lce_models.files import atomic_write
from lce_models.models import model_card
from lce_models.models.complexity import PAPER_INPUT, count
from lce_models.models.registry import build_model
from lce_models.runtimes.tflite import tflite_runtime
from lce_models.training import ablation
from lce_models.training.plan import TrainingPlan
from lce_models.training.trainer import SetupError, train

from converters.benchmarking import measure as benchmark
from converters.tflite import convert_checked, with_fixed_shape


def measure_row(key, run_dir, plan, sets, latency_size, threads, runs, progress):
    label, config = ablation.ROWS[key]
    config = config.resolved()
    degradation = Degradation("sr", config.scale)
    cli.log(f"{key}: training {label} for {plan.steps} steps in {run_dir}")
    train(run_dir, config, degradation, plan, progress=progress)
    model = model_card.load(run_dir / "latest.json")
    scores = {}
    for s in sets:
        r = evaluate(keras_restorer(model), s, degradation)
        scores[s] = {"psnr": r["psnr"], "ssim": r["ssim"]}
    c = count(build_model(config, PAPER_INPUT, batch_size=1))
    latency, note = None, "not timed"
    if latency_size:
        flatbuffer = convert_checked(with_fixed_shape(model, latency_size))[0]
        m = benchmark.measure(key, "LCE", lambda: tflite_runtime(flatbuffer, threads), threads, runs, 1)
        latency, note = m.median_ms, f"LCE interpreter, {threads} threads, LR {m.input_size}, median of {runs}"
    return ablation.Row(key, label, config.to_dict(), scores, c.params / 1e3, c.ops / 1e9, latency, note)


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--rows", default=",".join(ablation.ROWS),
                   help=f"comma-separated rows (default all: {', '.join(ablation.ROWS)})")
    p.add_argument("--steps", type=int, default=300, help="training steps of every row (default 300)")
    p.add_argument("--batch-size", type=int, default=16, help="default 16")
    p.add_argument("--patch", type=int, default=32, help="LR patch side (default 32)")
    p.add_argument("--learning-rate", type=float, default=5e-4, help="Adam, constant (default 5e-4)")
    p.add_argument("--seed", type=int, default=0, help="initial weights and patches (default 0)")
    p.add_argument("--train", default="T91,BSD200", help="training image sets (default T91,BSD200)")
    p.add_argument("--sets", default="Set5,Set14", help="test sets (default Set5,Set14)")
    p.add_argument("--runs-dir", default="runs/ablation", help="run folders, one per row (default runs/ablation)")
    p.add_argument("--latency-size", default=(180, 320), type=lambda t: None if t == "none" else cli.size(t),
                   metavar="HxW", help="LR input of the LCE latency, or 'none' (default 180x320)")
    p.add_argument("--latency-runs", type=int, default=3, help="timed runs, after one warm-up (default 3)")
    p.add_argument("--threads", type=int, default=2, help="LCE threads (default 2)")
    p.add_argument("--json", help="write every figure to this file")
    p.add_argument("--markdown", help="write the table to this file")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)

    keys = [k for k in args.rows.split(",") if k]
    unknown = [k for k in keys if k not in ablation.ROWS]
    if unknown or not keys:
        raise cli.UserError(f"unknown rows {', '.join(unknown) or '(none)'}; choose from {', '.join(ablation.ROWS)}")
    if min(args.steps, args.batch_size, args.patch, args.latency_runs) < 1:
        raise cli.UserError("--steps, --batch-size, --patch and --latency-runs must be positive")
    latency_size = args.latency_size
    sets = [s for s in args.sets.split(",") if s]
    plan = TrainingPlan(steps=args.steps, batch_size=args.batch_size, patch=args.patch,
                        learning_rate=args.learning_rate, milestones=(), seed=args.seed,
                        validate_every=args.steps, save_every=args.steps, validation_set=sets[0],
                        data=training_folders(args.train))
    rows = []
    for key in keys:
        try:
            rows.append(measure_row(key, Path(args.runs_dir) / key, plan, sets, latency_size, args.threads,
                                    args.latency_runs, not args.no_progress))
        except SetupError as e:
            raise cli.UserError(str(e)) from None
    machine = benchmark.machine()
    plan_text = (f"Every row: {args.steps} steps from scratch, batch {args.batch_size}, LR patch {args.patch} "
                 f"(HR {args.patch * 4}), L1, Adam {args.learning_rate:g} constant, seed {args.seed}, on "
                 f"{args.train}; x4 Y PSNR / SSIM of the Keras model (border 4); Params / OPs at a 180x320 "
                 f"LR input (float + binary/32, FLOPs + BOPs/64); latency: "
                 + (rows[0].latency_note if latency_size else "not measured")
                 + " (x86-64: LCE's portable binary kernels, not ARM64).")
    text = ablation.table(rows, sets, plan_text, "x86-64")
    print(text)
    if args.markdown:
        atomic_write(Path(args.markdown), text)
    if args.json:
        doc = {"plan": plan_text, "machine": machine, "sets": sets, "rows": [asdict(r) for r in rows]}
        best = ablation.best_binary(rows, sets[0])
        base = next((r for r in rows if r.key == ablation.FLOAT_BASELINE), None)
        if best and base:
            doc["best_binary"] = best.key
            doc["gap_to_float_db"] = {s: best.sets[s]["psnr"] - base.sets[s]["psnr"] for s in sets}
        atomic_write(Path(args.json), json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
