"""The :class:`LoadReport`: what happened to every tensor of a checkpoint, in one reviewable record.

Categories: loaded, renamed (B+'s ``vtm_score.*`` -> ``itm_score.*``, a stripped ``module.``/``model.``
prefix), missing, unexpected, shape mismatches, task heads that pretrained checkpoints never contain
(``initialised``), keys absent by design and set to their neutral value (``defaulted``:
``transformer.temporal_embed`` -> zeros), harmless extras (``ignored``: ``text_embeddings.position_ids``) and
``resized`` tensors. A module of its own (standard library only) because reading, key mapping and loading fill or
print it; :func:`first_keys` is the one way their error messages name a few keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SHOW", "LoadReport", "first_keys"]

SHOW = 5  # keys named per category in error messages


@dataclass
class LoadReport:
    """What happened to every tensor of a checkpoint (see module docstring for the categories)."""

    source: str = ""
    strict: bool = True
    loaded: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # checkpoint key -> model key
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_mismatches: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    resized: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sha256: str | None = None

    @property
    def ok(self) -> bool:
        """No missing, unexpected or mis-shaped tensor (what strict loading requires)."""
        return not (self.missing or self.unexpected or self.shape_mismatches)

    def problems(self) -> str:
        """One line naming the first offending keys of each category, with counts."""
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing key(s): {first_keys(self.missing)}")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected key(s): {first_keys(self.unexpected)}")
        if self.shape_mismatches:
            shown = ", ".join(f"{k} checkpoint {list(a)} vs model {list(b)}"
                              for k, a, b in self.shape_mismatches[:SHOW])
            more = f" (+{len(self.shape_mismatches) - SHOW} more)" if len(self.shape_mismatches) > SHOW else ""
            parts.append(f"{len(self.shape_mismatches)} shape mismatch(es): {shown}{more}")
        return "; ".join(parts)

    def summary(self) -> str:
        counts = (f"loaded {len(self.loaded)}, renamed {len(self.renamed)}, missing {len(self.missing)}, "
                  f"unexpected {len(self.unexpected)}, shape mismatches {len(self.shape_mismatches)}, "
                  f"initialised {len(self.initialised)}, defaulted {len(self.defaulted)}, "
                  f"ignored {len(self.ignored)}, resized {len(self.resized)}")
        lines = [f"{self.source}: {counts}"]
        lines += [f"  note: {n}" for n in self.notes]
        if not self.ok:
            lines.append(f"  skipped: {self.problems()}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shape_mismatches"] = [[k, list(a), list(b)] for k, a, b in self.shape_mismatches]
        data["ok"] = self.ok
        return data


def first_keys(keys: list[str]) -> str:
    """The first :data:`SHOW` keys, comma-separated, with a count of the rest."""
    shown = ", ".join(keys[:SHOW])
    return shown + (f" (+{len(keys) - SHOW} more)" if len(keys) > SHOW else "")
