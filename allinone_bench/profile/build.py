"""Build a model whose tensors live on the ``meta`` device: shapes without memory or init time.

Counting parameters or FLOPs of ViT-B needs only shapes, so there is no reason to allocate and randomly
initialise 110M floats. ``with torch.device("meta")`` would do, but it also turns helper tensors that
constructors read back (``torch.linspace(...).tolist()`` for drop-path rates) into meta tensors, which cannot be
read. :func:`empty_init` instead moves each parameter to meta as it is registered (the approach of
``accelerate.init_empty_weights``), so constructors run unchanged; buffers follow with ``.to("meta")``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

__all__ = ["build_meta_model", "empty_init"]


@contextlib.contextmanager
def empty_init() -> Iterator[None]:
    """Within the block, every ``nn.Parameter`` registered on a module is created on the meta device."""
    original = nn.Module.register_parameter

    def register_on_meta(self: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original(self, name, param)

    nn.Module.register_parameter = register_on_meta  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


def build_meta_model(variant: Any = "b", **overrides: Any) -> nn.Module:
    """``build_model(variant, **overrides)`` with every parameter and buffer on the meta device."""
    from allinone_bench.model import build_model

    with empty_init():
        model = build_model(variant, **overrides)
    return model.to(torch.device("meta"))
