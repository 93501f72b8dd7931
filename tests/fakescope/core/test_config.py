from dataclasses import dataclass, field

import pytest

from fakescope.core.config import config_from_dict, config_to_dict


@dataclass(frozen=True)
class Inner:
    p: float = 0.3
    pair: tuple[int, int] = (1, 2)

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise ValueError(f"p is a probability, got {self.p}")


@dataclass(frozen=True)
class Outer:
    n: int = 3
    name: str = "x"
    flag: bool = False
    steps: int | None = None
    methods: tuple[str, ...] = ()
    kwargs: dict = field(default_factory=dict)
    inner: Inner | None = field(default_factory=Inner)


def test_round_trip_through_json_data() -> None:
    cfg = Outer(n=5, steps=7, methods=("warp",), kwargs={"a": 1}, inner=Inner(0.5, (3, 4)))
    assert config_from_dict(Outer, config_to_dict(cfg)) == cfg
    assert config_to_dict(cfg)["inner"] == {"p": 0.5, "pair": [3, 4]}


def test_missing_keys_take_the_defaults_and_ints_pass_as_floats() -> None:
    assert config_from_dict(Outer, {"inner": {"p": 1}}) == Outer(inner=Inner(1.0))
    assert config_from_dict(Outer, {"inner": None, "steps": None}).inner is None


@pytest.mark.parametrize("data, message", [
    ({"m": 1}, "unknown key(s) 'm'; known keys: flag, inner"),
    ({"n": "3"}, "field 'n' must be a whole number"),
    ({"n": True}, "field 'n' must be a whole number"),
    ({"flag": 1}, "field 'flag' must be true or false"),
    ({"methods": "warp"}, "field 'methods' must be a list"),
    ({"inner": {"pair": [1]}}, "field 'pair' must hold 2 values"),
    ({"inner": {"p": 2}}, "p is a probability"),
    ({"inner": {"q": 2}}, "unknown key(s) 'q'"),
    ({"kwargs": [1]}, "field 'kwargs' must be a JSON object"),
])
def test_a_bad_value_is_refused_naming_the_file_and_field(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match="^recipe.json") as info:
        config_from_dict(Outer, data, "recipe.json")
    assert message in str(info.value)


def test_a_non_object_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a JSON object"):
        config_from_dict(Outer, [1, 2], "x.json")  # type: ignore[arg-type]
