"""Explorers: interactive figures of the static site that need no kernel.

An explorer is a few plots and one slider per parameter. Every value it can show is
computed here, at build time, over the grid of slider positions, by the same lec4lib
functions that the chapter's claim tests call; the reader's browser only looks the values
up and draws them with plotly.js (``_ext/static/lec4-explorers.js``, loaded with plotly.js
from the built site by ``_ext/lec4_site.py``: no CDN, no Binder, no Python).

A chapter shows one with ``display(HTML(momentum_explorer().html()))``; the page then holds
``<div class="lec4-explorer">`` with the sliders and, in a ``<script type="application/json">``,
the :meth:`Explorer.spec`: the sliders' grids, the plots' layouts and traces, and one
entry per grid point (``"i,j"``: the sliders' indices) with the data of the traces that
change and a sentence (the readout) that says the point's numbers. A trace field that
changes is written ``{"point": "key"}`` in the trace and filled from the point's ``key``.

Numbers are stored with :data:`DIGITS` significant digits (``float(f"{v:.{DIGITS}g}")``),
which keeps a page at a few hundred kilobytes; the browser tests compare what the page
plots with what lec4lib computes to that precision.

Each explorer keeps a static figure (the chapter's, named in :attr:`Explorer.static_note`)
for print and for readers without JavaScript: the explorer's own text says which.
"""

from __future__ import annotations

import html as _html
import json
from dataclasses import dataclass, field

import numpy as np

from ..optim.driver import run
from ..optim.momentum import HeavyBall
from ..optim.sgd import SGD
from ..problems.quadratic import quadratic_grad
from ..studies.ch08_adam import adam_step_ratio
from ..theory.measure import measured_rate
from ..theory.momentum import heavy_ball_radius
from ..theory.noise_floor import (noise_floor_theory, noisy_quadratic_second_moments,
                                  stationary_second_moment)
from .plotting import COLORS

__all__ = ["DIGITS", "Slider", "Explorer", "rounded", "momentum_explorer",
           "noise_floor_explorer", "adam_bias_explorer", "MOMENTUM", "NOISE_FLOOR",
           "ADAM_BIAS"]

#: Significant digits of every number an explorer stores.
DIGITS = 7

#: Dash patterns of plotly.js, one per colour of :data:`~lec4lib.book.plotting.COLORS`
#: (the same pairing idea as the static figures: no two lines differ by colour alone).
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid"]


def rounded(values):
    """``values`` (a number or array) as nested lists of floats with :data:`DIGITS` digits."""
    a = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError("an explorer stores finite numbers only")
    flat = [float(f"{v:.{DIGITS}g}") for v in a.ravel()]
    if a.ndim == 0:
        return flat[0]
    return np.array(flat).reshape(a.shape).tolist()


@dataclass
class Slider:
    """One parameter: its grid of values, shown with ``fmt``, starting at ``values[start]``."""

    name: str
    label: str
    values: list
    start: int = 0
    fmt: str = "{:g}"

    def __post_init__(self):
        self.values = [float(v) for v in self.values]
        if len(self.values) < 2:
            raise ValueError(f"slider {self.name!r} needs at least two values")
        if not 0 <= self.start < len(self.values):
            raise ValueError(f"slider {self.name!r}: start {self.start} is not an index of its values")

    def spec(self) -> dict:
        return {"name": self.name, "label": self.label, "values": self.values, "start": self.start,
                "labels": [self.fmt.format(v) for v in self.values]}


@dataclass
class Explorer:
    """Sliders, plots and the data of every grid point (see the module docstring)."""

    name: str
    title: str
    sliders: list
    plots: list                      # [{"layout": {...}, "traces": [...], "alt": "..."}]
    points: dict = field(default_factory=dict)   # "i,j" -> {"key": data, "readout": str}
    static_note: str = ""

    def key(self, *indices: int) -> str:
        if len(indices) != len(self.sliders):
            raise ValueError(f"{self.name}: {len(self.sliders)} slider indices expected")
        return ",".join(str(int(i)) for i in indices)

    def spec(self) -> dict:
        grid = [len(s.values) for s in self.sliders]
        expected = int(np.prod(grid))
        if len(self.points) != expected:
            raise ValueError(f"{self.name}: {len(self.points)} points for a grid of {expected}")
        for pt in self.points.values():
            if "readout" not in pt:
                raise ValueError(f"{self.name}: every point needs a readout")
        return {"name": self.name, "title": self.title,
                "sliders": [s.spec() for s in self.sliders],
                "plots": self.plots, "points": self.points}

    def html(self) -> str:
        """The explorer as one HTML fragment (a notebook cell's ``text/html`` output)."""
        data = json.dumps(self.spec(), allow_nan=False, separators=(",", ":"))
        data = data.replace("</", "<\\/")           # never closes the <script> early
        esc = _html.escape
        controls = []
        for k, s in enumerate(self.sliders):
            sid = f"lec4-x-{self.name}-{s.name}"
            controls.append(
                f'<label class="lec4-explorer-slider" for="{sid}">{esc(s.label)} '
                f'<input type="range" id="{sid}" data-slider="{k}" min="0" '
                f'max="{len(s.values) - 1}" step="1" value="{s.start}"> '
                f'<output for="{sid}">{esc(s.fmt.format(s.values[s.start]))}</output></label>')
        plots = "".join(
            f'<div class="lec4-explorer-plot" data-plot="{i}" role="img" '
            f'aria-label="{esc(p["alt"])}"></div>' for i, p in enumerate(self.plots))
        return (
            f'<div class="lec4-explorer" data-explorer="{esc(self.name)}">'
            f'<p class="lec4-explorer-title"><strong>{esc(self.title)}</strong></p>'
            f'<div class="lec4-explorer-controls">{"".join(controls)}</div>'
            f'<p class="lec4-explorer-readout" aria-live="polite"></p>'
            f'<div class="lec4-explorer-plots">{plots}</div>'
            f'<p class="lec4-explorer-fallback">This explorer is drawn by JavaScript on the '
            f'course website. {esc(self.static_note)}</p>'
            f'<script type="application/json" class="lec4-explorer-data">{data}</script>'
            f'</div>')


def _line(name, color=0, point_x=None, point_y=None, x=None, y=None, mode="lines", **extra):
    trace = {"type": "scatter", "mode": mode, "name": name,
             "line": {"color": COLORS[color % len(COLORS)], "dash": DASHES[color % len(DASHES)],
                      "width": 2}}
    if mode != "lines":
        trace["marker"] = {"color": COLORS[color % len(COLORS)], "size": 7}
    trace["x"] = {"point": point_x} if point_x else x
    trace["y"] = {"point": point_y} if point_y else y
    trace.update(extra)
    return trace


def _layout(xtitle, ytitle, *, xlog=False, ylog=False, xrange=None, yrange=None, height=300,
            title=None):
    def axis(text, log, rng):
        a = {"title": {"text": text}, "type": "log" if log else "linear", "showgrid": True,
             "gridcolor": "#dddddd", "zeroline": False}
        if rng is not None:
            a["range"] = rng
            a["autorange"] = False
        return a
    out = {"xaxis": axis(xtitle, xlog, xrange), "yaxis": axis(ytitle, ylog, yrange),
           "height": height, "margin": {"l": 64, "r": 16, "t": 64 if title else 40, "b": 48},
           "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
           "font": {"size": 13, "color": "#222222"},
           "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
           "showlegend": True}
    if title:
        out["title"] = {"text": title, "font": {"size": 14}}
    return out


# ---------------------------------------------------------------------------------------
# Chapter 05: heavy ball on the narrow valley f(x, y) = (x² + 20 y²)/2

#: The settings of the momentum explorer (chapter 05's zig-zag valley and start).
MOMENTUM = {
    "curvatures": (1.0, 20.0),
    "start": (-8.0, 1.5),
    "step_times_L": tuple(np.round(np.arange(0.2, 3.81, 0.2), 10)),   # η·L, L = 20
    "betas": tuple(np.round(np.arange(0.0, 0.91, 0.1), 10)),
    "path_steps": 40,            # iterates drawn
    "loss_steps": 100,           # f(w_t) drawn
    "rate_steps": 200,           # run length of the measured rate
    "map_step_times_L": tuple(np.round(np.linspace(0.05, 4.0, 80), 10)),
    "map_betas": tuple(np.round(np.linspace(0.0, 0.95, 39), 10)),
}


def _valley_loss(path, curv):
    return 0.5 * (path ** 2 @ np.asarray(curv))


def momentum_explorer(settings: dict | None = None) -> Explorer:
    """Heavy ball's path, loss and rate on the valley, for every (η, β) of a grid.

    For each grid point: :func:`~lec4lib.optim.driver.run` of
    :class:`~lec4lib.optim.momentum.HeavyBall` ``(η, β)`` from the start (the path and
    ``f(w_t)``), its :func:`~lec4lib.theory.measure.measured_rate` over ``rate_steps``
    steps, and the theory's spectral radius :func:`~lec4lib.theory.momentum.heavy_ball_radius`.
    The third plot is the theory's radius over a finer (η, β) grid with the stability
    boundary ``η λ_max = 2 + 2β`` and the slider's point.
    """
    s = dict(MOMENTUM, **(settings or {}))
    curv = np.asarray(s["curvatures"], dtype=float)
    L = float(curv.max())
    grad = quadratic_grad(curv)
    etaL, betas = list(s["step_times_L"]), list(s["betas"])
    start_i = int(np.argmin(np.abs(np.asarray(etaL) - 1.8)))
    start_j = int(np.argmin(np.abs(np.asarray(betas) - 0.5)))
    sliders = [Slider("eta", "step η·L (the slide's α·L)", etaL, start_i, "{:.1f}"),
               Slider("beta", "momentum β", betas, start_j, "{:.1f}")]
    ex = Explorer(
        "momentum", "Heavy ball on the valley f(x, y) = (x² + 20 y²)/2, from (−8, 1.5)",
        sliders, [],
        static_note="The static figure below the explorer shows its starting point "
                    "(η = 1.8/L, β = 0.5).")
    mapx = np.asarray(s["map_step_times_L"], dtype=float)
    mapy = np.asarray(s["map_betas"], dtype=float)
    radius_map = heavy_ball_radius(mapx[None, :] / L, mapy[:, None], curv)
    bx = np.linspace(0.0, float(mapy.max()), 20)
    for i, el in enumerate(etaL):
        for j, b in enumerate(betas):
            eta = el / L
            # one run serves the path, the loss and the measured rate (its first steps)
            longer = run(HeavyBall(eta, b), grad, s["start"],
                         max(s["loss_steps"], s["rate_steps"]))
            path = longer[: s["loss_steps"] + 1]
            rate = measured_rate(longer[: s["rate_steps"] + 1])
            rho = float(heavy_ball_radius(eta, b, curv))
            # on the boundary (ρ = 1 up to rounding) the error neither shrinks nor grows
            verdict = ("converges" if rho < 1 - 1e-9 else "diverges" if rho > 1 + 1e-9
                       else "sits on the stability boundary")
            ex.points[ex.key(i, j)] = {
                "path_x": rounded(path[: s["path_steps"] + 1, 0]),
                "path_y": rounded(path[: s["path_steps"] + 1, 1]),
                "loss": rounded(_valley_loss(path, curv)),
                "here_x": [rounded(el)], "here_y": [rounded(b)],
                "rate": rounded(rate), "radius": rounded(rho),
                "readout": (f"η = {el:.1f}/L, β = {b:.1f}: measured rate per step "
                            f"{rate:.4f} (over {s['rate_steps']} steps), theory's spectral "
                            f"radius {rho:.4f}: it {verdict} (stable iff η·λ < 2 + 2β for "
                            f"every curvature λ)."),
            }
    steps = list(range(s["loss_steps"] + 1))
    ex.plots = [
        {"alt": "The iterate path of heavy ball over the level sets of the valley, for the "
                "chosen step and momentum.",
         "layout": _layout("x", "y", xrange=[-10, 4], yrange=[-3, 3], height=260),
         "traces": [
             {"type": "contour", "x": rounded(np.linspace(-10, 4, 57)),
              "y": rounded(np.linspace(-3, 3, 25)),
              "z": rounded(np.log10(1e-3 + 0.5 * (np.linspace(-10, 4, 57)[None, :] ** 2
                                                  + 20 * np.linspace(-3, 3, 25)[:, None] ** 2))),
              "showscale": False, "contours": {"coloring": "lines"}, "ncontours": 14,
              "colorscale": [[0, "#bbbbbb"], [1, "#bbbbbb"]], "name": "level sets of f",
              "hoverinfo": "skip", "showlegend": False},
             _line(f"path, first {s['path_steps']} steps", 0, "path_x", "path_y",
                   mode="lines+markers")]},
        {"alt": "The loss f(w_t) against the step t on a log scale, for the chosen step and "
                "momentum.",
         "layout": _layout("step t", "f(w_t)", ylog=True, yrange=[-30, 6], height=260),
         "traces": [_line("f(w_t)", 1, x=steps, point_y="loss")]},
        {"alt": "A map of the theory's convergence rate over step and momentum, with the "
                "stability boundary η·L = 2 + 2β and the chosen point.",
         "layout": _layout("step η·L", "momentum β", xrange=[0, 4], yrange=[0, 0.95],
                           height=320),
         "traces": [
             {"type": "heatmap", "x": rounded(mapx), "y": rounded(mapy),
              "z": rounded(np.minimum(radius_map, 1.2)), "zmin": 0.6, "zmax": 1.2,
              "colorscale": "Cividis", "name": "spectral radius",
              "colorbar": {"title": {"text": "rate ρ"}, "len": 0.9}, "showlegend": False},
             _line("boundary η·L = 2 + 2β", 6, x=rounded(2 + 2 * bx), y=rounded(bx)),
             _line("chosen (η, β)", 1, "here_x", "here_y", mode="markers",
                   marker={"color": "#D55E00", "size": 12, "symbol": "x",
                           "line": {"color": "#ffffff", "width": 1}})]},
    ]
    return ex


# ---------------------------------------------------------------------------------------
# Chapter 02: SGD's noise floor on the noisy quadratic f(w) = μ w²/2, gradient μ w + σ ξ

#: The settings of the noise-floor explorer (chapter 02's μ = σ = 1 and its measurement).
NOISE_FLOOR = {
    "mu": 1.0, "sigma": 1.0, "n_chains": 2000, "seed": 0, "burn_in_factor": 10.0,
    "window": 500,
    "lrs": (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.2, 1.5, 1.8),
    "max_points": 300,           # at most this many steps of E w_t² drawn per step size
}


def noise_floor_explorer(settings: dict | None = None) -> Explorer:
    """SGD's stationary ``E w²`` against ``ησ²/(μ(2−ημ))``, for every step of a grid.

    For each ``η``: :func:`~lec4lib.theory.noise_floor.stationary_second_moment` (the
    measured floor: chains from ``w = 0``, ``10/(ημ)`` burn-in steps, then the mean over
    ``window`` steps), the ``E w_t²`` of those same chains over time
    (:func:`~lec4lib.theory.noise_floor.noisy_quadratic_second_moments`, every k-th step),
    and :func:`~lec4lib.theory.noise_floor.noise_floor_theory`.
    """
    s = dict(NOISE_FLOOR, **(settings or {}))
    mu, sigma = float(s["mu"]), float(s["sigma"])
    lrs = [float(v) for v in s["lrs"]]
    start = int(np.argmin(np.abs(np.asarray(lrs) - 0.3)))
    ex = Explorer("noise-floor", "Constant-step SGD on the noisy quadratic (μ = σ = 1)",
                  [Slider("eta", "step η", lrs, start, "{:g}")], [],
                  static_note="The static figure above shows the measured floors against "
                              "the formula at five step sizes.")
    measured = []
    for i, lr in enumerate(lrs):
        floor = stationary_second_moment(lr, mu, sigma, n_chains=s["n_chains"], seed=s["seed"],
                                         burn_in_factor=s["burn_in_factor"], window=s["window"])
        burn = int(np.ceil(s["burn_in_factor"] / (lr * mu)))
        m = noisy_quadratic_second_moments(SGD(lr), mu, sigma, burn + s["window"],
                                           n_chains=s["n_chains"], seed=s["seed"], w0=0.0)
        every = int(np.ceil(len(m) / s["max_points"]))
        t = np.arange(0, len(m), every)
        theory = noise_floor_theory(lr, mu, sigma)
        measured.append(floor)
        ex.points[ex.key(i)] = {
            "t": t.tolist(), "m": rounded(m[t]),
            "floor_x": [0, int(len(m) - 1)], "floor_y": rounded([theory, theory]),
            "here_x": [rounded(lr)], "here_y": [rounded(floor)],
            "floor": rounded(floor), "theory": rounded(theory),
            "readout": (f"η = {lr:g}: measured stationary E w² = {floor:.4f} (mean of w_t² "
                        f"over steps {burn + 1}–{burn + s['window']}, {s['n_chains']:,} "
                        f"chains); ησ²/(μ(2−ημ)) = {theory:.4f}; ratio {floor / theory:.3f}."),
        }
    fine = np.geomspace(0.005, 1.95, 120)
    ex.plots = [
        {"alt": "The mean of w_t squared over 2,000 chains against the step t, with the "
                "predicted floor as a horizontal line, for the chosen step.",
         "layout": _layout("step t", "E w_t² (2,000 chains)", height=280),
         "traces": [_line("E w_t², measured", 0, "t", "m"),
                    _line("ησ²/(μ(2−ημ))", 1, "floor_x", "floor_y")]},
        {"alt": "The stationary error against the step size on log-log axes: the formula as "
                "a curve, the measured floors as dots, the chosen step highlighted.",
         "layout": _layout("step η", "stationary E w²", xlog=True, ylog=True, height=300),
         "traces": [_line("ησ²/(μ(2−ημ))", 1,
                          x=rounded(fine), y=rounded([noise_floor_theory(v, mu, sigma)
                                                      for v in fine])),
                    _line("measured", 0, x=rounded(lrs), y=rounded(measured), mode="markers"),
                    _line("chosen η", 2, "here_x", "here_y", mode="markers",
                          marker={"color": "#009E73", "size": 13, "symbol": "diamond"})]},
    ]
    return ex


# ---------------------------------------------------------------------------------------
# Chapter 08: Adam's bias correction, r_t = (1 − β₁ᵗ)/√(1 − β₂ᵗ)

#: The settings of the bias-correction explorer (chapter 08's constant gradient).
ADAM_BIAS = {
    "beta1": (0.0, 0.5, 0.8, 0.9, 0.95, 0.99),
    "beta2": (0.9, 0.99, 0.999, 0.9999),
    "steps": 3000,
    "n_t": 120,                  # log-spaced steps drawn
}


def adam_bias_explorer(settings: dict | None = None) -> Explorer:
    """Uncorrected over corrected Adam step under a constant gradient, for each (β₁, β₂).

    For each grid point: :func:`~lec4lib.studies.ch08_adam.adam_step_ratio` (which runs
    ``Adam`` with and without bias correction) at log-spaced steps, beside the formula
    ``(1 − β₁ᵗ)/√(1 − β₂ᵗ)``.
    """
    s = dict(ADAM_BIAS, **(settings or {}))
    b1s, b2s = [float(v) for v in s["beta1"]], [float(v) for v in s["beta2"]]
    T = int(s["steps"])
    t = np.unique(np.round(np.geomspace(1, T, s["n_t"])).astype(int))
    ex = Explorer(
        "adam-bias", "Adam without bias correction, constant gradient",
        [Slider("beta1", "β₁", b1s, b1s.index(0.9) if 0.9 in b1s else 0, "{:g}"),
         Slider("beta2", "β₂", b2s, b2s.index(0.999) if 0.999 in b2s else 0, "{:g}")], [],
        static_note="The static figure above shows four of its settings.")
    for i, b1 in enumerate(b1s):
        for j, b2 in enumerate(b2s):
            r = adam_step_ratio(b1, b2, T)[t - 1]
            formula = (1 - b1 ** t) / np.sqrt(1 - b2 ** t)
            peak = int(t[np.argmax(r)])
            ex.points[ex.key(i, j)] = {
                "r": rounded(r), "formula": rounded(formula),
                "readout": (f"β₁ = {b1:g}, β₂ = {b2:g}: the first uncorrected step is "
                            f"{r[0]:.3f} × the corrected one (formula (1 − β₁)/√(1 − β₂) = "
                            f"{(1 - b1) / np.sqrt(1 - b2):.3f}); the ratio peaks at "
                            f"{r.max():.3f} at step {peak} and is {r[-1]:.4f} at step {T}."),
            }
    ex.plots = [
        {"alt": "The ratio of Adam's uncorrected to corrected step against the step t on a "
                "log axis, measured and by the formula, for the chosen betas.",
         "layout": _layout("step t", "uncorrected / corrected step", xlog=True, height=320),
         "traces": [_line("measured (Adam run both ways)", 0, x=t.tolist(), point_y="r"),
                    _line("(1 − β₁ᵗ)/√(1 − β₂ᵗ)", 1, x=t.tolist(), point_y="formula"),
                    _line("1 (no effect)", 6, x=[1, T], y=[1.0, 1.0])]},
    ]
    return ex
