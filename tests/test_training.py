"""tools/train.py end to end on a tiny network: cards, exact resumption after a kill, NaN stop,
a foreign run folder, and two replicas of MirroredStrategy agreeing with one."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from lce_models.data.images import DATA_ROOT
from lce_models.models import build_model, model_card

import numpy as np
import pytest
import tf_keras as keras

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--model", "bbcu-l", "--scale", "2", "--depth", "1", "--n-feats", "8", "--train", "T91",
        "--batch-size", "4", "--patch", "12", "--no-progress"]

pytestmark = pytest.mark.skipif(not (DATA_ROOT / "train" / "T91").is_dir(), reason="shared data absent")


def train(*argv, check=True):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), *TINY, *argv],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr[-2000:]
    return done


def weights(card):
    return model_card.load(card).get_weights()


def test_a_killed_run_resumes_exactly(tmp_path):
    """Step, optimizer state and learning rate (a milestone at step 3) all come back: the
    resumed weights equal an unbroken run's bit for bit."""
    plan = ["--steps", "8", "--milestones", "3", "--gamma", "0.1", "--save-every", "1",
            "--val-every", "4", "--deterministic"]
    train(*plan, "--out", str(tmp_path / "unbroken"))

    broken = tmp_path / "broken"
    cmd = [sys.executable, str(ROOT / "tools" / "train.py"), *TINY, *plan, "--out", str(broken)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (broken / "checkpoints" / "ckpt-4.index").exists():
        assert proc.poll() is None and time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-run, perhaps mid-save
    proc.wait()
    state = (broken / "checkpoints" / "checkpoint").read_text()
    assert "ckpt-8" not in state  # it really was stopped short
    resumed = train(*plan, "--out", str(broken))
    assert "steps (" in resumed.stdout
    for a, b in zip(weights(tmp_path / "unbroken" / "latest.json"), weights(broken / "latest.json")):
        np.testing.assert_array_equal(a, b)

    card = json.loads((broken / "latest.json").read_text())
    assert card["training"]["steps"] == 8 and card["training"]["data"] == ["shared:train/T91"]
    assert card["network"]["padding"] == "zero" and card["network"]["k"] == 130 * 8 / 64
    assert card["task"] == "sr" and card["level"] == 2
    assert card["validation"]["set"] == "Set5" and card["validation"]["psnr"] > 20
    assert (broken / "best.json").is_file() and list((broken / "logs").iterdir())
    best = json.loads((broken / "best.json").read_text())
    assert best["training"]["steps"] == best["validation"]["step"] in (4, 8)
    assert best["training"]["schedule_steps"] == 8

    shipped = subprocess.run([sys.executable, str(ROOT / "tools" / "ship.py"), str(broken),
                              "--card", "latest", "--dest", str(tmp_path / "weights")],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert shipped.returncode == 0, shipped.stderr[-2000:]
    card = json.loads((tmp_path / "weights" / "bbcu-l_x2.json").read_text())
    # Two sessions (killed, resumed) of a few seconds each: hours come from both event files.
    assert card["training"]["steps"] == 8 and 0 < card["training"]["hours"] < 0.1
    assert len(list((broken / "logs").glob("events.out.tfevents.*"))) >= 2
    again = train(*plan, "--out", str(broken))
    assert "already trained to step 8" in again.stdout


def test_user_mistakes_and_a_diverging_loss(tmp_path):
    train("--steps", "1", "--out", str(tmp_path), "--val-every", "9")
    other = train("--steps", "1", "--out", str(tmp_path), "--seed", "4", check=False)
    assert other.returncode == 2 and "holds a different run (seed differ)" in other.stderr
    missing = train("--train", "/nonexistent", "--out", str(tmp_path / "x"), check=False)
    assert missing.returncode == 2 and "error: training folder '/nonexistent'" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = train("--train", str(tmp_path / "empty"), "--out", str(tmp_path / "e"), check=False)
    assert empty.returncode == 2 and "error: no PNG/JPEG/BMP images in" in empty.stderr
    assert not (tmp_path / "e" / "run.json").exists()  # the corrected command is not refused
    no_val = train("--val", "Set9", "--out", str(tmp_path / "v"), check=False)
    assert no_val.returncode == 2 and "error: no test set 'Set9'" in no_val.stderr
    nan = train("--steps", "20", "--learning-rate", "1e30", "--out", str(tmp_path / "nan"), check=False)
    assert nan.returncode == 1 and "error: loss became" in nan.stderr
    for done in (other, missing, empty, no_val, nan):
        assert "Traceback" not in done.stderr


def test_a_run_starts_from_a_model_card_and_goes_on_from_its_step(tmp_path):
    """--init: the card's weights (at learning rate 0 they stay as they were) and its step count
    (the card says step 5 after 3 more steps); best.json only for weights better than the
    card's; the shipped hours add the card's; a card of another network is refused in one line."""
    train("--steps", "2", "--val-every", "2", "--out", str(tmp_path / "first"))
    shipped = subprocess.run([sys.executable, str(ROOT / "tools" / "ship.py"), str(tmp_path / "first"),
                              "--card", "latest", "--dest", str(tmp_path / "weights")],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert shipped.returncode == 0, shipped.stderr[-2000:]
    start = tmp_path / "weights" / "bbcu-l_x2.json"
    first = json.loads(start.read_text())

    later = tmp_path / "later"
    go_on = train("--steps", "5", "--val-every", "5", "--learning-rate", "0", "--init", str(start),
                  "--out", str(later))
    assert "\n3 steps (" in go_on.stdout
    for a, b in zip(weights(start), weights(later / "latest.json")):
        np.testing.assert_array_equal(a, b)
    card = json.loads((later / "latest.json").read_text())
    assert card["training"]["steps"] == 5 and card["training"]["init"]["steps"] == 2
    assert card["validation"]["psnr"] == pytest.approx(first["validation"]["psnr"], abs=1e-4)
    assert not (later / "best.json").exists() and "best.json" not in go_on.stdout

    shipped = subprocess.run([sys.executable, str(ROOT / "tools" / "ship.py"), str(later),
                              "--card", "latest", "--dest", str(tmp_path / "weights")],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert shipped.returncode == 0, shipped.stderr[-2000:]
    hours = json.loads(start.read_text())["training"]["hours"]
    assert first["training"]["hours"] < hours < 0.1

    other = train("--scale", "3", "--init", str(start), "--out", str(tmp_path / "x3"), check=False)
    assert other.returncode == 2 and "holds another network than the one asked for" in other.stderr
    assert "Traceback" not in other.stderr


MIRRORED = """
import sys
import lce_models
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from lce_models.models import NetworkConfig
from lce_models.data.images import DATA_ROOT
from lce_models.data.degradations import Degradation
from lce_models.training.plan import TrainingPlan
from lce_models.training.trainer import train
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"][: int(sys.argv[2])])
plan = TrainingPlan(steps=2, batch_size=4, patch=12, learning_rate=1e-2, validate_every=9,
                    data=(DATA_ROOT / "train" / "T91",))
config = NetworkConfig("bbcu-l", 2, n_feats=8, depth=1).resolved()
train(sys.argv[1], config, Degradation("sr", 2), plan, strategy, progress=False)
print("replicas", strategy.num_replicas_in_sync)
"""


def test_two_mirrored_replicas_train_like_one(tmp_path):
    """Each replica takes half of the same global batch, so two replicas on two logical CPUs
    reach the weights one replica does (up to the order of the gradient sums), and both
    moved far from the initial weights (learning rate 1e-2)."""
    for n in (1, 2):
        done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path / f"r{n}"), str(n)],
                              capture_output=True, text=True, cwd=ROOT, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"replicas {n}" in done.stdout
    one, two = weights(tmp_path / "r1" / "latest.json"), weights(tmp_path / "r2" / "latest.json")
    config, _, _ = model_card.read(tmp_path / "r1" / "latest.json")
    keras.utils.set_random_seed(0)
    initial = build_model(config).get_weights()
    assert max(np.abs(a - i).max() for a, i in zip(one, initial)) > 1e-3
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_from_tf_config(tmp_path):
    """MultiWorkerMirroredStrategy from TF_CONFIG, two local processes over loopback: the chief
    writes the run folder, the other worker leaves nothing behind."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "train.py"), *TINY, "--steps", "2", "--val-every", "9",
             "--out", str(tmp_path)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TF_CONFIG": json.dumps(config)}))
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-2000:]
        assert "2 steps (" in out
    assert "Set5 PSNR" in outputs[0][0] and "Set5 PSNR" not in outputs[1][0]  # the chief validates
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.json", "best_weights.h5", "checkpoints", "latest.json", "latest_weights.h5", "logs", "run.json"]


def test_a_run_folder_from_before_a_config_field_existed_still_resumes(tmp_path):
    """run.json files written before NetworkConfig gained fields (n_feats, bam_options...) hold
    only the old keys; they describe the same run and must not block resuming it."""
    from lce_models.models import NetworkConfig
    from lce_models.training.trainer import SetupError, _claim

    config = NetworkConfig("bbcu-l", 4).resolved()
    identity = {"network": config.to_dict(), "task": "sr", "level": 4, "batch_size": 16}
    old = {k: v for k, v in config.to_dict().items() if k not in ("bam_options", "n_feats")}
    (tmp_path / "run.json").write_text(json.dumps({**identity, "network": old}))
    _claim(tmp_path, identity)  # accepted
    other = {**identity, "network": NetworkConfig("bbcu-l", 4, padding="one").resolved().to_dict()}
    with pytest.raises(SetupError, match="network differ"):
        _claim(tmp_path, other)


def test_a_bam_run_from_before_global_residual_existed_is_not_resumed_with_one(tmp_path):
    """BSRN had no global residual before the field existed, and gained the bilinear one as
    its default: an old run must not silently go on as the new network."""
    from lce_models.models import NetworkConfig
    from lce_models.training.trainer import SetupError, _claim

    old = {k: v for k, v in NetworkConfig("bsrn", 4).resolved().to_dict().items() if k != "global_residual"}
    (tmp_path / "run.json").write_text(json.dumps({"network": old, "task": "sr"}))
    with pytest.raises(SetupError, match="network differ"):
        _claim(tmp_path, {"network": NetworkConfig("bsrn", 4).resolved().to_dict(), "task": "sr"})
    _claim(tmp_path, {"network": NetworkConfig("bsrn", 4, global_residual="none").resolved().to_dict(),
                      "task": "sr"})  # the run it is
