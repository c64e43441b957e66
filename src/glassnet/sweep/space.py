"""Search spaces: grids, random distributions, and the trials they expand to.

A sweep trains configurations theta_1 .. theta_n (dicts of option -> value), each with ``seeds`` seeds:

    grid search     theta ranges over the Cartesian product of the listed values
    random search   ``trials`` draws theta_j ~ p(theta): uniform U(a, b), log-uniform exp(U(ln a, ln b)),
                    or a choice among values; with a grid too, every grid point gets ``trials`` draws

Trial (c, s) trains configuration c with the seed drawn from
``SeedSequence([base_seed, *sha256(theta_c)], spawn_key=(s,))``: a function of the configuration and the
seed index alone, so neither the order in which trials finish nor the number of workers can change it.
The random draws come from their own stream of ``base_seed``, in a fixed order.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Converter = Callable[[str], Any]
"""Turns the text of one value (``"0.1"``, ``"512-256"``) into the option's value; raises ValueError."""


@dataclass(frozen=True)
class Option:
    """A sweepable option: how to read one of its values from text, and whether it is a number
    (``kind`` "float" or "int": uniform and loguniform apply; "int" draws whole numbers) or not ("other")."""

    convert: Converter
    kind: str = "other"


Options = Mapping[str, Option]

_SPACE_STREAM = 0x5EE9
"""Mixed into the base seed for the stream of random-search draws (distinct from every trial seed)."""


# ------------------------------------------------------------------ distributions
@dataclass(frozen=True)
class Uniform:
    """U(low, high); with ``integer`` a whole number drawn uniformly from low..high inclusive."""

    low: float
    high: float
    integer: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"{self.name} needs finite bounds with low < high, got ({self.low:g}, {self.high:g})")

    name = "uniform"

    def sample(self, rng: np.random.Generator) -> float | int:
        if self.integer:
            return int(rng.integers(math.ceil(self.low), math.floor(self.high) + 1))
        return float(rng.uniform(self.low, self.high))

    def __str__(self) -> str:
        return f"{self.name}({self.low:g},{self.high:g})"


@dataclass(frozen=True)
class LogUniform(Uniform):
    """exp(U(ln low, ln high)), for scale parameters such as the learning rate; 0 < low < high."""

    name = "loguniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.low <= 0:
            raise ValueError(f"loguniform needs 0 < low < high, got ({self.low:g}, {self.high:g})")

    def sample(self, rng: np.random.Generator) -> float | int:
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return int(min(max(round(value), math.ceil(self.low)), math.floor(self.high))) if self.integer else value


@dataclass(frozen=True)
class Choice:
    """One of ``values``, each with probability 1/len(values)."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("choice needs at least one value")

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def __str__(self) -> str:
        return f"choice({','.join(format_value(v) for v in self.values)})"


Distribution = Uniform | LogUniform | Choice


def uniform(low: float, high: float, integer: bool = False) -> Uniform:
    """U(low, high) (whole numbers low..high with ``integer=True``)."""
    return Uniform(float(low), float(high), integer)


def loguniform(low: float, high: float, integer: bool = False) -> LogUniform:
    """exp(U(ln low, ln high)): every decade between low and high equally likely."""
    return LogUniform(float(low), float(high), integer)


def choice(*values: Any) -> Choice:
    """One of the values, uniformly."""
    return Choice(tuple(plain(v, "choice value") for v in values))


# ------------------------------------------------------------------ values
def plain(value: Any, what: str) -> Any:
    """``value`` as JSON data (numbers, strings, booleans, None, lists of them), NumPy scalars unwrapped."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, tuple | list | np.ndarray):
        return [plain(v, what) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise ValueError(f"{what} must be a finite number, a string, a boolean, None or a list of them, "
                     f"got {value!r}")


def format_value(value: Any) -> str:
    """Short text for a value in tables and progress lines: 0.001, relu, 512-256."""
    if isinstance(value, list):
        return "-".join(format_value(v) for v in value) if value else "[]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def auto_value(text: str) -> Any:
    """Text as a Python literal where it is one (1, 0.5, True, [1, 2]), else the string itself."""
    text = text.strip()
    try:
        return plain(ast.literal_eval(text), "value")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside brackets and parentheses: "[1,2],3" -> ["[1,2]", "3"]."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _assignment(text: str, flag: str, example: str) -> tuple[str, str]:
    key, eq, rhs = text.partition("=")
    key = key.strip().replace("-", "_")
    if not eq or not key:
        raise ValueError(f"{flag} expects {example}, got {text!r}")
    return key, rhs.strip()


def _check_key(key: str, flag: str, options: Options | None) -> None:
    if options is not None and key not in options:
        raise ValueError(f"{flag}: unknown option {key!r}; sweepable: {', '.join(sorted(options))}")


def _convert(key: str, text: str, flag: str, options: Options | None) -> Any:
    _check_key(key, flag, options)
    if not text:
        raise ValueError(f"{flag} {key}: empty value")
    convert = auto_value if options is None else options[key].convert
    try:
        return plain(convert(text), f"{flag} {key}")
    except ValueError as e:
        raise ValueError(f"{flag} {key}: {e}") from None


def parse_grid(text: str, options: Options | None = None) -> tuple[str, list[Any]]:
    """``"lr=0.01,0.1"`` -> ("lr", [0.01, 0.1]); each value is read by ``options[key]`` (None: any
    option, values read as Python literals)."""
    key, rhs = _assignment(text, "--grid", "KEY=V1,V2,...")
    values = split_top(rhs) if rhs else []
    if not values or values == [""]:
        raise ValueError(f"--grid {key}= has no values; give KEY=V1,V2,...")
    return key, [_convert(key, v, "--grid", options) for v in values]


_DIST = re.compile(r"^(uniform|loguniform|choice)\((.*)\)$", re.IGNORECASE | re.DOTALL)


def parse_random(text: str, options: Options | None = None) -> tuple[str, Distribution]:
    """``"lr=loguniform(1e-4,1e-1)"`` -> ("lr", LogUniform(...)); also uniform(A,B) and choice(V1,V2,...).
    Whole-number options (epochs, batch size) draw whole numbers; options that are not numbers take
    choice only."""
    key, rhs = _assignment(text, "--random", "KEY=uniform(A,B), KEY=loguniform(A,B) or KEY=choice(V1,V2)")
    _check_key(key, "--random", options)
    m = _DIST.match(rhs)
    if m is None:
        raise ValueError(f"--random {key}: expected uniform(A,B), loguniform(A,B) or choice(V1,V2,...), "
                         f"got {rhs!r}")
    kind, args = m.group(1).lower(), split_top(m.group(2))
    if kind == "choice":
        if args == [""]:
            raise ValueError(f"--random {key}: choice() has no values")
        return key, Choice(tuple(_convert(key, a, "--random", options) for a in args))
    if len(args) != 2:
        raise ValueError(f"--random {key}: {kind} takes two bounds A,B, got {m.group(2)!r}")
    try:
        low, high = (float(a) for a in args)
    except ValueError:
        raise ValueError(f"--random {key}: {kind} bounds must be numbers, got {m.group(2)!r}") from None
    kind_of_key = "float" if options is None else options[key].kind
    if kind_of_key not in ("float", "int"):
        raise ValueError(f"--random {key}: {kind} needs a numeric option; use choice(V1,V2,...)")
    try:
        dist = (LogUniform if kind == "loguniform" else Uniform)(low, high, kind_of_key == "int")
    except ValueError as e:
        raise ValueError(f"--random {key}: {e}") from None
    return key, dist


def as_distribution(key: str, spec: Any) -> Distribution:
    """A distribution object as given, or one parsed from its text ("loguniform(1e-4,1e-1)")."""
    if isinstance(spec, Uniform | Choice):
        return spec
    if isinstance(spec, str):
        return parse_random(f"{key}={spec}")[1]
    raise ValueError(f"random[{key!r}] must be uniform(a, b), loguniform(a, b), choice(...) or their text, "
                     f"got {spec!r}")


# ------------------------------------------------------------------ the space and its trials
@dataclass(frozen=True)
class Trial:
    """Trial ``index`` = configuration ``config`` trained with seed number ``seed_index`` (seed ``seed``)."""

    index: int
    config: int
    seed_index: int
    seed: int
    params: dict[str, Any]


def config_digest(params: Mapping[str, Any]) -> list[int]:
    """Four 32-bit words of SHA-256 of the canonical JSON of ``params`` (sorted keys, exact floats)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]


def trial_seed(params: Mapping[str, Any], seed_index: int, base_seed: int = 0) -> int:
    """The seed of seed number ``seed_index`` of configuration ``params``: a SeedSequence of both."""
    ss = np.random.SeedSequence([int(base_seed), *config_digest(params)], spawn_key=(int(seed_index),))
    return int(ss.generate_state(1)[0])


@dataclass
class Space:
    """Grid values and random distributions by option name; ``trials`` random draws per grid point."""

    grid: dict[str, list[Any]]
    random: dict[str, Distribution]
    trials: int = 1

    @classmethod
    def build(cls, grid: Mapping[str, Sequence[Any]] | None, random: Mapping[str, Any] | None,
              trials: int | None) -> Space:
        grid = {str(k): list(v) if isinstance(v, list | tuple | np.ndarray) else v for k, v in (grid or {}).items()}
        for key, values in grid.items():
            if not isinstance(values, list):
                raise ValueError(f"grid[{key!r}] must be a list of values, got {values!r}")
            if not values:
                raise ValueError(f"grid[{key!r}] is empty; give at least one value")
            grid[key] = [plain(v, f"grid[{key!r}] value") for v in values]
        random = {str(k): as_distribution(k, v) for k, v in (random or {}).items()}
        both = sorted(set(grid) & set(random))
        if both:
            raise ValueError(f"{both[0]!r} is both in the grid and random; give it once")
        if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
            raise ValueError(f"trials must be a positive whole number, got {trials!r}")
        if trials is not None and not random:
            raise ValueError("trials counts random draws: give random distributions too (--random)")
        return cls(grid, random, trials if trials is not None else (10 if random else 1))

    @property
    def keys(self) -> list[str]:
        return [*self.grid, *self.random]

    def configurations(self, base_seed: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The distinct configurations, in order (grid points in row-major order, then their draws), and
        how many repeated random draws were dropped."""
        rng = np.random.default_rng(np.random.SeedSequence([int(base_seed), _SPACE_STREAM]))
        keys = list(self.grid)
        out, seen, dropped = [], set(), 0
        for point in itertools.product(*(self.grid[k] for k in keys)):
            for _ in range(self.trials if self.random else 1):
                params = dict(zip(keys, point, strict=True))
                params.update({k: d.sample(rng) for k, d in sorted(self.random.items())})
                key = json.dumps(params, sort_keys=True)
                if key in seen:
                    dropped += 1
                    continue
                seen.add(key)
                out.append(params)
        return out, dropped

    def trials_for(self, configurations: list[dict[str, Any]], seeds: int, base_seed: int = 0) -> list[Trial]:
        """Every (configuration, seed number) pair as a Trial, configuration by configuration."""
        return [Trial(c * seeds + s, c, s, trial_seed(p, s, base_seed), p)
                for c, p in enumerate(configurations) for s in range(seeds)]

    def describe(self) -> dict[str, Any]:
        """JSON form, for the sweep's own file and for comparing a resumed sweep with the first run."""
        return {"grid": self.grid, "random": {k: str(d) for k, d in self.random.items()},
                "trials": self.trials if self.random else None}
