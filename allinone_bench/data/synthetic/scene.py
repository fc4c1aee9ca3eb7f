"""Deterministic, learnable synthetic clips: a coloured shape moving in one direction over a noisy background.

Colour and shape are visible in any single frame; the direction only shows across 2+ frames (a clip's first
frame does not depend on its direction), so synthetic tasks exercise both appearance and temporal modelling.
Every caption, question, answer and distractor option is derived from the :class:`Scene` that was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "COLOURS",
    "DIRECTIONS",
    "SHAPES",
    "Scene",
    "QuestionAnswer",
    "caption",
    "captions",
    "distractor_scenes",
    "questions",
    "oov_question",
    "render",
    "sample_scenes",
]

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (40, 80, 230),
    "yellow": (235, 220, 40),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
DIRECTIONS: tuple[str, ...] = ("left", "right", "up", "down")

# direction -> (axis, sign): axis 0 = x (columns), 1 = y (rows; "down" grows y)
_MOTION: dict[str, tuple[int, int]] = {"left": (0, -1), "right": (0, 1), "up": (1, -1), "down": (1, 1)}

_RADIUS = 0.14  # shape half-size as a fraction of the frame
_TRAVEL = 0.30  # distance covered over the whole clip, as a fraction of the frame
_NOISE_STD = 6.0


@dataclass(frozen=True)
class Scene:
    """What a clip shows: one ``colour`` ``shape`` moving ``direction``."""

    colour: str
    shape: str
    direction: str

    def __post_init__(self) -> None:
        for value, allowed, what in (
            (self.colour, tuple(COLOURS), "colour"),
            (self.shape, SHAPES, "shape"),
            (self.direction, DIRECTIONS, "direction"),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r} (one of {', '.join(allowed)})")


# --------------------------------------------------------------------------------------------------
# Rendering


def _shape_mask(shape: str, cx: float, cy: float, r: float, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    dx, dy = xx - cx, yy - cy
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        half = 0.85 * r
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    # upward-pointing triangle: apex at (cx, cy - r), base at cy + 0.8 r with half-width r
    depth = (dy + r) / (1.8 * r)
    return (dy >= -r) & (dy <= 0.8 * r) & (np.abs(dx) <= depth * r)


def _start_position(direction: str, size: int, rng: np.random.Generator) -> tuple[float, float]:
    """A first-frame centre from which the whole trajectory stays inside the frame."""
    r, travel = _RADIUS * size, _TRAVEL * size
    low, high = r + 1.0, size - 1.0 - r
    axis, sign = _MOTION[direction]
    along = rng.uniform(low, high - travel) if sign > 0 else rng.uniform(low + travel, high)
    across = rng.uniform(low, high)
    return (along, across) if axis == 0 else (across, along)


def render(
    scene: Scene,
    num_frames: int = 16,
    size: int = 64,
    seed: int = 0,
    *,
    start: tuple[float, float] | None = None,
) -> np.ndarray:
    """Draw ``scene`` as uint8 frames ``(num_frames, size, size, 3)``.

    The shape moves ``_TRAVEL * size`` pixels over the clip. ``seed`` fixes the background level, the noise
    and (unless ``start`` is given, as fractions ``(x, y)`` of the frame) the first-frame position; the noise
    and background do not depend on the scene, so two scenes rendered with one seed and one ``start`` share
    their first frame exactly.
    """
    if num_frames < 1 or size < 8:
        raise ValueError(f"need num_frames >= 1 and size >= 8, got {num_frames} and {size}")
    rng = np.random.default_rng([seed, 0x5CE4E])
    background = rng.uniform(80.0, 130.0)
    noise = rng.normal(0.0, _NOISE_STD, size=(num_frames, size, size, 3))
    if start is None:
        x0, y0 = _start_position(scene.direction, size, np.random.default_rng([seed, 0x57A27]))
    else:
        x0, y0 = start[0] * size, start[1] * size
    axis, sign = _MOTION[scene.direction]
    step = _TRAVEL * size / max(num_frames - 1, 1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    colour = np.asarray(COLOURS[scene.colour], dtype=np.float64)
    frames = np.full((num_frames, size, size, 3), background, dtype=np.float64)
    for t in range(num_frames):
        offset = sign * step * t
        cx, cy = (x0 + offset, y0) if axis == 0 else (x0, y0 + offset)
        frames[t][_shape_mask(scene.shape, cx, cy, _RADIUS * size, xx, yy)] = colour
    return np.clip(frames + noise, 0, 255).round().astype(np.uint8)


# --------------------------------------------------------------------------------------------------
# Language derived from a scene

_CAPTION_TEMPLATES: tuple[str, ...] = (
    "a {colour} {shape} moves {direction}",
    "a {colour} {shape} is moving {direction}",
    "the {colour} {shape} slides {direction}",
    "a {colour} {shape} travels {direction} across the screen",
)


def caption(scene: Scene, variant: int = 0) -> str:
    """One phrasing (``variant`` cycles through them) of what the clip shows: "a red circle moves left"."""
    template = _CAPTION_TEMPLATES[variant % len(_CAPTION_TEMPLATES)]
    return template.format(colour=scene.colour, shape=scene.shape, direction=scene.direction)


def captions(scene: Scene) -> tuple[str, ...]:
    """Every phrasing of the scene's caption (multi-caption datasets use them all)."""
    return tuple(caption(scene, i) for i in range(len(_CAPTION_TEMPLATES)))


@dataclass(frozen=True)
class QuestionAnswer:
    """An open-ended question about a scene; ``attribute`` says which property answers it."""

    question: str
    answer: str
    attribute: str


_QUESTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "colour": ("what color is the shape?", "what is the color of the moving {shape}?"),
    "shape": ("what shape is moving?", "what kind of {colour} object is shown?"),
    "direction": ("which direction does the object move?", "where is the {colour} {shape} going?"),
}


def questions(scene: Scene, variant: int = 0) -> list[QuestionAnswer]:
    """One question per attribute (colour, shape, direction), answered from the scene."""
    out = []
    for attribute, templates in _QUESTION_TEMPLATES.items():
        text = templates[variant % len(templates)].format(colour=scene.colour, shape=scene.shape)
        out.append(QuestionAnswer(text, getattr(scene, attribute), attribute))
    return out


def oov_question(scene: Scene) -> QuestionAnswer:
    """A question whose answer ("one") no synthetic training split contains: tests out-of-vocabulary handling."""
    return QuestionAnswer(f"how many {scene.shape}s are there?", "one", "count")


# --------------------------------------------------------------------------------------------------
# Sampling scenes


def _balanced_order() -> list[tuple[int, int, int]]:
    """All 48 (colour, shape, direction) index triples; every aligned block of 12 has each colour 3x,
    each shape 4x and each direction 3x, and each (colour, shape) pair once."""
    order = []
    for i in range(len(COLOURS) * len(SHAPES) * len(DIRECTIONS)):
        order.append((i % 4, i % 3, (i % 12 + i // 12) % 4))
    return order


def sample_scenes(n: int, seed: int = 0) -> list[Scene]:
    """``n`` scenes, balanced over colours, shapes and directions (exactly so in blocks of 12), deterministic
    for ``seed``; the names assigned to indices and the order inside each block of 12 depend on the seed."""
    rng = np.random.default_rng([seed, 0x5CE7E5])
    colours = [list(COLOURS)[i] for i in rng.permutation(len(COLOURS))]
    shapes = [SHAPES[i] for i in rng.permutation(len(SHAPES))]
    directions = [DIRECTIONS[i] for i in rng.permutation(len(DIRECTIONS))]
    base = _balanced_order()
    scenes: list[Scene] = []
    while len(scenes) < n:
        for block in range(0, len(base), 12):
            chunk = base[block : block + 12]
            for j in rng.permutation(len(chunk)):
                c, s, d = chunk[j]
                scenes.append(Scene(colours[c], shapes[s], directions[d]))
                if len(scenes) == n:
                    return scenes
    return scenes


def distractor_scenes(scene: Scene, k: int, rng: np.random.Generator) -> list[Scene]:
    """``k`` distinct scenes different from ``scene``: first one differing only in direction, then only in
    colour, only in shape, then random others; hard negatives first, so MC tasks need motion cues."""
    def other(values: tuple[str, ...], current: str) -> str:
        choices = [v for v in values if v != current]
        return choices[int(rng.integers(len(choices)))]

    candidates = [
        Scene(scene.colour, scene.shape, other(DIRECTIONS, scene.direction)),
        Scene(other(tuple(COLOURS), scene.colour), scene.shape, scene.direction),
        Scene(scene.colour, other(SHAPES, scene.shape), scene.direction),
    ]
    out: list[Scene] = []
    for cand in candidates:
        if len(out) < k and cand not in out:
            out.append(cand)
    everything = [Scene(c, s, d) for c in COLOURS for s in SHAPES for d in DIRECTIONS]
    for j in rng.permutation(len(everything)):
        if len(out) >= k:
            break
        cand = everything[j]
        if cand != scene and cand not in out:
            out.append(cand)
    return out
