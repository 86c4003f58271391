"""Match suggestions that learn (supabase/migrations/20261206150300_match_suggestions.sql):
the logistic model that ranks an invoice's candidate purchase orders, trained in-process on
the organization's own decisions, and the evidence of each suggestion.

The model: p(the PO is the invoice's) = logistic(bias + sum(weight x feature)) over five
features in [0, 1] (vendor, amount, date, reference, description; the migration's header
says how each is computed). Training fits the weights by Newton's method (iteratively
reweighted least squares: six parameters, so each step solves a 6 x 6 system) with an L2
penalty pulling them toward the fixed weights, so a handful of decisions moves the ranking
a little and a few hundred decide it. Plain Python: no model is downloaded, no numerical
library is needed for six parameters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

FEATURES: tuple[str, ...] = ("vendor", "amount", "date", "reference", "description")
PARAMETERS: tuple[str, ...] = ("bias", *FEATURES)
FIXED_WEIGHTS: dict[str, float] = {
    "bias": -2.5,
    "vendor": 1.0,
    "amount": 1.0,
    "date": 1.0,
    "reference": 1.0,
    "description": 1.0,
}
# The pull toward the fixed weights (per parameter, in units of examples' log-likelihood).
L2 = 1.0
MAX_ITERATIONS = 50
MAX_EXAMPLES = 3000
WEIGHT_LIMIT = 50.0

Example = tuple[int, Sequence[float]]


def logistic(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a is positive definite here)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-12:
            return [0.0] * n
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            if f:
                for c in range(col, n + 1):
                    m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def train(
    examples: Iterable[Example],
    prior: dict[str, float] | None = None,
    l2: float = L2,
) -> dict[str, float]:
    """The weights maximizing the examples' log-likelihood minus l2/2 x |w - prior|^2."""
    theta0 = [(prior or FIXED_WEIGHTS)[k] for k in PARAMETERS]
    rows = [(float(label), [1.0, *(float(v) for v in x)]) for label, x in examples]
    theta = theta0[:]
    k = len(theta)
    for _ in range(MAX_ITERATIONS):
        grad = [l2 * (theta[j] - theta0[j]) for j in range(k)]
        hess = [[l2 if i == j else 0.0 for j in range(k)] for i in range(k)]
        for y, x in rows:
            p = logistic(sum(t * v for t, v in zip(theta, x, strict=True)))
            r = p - y
            w = p * (1.0 - p)
            for i in range(k):
                xi = x[i]
                grad[i] += r * xi
                wxi = w * xi
                row = hess[i]
                for j in range(i, k):
                    row[j] += wxi * x[j]
        for i in range(k):
            for j in range(i):
                hess[i][j] = hess[j][i]
        step = _solve(hess, grad)
        theta = [
            max(-WEIGHT_LIMIT, min(WEIGHT_LIMIT, t - s)) for t, s in zip(theta, step, strict=True)
        ]
        if max(abs(s) for s in step) < 1e-7:
            break
    return {name: round(value, 6) for name, value in zip(PARAMETERS, theta, strict=True)}


def score(weights: dict[str, float], features: Sequence[float]) -> float:
    pairs = zip(FEATURES, features, strict=True)
    return weights.get("bias", 0.0) + sum(weights.get(n, 0.0) * float(v) for n, v in pairs)


def evidence(weights: dict[str, float], features: Sequence[float]) -> dict[str, Any]:
    """Each feature's value and its contribution (weight x value) to the score."""
    return {
        "features": {n: round(float(v), 6) for n, v in zip(FEATURES, features, strict=True)},
        "weights": {n: weights.get(n, 0.0) for n in FEATURES},
        "contributions": {
            n: round(weights.get(n, 0.0) * float(v), 6)
            for n, v in zip(FEATURES, features, strict=True)
        },
        "bias": weights.get("bias", 0.0),
    }


def parse_examples(rows: Any) -> list[Example]:
    """public.suggestion_training_set's answer: [[label, vendor, amount, date, reference,
    description], ...]."""
    out: list[Example] = []
    for row in rows or []:
        out.append((int(row[0]), [float(v) for v in row[1:]]))
    return out


def fit(rows: Any) -> tuple[dict[str, float], int, int]:
    """The weights for the training set's rows, with the counts of examples and positives."""
    examples = parse_examples(rows)[:MAX_EXAMPLES]
    positives = sum(1 for label, _ in examples if label == 1)
    return train(examples), len(examples), positives
