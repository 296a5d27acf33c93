"""What one training run of a twin is: the network dict, its task and level, and where a GPU
window's runs live. Shared by ``tools/train_torch.py`` (one run) and ``tools/gpu_train.py``
(the shipped networks in turn)."""

from dataclasses import dataclass
from pathlib import Path

from lce_models.torch_twin import training
from lce_models.torch_twin.modules import NETWORKS
from lce_models.torch_twin.training import Speed

import torch

#: The level a task is trained at when none is given: SR scale, noise sigma, JPEG quality.
LEVEL_NAMES = {"sr": "scale", "denoise": "sigma", "jpeg": "quality"}


def network_dict(name, level, padding="zero", depth=None, n_feats=None, k=None):
    """(network dict as ``NetworkConfig.to_dict()`` has it, task) of a twin network at
    ``level``; ``ValueError`` for a level out of its task's range."""
    defaults = NETWORKS[name]
    task = defaults["task"]
    if task == "denoise" and not 0 <= level <= 255 or task == "jpeg" and not 1 <= level <= 100:
        raise ValueError(f"--{LEVEL_NAMES[task]} {level:g} is out of range")
    if task == "sr" and level not in (2, 3, 4):
        raise ValueError(f"--scale {level:g} is not 2, 3 or 4")
    network = {"name": name, "scale": int(level) if task == "sr" else 1, "channels": defaults["channels"],
               "n_feats": n_feats or defaults["n_feats"], "depth": depth or defaults["depth"], "variant": "v4",
               "padding": padding, "k": k or defaults["k"]}
    return network, task


@dataclass(frozen=True)
class Job:
    """One network at one level, trained in ``<root>/<name>``."""

    model: str
    level: float

    @property
    def name(self):
        task = NETWORKS[self.model]["task"]
        return f"{self.model}_{'x' if task == 'sr' else LEVEL_NAMES[task][0]}{self.level:g}"

    def home_commands(self, root):
        """The commands that bring this run's checkpoint home: import it as a model card into
        ``imported/``, then ship that card."""
        sr = NETWORKS[self.model]["task"] == "sr"
        scale = int(self.level) if sr else 1
        return [f"python tools/import_torch.py {root}/{self.name}/net_g_latest.pth --model {self.model}"
                f"{f' --scale {scale}' if sr else ''} --out imported",
                f"python tools/ship.py imported/{self.model}_x{scale}.json"]


def train_job(job, root, plan, device=None, progress=True, minutes=None, speed=Speed(), depth=None, n_feats=None,
              threads=None):
    """Train ``job`` in ``root/<job.name>`` by ``plan`` (``training.train``), on ``threads``
    CPU threads if given; returns the path of its ``net_g_latest.pth``. A top-level function,
    so that a process of its own can run it."""
    if threads:
        torch.set_num_threads(threads)
    network, task = network_dict(job.model, job.level, depth=depth, n_feats=n_feats)
    return training.train(Path(root) / job.name, network, task, job.level, plan, device, progress, minutes, speed)


#: The networks a GPU window trains, in this order: the tasks and scales no model ships for
#: yet first, then the shipped x4 models' own runs.
WINDOW_JOBS = (Job("bbcu-l", 2), Job("bbcu-m", 2), Job("bbcu-dn", 25), Job("bbcu-car", 10), Job("bbcu-l", 4),
               Job("bbcu-m", 4))


def add_run_flags(p):
    """The flags of a run that tools/train_torch.py and tools/gpu_train.py share: the data, the
    steps and batches, the network's size, the device and how a step runs
    (``training.Speed``); ``check_run_flags`` checks them after parsing."""
    p.add_argument("--depth", type=int, help="blocks (default: the network's)")
    p.add_argument("--n-feats", type=int, help="feature channels (default 64)")
    p.add_argument("--train", default="T91,BSD200",
                   help="comma-separated image folders, or set names under the shared train/ (default T91,BSD200)")
    p.add_argument("--steps", type=int, default=300_000, help="steps of the whole run (default 300000)")
    p.add_argument("--batch-size", type=int, default=16, help="default 16")
    p.add_argument("--patch", type=int, default=48, help="input (LR) patch side in pixels (default 48)")
    p.add_argument("--save-every", type=int, default=1000, help="checkpoint every this many steps (default 1000)")
    p.add_argument("--device", help="torch device (default cuda if available, else cpu)")
    p.add_argument("--precision", choices=("auto", "bfloat16", "float32"), default="auto",
                   help="forward pass under bfloat16 autocast (float32 weights and loss) or all float32 "
                        "(default auto: bfloat16 on CUDA, float32 on the CPU)")
    p.add_argument("--channels-last", choices=("auto", "yes", "no"), default="auto",
                   help="NHWC memory layout (default auto: yes on CUDA)")
    p.add_argument("--compile", action="store_true", help="run the twin through torch.compile")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_run_flags(p, args):
    """``p.error`` for a count below 1 or a budget (``--minutes``) that is not positive."""
    for name in ("steps", "batch_size", "patch", "save_every"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.minutes is not None and args.minutes <= 0:
        p.error("--minutes must be positive")


def speed_of(args):
    """``training.Speed`` of the flags of ``add_run_flags``."""
    pick = lambda value, yes: None if value == "auto" else value == yes  # noqa: E731
    return Speed(pick(args.precision, "bfloat16"), pick(args.channels_last, "yes"), args.compile)
