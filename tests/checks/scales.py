"""The scale of each numerical derivative: the sum of the absolute values of its terms.

What the tangent tests and tools/tangent_agreement.py measure differences in
(float64 ulps of this scale).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from backprop import Array, Gradients
from checks.engine.stencils import COMPLEX_STEP, U64
from checks.netcheck import moves, tangent
from checks.netcheck.error_model import Model, local_terms


def scales(model: Model, g: Gradients) -> Iterator[Array]:
    """Per array, in check_arrays' order: the sum of the absolute terms of each
    element's numerical derivative, from tangents of absolute values. At the
    output, the magnitude of the terms of delta^L (the error model's P, plus the
    spread of softmax's log-sum-exp), not |delta^L|, which may cancel."""
    ref = model.ref
    loc = tangent.local_derivatives(model, COMPLEX_STEP.step(U64))
    P = local_terms(ref, cached=False).magnitudes.P
    if not ref.net.sigma[-1].elementwise:
        P = P + np.abs(ref.a[-1]) * np.sum(np.abs(ref.Y), axis=0, keepdims=True)
    absolute = dataclasses.replace(loc, c=[np.abs(c) for c in loc.c],
                                   g=tangent.rows_per_example(P),
                                   W_T=[np.abs(W) for W in loc.W_T])
    for l in range(model.ref.L - 1, -1, -1):
        for t in moves.targets_of(model, g, l):
            K = t.analytic.shape[0] if t.per_example else t.analytic.size
            rows, unit = t.row(np.arange(K))
            change = np.abs(unit) * np.ones((K, model.ref.z[l].shape[1]))
            im_C, _ = tangent.tangent_costs(absolute, l, rows, change)
            yield (im_C if t.per_example else im_C.mean(axis=-1)).reshape(t.analytic.shape)
