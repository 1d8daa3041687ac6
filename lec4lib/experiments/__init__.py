"""Experiments that run at full scale on a GPU and at tiny scale on a CPU.

Each module is a command-line program (``python -m lec4lib.experiments.<name> --help``)
and a function the book calls at CPU scale. Full-scale runs write
``lec4lib/data/results/<name>/result.json`` with their provenance (device, torch version,
git commit, seed, wall time, date); committed, they are package data of lec4lib, and
chapters show them labelled with that provenance wherever lec4lib is installed.

* :mod:`lec4lib.experiments.alexnet_large_batch` — AlexNet trained with SGD and with LARS
  at a large batch: trust-ratio tables before and after, loss curves, throughput and
  model-FLOPs utilization.
"""
