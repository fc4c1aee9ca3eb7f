"""Variant registry (timm-style): ``@register_variant("ti")`` names a function that returns its config.

``build_model("ti", depth=2, image_size=64)`` looks the variant up, applies overrides and builds the model,
so a new backbone size is one decorated function, not another branch in an if/elif chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from allinone_bench.errors import ConfigError
from allinone_bench.model.config import AllInOneConfig

if TYPE_CHECKING:
    from allinone_bench.model.allinone import AllInOne

ConfigFn = Callable[[], AllInOneConfig]
_VARIANTS: dict[str, ConfigFn] = {}
_ALIASES: dict[str, str] = {}


def register_variant(name: str, *aliases: str) -> Callable[[ConfigFn], ConfigFn]:
    """Register ``fn`` (returning the variant's default :class:`AllInOneConfig`) under ``name`` and aliases."""

    def decorator(fn: ConfigFn) -> ConfigFn:
        if name in _VARIANTS:
            raise ValueError(f"model variant {name!r} registered twice")
        _VARIANTS[name] = fn
        for alias in aliases:
            _ALIASES[alias] = name
        return fn

    return decorator


def list_variants() -> list[str]:
    return sorted(_VARIANTS)


def canonical_variant(name: str) -> str:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _VARIANTS:
        raise ConfigError(f"unknown model variant {name!r}; known: {list_variants()} (aliases: {sorted(_ALIASES)})")
    return key


def variant_config(name: str, **overrides: Any) -> AllInOneConfig:
    """The registered default config of ``name`` with ``overrides`` applied."""
    return _VARIANTS[canonical_variant(name)]().replace(**overrides)


def build_model(variant: str | AllInOneConfig = "b", **overrides: Any) -> AllInOne:
    """Build an All-in-One model (random weights; load a checkpoint with :func:`load_checkpoint`).

    ``variant`` is a registered name (``ti``, ``s``, ``b`` or an alias) or a ready config; ``overrides`` are
    :class:`AllInOneConfig` fields, e.g. ``build_model("ti", depth=2, image_size=64, num_frames=3)``.
    """
    from allinone_bench.model.allinone import AllInOne

    if isinstance(variant, AllInOneConfig):
        config = variant.replace(**overrides)
    else:
        config = variant_config(variant, **overrides)
    return AllInOne(config)


@register_variant("ti", "tiny", "all-in-one-ti")
def _all_in_one_ti() -> AllInOneConfig:
    """All-in-One-Ti (12M): DeiT-tiny backbone."""
    return AllInOneConfig(variant="ti", hidden_size=192, num_heads=3)


@register_variant("s", "small", "all-in-one-s")
def _all_in_one_s() -> AllInOneConfig:
    """All-in-One-S (33M): DeiT-small *distilled* backbone (cls + dist token, 198 positions)."""
    return AllInOneConfig(variant="s", hidden_size=384, num_heads=6, distilled=True)


@register_variant("b", "base", "b+", "baseplus", "all-in-one-base", "all-in-one-baseplus")
def _all_in_one_b() -> AllInOneConfig:
    """All-in-One-B and B+ (110M): ViT-B/16 backbone."""
    return AllInOneConfig(variant="b", hidden_size=768, num_heads=12)
