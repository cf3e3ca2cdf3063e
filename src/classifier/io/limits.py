"""Per-record limits of batch scoring (params.yaml `limits:`): past one, that record gets an `error`
and the rest of the batch is scored. They exist because each guards a real failure of one record
taking down a whole batch (docs/reliability.md): MeCab crashes the process on a text of about a
million characters, a deeply nested MIME tree exhausts the parser's recursion, a huge mail fills a
worker's memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from classifier.io.mail import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH


@dataclass(frozen=True)
class Limits:
    max_mail_bytes: int = DEFAULT_MAX_BYTES  # a mail file or mbox message larger than this is not parsed
    max_mime_depth: int = DEFAULT_MAX_DEPTH  # multipart nesting deeper than this is not read (real mail: 3-4 levels)
    max_text_chars: int = 100_000  # a subject or body longer than this is not scored (MeCab dies at about 10^6)
    max_field_chars: int = 10_000_000  # a CSV field longer than this makes the file unreadable as a whole

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Limits:
        """The `limits:` section of params.yaml; keys it leaves out keep the defaults above."""
        section = params.get("limits") or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ValueError(f"params.yaml limits: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        values = {name: int(value) for name, value in section.items()}
        if any(value < 1 for value in values.values()):
            raise ValueError("params.yaml limits: every limit must be a positive number")
        return cls(**values)
