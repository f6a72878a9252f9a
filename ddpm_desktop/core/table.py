"""Columns of numbers as a CSV file: what "Save data as CSV…" on a plot writes.

`csv_text(columns)`: columns are (header, 1-D array) pairs of any lengths (a histogram's bin
edges are one longer than its densities): one header row naming each quantity, then one row
per index, a shorter column left empty below its end. Numbers are written with `repr`, so
they read back to the same float64 (nan and inf as "nan", "inf", which numpy and pandas read).
`write_csv(path, columns)` writes it atomically (core.files).
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .files import atomic_write_bytes


def csv_text(columns: Sequence[tuple[str, np.ndarray]]) -> str:
    if not columns:
        raise ValueError("no data to write")
    arrays = [np.asarray(values, dtype=np.float64).ravel() for _, values in columns]
    n = max(len(a) for a in arrays)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([name for name, _ in columns])
    for i in range(n):
        writer.writerow([repr(float(a[i])) if i < len(a) else "" for a in arrays])
    return buf.getvalue()


def write_csv(path: str | os.PathLike, columns: Sequence[tuple[str, np.ndarray]]) -> Path:
    return atomic_write_bytes(path, csv_text(columns).encode("utf-8"))


def read_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """{header: float64 array without the empty cells} of a file `write_csv` wrote."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return {name: np.array([float(r[j]) for r in body if j < len(r) and r[j] != ""])
            for j, name in enumerate(header)}
