"""The differentiable primitives, grouped by kind, and the composites built from them."""
