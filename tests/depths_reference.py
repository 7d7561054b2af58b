"""A second implementation of the squared depths and distances and their noise terms, in plain
numpy with explicit loops over groups and pairs, written from the definitions in docs/metrics.md
and the docstrings of gan/measure/depths.py (not from its code). tests/test_depth.py compares it with
``gan.measure.depths.depths`` and ``gan.measure.depths.distance`` term by term.

One set, one base part p: rows v_k (k = 1..K, length D), levels l_k > 0, scale s.

Squared depth, a ratio of unbiased estimates:
    u = [mean_{k != k'} <v_k, v_k'> / s] / [mean_{k != k'} l_k l_k']           (phase, replica_x/y)
    u = [mean_{k != k'} <v_k, v_k'> / s] / mean_k l_k                          (MEAN_LEVEL: fixed)
Leave-one-group-out u_(j): the same with group j removed everywhere, the levels included.
Composite parts: u_replica = .5 u_rx + .5 u_ry, u_total = u_phase + u_fixed, replicate by replicate.

Jackknife: J = (K-1)/K * sum_j (u_(j) - mean_j u_(j))^2.
Normalised rows: x_k = v_k / l_k / sqrt(s) (fixed: v_k / sqrt(l_k s)); composite: the parts' rows
side by side, each times sqrt(weight).
Noise power: the U-statistic over distinct i, j, k, l of ((x_i - x_j).(x_k - x_l))^2 / 4 (one
set), tr(S_x S_y) with unbiased covariances (two independent sets).
Excess: per unit of tr(S^2) the jackknife reads 4/(K(K-2)) and the truth is 2/(K(K-1)).
Variance: max(J - excess, J (K-2) / (2 (K-1))).
Noise: m = mean_k x_k, C = S_x / K, trace = tr C, power = noise power / K^2, along = m'Cm / |m|^2.

Distance, sets g (K rows, levels a_k) and r (L rows, levels b_l):
    u = <g,g> + <r,r> - 2 <g,r>, the first two as above,
    <g,r> = [mean_{k,l} <g_k, r_l> / s] / [mean_{k,l} a_k b_l]               (phase, replica)
          = [mean_{k,l} <g_k, r_l> / s] / sqrt(mean a * mean b)             (fixed)
Jackknife over the groups of both sets: J = J_g + J_r. Excess: each set's within excess, and for
-2<g,r> one 4 tr(S_g S_r)/(KL) (each of J_g and J_r reads its degenerate part, the truth holds it
once). Floor with the smaller set's K. Noise: m = mean x^g - mean x^r, C = S_g/K + S_r/L,
power = np(g)/K^2 + np(r)/L^2 + 2 tr(S_g S_r)/(KL).
"""
from itertools import permutations

import numpy as np

COMPOSITE = {'replica': (('replica_x', 0.5), ('replica_y', 0.5)),
             'total': (('phase', 1.0), ('fixed', 1.0))}
MEAN_LEVEL = ('fixed',)


def _components(part):
    return COMPOSITE.get(part, ((part, 1.0),))


# ----------------------------------------------------------------- within one set
def _u_within(v, lev, s, mean_level, keep):
    """Mean over ordered pairs k != k' (both in keep) of <v_k, v_k'> / s / denominator."""
    idx = [k for k in range(len(v)) if keep[k]]
    tot, den, n = 0.0, 0.0, 0
    for a in idx:
        for b in idx:
            if a == b:
                continue
            tot += float(np.dot(v[a], v[b])) / s
            den += lev[a] * lev[b]
            n += 1
    if mean_level:
        return (tot / n) / np.mean([lev[k] for k in idx])
    return (tot / n) / (den / n)


def _u_cross(g, a, rv, b, s, mean_level, keep_g, keep_r):
    ig = [k for k in range(len(g)) if keep_g[k]]
    ir = [k for k in range(len(rv)) if keep_r[k]]
    tot, den = 0.0, 0.0
    for i in ig:
        for j in ir:
            tot += float(np.dot(g[i], rv[j])) / s
            den += a[i] * b[j]
    n = len(ig) * len(ir)
    if mean_level:
        return (tot / n) / np.sqrt(np.mean([a[i] for i in ig]) * np.mean([b[j] for j in ir]))
    return (tot / n) / (den / n)


def _u_distance(g, a, r, b, s, mean_level, keep_g, keep_r):
    """<g,g> + <r,r> - 2 <g,r> over the kept groups of each set."""
    return (_u_within(g, a, s, mean_level, keep_g) + _u_within(r, b, s, mean_level, keep_r)
            - 2 * _u_cross(g, a, r, b, s, mean_level, keep_g, keep_r))


def jackknife(values):
    """values[0] all groups, values[1:] leave-one-out. (K-1)/K sum (u_(j) - mean u_(.))^2."""
    loo = np.asarray(values[1:], float)
    k = len(loo)
    return (k - 1) / k * float(np.sum((loo - loo.mean()) ** 2))


def normalised(profiles, levels, scale, part):
    cols = []
    for p, w in _components(part):
        v, lev = np.asarray(profiles[p], float), np.asarray(levels[p], float)
        if p in MEAN_LEVEL:
            x = v / np.sqrt(lev * scale[p])[:, None]
        else:
            x = v / lev[:, None] / np.sqrt(scale[p])
        cols.append(np.sqrt(w) * x)
    return np.concatenate(cols, axis=1)


def cov(x):
    x = np.asarray(x, float)
    k = len(x)
    c = x - x.mean(0)
    out = np.zeros((x.shape[1], x.shape[1]))
    for i in range(k):
        out += np.outer(c[i], c[i])
    return out / (k - 1)


def noise_power_one(x):
    """U-statistic over distinct (i, j, k, l) of ((x_i-x_j).(x_k-x_l))^2, over 4."""
    k = len(x)
    d = {(i, j): x[i] - x[j] for i in range(k) for j in range(k) if i != j}
    tot, n = 0.0, 0
    for i, j, a, b in permutations(range(k), 4):
        tot += float(np.dot(d[i, j], d[a, b])) ** 2
        n += 1
    return tot / n / 4


def noise_power_two(x, y):
    return float(np.trace(cov(x) @ cov(y)))


def excess_within(k):
    return 4.0 / (k * (k - 2)) - 2.0 / (k * (k - 1))


def floored(jack, excess, k):
    return max(jack - excess, jack * (k - 2) / (2 * (k - 1)))


def _along(m, c):
    mm = float(m @ m)
    if mm == 0:
        return float(np.trace(c)) / len(m)
    return float(m @ c @ m) / mm


def within_values(profiles, levels, scale, part, k):
    """(K+1,) squared depth of a (possibly composite) part: all groups, then leaving out each."""
    out = np.zeros(k + 1)
    for p, w in _components(part):
        v, lev = np.asarray(profiles[p], float), np.asarray(levels[p], float)
        ml = p in MEAN_LEVEL
        out[0] += w * _u_within(v, lev, scale[p], ml, [True] * k)
        for j in range(k):
            keep = [i != j for i in range(k)]
            out[j + 1] += w * _u_within(v, lev, scale[p], ml, keep)
    return out


def ref_depth(profiles, levels, scale, k, part):
    """u and Noise fields of depths(pat)[part]."""
    vals = within_values(profiles, levels, scale, part, k)
    x = normalised(profiles, levels, scale, part)
    npow = noise_power_one(x)
    jack = jackknife(vals)
    var = floored(jack, excess_within(k) * npow, k)
    c = cov(x) / k
    m = x.mean(0)
    power = npow / k ** 2
    return dict(u=vals[0], variance=var, trace=float(np.trace(c)), power=power, along=_along(m, c))


def ref_distance(gp, gl, rp, rl, scale, part):
    """u and Noise fields of distance(g, r)[part]; gp/gl, rp/rl: dicts of base-part arrays."""
    k = len(next(iter(gp.values())))
    l_ = len(next(iter(rp.values())))
    ug = np.zeros(k + 1)   # u with g group j left out
    ur = np.zeros(l_ + 1)  # u with r group j left out
    for p, w in _components(part):
        ml = p in MEAN_LEVEL
        g, a = np.asarray(gp[p], float), np.asarray(gl[p], float)
        r, b = np.asarray(rp[p], float), np.asarray(rl[p], float)
        s = scale[p]
        allg, allr = [True] * k, [True] * l_

        u0 = _u_distance(g, a, r, b, s, ml, allg, allr)
        ug[0] += w * u0
        ur[0] += w * u0
        for j in range(k):
            ug[j + 1] += w * _u_distance(g, a, r, b, s, ml, [i != j for i in range(k)], allr)
        for j in range(l_):
            ur[j + 1] += w * _u_distance(g, a, r, b, s, ml, allg, [i != j for i in range(l_)])
    xg = normalised(gp, gl, scale, part)
    xr = normalised(rp, rl, scale, part)
    npg, npr, npgr = noise_power_one(xg), noise_power_one(xr), noise_power_two(xg, xr)
    jack = jackknife(ug) + jackknife(ur)
    excess = excess_within(k) * npg + excess_within(l_) * npr + 4 * npgr / (k * l_)
    kk = min(k, l_)
    var = floored(jack, excess, kk)
    c = cov(xg) / k + cov(xr) / l_
    m = xg.mean(0) - xr.mean(0)
    power = npg / k ** 2 + npr / l_ ** 2 + 2 * npgr / (k * l_)
    return dict(u=ug[0], variance=var, trace=float(np.trace(c)), power=power,
                along=_along(m, c), floor=jack * (kk - 2) / (2 * (kk - 1)))
