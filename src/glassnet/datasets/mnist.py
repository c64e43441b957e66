"""MNIST handwritten digits: IDX parsing, checksums, a local cache, downloads and an embedded sample.

``load(split)`` looks for the four official gzip IDX files in this order:

1. the ``data_dir`` argument (an error if the files are not there),
2. the directory named by the environment variable ``GLASSNET_DATA_DIR``,
3. the user cache: ``$GLASSNET_CACHE_DIR/mnist``, else ``$XDG_CACHE_HOME/glassnet/mnist``,
   else ``~/.cache/glassnet/mnist``,
4. a download from public mirrors into that cache (when ``download=True``; offline, a host name that does not
   resolve ends it at once, and a cache folder made for it is removed again),
5. the embedded sample of 5,000 training and 1,000 test images, with a one-line notice on stderr (once per
   process) that names ``--data-dir DIR`` and ``--sample``.

A directory also counts when the files are in its ``mnist`` subfolder, and uncompressed IDX files (the same
names without ``.gz``) are accepted. Every file is checked against the SHA-256 of its uncompressed content.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import math
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from glassnet._base.checks import check_labels
from glassnet._base.registry import lookup

__all__ = [
    "DatasetError", "FILES", "MIRRORS", "OfflineError", "SHA256", "cache_dir", "download", "load", "locate",
    "read_idx",
]


class DatasetError(ValueError):
    """A data file that is missing, truncated, corrupt or fails its checksum."""


FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

SHA256: dict[str, str] = {  # of the uncompressed content
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

SAMPLE_PATH = Path(__file__).with_name("mnist_sample.npz")
FULL_SIZE = {"train": 60_000, "test": 10_000}
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049
_MAX_IDX_BYTES = 1 << 31
_MAX_GZIP_BYTES, _MAX_GZIP_RATIO = 64 << 20, 50
"""A gzip IDX file may announce at most 50 times its size, or 64 MiB (MNIST's images: 47 MB from 9.9 MB):
no decompression bombs."""
_RETRIES = 3
_RETRY_DELAY_S = 1.0
_TIMEOUT_S = 30.0


# ---------------------------------------------------------------- IDX files


def read_idx(path: str | os.PathLike, expected_sha256: str | None = None) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (gzip-compressed or not) into a read-only uint8 array.

    The array is shaped by the header (magic ``0x0000 08 d`` followed by ``d`` big-endian int32 sizes).
    With ``expected_sha256`` the SHA-256 of the uncompressed content must match. The file is streamed:
    memory never exceeds what the header announces (checked against the file size for raw files), so a
    corrupt or hostile header cannot exhaust it. Raises ``DatasetError`` naming the file.
    """
    path = Path(path)
    try:
        raw_file = open(path, "rb")
        size = os.fstat(raw_file.fileno()).st_size
    except OSError as e:
        raise DatasetError(f"cannot read IDX file {path}: {e.strerror or e}") from None
    with raw_file:
        gz = raw_file.read(2) == b"\x1f\x8b"
        raw_file.seek(0)
        try:
            f = gzip.GzipFile(fileobj=raw_file) if gz else raw_file
            return _parse_idx(path, f, size, gz, expected_sha256)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetError(f"{path} is truncated or not a valid gzip file ({e})") from None


def _parse_idx(path: Path, f: Any, size: int, gz: bool, expected_sha256: str | None) -> np.ndarray:
    """The IDX array read from the open file ``f`` (decompressing when ``gz``) of ``size`` bytes on disk."""
    head = f.read(4)
    if len(head) < 4:
        raise DatasetError(f"{path} is truncated: expected an IDX header of at least 4 bytes, got {len(head)}")
    magic, ndim = int.from_bytes(head, "big"), head[3]
    if head[:2] != b"\0\0" or head[2] != 0x08 or not 1 <= ndim <= 4:
        raise DatasetError(
            f"{path} is not an IDX file of unsigned bytes: expected magic 0x000008XX "
            f"(e.g. {_LABEL_MAGIC} for labels, {_IMAGE_MAGIC} for images), got {magic} (0x{magic:08x})"
        )
    dims = f.read(4 * ndim)
    header = 4 + 4 * ndim
    if len(dims) < 4 * ndim:
        raise DatasetError(f"{path} is truncated: expected a {header}-byte header, got {4 + len(dims)} bytes")
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    expected = math.prod(shape)
    if not gz and size - header != expected:
        what = "truncated" if size - header < expected else "corrupt"
        raise DatasetError(f"{path} is {what}: header shape {shape} needs {expected} data bytes, "
                           f"found {size - header}")
    limit = max(_MAX_GZIP_BYTES, _MAX_GZIP_RATIO * size) if gz else _MAX_IDX_BYTES
    if expected > limit:
        raise DatasetError(f"{path} is corrupt: header shape {shape} announces {expected:,} bytes, more than "
                           f"the {limit:,} a file of {size:,} bytes may hold")
    data = f.read(expected)
    extra = len(f.read(1))
    if len(data) != expected or extra:
        what = "truncated" if len(data) < expected else "corrupt"
        found = f"{len(data)}" if len(data) < expected else f"more than {expected}"
        raise DatasetError(f"{path} is {what}: header shape {shape} needs {expected} data bytes, found {found}")
    if expected_sha256 is not None:
        digest = hashlib.sha256(head + dims + data).hexdigest()
        if digest != expected_sha256.lower():
            raise DatasetError(
                f"{path} fails its checksum: SHA-256 of the uncompressed content is {digest}, "
                f"expected {expected_sha256.lower()} (delete the file and fetch it again)"
            )
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


@functools.lru_cache(maxsize=8)
def _read_idx_cached(path: str, mtime_ns: int, size: int, sha256: str | None) -> np.ndarray:
    return read_idx(path, sha256)  # frombuffer over bytes: read-only, safe to share


def _read_checked(path: Path, name: str) -> np.ndarray:
    """``read_idx`` against the checksum table, cached in memory by path, modification time and size."""
    st = path.stat()
    return _read_idx_cached(str(path), st.st_mtime_ns, st.st_size, SHA256.get(name))


# ---------------------------------------------------------------- finding the files


def cache_dir() -> Path:
    """The MNIST cache directory: ``$GLASSNET_CACHE_DIR/mnist``, ``$XDG_CACHE_HOME/glassnet/mnist``
    or ``~/.cache/glassnet/mnist`` (not created here)."""
    root = os.environ.get("GLASSNET_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "mnist"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "glassnet" / "mnist"


def _split_files(directory: Path, split: str) -> tuple[Path, Path] | None:
    """The split's image and label files in ``directory`` or its ``mnist`` subfolder, if both are there."""
    for d in (directory, directory / "mnist"):
        found = []
        for name in FILES[split]:
            candidates = [d / name, d / name.removesuffix(".gz")]
            found.append(next((p for p in candidates if p.is_file()), None))
        if all(found):
            return found[0], found[1]
    return None


def locate(split: str = "train", data_dir: str | os.PathLike | None = None) -> tuple[Path, str] | None:
    """Find the full set's files for ``split`` without touching the network.

    Returns ``(directory, origin)`` with origin ``"data_dir"``, ``"GLASSNET_DATA_DIR"`` or ``"cache"``, or
    None when nothing is found. An explicit ``data_dir`` that lacks the files raises ``DatasetError``.
    """
    split = _check_split(split)
    if data_dir is not None:
        directory = Path(data_dir).expanduser()
        if not directory.is_dir():
            what = "is not a folder" if directory.exists() else "does not exist"
            raise DatasetError(f"data_dir {os.fspath(data_dir)!r} {what}")
        files = _split_files(directory, split)
        if files is None:
            wanted = ", ".join(FILES[split])
            raise DatasetError(f"data_dir {os.fspath(data_dir)!r} lacks the MNIST files {wanted}")
        return files[0].parent, "data_dir"
    env = os.environ.get("GLASSNET_DATA_DIR")
    for directory, origin in ((env, "GLASSNET_DATA_DIR"), (cache_dir(), "cache")):
        if directory:
            files = _split_files(Path(directory).expanduser(), split)
            if files is not None:
                return files[0].parent, origin
    return None


def _check_split(split: str) -> str:
    return lookup({"train": "train", "test": "test", "t10k": "test"}, split, "MNIST split")


# ---------------------------------------------------------------- downloading


def _urlopen(url: str, timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": "glassnet"})
    return urllib.request.urlopen(request, timeout=timeout)


def _fetch(url: str, dest: Path, verbose: bool, announce: str | None = None) -> None:
    """``url`` into ``dest``; ``announce`` is printed once the server has answered (never when offline)."""
    from tqdm.auto import tqdm

    with _urlopen(url, _TIMEOUT_S) as response, open(dest, "wb") as out:
        if announce:
            print(announce, file=sys.stderr)
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name.split(".")[0],
                  disable=not verbose, leave=False, file=sys.stderr) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))


def download(split: str = "train", directory: str | os.PathLike | None = None, *, verbose: bool = True,
             mirrors: tuple[str, ...] = MIRRORS) -> Path:
    """Download the split's missing files into ``directory`` (default ``cache_dir()``) and return it.

    Each file goes to a temporary file beside its destination, is verified against ``SHA256`` and only then
    moved into place (``os.replace``): a partial or corrupt download is never used. Raises ``DatasetError``.
    """
    split = _check_split(split)
    target = Path(directory).expanduser() if directory is not None else cache_dir()
    made = [d for d in (target, *target.parents) if not d.exists()]  # deepest first, removed again on failure
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"cannot create the MNIST directory {target}: {e.strerror or e}") from None
    try:
        for name in FILES[split]:
            if not (target / name).is_file():
                _download_file(name, target, verbose, mirrors)
    except DatasetError:
        for d in made:
            try:
                d.rmdir()  # only while empty
            except OSError:
                break
        raise
    return target


class OfflineError(DatasetError):
    """No mirror's host name resolves: no network (no retries are made)."""


def _unresolved(e: BaseException) -> bool:
    """A host name that does not resolve (no network, or no DNS), as urllib or the socket says it."""
    return isinstance(e, socket.gaierror) or (isinstance(e, urllib.error.URLError) and
                                             isinstance(e.reason, socket.gaierror))


def _download_file(name: str, target: Path, verbose: bool, mirrors: tuple[str, ...]) -> None:
    """One file from the first mirror that serves it, verified, moved into ``target``; up to ``_RETRIES`` rounds
    over the mirrors, except those whose host name does not resolve (tried once)."""
    final = target / name
    errors: list[str] = []
    live = list(mirrors)
    announce = [f"glassnet: downloading {name} into {target}"] if verbose else [None]
    for attempt in range(_RETRIES):
        if attempt:
            time.sleep(_RETRY_DELAY_S * attempt)
        for mirror in list(live):
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target)
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                _fetch(mirror + name, tmp, verbose, announce[0])
                announce[0] = None
                read_idx(tmp, SHA256[name])
                os.replace(tmp, final)
                return
            except (OSError, ValueError, http.client.HTTPException) as e:
                if _unresolved(e):
                    live.remove(mirror)
                errors.append(f"{mirror}: {' '.join(str(e).split()) or type(e).__name__}")
            finally:
                tmp.unlink(missing_ok=True)
        if mirrors and not live:
            raise OfflineError(f"cannot download {name}: no mirror's host name resolves (offline?)")
    last = errors[-1] if errors else "no mirrors given"
    raise DatasetError(f"cannot download {name} after {len(errors)} tries; last error: {last}")


_download = download  # load() has a parameter of the same name
_failed_downloads: dict[Path, str] = {}  # cache dir -> why (in words), so an offline process tries only once
_noticed: set[tuple[Path, str]] = set()  # (cache dir, why): the fallback notices printed in this process

# ---------------------------------------------------------------- the embedded sample


@functools.lru_cache(maxsize=1)
def _sample() -> dict[str, np.ndarray]:
    with np.load(SAMPLE_PATH, allow_pickle=False) as z:
        arrays = {key: z[key] for key in z.files}
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


def _sample_source(split: str) -> str:
    n = _sample()[f"{split}_labels"].shape[0]
    return f"embedded MNIST sample ({n:,} of {FULL_SIZE[split]:,} {split} images, {SAMPLE_PATH})"


def _fallback_source(split: str, reason: str) -> str:
    """The sample taken because the full set is not here: why, and the two options that settle it."""
    n = _sample()[f"{split}_labels"].shape[0]
    return (f"embedded MNIST sample ({n:,} of {FULL_SIZE[split]:,} {split} images; {reason}): --data-dir DIR "
            "for the full set, --sample to skip the search")


# ---------------------------------------------------------------- loading


def _to_xy(images: np.ndarray, labels: np.ndarray, where: str,
           label_where: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``where``: the images' file (or the sample's); ``label_where``: the labels' file, if another."""
    label_where = label_where or where
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.shape[1:] != (28, 28):
        raise DatasetError(f"{where}: expected images of shape (n, 28, 28), got {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DatasetError(f"{label_where}: expected {images.shape[0]} labels (one per image of {where}), got "
                           f"shape {labels.shape}")
    x = images.reshape(images.shape[0], 784).astype(np.float32)
    np.divide(x, 255.0, out=x)
    try:
        y = check_labels(labels, 10, name=f"labels in {label_where}").astype(np.int64)  # always a fresh copy
    except ValueError as e:
        raise DatasetError(str(e)) from None
    return x, y


_PathArg = str | os.PathLike | None


@overload
def load(split: str = ..., data_dir: _PathArg = ..., *, download: bool = ..., verbose: bool = ...,
         sample: bool = ..., return_source: Literal[False] = ..., notice: bool = ...) -> tuple[np.ndarray, np.ndarray]:
    ...


@overload
def load(split: str = ..., data_dir: _PathArg = ..., *, download: bool = ..., verbose: bool = ...,
         sample: bool = ..., return_source: Literal[True], notice: bool = ...) -> tuple[np.ndarray, np.ndarray, str]:
    ...


def load(split: str = "train", data_dir: _PathArg = None, *, download: bool = True, verbose: bool = True,
         sample: bool = False, return_source: bool = False, notice: bool = True) -> tuple[np.ndarray, ...]:
    """MNIST ``split`` (``"train"`` or ``"test"``) as ``X`` float32 (n, 784) in [0, 1] and ``y`` int64 (n,).

    Look-up order as in the module docstring. ``download`` allows fetching into the cache; ``verbose`` shows
    download progress; ``notice`` prints the one-line notice of a fallback to the sample (once per process; a
    caller that prints the source, which then says why, passes False); ``sample=True`` uses the embedded sample
    without looking for the full set, silently; with ``return_source=True`` a third item describes where the
    data came from (for printing). The returned arrays are fresh copies; parsed files are cached in memory, so
    loading again is cheap.
    """
    split = _check_split(split)
    found = None if sample else locate(split, data_dir)
    reason = "no MNIST files found, download disabled"
    if found is None and not sample and download:
        reason = _failed_downloads.get(cache_dir(), "")
        if not reason:
            try:
                found = _download(split, verbose=verbose), "downloaded to cache"
            except OfflineError:
                reason = "offline, no MNIST files found"
            except DatasetError as e:
                text = str(e)
                reason = "no MNIST files found, download failed: " + (text if len(text) <= 90 else text[:87] + "...")
            if found is None:
                _failed_downloads[cache_dir()] = reason
    if found is None:
        arrays = _sample()
        x, y = _to_xy(arrays[f"{split}_images"], arrays[f"{split}_labels"], str(SAMPLE_PATH))
        source = _sample_source(split)
        if not sample:
            source = _fallback_source(split, reason)
            if notice and (cache_dir(), reason) not in _noticed:
                _noticed.add((cache_dir(), reason))
                print(f"glassnet: using the {source}", file=sys.stderr)
    else:
        directory, origin = found
        files = _split_files(directory, split)
        if files is None:
            raise DatasetError(f"{directory} lacks the MNIST files {', '.join(FILES[split])}")
        images, labels = (_read_checked(p, name) for p, name in zip(files, FILES[split], strict=True))
        for path, arr, magic, ndim in ((files[0], images, _IMAGE_MAGIC, 3), (files[1], labels, _LABEL_MAGIC, 1)):
            if arr.ndim != ndim:
                raise DatasetError(f"{path}: expected magic {magic} ({ndim}-D), got a {arr.ndim}-D IDX array")
        x, y = _to_xy(images, labels, str(files[0]), str(files[1]))
        source = f"MNIST {split} ({x.shape[0]:,} images) from {directory} ({origin})"
    return (x, y, source) if return_source else (x, y)
