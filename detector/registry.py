"""Name -> architecture registry (timm style).

Architectures register themselves with a decorator so a config.json can name the architecture as
a plain string and ``load_model`` can rebuild it without unpickling anything. Family modules are
imported only when the registry is first queried, so ``import detector`` stays cheap and builds
no model.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

from torch import nn

# Families shipped with the package; imported lazily on first registry query.
_BUILTIN_FAMILIES = ("meso", "efficientnet", "patchgan", "seamnet", "dlib_resnet")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF_MEAN = (0.5, 0.5, 0.5)
HALF_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class DetectorSpec:
    """What a caller needs to feed an architecture correctly, besides the module itself."""

    name: str
    factory: Callable[..., nn.Module]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    description: str
    # 3: an RGB crop. 4: RGB plus the aligned face's landmark-hull mask as a fourth channel, so the
    # network knows where a paste boundary would run (detector.io.preprocess_crops builds it).
    in_channels: int = 3

    @property
    def needs_mask(self) -> bool:
        return self.in_channels == 4


_REGISTRY: dict[str, DetectorSpec] = {}
_builtins_loaded = False

Factory = Callable[..., nn.Module]


@overload
def register_detector(fn: Factory) -> Factory: ...
@overload
def register_detector(
    fn: None = None,
    *,
    name: str | None = None,
    input_size: int = 128,
    mean: tuple[float, float, float] = HALF_MEAN,
    std: tuple[float, float, float] = HALF_STD,
    in_channels: int = 3,
) -> Callable[[Factory], Factory]: ...


def register_detector(
    fn: Factory | None = None,
    *,
    name: str | None = None,
    input_size: int = 128,
    mean: tuple[float, float, float] = HALF_MEAN,
    std: tuple[float, float, float] = HALF_STD,
    in_channels: int = 3,
) -> Any:
    """Register a factory ``fn(**kwargs) -> nn.Module`` that outputs one logit per image.

    Usable bare (``@register_detector``) or with options (``@register_detector(input_size=160)``).
    The normalisation given here is the default recorded in a trained model's config.json.
    ``in_channels=4`` declares a model that also takes the face-hull mask (see DetectorSpec).
    """
    if in_channels not in (3, 4):
        raise ValueError(f"in_channels must be 3 (RGB) or 4 (RGB + face mask), got {in_channels}")

    def wrap(factory: Factory) -> Factory:
        key = name or factory.__name__
        if key in _REGISTRY and _REGISTRY[key].factory is not factory:
            raise ValueError(f"detector {key!r} is already registered; pick another name")
        doc = (factory.__doc__ or "").strip().splitlines()
        _REGISTRY[key] = DetectorSpec(
            key, factory, int(input_size), tuple(mean), tuple(std), doc[0] if doc else "", int(in_channels)
        )
        return factory

    return wrap(fn) if fn is not None else wrap


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        for family in _BUILTIN_FAMILIES:
            importlib.import_module(f"detector.models.{family}")
        _builtins_loaded = True


def list_detectors() -> list[str]:
    """Sorted names of every registered architecture."""
    _load_builtins()
    return sorted(_REGISTRY)


def detector_spec(name: str) -> DetectorSpec:
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown detector architecture {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]


def create_detector(name: str, **kwargs: Any) -> nn.Module:
    """Build a freshly initialised architecture (never downloads weights)."""
    return detector_spec(name).factory(**kwargs)
