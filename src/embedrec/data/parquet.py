"""A Parquet file read one column at a time, numbers a row group at a time.

A ratings file of 25M rows is five columns of 100-200 MB. Reading a whole column through Arrow
and converting it to numpy holds it twice, and Arrow's allocator (mimalloc) keeps the freed
pages for itself: 170 MB that stayed resident under everything `embedrec train` did after the
load. A number column is instead copied into its numpy array one row group (about a million
rows) at a time, so Arrow only ever holds a row group's buffers, and reuses them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


class ParquetColumns:
    """A Parquet file whose columns are read one at a time, when first asked for."""

    def __init__(self, parquet: pq.ParquetFile):
        self.parquet = parquet
        self.column_names = list(parquet.schema_arrow.names)
        self.num_rows = parquet.metadata.num_rows

    def column(self, name: str) -> pa.ChunkedArray:
        return self.parquet.read(columns=[name]).column(0)

    def numbers(self, name: str) -> np.ndarray | None:
        """An integer or floating-point column without nulls as one numpy array (the dtype
        Arrow's `to_numpy` gives), filled a row group at a time; None for any other column
        (text, dates, nulls), which `column` reads whole."""
        kind = self.parquet.schema_arrow.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            return None
        values = np.empty(self.num_rows, dtype=kind.to_pandas_dtype())
        start = 0
        for group in range(self.parquet.num_row_groups):
            part = self.parquet.read_row_group(group, columns=[name]).column(0)
            if part.null_count:
                return None
            values[start : start + len(part)] = part.to_numpy()
            start += len(part)
        return values if start == self.num_rows else None
