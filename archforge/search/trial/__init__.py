"""One trial: the objective (compose, parse, check constraints, train), the cost
constraints, the pruning callback and the multi-objective pruning rule."""
