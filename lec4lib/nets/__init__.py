"""Torch networks and what is measured on them: the digits CNN and its training loop, AlexNet and
its images, sharpness, per-example costs, trust ratios, data parallelism."""
