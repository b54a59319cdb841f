"""A frame of numbers and dates as text and back, bit for bit: how a fan-out stores what a chunk
computed for a later step to read (the purchase summaries a full rescore fits on).

:func:`pack_frame` writes each column's values as little-endian bytes (int64, float64 or
datetime64[ns]; NaN and NaT included), compresses them with zlib and encodes the result in base64,
under a short JSON header that names the columns and their types. :func:`unpack_frame` gives back the
same columns with the same dtypes and values (the index is not kept: a plain range). Text, not
bytes, so that it fits a database's text column. Only numpy's own number types are read and written:
no pickle, so unpacking text from the database runs no code.
"""

from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pandas as pd

from .errors import EngineInputError

FORMAT = "frame1"
_KINDS = {"i": "<i8", "u": "<i8", "b": "<i8", "f": "<f8", "M": "<M8[ns]"}


def pack_frame(frame: pd.DataFrame) -> str:
	"""``frame``'s columns (numbers, booleans as 0/1, datetime64) as one line of text."""
	columns, parts = [], []
	for name in frame.columns:
		values = frame[name].to_numpy()
		dtype = _KINDS.get(values.dtype.kind)
		if dtype is None or (values.dtype.kind == "M" and values.dtype != np.dtype("datetime64[ns]")):
			raise EngineInputError(f"column {name!r} ({values.dtype}) is not a number or a datetime64[ns]")
		columns.append([str(name), dtype])
		parts.append(np.ascontiguousarray(values.astype(dtype, copy=False)).tobytes())
	header = json.dumps({"format": FORMAT, "rows": len(frame), "columns": columns}, separators=(",", ":"))
	body = base64.b64encode(zlib.compress(b"".join(parts), 1)).decode("ascii")
	return header + "\n" + body


def unpack_frame(text: str) -> pd.DataFrame:
	"""The frame :func:`pack_frame` wrote (columns, dtypes and values; a range index)."""
	try:
		header, _, body = text.partition("\n")
		meta = json.loads(header)
		if meta.get("format") != FORMAT:
			raise ValueError(f"unknown format {meta.get('format')!r}")
		rows = int(meta["rows"])
		raw = zlib.decompress(base64.b64decode(body, validate=True))
		data, offset = {}, 0
		for name, dtype in meta["columns"]:
			if dtype not in _KINDS.values():
				raise ValueError(f"unknown column type {dtype!r}")
			size = rows * np.dtype(dtype).itemsize
			data[name] = np.frombuffer(raw, dtype=dtype, count=rows, offset=offset).copy()
			offset += size
		if offset != len(raw):
			raise ValueError("the data does not match its header")
	except (ValueError, TypeError, KeyError, AttributeError, zlib.error) as e:
		raise EngineInputError(f"not a packed frame: {e}") from None
	return pd.DataFrame(data, index=pd.RangeIndex(rows), columns=[c for c, _ in meta["columns"]])
