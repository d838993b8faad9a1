"""Weight sharing over a search space: one supernet per branch of non-nesting choices,
trained once with the sandwich rule, every candidate scored on its slice of the weights
(`search.evaluator=supernet`; docs/search.md, "Weight-sharing supernet").

One concept per module: branches.py (which choices nest, which split the space), models.py
(a point of the space as a network on the meta device), shared.py (the largest tensors and
their initialisation), slicing.py (a candidate's tensors as views), subnet.py (forward,
batch-norm recalibration, validation), sandwich.py (supernet training), store.py (the
checkpoint, resume and train-once lock), evaluator.py (the registered evaluator).
"""
