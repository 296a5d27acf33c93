"""Images in and out: benchmark and training files, real-world photos, the degradations (bicubic,
noise, JPEG) and the tf.data training pipeline."""
