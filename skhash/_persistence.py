"""skhash's own file format: hashers and indexes saved without pickle.

A saved object is one file: an uncompressed ("stored") zip archive, so ``unzip -l`` lists
it and any zip tool reads it, holding

- ``skhash.json``: the manifest, a JSON document ``{"format": "skhash",
  "format_version": 1, "skhash_version": ..., "object": ..., "arrays": {...},
  "blobs": [...]}``. ``object`` describes the saved object: an estimator is
  ``{"__estimator__": "skhash.classic._itq.ITQ", "params": ..., "attributes": ...}``, an
  index ``{"__index__": ...}``; values are JSON, with tagged objects for what JSON lacks
  (``{"__tuple__": [...]}``, ``{"__dict__": [[key, value], ...]}``, ``{"__array__":
  name}``, ``{"__scalar__": value, "dtype": "int64"}``, ``{"__slice__": [start, stop,
  step]}``, ``{"__float__": "nan"}``). Estimators inside estimators (the hashers of a
  ``CoarseToFine``, a pipeline's steps) are nested objects, each with a ``"ref"`` number;
  one met again is written ``{"__ref__": number}``, so a model held twice is stored once.
  scikit-learn estimators (pipeline steps) are stored as skhash's, when their parameters
  and fitted attributes are such values, with the ``"sklearn_version"`` that saved them.
  ``arrays`` gives each array's dtype and shape, which loading checks against the member
  itself;
- ``arrays/<name>.npy``: every array in NumPy's ``.npy`` format (never object arrays), the
  data of each member aligned to 64 bytes in the file so that it can be memory-mapped in
  place (``mmap=True``): loading a billion codes then takes no time and no memory;
- ``blobs/module.pt`` (deep hashers): the network's ``state_dict`` written by
  ``torch.save`` and read with ``torch.load(weights_only=True, map_location="cpu")``; the
  network itself is rebuilt from the hasher's parameters and fitted attributes.

Nothing in a file is ever unpickled or executed: classes are looked up by name among
skhash's own estimators and scikit-learn's estimators only, built from JSON parameters.
Saving writes a temporary file next to ``path``, flushes and fsyncs it, then renames it
over ``path`` (``os.replace``, atomic on POSIX and Windows), so a process killed at any
moment leaves the old file or the new one, never a truncated mix (at worst a stray
``.<name>.*.tmp`` file beside it).
"""

import importlib
import io
import json
import math
import os
import stat
import struct
import tempfile
import types
import zipfile
from numbers import Integral

import numpy as np

__all__ = ["FORMAT_VERSION", "FileFormatError", "load", "save"]

FORMAT = "skhash"
FORMAT_VERSION = 1
MANIFEST = "skhash.json"
_ALIGN = 64  # byte alignment of the .npy data in the file (cache lines, AVX-512 loads)
_MAX_MANIFEST = 256 * 2**20
_PAD_EXTRA_ID = 0xD935  # a private zip extra field holding padding (as Android's zipalign)
_ZIP64_EXTRA = 20  # bytes zipfile appends to a local header written with force_zip64


class FileFormatError(ValueError):
    """A file that is not a skhash file, is damaged, or holds something unexpected."""


class NotSaveableError(TypeError):
    """A value the skhash format cannot represent (a user's module, a callable...)."""


# -- encoding ------------------------------------------------------------------------------
class _Encoder:
    """Turn an object into a JSON tree, collecting its arrays and blobs aside."""

    def __init__(self):
        self.arrays, self.blobs = {}, {}
        # estimators met so far, by id: one object held in two places (a nested model that is
        # both stages of a CoarseToFine) is written once and referred to after
        self.seen = {}

    def add_array(self, array, where):
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in where) or "array"
        base, n = name, 1
        while name in self.arrays:
            n += 1
            name = f"{base}.{n}"
        self.arrays[name] = array
        return name

    def add_blob(self, data, where):
        """Store ``data`` (bytes) as a blob member; returns its name."""
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in where) or "blob"
        base, n = name, 1
        while name in self.blobs:
            n += 1
            name = f"{base}.{n}"
        self.blobs[name] = data
        return name

    def array(self, array, where):
        if array.dtype == object and all(isinstance(v, str) for v in array.flat):
            # strings held as objects (feature_names_in_ of a DataFrame, string labels)
            return {"__strings__": [str(v) for v in array.flat], "shape": list(array.shape)}
        if array.dtype.hasobject:
            raise NotSaveableError(
                f"{where} is an array of Python objects (dtype {array.dtype}), which the skhash "
                "format does not store (it would need pickle)."
            )
        if array.dtype.names is not None:
            raise NotSaveableError(f"{where} is a structured array; it cannot be saved.")
        return {"__array__": self.add_array(array, where)}

    def encode(self, value, where):
        from sklearn.base import BaseEstimator

        from .index import HammingIndex

        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.bool_):
            return {"__scalar__": bool(value), "dtype": "bool"}
        if isinstance(value, np.integer):
            return {"__scalar__": int(value), "dtype": value.dtype.str}
        if isinstance(value, np.floating):
            return {"__scalar__": _float(float(value)), "dtype": value.dtype.str}
        if isinstance(value, Integral):
            return int(value)
        if isinstance(value, float):
            return _float(value)
        if isinstance(value, np.ndarray):
            return self.array(value, where)
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple) and type(value) is tuple:
            if (
                len(value) == 2
                and isinstance(value[0], str)
                and isinstance(value[1], BaseEstimator)
            ):
                # a pipeline's (name, estimator) step: errors name the step
                return {
                    "__tuple__": [value[0], self.encode(value[1], f"{where} step {value[0]!r}")]
                }
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, dict) and type(value) is dict:
            return {
                "__dict__": [
                    [self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        if isinstance(value, slice):
            return {
                "__slice__": [self.encode(v, where) for v in (value.start, value.stop, value.step)]
            }
        if isinstance(value, HammingIndex):
            return {"__index__": value._persist_state(self, where)}
        if isinstance(value, BaseEstimator) and (
            _is_skhash_class(type(value)) or _is_sklearn_class(type(value))
        ):
            if id(value) in self.seen:
                return {"__ref__": self.seen[id(value)][0]}
            # kept alive (and so its id unique) until the encoding ends
            self.seen[id(value)] = (len(self.seen), value)
            node = self.estimator(value, where)
            node["ref"] = self.seen[id(value)][0]
            return node
        if type(value).__module__ == "torch" and type(value).__name__ == "device":
            return {"__device__": str(value)}
        kind = (
            "a callable"
            if isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType))
            or (callable(value) and not isinstance(value, type))
            else f"a {type(value).__module__}.{type(value).__qualname__}"
        )
        raise NotSaveableError(
            f"{where} is {kind} ({_short_repr(value)}), which the skhash format cannot store "
            "without pickle. Use a value it can store (a built-in name, a number, None), or "
            "save with joblib.dump and load that file only if you trust it."
        )

    def estimator(self, estimator, where):
        cls = type(estimator)
        params = estimator.get_params(deep=False)
        encoded_params = {}
        for key, value in params.items():
            if key == "random_state" and isinstance(value, np.random.RandomState):
                raise NotSaveableError(
                    f"{where}: random_state is a RandomState instance, which the skhash format "
                    "does not store; set_params(random_state=<int or None>) first, or save with "
                    "joblib.dump."
                )
            if key == "memory" and value is not None:
                raise NotSaveableError(
                    f"{where}: memory={value!r} is a joblib cache, whose files joblib unpickles; "
                    "a skhash file does not point at one. set_params(memory=None) first."
                )
            encoded_params[key] = self.encode(value, f"{where} parameter {key!r}")
        hook = getattr(estimator, "_persist_attributes", None)
        if not _is_fitted(estimator):
            attributes = {}  # an unfitted estimator (a parameter) is its parameters, as clone()
        elif hook is not None:
            attributes = hook(self, where)
        else:
            attributes = _plain_attributes(estimator)
        encoded = {k: self.encode(v, f"{where} attribute {k}") for k, v in attributes.items()}
        node = {
            "__estimator__": f"{cls.__module__}.{cls.__qualname__}",
            "params": encoded_params,
            "attributes": encoded,
        }
        if _is_sklearn_class(cls):
            import sklearn

            # scikit-learn's fitted attributes may change between its versions (as its own
            # pickles warn): the version is kept to warn on load
            node["sklearn_version"] = sklearn.__version__
        return node


def _is_fitted(estimator):
    """Whether ``estimator`` is fitted (scikit-learn's test: a trailing-underscore attribute,
    or its ``__sklearn_is_fitted__``)."""
    from sklearn.utils.validation import _is_fitted

    return _is_fitted(estimator)


def _plain_attributes(estimator):
    """What an estimator holds beyond its parameters (fitted attributes), minus locks."""
    params = estimator.get_params(deep=False)
    return {k: v for k, v in vars(estimator).items() if k not in params and k != "_lock"}


def _float(x):
    return x if math.isfinite(x) else {"__float__": repr(x)}


def _short_repr(value):
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _is_skhash_class(cls):
    return cls.__module__ == "skhash" or cls.__module__.startswith("skhash.")


def _is_sklearn_class(cls):
    """A scikit-learn estimator (a StandardScaler or PCA step of a pipeline). Its parameters
    and fitted attributes are stored as any others: plain values and numeric arrays only, so
    one holding anything else (a callable, a compiled tree, a RandomState) is refused."""
    return cls.__module__.startswith("sklearn.")


# -- decoding ------------------------------------------------------------------------------
class _Decoder:
    def __init__(self, archive):
        self.archive = archive
        self.refs = {}  # estimators decoded so far, by their "ref" number

    def decode(self, node, where="object"):
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if isinstance(node, list):
            return [self.decode(v, where) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise FileFormatError(
                f"{self.archive.path}: unexpected value in the manifest at {where}."
            )
        tag = next(iter(node))
        body = node[tag]
        if tag == "__array__":
            return self.archive.array(body)
        if tag == "__strings__":
            if not all(isinstance(v, str) for v in body):
                raise FileFormatError(f"{self.archive.path}: damaged string array at {where}.")
            strings = np.empty(len(body), dtype=object)
            strings[:] = body
            return strings.reshape([int(n) for n in node["shape"]])
        if tag == "__tuple__":
            return tuple(self.decode(v, where) for v in body)
        if tag == "__dict__":
            return {_hashable(self.decode(k, where)): self.decode(v, where) for k, v in body}
        if tag == "__scalar__":
            return np.dtype(node["dtype"]).type(self.decode(body, where))
        if tag == "__float__":
            return float(body)
        if tag == "__slice__":
            return slice(*(self.decode(v, where) for v in body))
        if tag == "__device__":
            return str(body)
        if tag == "__index__":
            from .index import HammingIndex

            return HammingIndex._from_persisted(self, body, where)
        if tag == "__estimator__":
            return self.estimator(node, where)
        if tag == "__ref__":
            if not isinstance(body, int) or isinstance(body, bool) or body not in self.refs:
                raise FileFormatError(
                    f"{self.archive.path}: the manifest refers at {where} to an estimator "
                    f"({body!r}) it does not hold before: damaged file."
                )
            return self.refs[body]
        raise FileFormatError(
            f"{self.archive.path}: unknown tag {tag!r} in the manifest at {where}."
        )

    def estimator(self, node, where):
        cls = _resolve_class(node["__estimator__"], self.archive.path)
        params = {k: self.decode(v, f"{where}.{k}") for k, v in node["params"].items()}
        if params.get("memory") is not None:
            # a pipeline's joblib cache folder: refitting would unpickle what it holds
            raise FileFormatError(
                f"{self.archive.path}: {cls.__name__} at {where} names a joblib cache "
                f"(memory={params['memory']!r}), which skhash never writes: refused."
            )
        try:
            estimator = cls(**params)
        except TypeError as exc:
            raise FileFormatError(
                f"{self.archive.path}: the saved parameters of {cls.__name__} do not fit this "
                f"version of skhash ({exc})."
            ) from None
        for name in node["attributes"]:
            member = getattr(cls, name, None)
            if callable(member) or isinstance(member, property):
                # fitted state never shadows the class's methods or properties
                raise FileFormatError(
                    f"{self.archive.path}: the saved state of {cls.__name__} at {where} "
                    f"overrides its {name!r}: refused."
                )
        attributes = {k: self.decode(v, f"{where}.{k}") for k, v in node["attributes"].items()}
        if "sklearn_version" in node:
            _warn_sklearn_version(node["sklearn_version"], cls, self.archive.path)
        hook = getattr(estimator, "_restore_attributes", None)
        if not attributes:
            pass  # an unfitted estimator: its parameters were all it had
        elif hook is not None:
            hook(attributes, self.archive)
        else:
            estimator.__dict__.update(attributes)
        ref = node.get("ref")
        if ref is not None:
            if not isinstance(ref, int) or isinstance(ref, bool) or ref in self.refs:
                raise FileFormatError(f"{self.archive.path}: damaged estimator reference {ref!r}.")
            self.refs[ref] = estimator
        return estimator


def _warn_sklearn_version(saved, cls, path):
    import warnings

    import sklearn
    from sklearn.exceptions import InconsistentVersionWarning

    if saved != sklearn.__version__:
        warnings.warn(
            InconsistentVersionWarning(
                estimator_name=f"{cls.__name__} (in {path})",
                current_sklearn_version=sklearn.__version__,
                original_sklearn_version=saved,
            ),
            stacklevel=4,
        )


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _resolve_class(name, path):
    from sklearn.base import BaseEstimator

    if not isinstance(name, str):
        raise FileFormatError(f"{path}: damaged class name {name!r}.")
    module_name, _, qualname = name.rpartition(".")
    ours = module_name == "skhash" or module_name.startswith("skhash.")
    if not (ours or module_name.startswith("sklearn.")) or qualname.startswith("_"):
        raise FileFormatError(
            f"{path} names the class {name!r}, which is not one of skhash's: refused (only "
            "skhash's classes and scikit-learn's estimators are loaded)."
        )
    try:
        obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise FileFormatError(
            f"{path} holds a {name}, which this version of skhash does not have."
        ) from None
    if not (isinstance(obj, type) and issubclass(obj, BaseEstimator)):
        raise FileFormatError(f"{path} names {name!r}, which is not an estimator: refused.")
    if f"{obj.__module__}.{obj.__qualname__}" != name:
        # a name imported into another module (skhash.base.BaseEstimator): save writes where
        # a class is defined, so an alias is a hand-made file
        raise FileFormatError(f"{path} names {name!r}, an alias of another class: refused.")
    return obj


# -- the archive -----------------------------------------------------------------------------
class _Archive:
    """A skhash file opened for reading: the manifest, then arrays and blobs on demand."""

    def __init__(self, path, mmap):
        self.path, self.mmap = os.fspath(path), mmap
        self._check_start()
        try:
            self.zip = zipfile.ZipFile(self.path, "r")
        except zipfile.BadZipFile:
            raise FileFormatError(
                f"{self.path} is damaged or truncated: its zip directory (at the end of the "
                "file) is missing. skhash's save() never leaves such a file (it replaces the "
                "file only once complete), so it was cut short or changed by something else."
            ) from None
        try:
            info = self.zip.getinfo(MANIFEST)
        except KeyError:
            names = self.zip.namelist()[:3]
            raise FileFormatError(
                f"{self.path} is a zip archive without {MANIFEST} (it holds {names}...): not a "
                "file written by skhash's save(). An .npz of NumPy arrays reads with "
                "numpy.load(path, allow_pickle=False)."
            ) from None
        if info.file_size > _MAX_MANIFEST:
            raise FileFormatError(f"{self.path}: its manifest is implausibly large.")
        try:
            manifest = json.loads(self.zip.read(MANIFEST).decode("utf-8"))
        except (zipfile.BadZipFile, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise FileFormatError(f"{self.path}: its manifest is damaged ({exc}).") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise FileFormatError(f"{self.path}: not a skhash file (its manifest is foreign).")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise FileFormatError(f"{self.path}: invalid format version {version!r}.")
        if version > FORMAT_VERSION:
            raise FileFormatError(
                f"{self.path} was written in skhash format version {version} (by skhash "
                f"{manifest.get('skhash_version')}); this skhash reads versions up to "
                f"{FORMAT_VERSION}: upgrade skhash to load it."
            )
        for key in ("object", "arrays", "blobs"):
            if key not in manifest:
                raise FileFormatError(f"{self.path}: its manifest lacks {key!r}.")
        self.manifest = manifest

    def _check_start(self):
        try:
            with open(self.path, "rb") as f:
                head = f.read(4)
        except IsADirectoryError:
            raise FileFormatError(f"{self.path} is a folder, not a skhash file.") from None
        if head[:2] == b"PK":
            return
        if not head:
            raise FileFormatError(f"{self.path} is empty: not a skhash file.")
        hint = ""
        if head[:1] == b"\x80" or head[:2] in (b"\x78\x01", b"\x78\x9c", b"\x78\xda", b"\x1f\x8b"):
            hint = (
                " It looks like a pickle or joblib file: load it with joblib.load only if you "
                "trust its source (loading a pickle can run any code it holds)."
            )
        elif head == b"\x93NUM":
            hint = " It is a single NumPy .npy array (numpy.load)."
        raise FileFormatError(
            f"{self.path} is not a skhash file (skhash files are zip archives).{hint}"
        )

    def close(self):
        self.zip.close()

    # arrays ---------------------------------------------------------------------------
    def _member(self, name):
        try:
            return self.zip.getinfo(name)
        except KeyError:
            raise FileFormatError(
                f"{self.path} is damaged: its member {name} is missing."
            ) from None

    def array(self, name):
        spec = self.manifest["arrays"].get(name)
        if not isinstance(spec, dict):
            raise FileFormatError(f"{self.path}: array {name!r} is not listed in the manifest.")
        try:
            dtype, shape = np.dtype(spec["dtype"]), tuple(int(n) for n in spec["shape"])
        except (KeyError, TypeError, ValueError):
            raise FileFormatError(
                f"{self.path}: array {name!r} has a damaged description."
            ) from None
        if dtype.hasobject:
            raise FileFormatError(f"{self.path}: array {name!r} claims object dtype: refused.")
        info = self._member(f"arrays/{name}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            raise FileFormatError(
                f"{self.path}: array {name!r} is compressed; skhash stores them."
            )
        with open(self.path, "rb") as f:
            offset = _data_offset(f, info, self.path)
            try:
                version = np.lib.format.read_magic(f)
                header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                file_shape, fortran, file_dtype = header(f)
            except ValueError as exc:
                raise FileFormatError(
                    f"{self.path}: array {name!r} is damaged (not a .npy member: {exc})."
                ) from None
            start = f.tell()
        if file_dtype.hasobject:
            raise FileFormatError(f"{self.path}: array {name!r} holds objects: refused.")
        if file_dtype != dtype or tuple(file_shape) != shape:
            raise FileFormatError(
                f"{self.path}: array {name!r} is {file_dtype}{list(file_shape)} in the file, "
                f"but the manifest says {dtype}{list(shape)}: the file is damaged."
            )
        nbytes = dtype.itemsize * math.prod(shape)
        if start - offset + nbytes != info.file_size:
            raise FileFormatError(
                f"{self.path}: array {name!r} has {info.file_size - (start - offset)} bytes of "
                f"data for {nbytes} expected: the file is damaged."
            )
        order = "F" if fortran else "C"
        if self.mmap and nbytes:
            array = np.memmap(
                self.path, dtype=dtype, mode="r", offset=start, shape=shape, order=order
            )
            return array
        with self.zip.open(info) as member:  # the CRC is checked as the member is read
            try:
                return np.lib.format.read_array(member, allow_pickle=False)
            except (zipfile.BadZipFile, ValueError, OSError) as exc:
                raise FileFormatError(f"{self.path}: array {name!r} is damaged ({exc}).") from None

    def blob(self, name):
        if name not in self.manifest["blobs"]:
            raise FileFormatError(f"{self.path}: {name!r} is not listed in the manifest.")
        try:
            return self.zip.read(f"blobs/{name}")
        except KeyError:
            raise FileFormatError(
                f"{self.path} is damaged: its member blobs/{name} is missing."
            ) from None
        except zipfile.BadZipFile as exc:
            raise FileFormatError(f"{self.path}: blobs/{name} is damaged ({exc}).") from None


def _data_offset(f, info, path):
    """Offset in the file of a stored member's data: after its local header."""
    f.seek(info.header_offset)
    header = f.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise FileFormatError(f"{path} is damaged: bad local header of {info.filename}.")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    offset = info.header_offset + 30 + name_len + extra_len
    f.seek(offset)
    return offset


# -- writing ---------------------------------------------------------------------------------
_UMASK = None


def _new_file_mode(path):
    """The mode the saved file gets: the replaced file's, else 0o666 minus the umask."""
    global _UMASK
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return 0o666 & ~_UMASK


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then replace ``path`` by it.

    The temporary file is flushed and fsynced before ``os.replace``, and the folder is
    fsynced after, so that a crash or a kill at any moment leaves the old file or the new
    one. On any error (KeyboardInterrupt too) the temporary file is removed.
    """
    path = os.path.abspath(os.fspath(path))
    folder, base = os.path.split(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder; save() writes one file.")
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w+b") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        try:
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)


def _write_archive(f, manifest, arrays, blobs):
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_zip_info(MANIFEST), json.dumps(manifest, indent=1, allow_nan=False))
        for name, array in arrays.items():
            member = f"arrays/{name}.npy"
            info = _zip_info(member)
            # pad the local header so the member's data (and so the array, whose .npy header
            # numpy pads to a multiple of 64 bytes) starts 64-byte aligned in the file
            fixed = 30 + len(member.encode()) + 4 + _ZIP64_EXTRA
            pad = -(f.tell() + fixed) % _ALIGN
            info.extra = struct.pack("<HH", _PAD_EXTRA_ID, pad) + bytes(pad)
            with zf.open(info, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(array), allow_pickle=False)
        for name, data in blobs.items():
            zf.writestr(_zip_info(f"blobs/{name}"), data)


def _zip_info(name):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def save(obj, path):
    """Save a skhash estimator or index to ``path`` in skhash's format (see the module)."""
    from . import __version__

    encoder = _Encoder()
    tree = encoder.encode(obj, type(obj).__name__)
    arrays = {
        name: np.ascontiguousarray(a) if not (a.flags.c_contiguous or a.flags.f_contiguous) else a
        for name, a in encoder.arrays.items()
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skhash_version": __version__,
        "object": tree,
        "arrays": {
            name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()
        },
        "blobs": sorted(encoder.blobs),
    }
    atomic_write(path, lambda f: _write_archive(f, manifest, arrays, encoder.blobs))


def load(path, *, mmap=False):
    """Load an estimator or index saved by ``save()``: any hasher, a ``HammingIndex``, a
    ``CoarseToFine``, ``HashingNeighborsTransformer``, ``EmbeddingTransformer`` or
    ``HashingPipeline``.

    Parameters
    ----------
    path : str or path-like
        A file written by the ``save(path)`` method of one of these.
    mmap : bool, default=False
        Memory-map the arrays (codes, ids, labels, model arrays) from the file instead of
        reading them: instant whatever the size, pages shared between processes. The
        arrays are read-only; ``add`` and ``remove`` then work on copies in memory. The
        mapping stays valid when the file is later replaced by another ``save``.

    Returns
    -------
    obj : estimator or HammingIndex
        Searching, transforming and scoring as the saved object did.

    Raises
    ------
    FileFormatError
        (a ``ValueError``) when the file is not a skhash file, is damaged or truncated, was
        written by a newer format version, or names a class that is neither skhash's nor a
        scikit-learn estimator.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> import skhash
    >>> X, y = load_digits(return_X_y=True)
    >>> itq = skhash.ITQ(n_bits=16, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "itq.skhash")
    >>> itq.save(path)
    >>> again = skhash.load(path)
    >>> bool((again.transform(X[:5]) == itq.transform(X[:5])).all())
    True
    """
    archive = _Archive(path, mmap)
    try:
        return _Decoder(archive).decode(archive.manifest["object"])
    except FileFormatError:
        raise
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, RecursionError) as exc:
        raise FileFormatError(
            f"{archive.path}: the manifest is damaged or inconsistent ({type(exc).__name__}: "
            f"{exc})."
        ) from None
    finally:
        archive.close()


def torch_state_bytes(module):
    """``module``'s state dict, on the CPU, as ``torch.save`` bytes."""
    import torch

    state = {k: v.detach().to("cpu") for k, v in module.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def torch_state_from_bytes(data, path):
    """A state dict from :func:`torch_state_bytes`'s bytes, read with ``weights_only``."""
    import torch

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for damaged data
        raise FileFormatError(f"{path}: the network weights are damaged ({exc}).") from None
