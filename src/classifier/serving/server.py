"""`classifier serve`: a thin HTTP endpoint for a help-desk tool that wants a triage answer the moment a
mail arrives, on the standard library's server (no web framework, one process, the model loaded once).

    POST /score (also /invocations, MLflow's path)  {"dataframe_split": {"columns": [...], "data": [...]}}
                                                    or {"dataframe_records": [{...}, ...]}
        → 200 {"predictions": [{column: value, ...}, ...]}: one object per row, in request order, the
          columns of `classifier score` (unscored numbers as null); the rows of one request are one
          batch (follow-ups linked, queue numbered within it)
    GET /health (also /ping)  → 200 {"status": "ok", "model_version": ...}

The request format is MLflow's serving input, so a client can switch between this and `mlflow models
serve` unchanged. Requests are answered on threads, but scoring holds a lock: a MeCab tagger must
never be used by two threads at once (it gives wrong tokens, ENGINEERING_NOTES); for more throughput
run one server per core behind a balancer. Bodies over `max_request_bytes` are refused (413), bad
JSON or a body that is no table gets 400 naming the problem; nothing of the text is logged.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd

from classifier.config import SlaConfig
from classifier.serving.score import Scorer, score_request

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 16 * 2**20


class RequestError(ValueError):
    """A request that is not a table of inquiries in MLflow's serving format."""


def request_table(payload: Any) -> pd.DataFrame:
    """The rows of a serving request (`dataframe_split` or `dataframe_records`) as a frame."""
    if not isinstance(payload, dict):
        raise RequestError("the body must be a JSON object with 'dataframe_split' or 'dataframe_records'")
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        if (
            not isinstance(split, dict)
            or not isinstance(split.get("columns"), list)
            or not isinstance(split.get("data"), list)
        ):
            raise RequestError("'dataframe_split' must have a 'columns' list and a 'data' list of rows")
        if any(not isinstance(row, list) or len(row) != len(split["columns"]) for row in split["data"]):
            raise RequestError("every row of 'dataframe_split.data' must be a list as long as 'columns'")
        return pd.DataFrame(split["data"], columns=split["columns"], dtype=object)
    if "dataframe_records" in payload:
        records = payload["dataframe_records"]
        if not isinstance(records, list) or any(not isinstance(r, dict) for r in records):
            raise RequestError("'dataframe_records' must be a list of objects")
        return pd.DataFrame.from_records(records).astype(object)
    raise RequestError("the body must have 'dataframe_split' or 'dataframe_records'")


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def predictions(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = list(frame.columns)
    return [dict(zip(columns, map(_json_value, row))) for row in zip(*(frame[c].tolist() for c in columns))]


class TriageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        scorer: Scorer,
        sla: SlaConfig,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ):
        super().__init__(address, _Handler)
        self.scorer, self.sla, self.max_request_bytes = scorer, sla, max_request_bytes
        self.lock = threading.Lock()  # one MeCab tagger, one thread at a time

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        with self.lock:
            return score_request(self.scorer, frame, self.sla)


class _Handler(BaseHTTPRequestHandler):
    server: TriageServer
    protocol_version = "HTTP/1.1"  # keep-alive: a client's next mail does not pay a new connection
    # Headers and body leave in two writes: with Nagle's algorithm the body waits for the client's
    # delayed ACK of the headers, about 40 ms a request on Linux (measured: p50 72 ms with, see below).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path in ("/health", "/ping"):
            self._send(HTTPStatus.OK, {"status": "ok", "model_version": self.server.scorer.version})
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": "unknown path; POST /score or GET /health"})

    def do_POST(self) -> None:
        if self.path not in ("/score", "/invocations"):
            self._send(HTTPStatus.NOT_FOUND, {"error": "unknown path; POST /score or GET /health"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.server.max_request_bytes:
            self.close_connection = True
            self._send(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE if length > 0 else HTTPStatus.BAD_REQUEST,
                {"error": f"Content-Length must be 0..{self.server.max_request_bytes} bytes"},
            )
            return
        try:
            frame = request_table(json.loads(self.rfile.read(length).decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, RequestError) as error:
            # the parser's message names a position, never the text
            self._send(HTTPStatus.BAD_REQUEST, {"error": f"not a serving request: {error}"})
            return
        self._send(HTTPStatus.OK, {"predictions": predictions(self.server.score(frame))})

    def _send(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8", "backslashreplace")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)  # method, path, status: no content


def serve(scorer: Scorer, sla: SlaConfig, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Answer until interrupted."""
    with TriageServer((host, port), scorer, sla) as server:
        log.info(
            "serving %s on http://%s:%d (POST /score, GET /health)",
            scorer.version,
            host,
            server.server_address[1],
        )
        server.serve_forever()
