"""The video protocol: every setting that changes the pixels a model sees, with the official defaults.

This is the one place the official evaluation protocol is written down: 3 frames, segment-midpoint sampling,
decode squashed to 512x512, short side 268, center crop 224, ImageNet normalisation (the mean/std values are
in :data:`allinone_bench.data.transforms.NORMALIZATIONS`). The task YAML's ``protocol.video`` extends it
(:class:`allinone_bench.tasks.config.VideoSettings`); ``results.json`` records it through :meth:`to_dict`.
Torch-free, so validating a task never imports the decoding stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from allinone_bench.errors import ConfigError
from allinone_bench.validation import StrictModel, describe_error

OFFICIAL_RESIZE = 268
OFFICIAL_CROP = 224
Sampling = Literal["uniform", "rand"]
Normalization = Literal["imagenet", "kinetics"]
Backend = Literal["auto", "decord", "pyav", "torchcodec", "torchcodec_approx"]
PositiveInt = Annotated[int, Field(ge=1)]


def resize_for_crop(crop: int) -> int:
    """The short side that keeps the official resize/crop ratio (268/224) at another crop size."""
    return round(crop * OFFICIAL_RESIZE / OFFICIAL_CROP)


class VideoProtocol(StrictModel):
    """How clips are read. ``num_frames`` sampled per clip; ``sampling`` (``uniform`` | ``rand``);
    ``decode_size`` square squash at decode (``None`` keeps native size); ``resize`` short side; ``crop`` side;
    ``normalize`` (``imagenet`` | ``kinetics``); ``backend`` (``auto`` | ``decord`` | ``pyav`` | ``torchcodec`` |
    ``torchcodec_approx``; torchcodec is optional and only used when named, see ``data.video``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    num_frames: PositiveInt = 3
    sampling: Sampling = "uniform"
    decode_size: PositiveInt | None = 512
    resize: PositiveInt = OFFICIAL_RESIZE
    crop: PositiveInt = OFFICIAL_CROP
    normalize: Normalization = "imagenet"
    backend: Backend = "auto"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise ConfigError(describe_error(err, type(self), "video protocol:")) from None

    @model_validator(mode="after")
    def _crop_fits(self) -> VideoProtocol:
        if self.crop > self.resize:
            raise ValueError(f"crop ({self.crop}) cannot exceed resize ({self.resize})")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for results files (the pipeline's keys only)."""
        return {name: getattr(self, name) for name in VideoProtocol.model_fields}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoProtocol:
        """Build from a mapping; unknown keys are an error (a typo must not fall back to a default)."""
        return cls(**dict(data))
