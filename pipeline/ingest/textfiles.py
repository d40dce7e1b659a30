"""Generic inputs: plain text files (`text`) and JSON Lines (`jsonl`), any compression.

`text`: one document per file (unit "file") or per line (unit "line"). `jsonl`: one document
per line, the text in `text_field`, the id in `id_field` (else <file>:<line>); string fields
named url, title, timestamp and lang fill the metadata of the same name.

Skips: empty_text; `truncated` (a file or line cut short by the end of a compressed file);
jsonl: bad_json (the line is not a JSON object; its file:line is in `errors`),
missing_text_field, non_string_text. A text field missing from every record of a file is an
error naming the file and the field (InputError), not a file read as zero documents: it is a
wrong `text_field` far more often than a file without text.

Not datatrove's JsonlReader: it logs and drops a line that is not JSON or has no text, where
these count it under a reason (records_read == documents + skipped, as for every source).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from datatrove.data import Document
from resiliparse.parse.encoding import bytes_to_str

from pipeline.errors import InputError
from pipeline.formats.inputs import Cut, iter_lines, read_all
from pipeline.ingest.readers import CountingReader, Skip, relative_names

JSON_METADATA = ("url", "title", "timestamp", "lang")
PREFLIGHT_LINES = 100  # records of each file checked for the text and id fields before work starts


@dataclass
class Line:
    path: str
    lineno: int  # 1-based
    data: bytes


def decode(data: bytes) -> str:
    """UTF-8, falling back to cp1252 for old 8-bit files (resiliparse, as for WET records);
    CRLF and CR line ends become LF. bytes.decode first: bytes_to_str costs ~3 us a call,
    which is most of the time of a one-line record."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = bytes_to_str(data, "utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def line_records(path: str, lines: Iterable[bytes | Cut], skip_blank: bool = True) -> Iterator[Line | Skip]:
    """Line records of `iter_lines(path)`, numbered from 1; a cut ends them with a Skip, counted
    `truncated` when it left half a line."""
    for lineno, line in enumerate(lines, 1):
        if isinstance(line, Cut):
            yield Skip("truncated" if line.tail.strip() else None,
                       f"{path}: unreadable from uncompressed byte {line.offset} (line {lineno}); "
                       f"lines before it kept: {line.message}")
            return
        if skip_blank and not line.strip():
            continue
        yield Line(path, lineno, line)


def parse_json(reader: CountingReader, line: Line) -> dict | str:
    """The line's JSON object, or `bad_json` with the file:line in the reader's errors."""
    try:
        obj = json.loads(line.data)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        reader.error(f"{line.path}:{line.lineno}: not JSON ({exc})")
        return "bad_json"
    if not isinstance(obj, dict):
        reader.error(f"{line.path}:{line.lineno}: a JSON {type(obj).__name__}, not an object")
        return "bad_json"
    return obj


class TextReader(CountingReader):
    """Plain text files, one document each (id <source>/<file below the common directory>)
    or one per line (unit "line", id <source>/<file>:<line>; blank lines count as empty_text)."""

    name = "📖 Text files"

    def __init__(self, files, source: str, limit: int = -1, lang: str | None = None, unit: str = "file"):
        super().__init__(files, source, limit, lang)
        if unit not in ("file", "line"):
            raise ValueError(f"unit: expected 'file' or 'line', got {unit!r}")
        self.unit = unit
        self.names = relative_names(self.files)

    def records(self, path: str) -> Iterator[str | Line | Skip]:
        if self.unit == "file":
            yield path  # read by the task that converts it
        else:
            yield from line_records(path, iter_lines(path), skip_blank=False)

    def convert(self, record: str | Line) -> Document | str:
        if isinstance(record, Line):
            text, native_id = decode(record.data).strip(), f"{self.names[record.path]}:{record.lineno}"
        else:
            data, cut = read_all(record)
            if cut:
                self.error(f"{record}: cut short at uncompressed byte {cut.offset}; file skipped: {cut.message}")
                return "truncated"
            text, native_id = decode(data).strip(), self.names[record]
        if not text:
            return "empty_text"
        return self.document(text, native_id)


class JsonlReader(CountingReader):
    """JSON Lines, one document per line (blank lines are no records)."""

    name = "📖 JSON Lines"

    def __init__(self, files, source: str, limit: int = -1, lang: str | None = None,
                 text_field: str = "text", id_field: str | None = None):
        super().__init__(files, source, limit, lang)
        self.text_field = text_field
        self.id_field = id_field
        self.names = relative_names(self.files)
        self._with_field: Counter[str] = Counter()  # per file, among the records this task converts
        self._without_field: Counter[str] = Counter()
        self._keys_seen: dict[str, set] = {}

    def records(self, path: str) -> Iterator[Line | Skip]:
        yield from line_records(path, iter_lines(path))
        # run() has converted the file's last record by now
        if self._without_field[path] and not self._with_field[path]:
            raise InputError(missing_field_message(path, self.text_field, self._keys_seen[path]))

    def convert(self, line: Line) -> Document | str:
        obj = parse_json(self, line)
        if isinstance(obj, str):
            return obj
        if self.text_field not in obj:
            self._without_field[line.path] += 1
            self._keys_seen.setdefault(line.path, set()).update(obj)
            return "missing_text_field"
        self._with_field[line.path] += 1
        text = obj[self.text_field]
        if text is not None and not isinstance(text, str):
            return "non_string_text"
        if not text or not (text := text.strip()):
            return "empty_text"
        native = obj.get(self.id_field) if self.id_field else None
        metadata = {k: obj[k] for k in JSON_METADATA if isinstance(obj.get(k), str)}
        metadata["lang"] = self.lang or metadata.get("lang")
        return self.document(text, f"{self.names[line.path]}:{line.lineno}" if native is None else str(native),
                             **metadata)


def missing_field_message(path: str | Path, field: str, keys: Iterable[str], what: str = "text") -> str:
    shown = ", ".join(sorted(keys)[:12]) or "none"
    return f"{path}: no record has the {what} field {field!r} (fields found: {shown}); set {what}_field"


def check_jsonl(path: Path, text_field: str, id_field: str | None) -> None:
    """Preflight: the file's first records are JSON objects and some have the text field (and
    the id field, when one is set)."""
    objects, keys = 0, set()
    found = {text_field: False, id_field: id_field is None}
    for record in line_records(str(path), iter_lines(path)):
        if isinstance(record, Skip):
            break
        try:
            obj = json.loads(record.data)
        except ValueError:
            continue
        if isinstance(obj, dict):
            objects += 1
            keys.update(obj)
            for name in found:
                found[name] = found[name] or name in obj
        if objects == PREFLIGHT_LINES:
            break
    if not objects:
        raise InputError(f"{path}: no JSON object in its first lines: not a JSON Lines file")
    for name, what in ((text_field, "text"), (id_field, "id")):
        if not found[name]:
            raise InputError(missing_field_message(path, name, keys, what)
                             + f" (checked the first {objects} records)")
