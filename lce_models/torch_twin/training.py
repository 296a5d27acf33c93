"""Training a PyTorch twin with the data semantics of ``lce_models.training.trainer`` (TensorFlow-free,
so it runs on a GPU machine that has only PyTorch): patches from ``sampler.PatchSampler``, on
the training device. The optimisation is the reference's: L1, Adam (betas 0.9 / 0.99),
learning rate times ``gamma`` at each milestone. On CUDA the forward pass runs under bfloat16
autocast (float32 master weights, float32 loss) in channels-last layout unless told otherwise;
``torch.compile`` is there to ask for. A wall-clock budget (``minutes``) stops a run at the
first step past it, with a checkpoint that resumes exactly.

A run folder holds ``run.json`` (what is trained; a rerun must match it to resume),
``state.pt`` (twin, optimizer, scheduler, step, hours: resume), ``net_g_latest.pth`` (BasicSR
layout, plus the training record under ``"training"``: what ``tools/import_torch.py`` reads)
and ``log.jsonl`` (loss, learning rate, steps/s).
"""

import io
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lce_models.files import atomic_write
from lce_models.torch_twin import checkpoint
from lce_models.torch_twin.modules import build
from lce_models.torch_twin.sampler import PatchSampler

import torch
from tqdm import tqdm


class SetupError(ValueError):
    """The run cannot start as asked (one line)."""


def device_name(device):
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {torch.get_num_threads()} threads"


#: TrainingPlan fields that do not change what a run trains (a resume may change them).
_FREE = ("steps", "save_every", "validate_every", "log_every", "validation_set")


@dataclass(frozen=True)
class Speed:
    """How a step runs; ``None``: the device's default (on CUDA bfloat16 and channels-last,
    on the CPU neither). None of it changes what a run trains."""

    bfloat16: bool | None = None
    channels_last: bool | None = None
    compile: bool = False

    def resolved(self, device):
        cuda = device.type == "cuda"
        return Speed(cuda if self.bfloat16 is None else self.bfloat16,
                     cuda if self.channels_last is None else self.channels_last, self.compile)


def train(run_dir, network, task, level, plan, device=None, progress=True, minutes=None, speed=Speed()):
    """Train the twin of ``network`` (a resolved ``NetworkConfig.to_dict()``) to undo ``task``
    at ``level`` by ``plan`` (``lce_models.plan.TrainingPlan``; no validation: import the
    checkpoint and run ``tools/evaluate.py``) in ``run_dir``, resuming from its ``state.pt``
    if there is one, until ``plan.steps`` or, given, ``minutes`` of wall clock (then it stops
    after the step that passes them); returns the path of ``net_g_latest.pth``."""
    run_dir = Path(run_dir)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    speed = speed.resolved(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # every step has the same shapes: time the conv algorithms once
    identity = {"network": network, "task": task, "level": level,
                **{k: v for k, v in asdict(plan).items() if k not in _FREE}}
    identity = json.loads(json.dumps(identity))  # tuples as lists, as read back
    record = run_dir / "run.json"
    if record.is_file() and json.loads(record.read_text()) != identity:
        raise SetupError(f"{run_dir} holds another run (its run.json differs); choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(record, json.dumps(identity, indent=2) + "\n")

    began = time.monotonic()
    sampler = PatchSampler([Path(d) for d in plan.data], network["channels"], plan.patch, task, level, plan.seed,
                           device)
    torch.manual_seed(plan.seed)
    layout = torch.channels_last if speed.channels_last else torch.contiguous_format
    twin = build(network).to(device, memory_format=layout)
    optimizer = torch.optim.Adam(twin.parameters(), plan.learning_rate, betas=(0.9, 0.99))
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(plan.milestones), plan.gamma)
    step, hours = 0, 0.0
    state_path = run_dir / "state.pt"
    if state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=True)
        twin.load_state_dict(state["twin"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, hours = int(state["step"]), float(state["hours"])

    def save(step, hours):
        buffer = io.BytesIO()
        torch.save({"twin": twin.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "step": step, "hours": hours}, buffer)
        atomic_write(state_path, buffer.getvalue())
        training = {"framework": f"torch {torch.__version__}", "device": device_name(device), "steps": step,
                    "images_seen": step * plan.batch_size, "hours": round(hours, 4), **asdict(speed),
                    **{k: v for k, v in identity.items() if k != "network"}}
        params = {k: v.detach().cpu() for k, v in twin.state_dict().items()}
        return checkpoint.write(run_dir / "net_g_latest.pth", params, training=training)

    twin.train()
    forward = torch.compile(twin) if speed.compile else twin  # shares the twin's parameters
    log = (run_dir / "log.jsonl").open("a")
    bar = tqdm(total=plan.steps, initial=step, disable=not progress, unit="step")
    start, since = time.monotonic(), step
    latest = run_dir / "net_g_latest.pth"
    out_of_time = lambda: minutes is not None and time.monotonic() - began >= 60 * minutes  # noqa: E731
    while step < plan.steps:
        degraded, clean = (t.contiguous(memory_format=layout) for t in sampler.batch(step, plan.batch_size))
        with torch.autocast(device.type, torch.bfloat16, enabled=speed.bfloat16):
            restored = forward(degraded)
        loss = (restored.float() - clean).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        bar.update(1)
        stop = out_of_time()
        if step % plan.save_every == 0 or step == plan.steps or stop:
            now = time.monotonic()
            hours += (now - start) / 3600
            rate = (step - since) / (now - start)
            start, since = now, step
            latest = save(step, hours)
            log.write(json.dumps({"step": step, "l1": loss.item(), "lr": scheduler.get_last_lr()[0],
                                  "steps_per_s": rate, "images_per_s": rate * plan.batch_size}) + "\n")
            log.flush()
            bar.set_postfix(l1=f"{loss.item():.4f}", steps_per_s=f"{rate:.2f}",
                            images_per_s=f"{rate * plan.batch_size:.0f}")
        if stop:
            break
    bar.close()
    log.close()
    return latest

