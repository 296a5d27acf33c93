"""Training a network: the plan as plain data, the Keras trainer, and the ablation's equal-budget runs."""
