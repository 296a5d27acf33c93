"""Training a PyTorch twin with the data semantics of ``lce_models.training.trainer`` (TensorFlow-free,
so it runs on a GPU machine that has only PyTorch).

Sample ``i`` is a pure function of ``(seed, i)``, as in ``lce_models.data.pipeline``: a random
image of the training folders, a random crop of ``patch * multiple`` pixels, a rotation by a
random multiple of 90 degrees and a random left-right flip, then the degradation:

- ``sr``: antialiased bicubic (Keys a = -0.5) shrink by the scale, rounded to 8 bits;
- ``denoise``: + N(0, (sigma / 255)^2), not clipped;
- ``jpeg``: JPEG at quality q (libjpeg, through Pillow), decoded.

The draws come from NumPy's generator, not TensorFlow's stateless ops, so the patches are of
the same distribution as ``tools/train.py``'s, not the same patches. The optimisation is the
reference's: L1, Adam (betas 0.9 / 0.99), learning rate times ``gamma`` at each milestone.

A run folder holds ``run.json`` (what is trained; a rerun must match it to resume),
``state.pt`` (twin, optimizer, scheduler, step, hours: resume), ``net_g_latest.pth`` (BasicSR
layout, plus the training record under ``"training"``: what ``tools/import_torch.py`` reads)
and ``log.jsonl`` (loss, learning rate, steps/s).
"""

import io
import json
import time
from dataclasses import asdict
from pathlib import Path

from lce_models.data.images import image_files, open_image
from lce_models.files import atomic_write
from lce_models.torch_twin import checkpoint
from lce_models.torch_twin.modules import build

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm


class SetupError(ValueError):
    """The run cannot start as asked (one line)."""


class PatchSampler:
    """Random (degraded, clean) training pairs of some image folders, decoded once."""

    def __init__(self, folders, channels, patch, task, level, seed=0):
        self.channels, self.patch, self.task, self.level, self.seed = channels, patch, task, level, seed
        self.side = patch * (int(level) if task == "sr" else 1)
        self.images = []
        for path in (p for folder in folders for p in image_files(folder)):
            pixels = np.asarray(open_image(path, channels))
            if min(pixels.shape[:2]) >= self.side:  # no patch fits a smaller one
                self.images.append(pixels.reshape(*pixels.shape[:2], channels))
        if not self.images:
            raise FileNotFoundError(f"no training image of at least {self.side}x{self.side} in "
                                    f"{', '.join(str(f) for f in folders)}")

    def pair(self, index):
        rng = np.random.default_rng([self.seed, index])
        image = self.images[rng.integers(len(self.images))]
        top = rng.integers(image.shape[0] - self.side + 1)
        left = rng.integers(image.shape[1] - self.side + 1)
        clean = np.rot90(image[top:top + self.side, left:left + self.side], rng.integers(4))
        if rng.integers(2):
            clean = clean[:, ::-1]
        clean = np.ascontiguousarray(clean)
        return self.degrade(clean, rng), clean.astype(np.float32) / 255.0

    def degrade(self, clean, rng):
        """The degraded float32 (h, w, C) input of a uint8 clean patch."""
        x = clean.astype(np.float32) / 255.0
        if self.task == "sr":
            t = torch.from_numpy(x).permute(2, 0, 1)[None]
            small = F.interpolate(t, scale_factor=1 / self.level, mode="bicubic", antialias=True,
                                  align_corners=False)
            return (torch.round(small.clamp(0, 1) * 255) / 255)[0].permute(1, 2, 0).numpy()
        if self.task == "denoise":
            return x + rng.normal(0.0, self.level / 255.0, x.shape).astype(np.float32)
        buffer = io.BytesIO()
        Image.fromarray(clean.squeeze(-1) if self.channels == 1 else clean).save(
            buffer, "JPEG", quality=int(self.level))
        decoded = np.asarray(Image.open(buffer), np.float32) / 255.0
        return decoded.reshape(x.shape)

    def batch(self, t, batch_size):
        """Batch ``t`` as NCHW tensors: samples ``t * batch_size`` .. ``(t + 1) * batch_size - 1``."""
        pairs = [self.pair(i) for i in range(t * batch_size, (t + 1) * batch_size)]
        return tuple(torch.from_numpy(np.stack(p)).permute(0, 3, 1, 2) for p in zip(*pairs))


def device_name(device):
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {torch.get_num_threads()} threads"


#: TrainingPlan fields that do not change what a run trains (a resume may change them).
_FREE = ("steps", "save_every", "validate_every", "log_every", "validation_set")


def train(run_dir, network, task, level, plan, device=None, progress=True):
    """Train the twin of ``network`` (a resolved ``NetworkConfig.to_dict()``) to undo ``task``
    at ``level`` by ``plan`` (``lce_models.plan.TrainingPlan``; no validation: import the
    checkpoint and run ``tools/evaluate.py``) in ``run_dir``, resuming from its ``state.pt``
    if there is one; returns the path of ``net_g_latest.pth``."""
    run_dir = Path(run_dir)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    identity = {"network": network, "task": task, "level": level,
                **{k: v for k, v in asdict(plan).items() if k not in _FREE}}
    identity = json.loads(json.dumps(identity))  # tuples as lists, as read back
    record = run_dir / "run.json"
    if record.is_file() and json.loads(record.read_text()) != identity:
        raise SetupError(f"{run_dir} holds another run (its run.json differs); choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(record, json.dumps(identity, indent=2) + "\n")

    sampler = PatchSampler([Path(d) for d in plan.data], network["channels"], plan.patch, task, level, plan.seed)
    torch.manual_seed(plan.seed)
    twin = build(network).to(device)
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
                    "hours": round(hours, 4), **{k: v for k, v in identity.items() if k != "network"}}
        params = {k: v.detach().cpu() for k, v in twin.state_dict().items()}
        return checkpoint.write(run_dir / "net_g_latest.pth", params, training=training)

    twin.train()
    log = (run_dir / "log.jsonl").open("a")
    bar = tqdm(total=plan.steps, initial=step, disable=not progress, unit="step")
    start, since = time.monotonic(), step
    latest = run_dir / "net_g_latest.pth"
    while step < plan.steps:
        degraded, clean = (t.to(device) for t in sampler.batch(step, plan.batch_size))
        loss = (twin(degraded) - clean).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        bar.update(1)
        if step % plan.save_every == 0 or step == plan.steps:
            now = time.monotonic()
            hours += (now - start) / 3600
            rate = (step - since) / (now - start)
            start, since = now, step
            latest = save(step, hours)
            log.write(json.dumps({"step": step, "l1": loss.item(), "lr": scheduler.get_last_lr()[0],
                                  "steps_per_s": rate}) + "\n")
            log.flush()
            bar.set_postfix(l1=f"{loss.item():.4f}", steps_per_s=f"{rate:.2f}")
    bar.close()
    log.close()
    return latest

