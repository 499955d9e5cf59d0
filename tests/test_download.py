"""Tests for colorlab.download against a real local HTTP server (127.0.0.1 only)."""

from __future__ import annotations

import hashlib
import http.server
import importlib
import io
import os
import re
import socket
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from colorlab.download import (
    ChecksumError,
    DatasetSpec,
    DownloadError,
    UnsafeArchiveError,
    download,
)

# The module itself (``colorlab.download`` may be shadowed by the function on the package).
dl = importlib.import_module("colorlab.download")

# --------------------------------------------------------------------- server


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: int | None = None  # one-shot: send only this many body bytes, then close
    ignore_range: bool = False
    not_found: bool = False
    delay: float = 0.0  # seconds to wait before sending a body (to make downloads overlap)
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


class RangeHandler(http.server.BaseHTTPRequestHandler):
    server: StateServer

    def do_GET(self) -> None:  # noqa: N802
        state = self.server.state
        range_header = self.headers.get("Range")
        state.requests.append((self.path, range_header))
        data = state.files.get(self.path)
        if state.not_found or data is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and not state.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.delay:
            time.sleep(state.delay)
        if state.cut_after is not None:
            cut, state.cut_after = state.cut_after, None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # silence
        pass


class StateServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    srv = StateServer(("127.0.0.1", 0), RangeHandler)
    srv.state = ServerState()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        yield srv.state, base
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


# ------------------------------------------------------------------- archives

CONTENTS = {
    "pack/readme.txt": b"hello colorlab\n",
    "pack/sub/noise.bin": os.urandom(300_000),  # big enough to be cut mid-transfer
}


def make_tar(entries: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def all_paths(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


# --------------------------------------------------------------------- happy path


def test_download_verifies_checksum_and_extracts_identical_contents(server, tmp_path):
    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    root = tmp_path / "dl"

    out = download(f"{base}/pack.tar.gz", root, sha256=sha(blob), progress=True)

    assert out == root / "pack"
    # the single top-level "pack/" folder is not nested twice
    assert tree(out) == {k.removeprefix("pack/"): v for k, v in CONTENTS.items()}
    assert (root / "pack.tar.gz").read_bytes() == blob
    assert not (root / "pack.tar.gz.part").exists()
    assert all_paths(root) == {"pack.tar.gz", "pack", "pack/readme.txt", "pack/sub", "pack/sub/noise.bin"}


@pytest.mark.parametrize("kind", ["zip", "tar.bz2", "tar.xz", "tar"])
def test_flat_archives_of_every_kind_are_extracted_into_a_folder_named_after_the_archive(server, tmp_path, kind):
    state, base = server
    flat = {"a.txt": b"A", "d/b.txt": b"B"}
    blob = make_zip(flat) if kind == "zip" else make_tar(flat, "w:" + kind.removeprefix("tar").lstrip("."))
    state.files[f"/flat.{kind}"] = blob
    out = download(f"{base}/flat.{kind}", tmp_path, md5=hashlib.md5(blob).hexdigest(), progress=False)
    assert out == tmp_path / "flat"
    assert tree(out) == flat


def test_no_known_digest_prints_sha256_and_accepts_file(server, tmp_path, capsys):
    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tgz"] = blob
    out = download(f"{base}/pack.tgz", tmp_path, extract=False, progress=False)
    assert out == tmp_path / "pack.tgz" and out.read_bytes() == blob
    assert sha(blob) in capsys.readouterr().out


# ------------------------------------------------------------------ checksums


def test_wrong_sha256_raises_and_keeps_neither_archive_nor_folder(server, tmp_path):
    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as info:
        download(f"{base}/pack.tar.gz", tmp_path, sha256=wrong, progress=False)
    msg = str(info.value)
    assert "pack.tar.gz" in msg and wrong in msg and sha(blob) in msg
    assert isinstance(info.value, ValueError)
    assert all_paths(tmp_path) == set()


def test_wrong_md5_raises_even_when_sha256_matches(server, tmp_path):
    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    with pytest.raises(ChecksumError, match="md5"):
        download(f"{base}/pack.tar.gz", tmp_path, sha256=sha(blob), md5="f" * 32, progress=False)
    assert all_paths(tmp_path) == set()


def test_existing_verified_archive_is_not_downloaded_again(server, tmp_path):
    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    url = f"{base}/pack.tar.gz"
    download(url, tmp_path, sha256=sha(blob), extract=False, progress=False)
    assert state.hits("/pack.tar.gz") == 1
    archive = download(url, tmp_path, sha256=sha(blob), extract=False, progress=False)
    folder = download(url, tmp_path, sha256=sha(blob), progress=False)  # extracts the local file
    assert state.hits("/pack.tar.gz") == 1
    assert archive.read_bytes() == blob
    assert tree(folder)["readme.txt"] == CONTENTS["pack/readme.txt"]


def test_existing_corrupt_archive_is_refused_and_deleted(server, tmp_path):
    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    (tmp_path / "pack.tar.gz").write_bytes(blob[:-10])
    with pytest.raises(ChecksumError):
        download(f"{base}/pack.tar.gz", tmp_path, sha256=sha(blob), progress=False)
    assert all_paths(tmp_path) == set()
    assert state.hits("/pack.tar.gz") == 0


# ------------------------------------------------------------- resumption


def test_interrupted_transfer_keeps_part_and_rerun_resumes_with_range(server, tmp_path):
    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    url = f"{base}/pack.tar.gz"
    cut = 100_000
    state.cut_after = cut

    with pytest.raises(DownloadError, match="re-run the same call to resume") as info:
        download(url, tmp_path, sha256=sha(blob), progress=False)
    assert isinstance(info.value, OSError)
    part = tmp_path / "pack.tar.gz.part"
    assert part.read_bytes() == blob[:cut]
    assert not (tmp_path / "pack.tar.gz").exists() and not (tmp_path / "pack").exists()

    out = download(url, tmp_path, sha256=sha(blob), progress=False)
    assert state.requests[-1] == ("/pack.tar.gz", f"bytes={cut}-")
    assert (tmp_path / "pack.tar.gz").read_bytes() == blob
    assert not part.exists()
    assert tree(out)["sub/noise.bin"] == CONTENTS["pack/sub/noise.bin"]


def test_server_ignoring_range_restarts_cleanly_from_zero(server, tmp_path):
    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    state.ignore_range = True
    (tmp_path / "pack.tar.gz.part").write_bytes(b"GARBAGE" * 1000)  # appending would corrupt

    archive = download(f"{base}/pack.tar.gz", tmp_path, sha256=sha(blob), extract=False, progress=False)
    assert state.requests[-1] == ("/pack.tar.gz", "bytes=7000-")
    assert archive.read_bytes() == blob


def test_complete_part_file_answered_416_is_verified_and_kept(server, tmp_path):
    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    (tmp_path / "pack.tar.gz.part").write_bytes(blob)
    archive = download(f"{base}/pack.tar.gz", tmp_path, sha256=sha(blob), extract=False, progress=False)
    assert archive.read_bytes() == blob
    assert state.requests == [("/pack.tar.gz", f"bytes={len(blob)}-")]


# ------------------------------------------------------------ network errors


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_raises_download_error_explaining_manual_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    url = f"http://127.0.0.1:{closed_port()}/pack.tar.gz"
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path, progress=False, timeout=5)
    msg = str(info.value)
    assert url in msg and "offline" in msg
    assert str(tmp_path / "pack.tar.gz") in msg and "re-run" in msg
    assert all_paths(tmp_path) == set()


def test_manually_placed_archive_is_verified_and_extracted_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    blob = make_tar(CONTENTS)
    (tmp_path / "pack.tar.gz").write_bytes(blob)
    url = f"http://127.0.0.1:{closed_port()}/pack.tar.gz"
    out = download(url, tmp_path, sha256=sha(blob), progress=False)
    assert tree(out)["readme.txt"] == CONTENTS["pack/readme.txt"]


def test_http_404_raises_download_error_and_leaves_nothing(server, tmp_path):
    state, base = server
    state.files["/pack.tar.gz"] = make_tar(CONTENTS)
    state.not_found = True
    with pytest.raises(DownloadError, match="404"):
        download(f"{base}/pack.tar.gz", tmp_path, progress=False)
    assert all_paths(tmp_path) == set()


def test_known_dataset_name_downloads_from_its_registered_url(server, tmp_path, monkeypatch):
    state, base = server
    blob = make_tar({"tiny/x.txt": b"x"})
    state.files["/tiny.tgz"] = blob
    spec = DatasetSpec(url=f"{base}/tiny.tgz", sha256=sha(blob), archive_name="tiny.tgz", folder="tiny")
    monkeypatch.setitem(dl.DATASETS, "tiny", spec)
    out = download("tiny", tmp_path / "data", progress=False)
    assert out == tmp_path / "data" / "tiny"
    assert tree(out) == {"x.txt": b"x"}


def test_imagenette_entries_are_registered_with_torchvision_md5():
    spec = dl.DATASETS["imagenette-160"]
    assert spec.url == "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz"
    assert (spec.archive_name, spec.folder) == ("imagenette2-160.tgz", "imagenette2-160")
    assert spec.md5 == "e793b78cc4c9e9a4ccc0c1155377a412"
    assert dl.DATASETS["imagenette-320"].md5 == "3df6f0d01a2c9592104656642f5e78a3"


@pytest.mark.parametrize("bad", ["not-a-dataset", "ftp://127.0.0.1/a.tgz", "file:///etc/passwd", "http://127.0.0.1/"])
def test_unknown_names_and_non_http_urls_are_rejected(tmp_path, bad):
    with pytest.raises(ValueError):
        download(bad, tmp_path, progress=False)


# ----------------------------------------------------------- unsafe archives


def tar_with(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def malicious_tars(outside: Path) -> dict[str, bytes]:
    return {
        "absolute": tar_with((member(str(outside / "abs.txt")), b"pwned")),
        "dotdot": tar_with((member("ok.txt"), b"fine"), (member("../../outside/evil.txt"), b"pwned")),
        "symlink-etc": tar_with((member("passwd", tarfile.SYMTYPE, "/etc/passwd"), b"")),
        "symlink-outside": tar_with(
            (member("link", tarfile.SYMTYPE, "../../outside"), b""), (member("link/evil.txt"), b"pwned")
        ),
        "symlink-chain": tar_with(
            (member("here", tarfile.SYMTYPE, "."), b""),
            # lexically "here/.." is the destination itself; really it is its parent
            (member("up", tarfile.SYMTYPE, "here/.."), b""),
            (member("up/evil.txt"), b"pwned"),
        ),
        "hardlink-outside": tar_with(
            (member("hl", tarfile.LNKTYPE, "../../outside/secret.txt"), b""), (member("hl"), b"pwned")
        ),
        "device": tar_with((member("null", tarfile.CHRTYPE), b"")),
        "fifo": tar_with((member("fifo", tarfile.FIFOTYPE), b"")),
    }


@pytest.mark.parametrize("data_filter", [True, False], ids=["with-data-filter", "own-checks-only"])
@pytest.mark.parametrize(
    "case",
    ["absolute", "dotdot", "symlink-etc", "symlink-outside", "symlink-chain", "hardlink-outside", "device", "fifo"],
)
def test_malicious_tar_is_refused_and_nothing_is_written(server, tmp_path, monkeypatch, case, data_filter):
    if data_filter and not dl._HAS_DATA_FILTER:
        pytest.skip("this Python has no tarfile data filter")
    monkeypatch.setattr(dl, "_HAS_DATA_FILTER", data_filter)
    state, base = server
    outside = tmp_path / "outside"  # sentinel location next to the download root
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    blob = malicious_tars(outside)[case]
    state.files["/evil.tar.gz"] = blob
    root = tmp_path / "dl"

    with pytest.raises(UnsafeArchiveError) as info:
        download(f"{base}/evil.tar.gz", root, sha256=sha(blob), progress=False)

    assert "evil.tar.gz" in str(info.value) and info.value.member
    assert tree(outside) == {"secret.txt": b"secret"}
    assert all_paths(root) == {"evil.tar.gz"}  # the verified archive, nothing extracted
    assert all_paths(tmp_path) == {"outside", "outside/secret.txt", "dl", "dl/evil.tar.gz"}


@pytest.mark.parametrize("name", ["../evil.txt", "../../outside/evil.txt", "/abs_evil.txt", "a/../../evil.txt"])
def test_malicious_zip_is_refused(server, tmp_path, name):
    state, base = server
    blob = make_zip({"ok.txt": b"fine", name: b"pwned"})
    state.files["/evil.zip"] = blob
    root = tmp_path / "dl"
    (tmp_path / "outside").mkdir()
    with pytest.raises(UnsafeArchiveError, match=re.escape(repr(name))):
        download(f"{base}/evil.zip", root, sha256=sha(blob), progress=False)
    assert all_paths(tmp_path) == {"outside", "dl", "dl/evil.zip"}


def test_safe_internal_symlink_is_extracted(server, tmp_path):
    state, base = server
    blob = tar_with(
        (member("d/real.txt"), b"data"),
        (member("d/alias.txt", tarfile.SYMTYPE, "real.txt"), b""),
    )
    state.files["/links.tar.gz"] = blob
    out = download(f"{base}/links.tar.gz", tmp_path, sha256=sha(blob), progress=False)
    assert (out / "d" / "alias.txt").is_symlink()
    assert (out / "d" / "alias.txt").read_bytes() == b"data"


# ------------------------------------------------------------ bombs, disk, lock


def bomb(kind: str, unpacked: int) -> bytes:
    zeros = b"\0" * unpacked
    if kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("bomb/zeros.bin", zeros)
        return buf.getvalue()
    return make_tar({"bomb/zeros.bin": zeros})


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_decompression_bomb_is_refused_before_it_is_written(server, tmp_path, monkeypatch, kind):
    state, base = server
    monkeypatch.setattr(dl, "_MIN_UNPACKED_LIMIT", 0)  # judge the 4 MB test bomb by the expansion rule alone
    blob = bomb(kind, 4_000_000)
    ratio = 4_000_000 / len(blob)
    assert ratio > dl.MAX_EXPANSION  # zeros compress far more than 100x
    state.files[f"/bomb.{kind}"] = blob
    root = tmp_path / "dl"
    with pytest.raises(UnsafeArchiveError, match=r"decompression bomb.*max_unpacked_bytes") as info:
        download(f"{base}/bomb.{kind}", root, sha256=sha(blob), progress=False)
    assert info.value.member == "bomb/zeros.bin"
    assert all_paths(root) == {f"bomb.{kind}"}  # the verified archive, nothing unpacked, no lock left
    # The way out: a caller who trusts the archive raises the limit.
    out = download(f"{base}/bomb.{kind}", root, sha256=sha(blob), progress=False, max_unpacked_bytes=5_000_000)
    assert (out / "zeros.bin").stat().st_size == 4_000_000


def test_an_ordinary_archive_passes_the_expansion_rule(server, tmp_path, monkeypatch):
    state, base = server
    monkeypatch.setattr(dl, "_MIN_UNPACKED_LIMIT", 0)
    blob = make_tar(CONTENTS)  # random bytes: about 1x
    state.files["/pack.tar.gz"] = blob
    out = download(f"{base}/pack.tar.gz", tmp_path, sha256=sha(blob), progress=False)
    assert tree(out) == {k.removeprefix("pack/"): v for k, v in CONTENTS.items()}


def test_an_archive_larger_than_the_free_disk_space_is_refused_with_enospc(server, tmp_path, monkeypatch):
    import errno
    import shutil as sh

    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    real = sh.disk_usage
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: real(p)._replace(free=100_000))
    with pytest.raises(OSError, match="free some space") as info:
        download(f"{base}/pack.tar.gz", tmp_path / "dl", sha256=sha(blob), progress=False)
    assert info.value.errno == errno.ENOSPC
    assert all_paths(tmp_path / "dl") == {"pack.tar.gz"}


def test_two_downloads_into_one_root_take_turns_and_fetch_once(server, tmp_path, capfd):
    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    state.delay = 1.0  # the first transfer is still running when the second call starts
    root = tmp_path / "dl"
    results: list[Path | BaseException] = []

    def run() -> None:
        try:
            results.append(download(f"{base}/pack.tar.gz", root, sha256=sha(blob), progress=False))
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    threads[0].start()
    time.sleep(0.3)
    threads[1].start()
    for t in threads:
        t.join(30)
    assert len(results) == 2 and all(isinstance(r, Path) for r in results), results
    assert results[0] == results[1] == root / "pack"
    assert state.hits("/pack.tar.gz") == 1
    assert tree(root / "pack") == {k.removeprefix("pack/"): v for k, v in CONTENTS.items()}
    assert "pack.tar.gz: another colorlab download is writing it; waiting" in capfd.readouterr().err
    assert all_paths(root) >= {"pack.tar.gz", "pack"} and not any(p.endswith(".lock") for p in all_paths(root))


# ------------------------------------------------------------------ the command


def test_colorlab_download_command_fetches_verifies_and_unpacks(server, tmp_path, capsys):
    from colorlab.cli import main

    state, base = server
    blob = make_tar(CONTENTS)
    state.files["/pack.tar.gz"] = blob
    root = tmp_path / "datasets"
    assert main(["download", f"{base}/pack.tar.gz", "--root", str(root), "--sha256", sha(blob), "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == str(root / "pack")
    assert (root / "pack" / "readme.txt").read_bytes() == CONTENTS["pack/readme.txt"]
    wrong = "0" * 64
    state.files["/other.tar.gz"] = blob
    assert main(["download", f"{base}/other.tar.gz", "--root", str(root), "--sha256", wrong, "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other.tar.gz" in err[0] and not (root / "other").exists()
