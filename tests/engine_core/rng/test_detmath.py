"""Tests for engine_core.rng.detmath: accuracy vs mpmath, numpy/numba bit identity,
IEEE special cases and the no-libm rule."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import mpmath
import numpy as np
import pytest
from numba import njit

from engine_core.rng import _detmath_kernels as K
from engine_core.rng import detmath as D

FUNCS = ["exp", "log", "log1p", "expm1", "sin", "cos", "cos2pi", "sin2pi"]
MAX_ULP = 2.0
SEED = 0x5EED_DE7A
TINY = 5e-324
DMAX = np.finfo(np.float64).max


# ----------------------------------------------------------------------------- helpers


def _bits(x: float) -> int:
    return int(np.array(x, dtype=np.float64).view(np.uint64))


def _neighbours(values, steps=2):
    """Each value plus its `steps` nearest doubles on either side."""
    out = []
    for v in values:
        lo = hi = float(v)
        out.append(lo)
        for _ in range(steps):
            lo, hi = math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)
            out += [lo, hi]
    return out


def _rand_mag(rng, n, lo, hi):
    """n doubles in [lo, hi) (0 <= lo < hi), uniform in bit pattern => log-uniform magnitude."""
    b = rng.integers(_bits(lo), _bits(hi), size=n, dtype=np.uint64, endpoint=False)
    return b.view(np.float64)


def _both_signs(rng, x):
    return np.where(rng.random(x.size) < 0.5, -x, x)


def _nearest(value) -> float:
    return float(value)  # mpmath rounds to nearest double


def _multiples_of_pio2():
    """Nearest doubles to k*pi/2: small k and the k <= 2**20 with the worst cancellation
    (found by exhaustive search over k in [1, 2**20])."""
    hard = [
        204551,
        409102,
        818204,
        554999,
        263205,
        526410,
        789615,
        846793,
        321859,
        643718,
        1024231,
        380513,
        761026,
        145897,
        497821,
        995642,
        615129,
        2**20,
    ]
    ks = list(range(-64, 65)) + hard + [-k for k in hard]
    with mpmath.workprec(200):
        xs = [_nearest(k * mpmath.pi / 2) for k in ks]
    return [x for x in _neighbours(xs, 2) if abs(x) <= K.SINCOS_MAX]


def _edges(name):
    """Hand-picked edge values per function (all inside the function's domain)."""
    ln2 = math.log(2.0)  # test-side only: used to place points, not as reference
    common = [
        0.0,
        -0.0,
        TINY,
        -TINY,
        1e-310,
        -1e-310,
        K.DBL_MIN,
        -K.DBL_MIN,
        1e-300,
        -1e-300,
        2.0**-54,
        -(2.0**-54),
        2.0**-28,
        -(2.0**-28),
        0.5,
        -0.5,
        1.0,
        -1.0,
    ]
    if name == "exp":
        return _neighbours(
            common
            + [
                K.O_THRESHOLD,
                K.U_THRESHOLD,
                -708.3964185322641,
                -744.4400719213812,
                0.5 * ln2,
                -0.5 * ln2,
                1.5 * ln2,
                -1.5 * ln2,
            ]
            + [k * ln2 for k in range(-1074, 1025, 7)],
            3,
        )
    if name == "log":
        return _neighbours(
            [
                TINY,
                1e-310,
                K.DBL_MIN,
                1e-300,
                0.5,
                1.0,
                2.0,
                math.e,
                10.0,
                math.sqrt(0.5),
                math.sqrt(2.0),
                1.4,
                1.42,
                1.38,
                1e300,
                DMAX,
            ]
            + [2.0**e for e in range(-1074, 1024, 13)],
            3,
        )
    if name == "log1p":
        pos = [v for v in common if v > -1.0] + [
            2.0**-29,
            -(2.0**-29),
            math.sqrt(2) - 1,
            1 - math.sqrt(0.5),
            -(1 - math.sqrt(0.5)),
            2.0**53,
            2.0**53 + 2,
            1e300,
            DMAX,
        ]
        pos += [-1.0 + 2.0**-e for e in range(1, 53)] + [-1.0 + TINY * 2**52]
        return _neighbours(pos, 3)
    if name == "expm1":
        marks = common + [K.O_THRESHOLD, -K.EXPM1_SAT, K.EXPM1_RED, -K.EXPM1_RED, 0.25, -0.25]
        marks += [k * ln2 for k in range(-60, 1025)] + [(k + 0.5) * ln2 for k in range(-60, 60)]
        return [v for v in _neighbours(marks, 2) if v <= K.O_THRESHOLD]
    if name in ("sin", "cos"):
        return (
            common
            + _multiples_of_pio2()
            + _neighbours([K.SINCOS_MAX, -K.SINCOS_MAX, math.pi / 4, -math.pi / 4], 2)
        )
    quarter = [j / 8 for j in range(-16, 17)]
    return (
        common
        + _neighbours(quarter, 3)
        + [
            2.0**-53,
            1 - 2.0**-53,
            0.5 - 2.0**-54,
            0.5 + 2.0**-53,
            2.0**52,
            2.0**52 - 0.5,
            2.0**51 + 0.5,
            2.0**51 + 0.25,
            2.0**50 + 0.75,
            2.0**53,
            1e300,
            DMAX,
            -DMAX,
            -(2.0**52 - 0.5),
            -(2.0**51 + 0.25),
        ]
    )


def _accuracy_points(name, seed=SEED):
    rng = np.random.default_rng([seed, FUNCS.index(name)])
    if name == "exp":
        pts = [
            _rand_mag(rng, 8000, TINY, K.O_THRESHOLD),
            -_rand_mag(rng, 8000, TINY, -K.U_THRESHOLD),
            rng.uniform(K.U_THRESHOLD, K.O_THRESHOLD, 4000),
        ]
    elif name == "log":
        pts = [
            _rand_mag(rng, 16000, TINY, DMAX),
            1.0 + _both_signs(rng, _rand_mag(rng, 4000, 2.0**-60, 0.5)),
        ]
    elif name == "log1p":
        pts = [
            _rand_mag(rng, 8000, TINY, DMAX),
            -_rand_mag(rng, 8000, TINY, 1.0),
            -1.0 + _rand_mag(rng, 2000, 2.0**-53, 1.0),
            rng.uniform(-1.0, 1.0, 2000),
        ]
    elif name == "expm1":
        pts = [
            _rand_mag(rng, 8000, TINY, K.O_THRESHOLD),
            -_rand_mag(rng, 8000, TINY, 800.0),
            rng.uniform(-40.0, 40.0, 4000),
        ]
    elif name in ("sin", "cos"):
        pts = [
            _both_signs(rng, _rand_mag(rng, 16000, TINY, K.SINCOS_MAX)),
            rng.uniform(-10.0, 10.0, 2000),
            rng.uniform(-K.SINCOS_MAX, K.SINCOS_MAX, 2000),
        ]
    else:
        pts = [
            rng.random(8000),
            _both_signs(rng, _rand_mag(rng, 8000, TINY, DMAX)),
            rng.integers(-8, 9, 4000) / 4 + _both_signs(rng, _rand_mag(rng, 4000, TINY, 0.01)),
        ]
    edges = np.array(_edges(name), dtype=np.float64)
    lo = {"log": 0.0, "log1p": -1.0}.get(name, -np.inf)
    hi = K.SINCOS_MAX if name in ("sin", "cos") else DMAX
    edges = edges[(edges > lo) & (np.abs(edges) <= hi)]  # finite, inside the domain
    return np.concatenate(pts + [edges])


def _mp_ref(name, x: float):
    X = mpmath.mpf(x)
    if name == "exp":
        return mpmath.exp(X)
    if name == "log":
        return mpmath.log(X)
    if name == "log1p":
        return mpmath.log1p(X)
    if name == "expm1":
        return mpmath.expm1(X)
    if name == "sin":
        return mpmath.sin(X)
    if name == "cos":
        return mpmath.cos(X)
    if name == "cos2pi":
        return mpmath.cospi(2 * X)  # 2*X is exact; cospi reduces exactly
    return mpmath.sinpi(2 * X)


_OVERFLOW = mpmath.mpf(2) ** 1024 * (1 - mpmath.mpf(2) ** -54)  # rounds to inf from here


def _ulp_error(got: float, ref) -> float:
    """|got - ref| in units of the ulp of the (binade of the) exact value ref."""
    if math.isnan(got):
        return math.inf
    if abs(ref) >= _OVERFLOW:
        return 0.0 if (math.isinf(got) and (got > 0) == (ref > 0)) else math.inf
    if math.isinf(got):
        return math.inf
    if ref == 0:
        ulp = mpmath.mpf(2) ** -1074
    else:
        ulp = mpmath.ldexp(1, max(mpmath.frexp(ref)[1], -1021) - 53)
    return float(abs(mpmath.mpf(got) - ref) / ulp)


def _loop(fn):
    @njit
    def run(a):
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = fn(a[i])
        return out

    return run


_NB_LOOPS = {name: _loop(getattr(D, "nb_" + name)) for name in FUNCS}


def _same_bits(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a.view(np.uint64) == b.view(np.uint64)) | (np.isnan(a) & np.isnan(b))


# ----------------------------------------------------------------------------- accuracy

MEASURED: dict[str, float] = {}


@pytest.mark.parametrize("name", FUNCS)
def test_accuracy_vs_mpmath(name):
    x = _accuracy_points(name)
    assert x.size >= 20_000
    got = getattr(D, name)(x)
    worst, worst_x = 0.0, None
    with mpmath.workprec(200):
        for xi, gi in zip(x.tolist(), got.tolist(), strict=True):
            err = _ulp_error(gi, _mp_ref(name, xi))
            if err > worst:
                worst, worst_x = err, xi
    MEASURED[name] = worst
    print(f"{name}: max ulp error {worst:.4f} at x={worst_x!r} over {x.size} points")
    assert worst <= MAX_ULP, (name, worst_x, worst)


# ----------------------------------------------------------------------------- numpy == numba


def _identity_points(name):
    rng = np.random.default_rng([SEED, 100 + FUNCS.index(name)])
    raw = rng.integers(0, 2**64, size=40_000, dtype=np.uint64, endpoint=False).view(np.float64)
    domain = _accuracy_points(name, seed=SEED + 1)
    specials = np.array(
        [
            np.nan,
            -np.nan,
            np.inf,
            -np.inf,
            DMAX,
            -DMAX,
            2e6,
            -2e6,
            K.SINCOS_MAX * 1.0000001,
            -746.0,
            710.0,
            -1.5,
            -1.0,
        ]
    )
    return np.concatenate([raw, domain, domain * 0.75, _accuracy_points(name), specials])


@pytest.mark.parametrize("name", FUNCS)
def test_numpy_twin_bit_identical_to_numba(name):
    x = _identity_points(name)
    assert x.size >= 100_000
    vec = getattr(D, name)(x)
    nb = _NB_LOOPS[name](x)
    same = _same_bits(vec, nb)
    bad = np.flatnonzero(~same)
    assert bad.size == 0, [(x[i], vec[i], nb[i]) for i in bad[:5]]
    # a direct (non-loop) call from Python goes through the same compiled code
    for xi in x[:: max(1, x.size // 200)]:
        assert _same_bits(getattr(D, "nb_" + name)(float(xi)), getattr(D, name)(xi))


# ----------------------------------------------------------------------------- IEEE cases

INF, NAN = math.inf, math.nan
SPECIAL_CASES = {
    "exp": [
        (NAN, NAN),
        (INF, INF),
        (-INF, 0.0),
        (0.0, 1.0),
        (-0.0, 1.0),
        (710.0, INF),
        (DMAX, INF),
        (-746.0, 0.0),
        (-DMAX, 0.0),
        (-745.0, TINY),
        (TINY, 1.0),
    ],
    "log": [
        (NAN, NAN),
        (0.0, -INF),
        (-0.0, -INF),
        (-1.0, NAN),
        (-TINY, NAN),
        (-INF, NAN),
        (INF, INF),
        (1.0, 0.0),
        (TINY, -744.4400719213812),
    ],
    "log1p": [
        (NAN, NAN),
        (-1.0, -INF),
        (-1.5, NAN),
        (-INF, NAN),
        (INF, INF),
        (0.0, 0.0),
        (-0.0, -0.0),
        (TINY, TINY),
        (-TINY, -TINY),
    ],
    "expm1": [
        (NAN, NAN),
        (INF, INF),
        (-INF, -1.0),
        (0.0, 0.0),
        (-0.0, -0.0),
        (710.0, INF),
        (-800.0, -1.0),
        (-DMAX, -1.0),
        (TINY, TINY),
        (-TINY, -TINY),
    ],
    "sin": [
        (NAN, NAN),
        (INF, NAN),
        (-INF, NAN),
        (0.0, 0.0),
        (-0.0, -0.0),
        (TINY, TINY),
        (-TINY, -TINY),
        (2e6, NAN),
        (-1e300, NAN),
    ],
    "cos": [
        (NAN, NAN),
        (INF, NAN),
        (-INF, NAN),
        (0.0, 1.0),
        (-0.0, 1.0),
        (TINY, 1.0),
        (2e6, NAN),
        (-1e300, NAN),
    ],
    "cos2pi": [
        (NAN, NAN),
        (INF, NAN),
        (-INF, NAN),
        (0.0, 1.0),
        (-0.0, 1.0),
        (0.25, 0.0),
        (0.5, -1.0),
        (0.75, 0.0),
        (1.0, 1.0),
        (-0.5, -1.0),
        (1e300, 1.0),
        (2.0**52 + 1, 1.0),
        (2.0**51 + 0.5, -1.0),
    ],
    "sin2pi": [
        (NAN, NAN),
        (INF, NAN),
        (-INF, NAN),
        (0.0, 0.0),
        (-0.0, -0.0),
        (0.25, 1.0),
        (0.5, 0.0),
        (0.75, -1.0),
        (-0.25, -1.0),
        (1.0, 0.0),
        (1e300, 0.0),
        (2.0**50 + 0.25, 1.0),
    ],
}


def _check_case(value, expected, name, x):
    if math.isnan(expected):
        assert math.isnan(value), (name, x, value)
    elif expected == 0.0 and name in ("cos2pi", "sin2pi") and x != 0.0:
        assert value == 0.0, (name, x, value)  # exact zero; sign not specified
    else:
        assert _same_bits(value, expected), (name, x, value, expected)


@pytest.mark.parametrize("name", FUNCS)
def test_ieee_special_cases(name):
    cases = SPECIAL_CASES[name]
    xs = np.array([c[0] for c in cases])
    vec = getattr(D, name)(xs)
    for (x, expected), v in zip(cases, vec.tolist(), strict=True):
        _check_case(v, expected, name, x)
        _check_case(getattr(D, "nb_" + name)(x), expected, name, x)


def test_exp_underflow_is_gradual():
    """Results shrink through the subnormal range monotonically down to 0."""
    x = np.linspace(-708.0, -745.2, 20001)
    y = D.exp(x)
    assert np.all(np.diff(y) <= 0.0)
    assert y[-1] == 0.0 and np.any((y > 0.0) & (y < K.DBL_MIN))


def test_log_and_log1p_of_subnormal_inputs():
    """Subnormals are rescaled by 2**54 inside log; check them densely (incl. powers of 2)."""
    rng = np.random.default_rng([SEED, 999])
    x = np.concatenate([_rand_mag(rng, 2000, TINY, K.DBL_MIN), TINY * 2.0 ** np.arange(53)])
    with mpmath.workprec(200):
        for name in ("log", "log1p"):
            got = getattr(D, name)(x)
            errs = [
                _ulp_error(g, _mp_ref(name, v))
                for v, g in zip(x.tolist(), got.tolist(), strict=True)
            ]
            assert max(errs) <= MAX_ULP, name


# ----------------------------------------------------------------------------- API shape


@pytest.mark.parametrize("name", FUNCS)
def test_array_like_and_shape(name):
    f = getattr(D, name)
    grid = np.linspace(0.01, 0.99, 12).reshape(3, 4)
    out = f(grid)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (3, 4)
    assert np.array_equal(f(grid.T), out.T)  # non-contiguous input
    assert np.array_equal(f(grid.tolist()), out)
    scalar = f(0.3)
    assert isinstance(scalar, np.ndarray) and scalar.shape == ()
    assert _same_bits(scalar, getattr(D, "nb_" + name)(0.3))
    assert f(np.empty(0)).shape == (0,)


def test_twins_callable_from_other_numba_kernels():
    @njit(nogil=True)
    def box_muller(u1, u2):
        r = np.sqrt(-2.0 * D.nb_log(u1))
        return r * D.nb_cos2pi(u2), r * D.nb_sin2pi(u2), D.nb_exp(-u1) + D.nb_expm1(u2)

    a, b, c = box_muller(0.3, 0.7)
    r = np.sqrt(-2.0 * D.log(0.3))
    assert _same_bits(a, r * D.cos2pi(0.7)) and _same_bits(b, r * D.sin2pi(0.7))
    assert _same_bits(c, D.exp(-0.3) + D.expm1(0.7))


# ----------------------------------------------------------------------------- no libm

_FORBIDDEN = {
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sin",
    "cos",
    "tan",
    "sinh",
    "cosh",
    "tanh",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
    "asin",
    "acos",
    "atan",
    "atan2",
    "power",
    "pow",
    "float_power",
    "hypot",
    "ldexp",
    "frexp",
    "sinpi",
    "cospi",
    "gamma",
    "lgamma",
    "erf",
    "erfc",
    "cbrt",
    "logaddexp",
}


@pytest.mark.parametrize("module", [D, K])
def test_module_uses_no_libm(module):
    tree = ast.parse(Path(module.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            assert "math" not in names and "cmath" not in names and "scipy" not in names
        if isinstance(node, ast.Attribute):
            assert node.attr not in _FORBIDDEN, f"{module.__name__}: .{node.attr}"
        if isinstance(node, ast.BinOp):
            assert not isinstance(node.op, ast.Pow), f"{module.__name__}: ** operator"
    for name in FUNCS:
        nb = getattr(D, "nb_" + name)
        assert not nb.targetoptions.get("fastmath"), name
        assert nb.targetoptions.get("nogil"), name
        assert type(nb._cache).__name__ == "FunctionCache", name  # cache=True
