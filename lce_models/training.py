"""Training steps: L1 loss and Adam with the BBCU paper's betas (0.9, 0.99)."""

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tqdm import tqdm



def train(model, patches, steps, batch_size=16, learning_rate=1e-4, progress=True):
    """Run ``steps`` L1/Adam steps on batches from ``patches`` (``SRPatches``); returns the
    mean loss of the last 100 steps. Stops with an error on a non-finite loss."""
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.99)

    @tf.function
    def step(lr, hr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(model(lr, training=True) - hr))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = []
    bar = tqdm(range(steps), desc="train", disable=not progress, dynamic_ncols=True)
    for _ in bar:
        loss = float(step(*patches.batch(batch_size)))
        if not np.isfinite(loss):
            raise FloatingPointError(f"loss became {loss} after {len(losses)} steps")
        losses.append(loss)
        bar.set_postfix(l1=f"{loss:.4f}")
    return float(np.mean(losses[-100:]))
