"""The synthetic face world: a vectorized renderer of 64x64 faces whose smile is compositional.

Why it exists: CelebA cannot be downloaded on a fresh machine, so the embedded default data is rendered here, with the
smile degree known exactly from the parameters. The smile is built from local *ingredients* (mouth width, each corner's
lift, opening, teeth, each cheek, eye narrowing) that vary partly independently, so that faces of label <= 2 still show
every single ingredient near its maximum, but never all at once. That is what makes optimisation
beyond the training data possible: a better smile can be assembled from pieces the VQ-VAE has seen.

Every part is drawn large against the 8x8-pixel latent cells (mouth >= 24 px wide, teeth band up to 5 px, lines >= 2 px)
and anti-aliased with a one-pixel linear ramp of the signed distance. Rendering is a pure function of `FaceParams`,
vectorised over the batch in torch; `sample_faces` draws the parameters from a seeded numpy generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import torch

from ..images import IMAGE_SIZE

#: The version of the drawing. Caches and pretrained models are keyed by it (not by a hash of rendered pixels, which
#: differ by a rounding step between CPUs): bump it whenever a change to this module changes what faces look like.
#: `tests/test_world.py` holds the renderer to it: probe faces must match `data/renderer_probe.npz` up to rounding.
RENDERER_VERSION = 1

#: The smile ingredients, each in [0, 1]. "left" and "right" are as seen by the viewer (image left / right).
INGREDIENTS: tuple[str, ...] = (
    "mouth_width",
    "lift_left",
    "lift_right",
    "opening",
    "teeth",
    "cheek_left",
    "cheek_right",
    "eyes",
)
#: Weights of the ingredients in the true degree s = 5 * weighted mean. Equal weights: five of the eight ingredients sit
#: in the mouth, so a face with the whole mouth at its maximum and everything else average reaches about s = 3.7.
INGREDIENT_WEIGHTS = np.ones(len(INGREDIENTS), dtype=np.float64)

#: What each label means, after CelebA-Dialog's six smile levels.
DEGREE_NAMES: tuple[str, ...] = (
    "no smile",
    "small smile, no teeth",
    "small smile, some teeth",
    "full row of teeth",
    "big smile, mouth slightly open",
    "very big laugh",
)
#: The highest level kept for training (the paper's restricted set); levels above it are the unseen target.
RESTRICTED_MAX_LABEL = 2

#: The mood m of a face is uniform on this interval; each ingredient is clip(m + N(0, INGREDIENT_SIGMA), 0, 1).
#: The interval reaches beyond [0, 1] so that labels 0 and 5 are as common as the middle ones.
MOOD_RANGE = (-0.25, 1.25)
INGREDIENT_SIGMA = 0.3

N_HAIR_STYLES = 5
_N_NOISE_TILES = 256

_SKIN_TONES = np.array(
    [[0.98, 0.84, 0.73], [0.93, 0.75, 0.62], [0.84, 0.63, 0.48], [0.70, 0.50, 0.36], [0.52, 0.36, 0.25],
     [0.38, 0.26, 0.18]], dtype=np.float32)
_HAIR_COLORS = np.array(
    [[0.08, 0.07, 0.07], [0.25, 0.16, 0.10], [0.45, 0.30, 0.16], [0.80, 0.66, 0.38], [0.62, 0.26, 0.12],
     [0.70, 0.70, 0.72], [0.20, 0.25, 0.55], [0.55, 0.15, 0.35]], dtype=np.float32)
EYE_COLORS = np.array(
    [[0.25, 0.15, 0.08], [0.15, 0.35, 0.65], [0.20, 0.45, 0.25], [0.40, 0.40, 0.45]], dtype=np.float32)
_TEETH = (0.97, 0.96, 0.92)
_MOUTH_INSIDE = (0.20, 0.04, 0.07)
_BLUSH = (0.95, 0.40, 0.45)
_DARK = (0.08, 0.06, 0.06)

# Face geometry in face units (pixels at scale 1, origin at the face centre, v pointing down).
_FACE_RU, _FACE_RV = 17.0, 21.0
_EYE_U, _EYE_V, _EYE_RU, _EYE_RV = 7.0, -3.0, 4.4, 3.1
_MOUTH_V = 10.5
_CHEEK_U, _CHEEK_V, _CHEEK_RU, _CHEEK_RV = 10.5, 4.5, 6.5, 5.5
# Fixed pixel windows that contain a feature group for every allowed pose; drawing only there keeps the renderer fast.
_EYES_ROWS, _MOUTH_ROWS, _COLS = slice(8, 42), slice(24, 62), slice(6, 58)


@dataclass
class FaceParams:
    """Parameters of N faces: the smile ingredients and the nuisance factors, numpy arrays with N rows."""

    ingredients: np.ndarray  # (N, len(INGREDIENTS)) in [0, 1]
    center_x: np.ndarray  # offset of the face centre from the image centre, pixels
    center_y: np.ndarray
    angle: np.ndarray  # in-plane rotation, radians
    scale: np.ndarray  # overall face size factor
    aspect: np.ndarray  # face width factor (face shape)
    skin: np.ndarray  # (N, 3) RGB
    hair_color: np.ndarray  # (N, 3)
    hair_style: np.ndarray  # int in [0, N_HAIR_STYLES)
    hair_volume: np.ndarray  # how far the hair stands out of the head, face units
    brow_height: np.ndarray
    brow_tilt: np.ndarray
    brow_thickness: np.ndarray
    eye_color: np.ndarray  # (N, 3)
    gaze: np.ndarray  # horizontal iris offset
    glasses: np.ndarray  # bool
    glasses_color: np.ndarray  # (N, 3)
    bg_top: np.ndarray  # (N, 3) background gradient colours
    bg_bottom: np.ndarray
    bg_angle: np.ndarray  # direction of the background gradient
    brightness: np.ndarray  # global lighting factor
    shade: np.ndarray  # left-right lighting gradient
    noise_amp: np.ndarray  # sensor noise standard deviation
    noise_tile: np.ndarray  # which noise pattern

    def __len__(self) -> int:
        return len(self.ingredients)

    def __getitem__(self, index) -> FaceParams:
        """Rows of the batch (an index array, a slice or a boolean mask), as a new FaceParams."""
        return FaceParams(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def copy(self) -> FaceParams:
        return FaceParams(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def with_ingredient(self, name: str, value: float | np.ndarray) -> FaceParams:
        """A copy with one ingredient set, e.g. to see what it does to the same faces."""
        out = self.copy()
        out.ingredients[:, ingredient_index(name)] = value
        return out

    def with_nuisance_of(self, other: FaceParams) -> FaceParams:
        """A copy that keeps this batch's ingredients and takes every nuisance factor from `other`."""
        out = other.copy()
        out.ingredients = self.ingredients.copy()
        return out

    @property
    def degree(self) -> np.ndarray:
        """The true smile degree s in [0, 5]."""
        return smile_degree(self.ingredients)

    @property
    def label(self) -> np.ndarray:
        """The smile level 0-5 (round(s)), as CelebA-Dialog would label it."""
        return degree_label(self.degree)

    @staticmethod
    def concat(parts: list[FaceParams]) -> FaceParams:
        return FaceParams(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(FaceParams)})


#: Every factor of a face that is not part of its smile.
NUISANCE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FaceParams) if f.name != "ingredients")


def ingredient_index(name: str) -> int:
    if name not in INGREDIENTS:
        raise ValueError(f"unknown ingredient {name!r}; valid ingredients: {', '.join(INGREDIENTS)}")
    return INGREDIENTS.index(name)


def smile_degree(ingredients: np.ndarray) -> np.ndarray:
    """True degree s = 5 * weighted mean of the ingredients, in [0, 5]."""
    ingredients = np.asarray(ingredients, dtype=np.float64)
    return 5.0 * ingredients @ INGREDIENT_WEIGHTS / INGREDIENT_WEIGHTS.sum()


def degree_label(degree: np.ndarray) -> np.ndarray:
    """Round the degree to the nearest level (halves go up, so label <= 2 means s < 2.5)."""
    return np.clip(np.floor(np.asarray(degree) + 0.5), 0, 5).astype(np.int64)


def sample_faces(n: int, seed: int, sigma: float = INGREDIENT_SIGMA) -> FaceParams:
    """Draw n faces: a mood per face drives the ingredients, each with its own noise; nuisance is independent of
    both."""
    rng = np.random.default_rng(seed)
    mood = rng.uniform(*MOOD_RANGE, size=(n, 1))
    ingredients = np.clip(mood + rng.normal(0.0, sigma, size=(n, len(INGREDIENTS))), 0.0, 1.0)

    def palette(colors: np.ndarray, jitter: float) -> np.ndarray:
        tone = rng.uniform(0, len(colors) - 1, size=n)
        lo = np.floor(tone).astype(int)
        hi = np.minimum(lo + 1, len(colors) - 1)
        frac = (tone - lo)[:, None]
        mixed = colors[lo] * (1 - frac) + colors[hi] * frac
        return np.clip(mixed + rng.normal(0, jitter, size=(n, 3)), 0, 1)

    f32 = np.float32
    return FaceParams(
        ingredients=ingredients.astype(f32),
        center_x=rng.uniform(-3, 3, n).astype(f32),
        center_y=rng.uniform(-3, 3, n).astype(f32),
        angle=rng.uniform(-0.1, 0.1, n).astype(f32),
        scale=rng.uniform(0.93, 1.07, n).astype(f32),
        aspect=rng.uniform(0.9, 1.08, n).astype(f32),
        skin=palette(_SKIN_TONES, 0.02).astype(f32),
        hair_color=np.clip(_HAIR_COLORS[rng.integers(0, len(_HAIR_COLORS), n)] + rng.normal(0, 0.04, (n, 3)), 0, 1)
        .astype(f32),
        hair_style=rng.integers(0, N_HAIR_STYLES, n),
        hair_volume=rng.uniform(1.0, 4.0, n).astype(f32),
        brow_height=rng.uniform(-1.2, 1.2, n).astype(f32),
        brow_tilt=rng.uniform(-0.18, 0.18, n).astype(f32),
        brow_thickness=rng.uniform(2.0, 3.0, n).astype(f32),
        eye_color=EYE_COLORS[rng.integers(0, len(EYE_COLORS), n)],
        gaze=rng.uniform(-0.8, 0.8, n).astype(f32),
        glasses=rng.random(n) < 0.25,
        glasses_color=rng.uniform(0.0, 0.5, (n, 3)).astype(f32),
        bg_top=rng.uniform(0, 1, (n, 3)).astype(f32),
        bg_bottom=rng.uniform(0, 1, (n, 3)).astype(f32),
        bg_angle=rng.uniform(0, 2 * math.pi, n).astype(f32),
        brightness=rng.uniform(0.82, 1.12, n).astype(f32),
        shade=rng.uniform(-0.18, 0.18, n).astype(f32),
        noise_amp=rng.uniform(0.0, 0.035, n).astype(f32),
        noise_tile=rng.integers(0, _N_NOISE_TILES, n),
    )


_NOISE_BANK: torch.Tensor | None = None


def _noise_bank() -> torch.Tensor:
    """A fixed bank of unit-variance noise tiles: rendering stays a pure function of the parameters."""
    global _NOISE_BANK
    if _NOISE_BANK is None:
        gen = torch.Generator().manual_seed(20240611)
        _NOISE_BANK = torch.randn(_N_NOISE_TILES, 3, IMAGE_SIZE, IMAGE_SIZE, generator=gen)
    return _NOISE_BANK


def _cover(dist: torch.Tensor) -> torch.Tensor:
    """Coverage of a pixel from the signed distance in pixels (negative inside): a one-pixel anti-aliasing ramp."""
    return (0.5 - dist).clamp_(0.0, 1.0)


def _ellipse_dist(u: torch.Tensor, v: torch.Tensor, cu, cv, ru, rv) -> torch.Tensor:
    """Signed distance to an ellipse, to first order (implicit function over its gradient norm)."""
    a = (u - cu) / ru
    b = (v - cv) / rv
    r = torch.sqrt(a * a + b * b)
    grad = torch.sqrt((a / ru) ** 2 + (b / rv) ** 2).clamp_(min=1e-6)
    return (r - 1.0) * r / grad


def _paint(img: torch.Tensor, alpha: torch.Tensor, color) -> None:
    """Composite `color` over `img` (N, 3, H, W) with coverage `alpha` (N, H, W), in place."""
    if not torch.is_tensor(color):
        color = torch.tensor(color, dtype=img.dtype)
    if color.dim() == 1:
        color = color[None]
    img.add_(alpha.unsqueeze(1) * (color[:, :, None, None] - img))


def _col(x: np.ndarray) -> torch.Tensor:
    """A per-face scalar as an (N, 1, 1) tensor that broadcasts over pixels."""
    return torch.as_tensor(np.asarray(x, dtype=np.float32))[:, None, None]


class _Frame:
    """Pixel grid of a batch expressed in each face's own coordinates (face units, rotated and scaled)."""

    def __init__(self, p: FaceParams):
        n = len(p)
        pix = torch.arange(IMAGE_SIZE, dtype=torch.float32) + 0.5
        x = pix[None, None, :].expand(n, IMAGE_SIZE, IMAGE_SIZE)
        y = pix[None, :, None].expand(n, IMAGE_SIZE, IMAGE_SIZE)
        self.k = _col(p.scale)
        cos, sin = _col(np.cos(p.angle)), _col(np.sin(p.angle))
        dx = x - (IMAGE_SIZE / 2 + _col(p.center_x))
        dy = y - (IMAGE_SIZE / 2 - 1 + _col(p.center_y))
        self.u = (cos * dx + sin * dy) / self.k
        self.v = (-sin * dx + cos * dy) / self.k
        self.x, self.y = x, y

    def window(self, rows: slice, cols: slice) -> tuple[torch.Tensor, torch.Tensor]:
        return self.u[:, rows, cols], self.v[:, rows, cols]


def render(params: FaceParams, batch_size: int = 128) -> torch.Tensor:
    """Render faces as a float tensor (N, 3, 64, 64) in [0, 1]; deterministic for given parameters."""
    out = torch.empty(len(params), 3, IMAGE_SIZE, IMAGE_SIZE)
    for start in range(0, len(params), batch_size):
        out[start:start + batch_size] = _render_batch(params[start:start + batch_size])
    return out


def _render_batch(p: FaceParams) -> torch.Tensor:
    f = _Frame(p)
    k = f.k
    ing = {name: _col(p.ingredients[:, i]) for i, name in enumerate(INGREDIENTS)}
    skin = torch.as_tensor(p.skin)
    hair = torch.as_tensor(p.hair_color)

    # Background: a linear gradient between two colours in a random direction.
    bx, by = _col(np.cos(p.bg_angle)), _col(np.sin(p.bg_angle))
    t = ((f.x - IMAGE_SIZE / 2) * bx + (f.y - IMAGE_SIZE / 2) * by) / IMAGE_SIZE + 0.5
    top, bottom = torch.as_tensor(p.bg_top), torch.as_tensor(p.bg_bottom)
    img = top[:, :, None, None] + t.clamp(0, 1).unsqueeze(1) * (bottom - top)[:, :, None, None]

    aspect = _col(p.aspect)
    face_ru, face_rv = _FACE_RU * aspect, _FACE_RV
    u, v = f.u, f.v
    # Neck and shoulders below the face.
    neck = _cover((torch.abs(u) - 7.5 * aspect) * k) * _cover((12.0 - v) * k)
    _paint(img, neck, skin * 0.82)
    # Hair behind the head: a larger ellipse, cut at a style-dependent length.
    vol = _col(p.hair_volume)
    style = torch.as_tensor(p.hair_style)[:, None, None]
    hair_len = torch.where(style == 2, 19.0, torch.where(style == 4, -8.0, -1.0))
    back = _cover(_ellipse_dist(u, v, 0.0, -2.0, face_ru + vol, face_rv + vol) * k) * _cover((v - hair_len) * k)
    _paint(img, back, hair * 0.8)
    face = _cover(_ellipse_dist(u, v, 0.0, 0.0, face_ru, face_rv) * k)
    _paint(img, face, skin)
    # Hair in front: everything of the head above a hairline whose shape is the hair style.
    un = u / face_ru
    hairline = torch.where(style == 0, -14.0 + 4.0 * un * un,
               torch.where(style == 1, -9.5 + 1.2 * torch.sin(u * 1.1),
               torch.where(style == 2, -13.0 + 6.0 * un * un,
               torch.where(style == 3, -11.5 + 5.0 * un, -17.5 + 3.0 * un * un))))
    front = _cover(_ellipse_dist(u, v, 0.0, -1.0, face_ru + 0.6 * vol, face_rv + 0.6 * vol) * k)
    _paint(img, front * _cover((v - hairline) * k), hair)

    _draw_eyes(img, f, p, ing["eyes"], skin, hair)
    _draw_cheeks(img, f, ing["cheek_left"], ing["cheek_right"])
    _draw_mouth(img, f, ing, skin)

    # Lighting: a global factor and a left-right gradient, then sensor noise from a fixed bank.
    light = _col(p.brightness) * (1.0 + _col(p.shade) * (f.x - IMAGE_SIZE / 2) / (IMAGE_SIZE / 2))
    img.mul_(light.unsqueeze(1))
    noise = _noise_bank()[torch.as_tensor(p.noise_tile)]
    img.add_(noise * _col(p.noise_amp).unsqueeze(1))
    return img.clamp_(0.0, 1.0)


def _draw_eyes(img, f: _Frame, p: FaceParams, narrow, skin, hair) -> None:
    """Eyes, eyebrows and glasses. Narrowing (a smiling 'Duchenne' eye) lowers the lid and adds a lower-lid crease."""
    k = f.k
    for side, cols in ((-1.0, slice(_COLS.start, 33)), (1.0, slice(31, _COLS.stop))):
        u, v = f.window(_EYES_ROWS, cols)
        win = img[:, :, _EYES_ROWS, cols]
        eu = side * _EYE_U
        rv = _EYE_RV * (1.0 - 0.65 * narrow)
        ev = _EYE_V + 0.5 * (_EYE_RV - rv)
        eye_d = _ellipse_dist(u, v, eu, ev, _EYE_RU, rv) * k
        white = _cover(eye_d)
        _paint(win, white, (0.97, 0.97, 0.97))
        iris_d = _ellipse_dist(u, v, eu + _col(p.gaze), ev + 0.2, 2.1, 2.1) * k
        _paint(win, _cover(iris_d) * white, torch.as_tensor(p.eye_color))
        _paint(win, _cover(iris_d + 1.1) * white, _DARK)
        # Upper lid: a 2-px dark line on the upper half of the outline.
        lid = _cover(torch.abs(eye_d) - 1.0) * _cover((v - ev) * k)
        _paint(win, lid, _DARK)
        # Lower-lid crease: an arc under the eye that appears as the eye narrows.
        du = (u - eu) / _EYE_RU
        crease_v = ev + rv + 1.8 - 1.6 * (1.0 - du * du)
        crease = _cover((torch.abs(v - crease_v) - 1.0) * k) * _cover((torch.abs(du) - 1.0) * _EYE_RU * k)
        _paint(win, crease * narrow, skin * 0.45)
        # Eyebrow: a thick arc above the eye, nuisance only.
        bu = (u - eu) / 5.0
        brow_v = _EYE_V - 6.5 + _col(p.brow_height) - 1.3 * (1.0 - bu * bu) + side * _col(p.brow_tilt) * (u - eu)
        brow = (_cover((torch.abs(v - brow_v) - _col(p.brow_thickness) / 2) * k)
                * _cover((torch.abs(bu) - 1.0) * 5.0 * k))
        _paint(win, brow, hair * 0.7)
        # Glasses: a 2-px ring around the eye and half of the bridge.
        ring = _cover((torch.abs(_ellipse_dist(u, v, eu, _EYE_V, 5.8, 5.0)) - 1.0) * k)
        bridge = _cover((torch.abs(v - _EYE_V + 0.5) - 0.8) * k) * _cover((torch.abs(u) - 1.4) * k)
        glasses = torch.maximum(ring, bridge * (torch.sign(u) == side)) * _col(p.glasses)
        _paint(win, glasses, torch.as_tensor(p.glasses_color))


def _draw_cheeks(img, f: _Frame, left, right) -> None:
    """Raised cheeks: a blush disc per cheek that rises and deepens with the ingredient."""
    u, v = f.window(_MOUTH_ROWS, _COLS)
    win = img[:, :, _MOUTH_ROWS, _COLS]
    for side, amount in ((-1.0, left), (1.0, right)):
        d = _ellipse_dist(u, v, side * _CHEEK_U, _CHEEK_V - 2.0 * amount, _CHEEK_RU, _CHEEK_RV) * f.k
        _paint(win, _cover(d) * (0.8 * amount), _BLUSH)


def _draw_mouth(img, f: _Frame, ing: dict[str, torch.Tensor], skin) -> None:
    """The mouth: a centre line whose corners rise, lips around an interior that opens, and a band of teeth."""
    k = f.k
    u, v = f.window(_MOUTH_ROWS, _COLS)
    win = img[:, :, _MOUTH_ROWS, _COLS]
    half_w = 12.0 + 4.5 * ing["mouth_width"]
    x = u / half_w
    lift = torch.where(x < 0, ing["lift_left"], ing["lift_right"]) * 7.5
    xc = x.clamp(-1.0, 1.0)
    center = _MOUTH_V + 1.0 - lift * xc * xc
    slope = torch.sqrt(1.0 + (2.0 * lift * xc / half_w) ** 2)  # turns vertical into perpendicular distance
    bulge = torch.sqrt((1.0 - xc * xc).clamp(min=0.0))
    teeth_h = 5.0 * ing["teeth"]
    height = (teeth_h + 0.6 * (ing["teeth"] > 0)) + 8.0 * ing["opening"]
    top = center - 0.35 * height * bulge
    bottom = center + 0.65 * height * bulge
    ends = (torch.abs(u) - half_w) * k
    lip = 2.2
    lips = _cover(torch.maximum((top - lip - v) / slope, (v - bottom - lip) / slope) * k) * _cover(ends)
    _paint(win, lips, skin * 0.5 + torch.tensor([0.28, 0.02, 0.05]))
    inside = _cover(torch.maximum((top - v) / slope, (v - bottom) / slope) * k) * _cover(ends + 1.0 * k)
    _paint(win, inside, _MOUTH_INSIDE)
    teeth_extent = half_w * (0.45 + 0.5 * ing["teeth"])
    teeth = inside * _cover((v - top - teeth_h * bulge) * k) * _cover((torch.abs(u) - teeth_extent) * k)
    _paint(win, teeth, _TEETH)


def ingredient_regions(params: FaceParams) -> dict[str, np.ndarray]:
    """Boolean masks (N, 64, 64) of the part of each face that an ingredient is meant to change."""
    f = _Frame(params)
    u, v = f.u, f.v
    mouth = (torch.abs(u) < 19.5) & (v > 0.5) & (v < 24.0)
    eyes = (torch.abs(torch.abs(u) - _EYE_U) < 6.5) & (v > -8.0) & (v < 4.5)
    cheek = {side: _ellipse_dist(u, v, s * _CHEEK_U, _CHEEK_V - 1.0, _CHEEK_RU + 2.5, _CHEEK_RV + 3.0) < 0
             for side, s in (("left", -1.0), ("right", 1.0))}
    regions = {
        "mouth_width": mouth, "opening": mouth, "teeth": mouth,
        "lift_left": mouth & (u < 1.0), "lift_right": mouth & (u > -1.0),
        "cheek_left": cheek["left"], "cheek_right": cheek["right"], "eyes": eyes,
    }
    return {name: regions[name].numpy() for name in INGREDIENTS}

