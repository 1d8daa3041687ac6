"""The AlexNet initialization constants, typed here from their sources (not read from lec4lib).

The independent reference of the AlexNet tests (tests/unit/test_alexnet_images.py and
tests/claims/test_11_lars_lamb.py): weight stds and biases of BVLC/caffe
``models/bvlc_alexnet/train_val.prototxt`` (``weight_filler`` std, ``bias_filler`` value),
the bias constants that reproduce the slide ("slide"), and the entries per tensor of the
grouped architecture.
"""

from __future__ import annotations

import math

WEIGHT_STD = dict(conv1=0.01, conv2=0.01, conv3=0.01, conv4=0.01, conv5=0.01,
                  fc6=0.005, fc7=0.005, fc8=0.01)
BIAS = {"bvlc": dict(conv1=0.0, conv2=0.1, conv3=0.0, conv4=0.1, conv5=0.1,
                     fc6=0.1, fc7=0.1, fc8=0.0),
        "slide": dict(conv1=0.01, conv2=0.01, conv3=0.01, conv4=0.01, conv5=0.01,
                      fc6=0.1, fc7=0.1, fc8=0.01)}
ENTRIES = dict(conv1=(96 * 3 * 11 * 11, 96), conv2=(256 * 48 * 25, 256),
               conv3=(384 * 256 * 9, 384), conv4=(384 * 192 * 9, 384),
               conv5=(256 * 192 * 9, 256), fc6=(4096 * 9216, 4096),
               fc7=(4096 * 4096, 4096), fc8=(4096 * 1000, 1000))


def closed_form(name, init):
    """E‖w‖ ≈ σ√n for a weight (name '<layer>.0'), c√m exactly for a bias ('<layer>.1')."""
    layer, blob = name.split(".")
    n_w, n_b = ENTRIES[layer]
    return WEIGHT_STD[layer] * math.sqrt(n_w) if blob == "0" else BIAS[init][layer] * math.sqrt(n_b)
