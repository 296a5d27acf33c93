"""What a training run does, as plain data: shared by the Keras trainer (``training``) and
the PyTorch one (``torch_twin.training``), and free of either framework."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrainingPlan:
    """The optimisation; defaults are the BBCU reference's x4 settings, but for the LR patch
    (48 here, 32 there). The learning rate is multiplied by ``gamma`` at each milestone."""

    steps: int = 300_000
    batch_size: int = 16
    patch: int = 48
    learning_rate: float = 1e-4
    milestones: tuple = (200_000,)
    gamma: float = 0.5
    seed: int = 0
    validate_every: int = 5_000
    save_every: int = 1_000
    log_every: int = 100
    validation_set: str = "Set5"
    data: tuple = field(default=())
