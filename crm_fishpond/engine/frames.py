"""A frame of numbers, dates and text as text and back, bit for bit: how a fan-out stores what a
chunk computed for a later step to read (the purchase summaries a full rescore fits on, the pairs
the duplicate pass combines).

:func:`pack_frame` writes each number or date column's values as little-endian bytes (int64,
float64 or datetime64[ns]; NaN and NaT included) and each text column as a JSON array of its strings
(None for missing), compresses them with zlib and encodes the result in base64, under a short JSON
header that names the columns, their types and sizes. :func:`unpack_frame` gives back the same
columns with the same dtypes and values (the index is not kept: a plain range). Text, not bytes, so
that it fits a database's text column. Only numpy's own number types and JSON are read and written:
no pickle, so unpacking text from the database runs no code.
"""

from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pandas as pd

from .errors import EngineInputError

FORMAT = "frame2"
_KINDS = {"i": "<i8", "u": "<i8", "b": "<i8", "f": "<f8", "M": "<M8[ns]"}
TEXT = "text"


def pack_frame(frame: pd.DataFrame) -> str:
	"""``frame``'s columns (numbers, booleans as 0/1, datetime64[ns], text) as one line of text."""
	columns, parts = [], []
	for name in frame.columns:
		values = frame[name].to_numpy()
		if values.dtype.kind in "OUS" or isinstance(frame[name].dtype, pd.StringDtype):
			part = _text_part(name, values)
			dtype = TEXT
		else:
			dtype = _KINDS.get(values.dtype.kind)
			if dtype is None or (values.dtype.kind == "M" and values.dtype != np.dtype("datetime64[ns]")):
				raise EngineInputError(
					f"column {name!r} ({values.dtype}) is not a number, a datetime64[ns] or text"
				)
			part = np.ascontiguousarray(values.astype(dtype, copy=False)).tobytes()
		columns.append([str(name), dtype, len(part)])
		parts.append(part)
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
		for name, dtype, size in meta["columns"]:
			if dtype == TEXT:
				values = json.loads(raw[offset : offset + size])
				if not isinstance(values, list) or len(values) != rows:
					raise ValueError(f"column {name!r} does not have {rows} values")
				column = np.empty(rows, dtype=object)
				column[:] = values
				data[name] = column
			elif dtype in _KINDS.values() and size == rows * np.dtype(dtype).itemsize:
				data[name] = np.frombuffer(raw, dtype=dtype, count=rows, offset=offset).copy()
			else:
				raise ValueError(f"column {name!r}: unknown type {dtype!r} or wrong size")
			offset += size
		if offset != len(raw):
			raise ValueError("the data does not match its header")
	except (ValueError, TypeError, KeyError, AttributeError, zlib.error) as e:
		raise EngineInputError(f"not a packed frame: {e}") from None
	return pd.DataFrame(data, index=pd.RangeIndex(rows), columns=[c[0] for c in meta["columns"]])


def _text_part(name, values: np.ndarray) -> bytes:
	texts = [None if v is None or (isinstance(v, float) and v != v) else v for v in values.tolist()]
	if not all(v is None or isinstance(v, str) for v in texts):
		raise EngineInputError(f"column {name!r} holds values that are neither text nor missing")
	return json.dumps(texts, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
