"""``checkpoints fetch`` / ``verify`` against a real HTTP server on loopback (``http.server`` in a thread).

Covered: a download that records its digest in the lock file, a resumed partial download (HTTP Range), a sha256
mismatch refused with nothing left on disk, the fallback to a checkpoint's second URL, and Google Drive's
confirm-token handshake. The Drive case is a SIMULATION: requests to ``https://*.google.com`` are routed to the
loopback server, which answers the way Drive answers a large file (an HTML "can't scan for viruses" page whose
form carries the confirm token, then the file once the token is sent). No test touches the network.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
import requests
import yaml
from typer.testing import CliRunner

from allinone_bench.cli import app
from allinone_bench.errors import CheckpointError
from allinone_bench.model import lockfile
from allinone_bench.model.fetch import DownloadFailed, fetch_checkpoint
from allinone_bench.model.hub import load_registry, resolve_checkpoint

PAYLOAD = os.urandom(1_300_000)  # a few of gdown's 512 KiB chunks
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
DRIVE_ID = "1SimulatedDriveFileId000000000000"
UUID = "5c1e2a7e-0000-4000-8000-000000000000"


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)  # "/files/NAME" -> bytes
    truncate_once: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before dropping the line
    log: list[dict[str, str]] = field(default_factory=list)


def _interstitial(file_name: str) -> bytes:
    """What Drive returns for a file too large to virus-scan (its real page, reduced to the parts a client reads)."""
    return (f'<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>'
            f'<div class="uc-main"><div id="uc-text"><p class="uc-warning-caption">Google Drive can\'t scan this '
            f'file for viruses.</p><p class="uc-warning-subcaption"><span class="uc-name-size"><a href="/open?id='
            f'{DRIVE_ID}">{file_name}</a> (1.2M)</span> is too large for Google to scan for viruses. Would you '
            f'still like to download this file?</p>\n<form id="download-form" action="https://drive.usercontent.'
            f'google.com/download" method="get"><input type="submit" id="uc-download-link" value="Download anyway"/>'
            f'<input type="hidden" name="id" value="{DRIVE_ID}"><input type="hidden" name="export" value="download">'
            f'<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="{UUID}"></form>'
            f'</div></div></body></html>\n').encode()


def _handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            host = self.headers.get("X-Simulated-Host", self.headers.get("Host", ""))
            state.log.append({"host": host, "path": parts.path, "query": parts.query,
                              "range": self.headers.get("Range", "")})
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if host == "drive.google.com" and parts.path == "/uc" and query.get("id") == DRIVE_ID:
                return self._send(200, _interstitial("all-in-one-ti.ckpt"), "text/html; charset=utf-8")
            if host == "drive.usercontent.google.com" and parts.path == "/download":
                if query.get("confirm") != "t" or query.get("uuid") != UUID:
                    return self._send(200, _interstitial("all-in-one-ti.ckpt"), "text/html; charset=utf-8")
                return self._send_file(PAYLOAD, parts.path, disposition='attachment; filename="all-in-one-ti.ckpt"')
            if parts.path in state.files:
                return self._send_file(state.files[parts.path], parts.path)
            return self._send(404, b"not found", "text/plain")

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _send_file(self, data: bytes, path: str, disposition: str | None = None) -> None:
            etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            start = 0
            ranged = self.headers.get("Range", "")
            if ranged.startswith("bytes=") and self.headers.get("If-Range", etag) == etag:
                start = int(ranged[len("bytes="):].split("-")[0])
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("ETag", etag)
            self.send_header("Accept-Ranges", "bytes")
            if disposition:
                self.send_header("Content-Disposition", disposition)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            body = data[start:]
            cut = state.truncate_once.pop(path, None) if not start else None
            try:
                if cut is not None:  # announce everything, send part, drop the connection
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client closed a response it did not want
                pass

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    state = ServerState()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def ckpt_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "ckpts"
    monkeypatch.setenv("ALLINONE_BENCH_CKPT_DIR", str(folder))
    return folder


def _registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, urls: list[str], sha: str | None) -> Path:
    path = tmp_path / "my-checkpoints.yaml"
    path.write_text(yaml.safe_dump({"checkpoints": [{
        "name": "tiny", "variant": "ti", "urls": urls, "file": "tiny.ckpt", "sha256": sha}]}))
    monkeypatch.setenv("ALLINONE_BENCH_CHECKPOINTS_FILE", str(path))
    return path


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_fetch_records_the_digest_then_verifies_against_it(server: tuple[str, ServerState], ckpt_dir: Path,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, state = server
    state.files["/files/tiny.ckpt"] = PAYLOAD
    _registry(tmp_path, monkeypatch, [f"{base}/files/tiny.ckpt"], None)
    with pytest.raises(CheckpointError, match="allinone-bench checkpoints fetch tiny"):  # nothing implicit
        resolve_checkpoint("tiny")
    assert state.log == []

    runner = CliRunner()
    result = runner.invoke(app, ["checkpoints", "fetch", "tiny", "--quiet"])
    assert result.exit_code == 0, result.output
    assert DIGEST in result.output and "lock" in result.output  # printed so it can go into checkpoints.yaml
    assert (ckpt_dir / "tiny.ckpt").read_bytes() == PAYLOAD
    assert lockfile.read_lock()["tiny"].sha256 == DIGEST
    assert resolve_checkpoint("tiny").verified_against == "lock file"

    again = runner.invoke(app, ["checkpoints", "fetch", "tiny", "--quiet"])
    assert again.exit_code == 0 and "present" in again.output and len(state.log) == 1  # no second download

    ok = runner.invoke(app, ["checkpoints", "verify", "--json"])
    assert ok.exit_code == 0, ok.output
    assert "ok (lock file)" in ok.output

    (ckpt_dir / "tiny.ckpt").write_bytes(PAYLOAD[:-1] + b"\0")  # corrupt it on disk
    bad = runner.invoke(app, ["checkpoints", "verify"], env={"COLUMNS": "200"})
    assert bad.exit_code == 1
    assert "tiny" in bad.output and "MISMATCH (lock file)" in bad.output

    # the server now holds other bytes: a fresh download is checked against the recorded digest and refused
    (ckpt_dir / "tiny.ckpt").unlink()
    state.files["/files/tiny.ckpt"] = PAYLOAD[::-1]
    refused = runner.invoke(app, ["checkpoints", "fetch", "tiny", "--quiet"])
    assert refused.exit_code == 1 and not (ckpt_dir / "tiny.ckpt").exists()
    assert "hash" in refused.output.lower()


def test_interrupted_download_resumes_with_a_range_request(server: tuple[str, ServerState], ckpt_dir: Path,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, state = server
    state.files["/files/tiny.ckpt"] = PAYLOAD
    state.truncate_once["/files/tiny.ckpt"] = 900_000  # the line drops in the middle of the second chunk
    entry = load_registry(_registry(tmp_path, monkeypatch, [f"{base}/files/tiny.ckpt"], DIGEST))["tiny"]
    with pytest.raises(DownloadFailed, match="incomplete"):
        fetch_checkpoint(entry, quiet=True, log=lambda _: None)
    partial = [p for p in _files(ckpt_dir) if p.name.endswith(".part")]
    assert len(partial) == 1
    kept = partial[0].stat().st_size  # whole chunks received before the drop
    assert 0 < kept <= 900_000 and partial[0].read_bytes() == PAYLOAD[:kept]
    assert not (ckpt_dir / "tiny.ckpt").exists()

    result = fetch_checkpoint(entry, quiet=True, log=lambda _: None)
    assert result.status == "downloaded" and result.verified_against == "checkpoints.yaml"
    assert (ckpt_dir / "tiny.ckpt").read_bytes() == PAYLOAD
    assert any(r["range"] == f"bytes={kept}-" for r in state.log), state.log
    assert _files(ckpt_dir) == [ckpt_dir / "tiny.ckpt"]  # the partial file was consumed


def test_hash_mismatch_is_refused_and_nothing_is_left(server: tuple[str, ServerState], ckpt_dir: Path,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, state = server
    state.files["/files/tiny.ckpt"] = PAYLOAD
    wrong = hashlib.sha256(b"another release").hexdigest()
    entry = load_registry(_registry(tmp_path, monkeypatch, [f"{base}/files/tiny.ckpt"], wrong))["tiny"]
    with pytest.raises(DownloadFailed, match="does not match"):
        fetch_checkpoint(entry, quiet=True, log=lambda _: None)
    assert len(state.log) == 1  # it was downloaded, then refused
    assert _files(ckpt_dir) == []  # neither the file, nor a temporary, nor a partial


def test_second_url_is_used_when_the_first_fails(server: tuple[str, ServerState], ckpt_dir: Path,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, state = server
    state.files["/mirror/tiny.ckpt"] = PAYLOAD
    urls = [f"{base}/gone/tiny.ckpt", f"{base}/mirror/tiny.ckpt"]
    entry = load_registry(_registry(tmp_path, monkeypatch, urls, DIGEST))["tiny"]
    messages: list[str] = []
    result = fetch_checkpoint(entry, quiet=True, log=messages.append)
    assert result.url == urls[1] and (ckpt_dir / "tiny.ckpt").read_bytes() == PAYLOAD
    assert [r["path"] for r in state.log] == ["/gone/tiny.ckpt", "/mirror/tiny.ckpt"]
    assert any("404" in m and urls[0] in m for m in messages), messages


def test_google_drive_confirm_token_handshake_simulated(server: tuple[str, ServerState], ckpt_dir: Path,
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIMULATION of Google Drive: https requests to *.google.com go to the loopback server, which serves the
    virus-scan interstitial (confirm token in its form) and the file only for a request carrying that token."""
    base, state = server
    loopback = urlsplit(base).netloc
    real_send = requests.adapters.HTTPAdapter.send

    def send_to_loopback(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest,
                         **kwargs: object) -> requests.Response:
        parts = urlsplit(request.url or "")
        if parts.hostname and parts.hostname.endswith("google.com"):
            request.headers["X-Simulated-Host"] = parts.hostname
            request.url = urlunsplit(("http", loopback, parts.path, parts.query, ""))
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send_to_loopback)
    view_link = f"https://drive.google.com/file/d/{DRIVE_ID}/view"  # the form checkpoints.yaml lists
    entry = load_registry(_registry(tmp_path, monkeypatch, [view_link], DIGEST))["tiny"]
    result = fetch_checkpoint(entry, quiet=True, log=lambda _: None)
    assert result.status == "downloaded" and (ckpt_dir / "tiny.ckpt").read_bytes() == PAYLOAD
    hosts = [(r["host"], r["path"]) for r in state.log]
    assert hosts[0] == ("drive.google.com", "/uc")  # the interstitial
    assert ("drive.usercontent.google.com", "/download") in hosts[1:]
    confirmed = next(r for r in state.log if r["path"] == "/download")
    assert f"uuid={UUID}" in confirmed["query"] and "confirm=t" in confirmed["query"]
