"""Plain vs residual, measured: CIFAR-style stacks, gradient norms, short training runs, the lesion study, the
unraveled view, the synthetic shapes data and the checkpoint trained on it."""
