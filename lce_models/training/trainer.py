"""Training as the BBCU reference does it: L1 loss, Adam (betas 0.9 / 0.99), learning rate
multiplied by ``gamma`` at each milestone; resumable and distributed.

A run lives in one folder::

    run.json                  what is trained on what (a rerun must match it to resume)
    init.json                 the model card a run started from (``init``), if any
    checkpoints/              model, optimizer (with its step, hence the learning rate) and best
                              validation PSNR; the latest two, so a kill mid-save leaves one whole
    logs/                     TensorBoard: loss, learning rate, steps/s, validation PSNR
    latest.json, best.json    model cards (+ ``*_weights.h5``) every other tool reads

Distribution is TensorFlow's own: ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names a
cluster, else ``MirroredStrategy`` over the local GPUs (or the CPU when there are none).
"""

import json
import math
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from lce_models.data.images import DATA_ROOT
from lce_models.data.pipeline import ImageBank, dataset
from lce_models.evaluation.protocol import evaluate, keras_restorer, set_folders
from lce_models.files import atomic_write
from lce_models.models import model_card, quantizers
from lce_models.models.registry import ConfigurationError, NetworkConfig, build_model

import tensorflow as tf
import tf_keras as keras
from tensorboard.compat.proto.event_pb2 import Event
from tqdm import tqdm


class SetupError(ValueError):
    """The run cannot start as asked: the folder holds another run, or the batch does not
    split over the replicas (one line, for the tool to print)."""


def learning_rate_schedule(plan):
    """The plan's learning rate, multiplied by ``gamma`` at each milestone."""
    if not plan.milestones:
        return plan.learning_rate
    values = [plan.learning_rate * plan.gamma**i for i in range(len(plan.milestones) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(list(plan.milestones), values)


def distribution_strategy():
    """The strategy the environment asks for (see the module docstring)."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy()


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def _describe(folders):
    """Training folders as a card records them: shared ones relative to the data root."""
    names = []
    for folder in folders:
        folder = Path(folder).resolve()
        shared = DATA_ROOT.resolve()
        names.append(f"shared:{folder.relative_to(shared)}" if folder.is_relative_to(shared) else str(folder))
    return names


def _claim(run_dir, identity):
    """Write run.json, or check that the one there describes this same run."""
    path = run_dir / "run.json"
    if path.is_file():
        held = json.loads(path.read_text())
        try:  # a run.json written before NetworkConfig gained a field still describes its run
            held["network"] = NetworkConfig.from_dict(held["network"]).resolved().to_dict()
        except (TypeError, KeyError, ConfigurationError):
            pass  # not a network of this version: reported as differing below
        if held != identity:
            changed = sorted(k for k in identity if held.get(k) != identity[k])
            raise SetupError(f"{run_dir} holds a different run ({', '.join(changed)} differ); "
                                 "choose another --out to start a new one")
    else:
        atomic_write(path, json.dumps(identity, indent=2) + "\n")


def _start_from_card(card_path, model, optimizer, best, config, degradation, plan):
    """Load a model card's weights and go on from its step count: the learning-rate schedule
    and the patch order continue as in an unbroken run; Adam's moments start from zero (a card
    does not keep them). Returns what the run's cards record of their origin."""
    card_config, weights, card = model_card.read(card_path)
    if card_config.resolved() != config:
        raise SetupError(f"{card_path} holds another network than the one asked for "
                         f"({card_config.name} x{card_config.scale}); give the card's network flags")
    if (card.get("task"), card.get("level")) != (degradation.task, degradation.level):
        raise SetupError(f"{card_path} was trained for {card.get('task')} {card.get('level')}, "
                         f"not {degradation.task} {degradation.level}")
    model_card.load_weights(model, weights)
    training, validation = card.get("training", {}), card.get("validation") or {}
    steps = int(training.get("steps", 0))
    optimizer.iterations.assign(steps)
    if validation.get("set") == plan.validation_set and validation.get("psnr") is not None:
        best.assign(validation["psnr"])  # best.json is written only for weights better than these
    return {"card": str(card_path), "steps": steps, "hours": training.get("hours"),
            "validation": validation or None}


def train(run_dir, config, degradation, plan, strategy=None, progress=True, deterministic=False, init=None):
    """Train ``config`` (a resolved ``NetworkConfig``) to undo ``degradation`` in ``run_dir``,
    resuming from its latest checkpoint if there is one, else starting from the weights and step
    count of the model card ``init`` if given, else from scratch. Returns a summary dict.
    ``deterministic``: TensorFlow's deterministic ops (bit-for-bit reruns, slower).

    Raises ``FloatingPointError`` on a non-finite loss (the checkpoints stay as they were).
    """
    run_dir = Path(run_dir)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = strategy or distribution_strategy()
    chief = _is_chief(strategy)
    replicas = strategy.num_replicas_in_sync
    if plan.batch_size % replicas:
        raise SetupError(f"batch size {plan.batch_size} does not split over {replicas} replicas")
    identity = {"network": config.to_dict(), "task": degradation.task, "level": degradation.level,
                **{k: v for k, v in asdict(plan).items() if k in ("batch_size", "patch", "seed", "data")}}
    identity["data"] = _describe(plan.data)
    set_folders(plan.validation_set, degradation)  # fail now, not at the first validation
    # the data before run.json: a start that fails on its data leaves nothing to refuse a rerun
    bank = ImageBank(plan.data, config.channels, min_size=plan.patch * degradation.multiple)
    if chief:
        _claim(run_dir, identity)
    with strategy.scope():
        keras.utils.set_random_seed(plan.seed)
        model = build_model(config)
        optimizer = keras.optimizers.Adam(learning_rate_schedule(plan), beta_1=0.9, beta_2=0.99)
        optimizer.build(model.trainable_variables)
        best = tf.Variable(-math.inf, trainable=False, name="best_validation_psnr")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, best=best)
    # Every worker resumes from the chief's checkpoints. The others must save too (saving is
    # collective), but somewhere private that they delete again.
    checkpoint_dir = run_dir / "checkpoints"
    save_dir = checkpoint_dir if chief else run_dir / f".worker-{strategy.cluster_resolver.task_id}"
    manager = tf.train.CheckpointManager(checkpoint, str(save_dir), max_to_keep=2)
    latest = tf.train.latest_checkpoint(str(checkpoint_dir))
    origin_path = run_dir / "init.json"
    origin = json.loads(origin_path.read_text()) if origin_path.is_file() else None
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
    elif init:
        origin = _start_from_card(init, model, optimizer, best, config, degradation, plan)
        if chief:
            atomic_write(origin_path, json.dumps(origin, indent=2) + "\n")
    start = int(optimizer.iterations.numpy())

    def input_fn(context):
        per_replica = context.get_per_replica_batch_size(plan.batch_size)
        return dataset(bank, degradation, plan.patch, per_replica, plan.seed,
                       first_batch=start * replicas // context.num_input_pipelines,
                       pipelines=context.num_input_pipelines, pipeline=context.input_pipeline_id)

    batches = iter(strategy.distribute_datasets_from_function(input_fn))

    # Traced without AutoGraph: 4x sooner for BBCU-L (5 s instead of 22 s), the same loss and
    # gradients for every network and estimator (the layers branch on configuration only).
    @tf.function(autograph=False)
    def train_step(batch):
        def replica_step(degraded, clean):
            with tf.GradientTape() as tape:
                error = tf.reduce_mean(tf.abs(model(degraded, training=True) - clean), axis=[1, 2, 3])
                loss = tf.nn.compute_average_loss(error, global_batch_size=plan.batch_size)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        losses = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    def card(name, step, psnr):
        metadata = {
            "task": degradation.task, "level": degradation.level,
            "training": {"data": _describe(plan.data),
                         **{k: v for k, v in asdict(plan).items() if k not in ("data", "validation_set", "steps")},
                         "steps": step, "schedule_steps": plan.steps,
                         **({"init": origin} if origin else {})},
            "validation": {"set": plan.validation_set, "psnr": psnr, "step": step},
        }
        model_card.save(model, run_dir / f"{name}.json", **metadata)

    writer = tf.summary.create_file_writer(str(run_dir / "logs")) if chief else tf.summary.create_noop_writer()
    bar = tqdm(total=plan.steps, initial=start, desc=f"train {model.name}", unit="step",
               disable=not progress, dynamic_ncols=True)
    began, rate, last_psnr, loss = time.perf_counter(), math.nan, None, math.nan
    for step in range(start + 1, plan.steps + 1):
        quantizers.set_training_progress(step - 1, plan.steps)  # the EDE estimator's schedule
        loss = float(train_step(next(batches)))
        if not math.isfinite(loss):
            kept = tf.train.latest_checkpoint(str(checkpoint_dir))
            raise FloatingPointError(f"loss became {loss} at step {step}; stopped without saving, "
                                     f"so the latest checkpoint ({kept}) is intact")
        if step == start + 1:  # the first step traces the graph: time from its end
            began = time.perf_counter()
        rate = (step - start - 1) / (time.perf_counter() - began) if step > start + 1 else math.nan
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", steps_per_s=f"{rate:.3g}", refresh=False)
        with writer.as_default(step=step):
            if step % plan.log_every == 0 or step == plan.steps:
                tf.summary.scalar("loss/l1", loss)
                tf.summary.scalar("learning_rate", optimizer.learning_rate)
                tf.summary.scalar("steps_per_second", rate)
            if chief and (step % plan.validate_every == 0 or step == plan.steps):
                last_psnr = evaluate(keras_restorer(model), plan.validation_set, degradation,
                                     config.channels)["psnr"]
                tf.summary.scalar(f"validation/{plan.validation_set}_psnr", last_psnr)
                bar.write(f"step {step}: {plan.validation_set} PSNR {last_psnr:.2f} dB")
                if last_psnr > best.numpy():
                    best.assign(last_psnr)
                    card("best", step, last_psnr)
        if step % plan.save_every == 0 or step == plan.steps:
            manager.save(checkpoint_number=step)
            if chief:
                card("latest", step, last_psnr)
            else:
                shutil.rmtree(save_dir, ignore_errors=True)
    bar.close()
    return {"start_step": start, "steps": plan.steps, "last_loss": loss,
            "steps_per_second": rate if plan.steps > start + 1 else None,
            "best_psnr": float(best.numpy()), "validation_psnr": last_psnr, "model": model}


def wall_hours(run_dir):
    """Hours a run's training loop took, summed over the sessions that resumed it: each
    session writes its own TensorBoard event file, from its first step to its last log."""
    seconds = 0.0
    for events in sorted((Path(run_dir) / "logs").glob("events.out.tfevents.*")):
        times = [Event.FromString(r.numpy()).wall_time for r in tf.data.TFRecordDataset(str(events))]
        seconds += max(times) - min(times) if times else 0.0
    return seconds / 3600
