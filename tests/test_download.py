"""Downloads against a throw-away HTTP server on the loopback interface (no outside network)."""
import functools
import hashlib
import http.server
import json
import threading
import zipfile

import pytest

from mmsr.checks import ChecksumError, DataNotFoundError
from mmsr.data import download


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _zip(path, inner="nirscene1"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{inner}/urban/0004_nir.txt", "fake")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pinned_checksum_ok_then_cached(server, tmp_path):
    served, url = server
    digest = _zip(served / "a.zip")
    root = tmp_path / "root"
    p = download.fetch_file(f"{url}/a.zip", root, "a.zip", digest, progress=False)
    assert p.read_bytes() == (served / "a.zip").read_bytes()
    (served / "a.zip").unlink()  # a second call uses the verified cache
    assert download.fetch_file(f"{url}/a.zip", root, "a.zip", digest, progress=False) == p


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    served, url = server
    _zip(served / "a.zip")
    root = tmp_path / "root"
    with pytest.raises(ChecksumError, match="does not match"):
        download.fetch_file(f"{url}/a.zip", root, "a.zip", "0" * 64, progress=False)
    assert not (root / "a.zip").exists()


def test_corrupted_cache_detected_and_removed(server, tmp_path):
    served, url = server
    digest = _zip(served / "a.zip")
    root = tmp_path / "root"
    p = download.fetch_file(f"{url}/a.zip", root, "a.zip", digest, progress=False)
    p.write_bytes(p.read_bytes()[:-10])  # a partial file
    with pytest.raises(ChecksumError, match="corrupt or partial"):
        download.fetch_file(f"{url}/a.zip", root, "a.zip", digest, progress=False)
    assert not p.exists()


def test_trust_on_first_use_records_hash(server, tmp_path):
    served, url = server
    digest = _zip(served / "a.zip")
    root = tmp_path / "root"
    download.fetch_file(f"{url}/a.zip", root, "a.zip", None, progress=False)
    assert json.loads((root / download.CHECKSUM_FILE).read_text())["a.zip"] == digest
    (root / "a.zip").write_bytes(b"tampered")
    with pytest.raises(ChecksumError):
        download.fetch_file(f"{url}/a.zip", root, "a.zip", None, progress=False)


def test_missing_url_is_a_clear_error(server, tmp_path):
    _, url = server
    with pytest.raises(DataNotFoundError, match="download it by hand"):
        download.fetch_file(f"{url}/absent.zip", tmp_path, "absent.zip", None, progress=False)


def test_unpack_checks_archive(tmp_path):
    good = tmp_path / "g.zip"
    _zip(good)
    dest = download.unpack(good, tmp_path / "data" / "nirscene1")
    assert (dest / "urban" / "0004_nir.txt").read_text() == "fake"
    bad = tmp_path / "b.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ChecksumError, match="not a valid zip"):
        download.unpack(bad, tmp_path / "data2" / "x")
    assert not (tmp_path / "data2" / "x").exists()


def test_unknown_dataset():
    with pytest.raises(ValueError, match="no download"):
        download.fetch("ulb17vt", "/tmp")
