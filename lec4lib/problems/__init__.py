"""The problems the optimizers solve: finite-sum objectives and their kernel, data sets, quadratics."""
