"""The playground's defences, attack by attack, against a real socket: foreign Host (DNS rebinding), cross-site
requests, body types, the token, path traversal, oversized bodies, and the headers on every answer."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from conftest import need

need("starlette", "playground")
need("uvicorn", "playground")
from starlette.datastructures import Headers  # noqa: E402

from glassnet.playground import security  # noqa: E402
from glassnet.playground.security import Policy  # noqa: E402

TOKEN = "s3cret-Token_for.tests~1"
EVIL = "http://attacker.example"


def request(server, method, path, body=b"", headers=None, host=None):
    """(status, headers, decoded JSON or bytes) of one request on a new connection; ``host`` is the Host header
    (default 127.0.0.1:PORT, as a browser on the printed URL sends)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    hdrs = {"Host": host or f"127.0.0.1:{server.port}", **(headers or {})}
    conn.request(method, path, body=body if method != "GET" else None, headers=hdrs)
    resp = conn.getresponse()
    payload = b"" if path.endswith("/stream") and resp.status == 200 else resp.read()
    conn.close()
    kind = resp.getheader("Content-Type") or ""
    return resp.status, resp.headers, json.loads(payload) if "json" in kind else payload


def refused(server, method, path, status, **kw):
    """The one-line JSON error of a request that must be refused with ``status``."""
    got, _, out = request(server, method, path, **kw)
    assert got == status and isinstance(out, dict) and set(out) == {"error"}, (got, out)
    assert "\n" not in out["error"]
    return out["error"]


def same_origin(server, content_type="application/json"):
    return {"Origin": f"http://127.0.0.1:{server.port}", "Content-Type": content_type}


@pytest.fixture(scope="module")
def sid(playground):
    status, _, frame = request(playground, "POST", "/api/lab", b"{}", same_origin(playground))
    assert status == 201
    return frame["session"]


@pytest.fixture(scope="module")
def guarded():
    """A playground on 127.0.0.1 with the token forced on (as off loopback), answering to box.local too."""
    from glassnet.playground import make_server

    with make_server([], "127.0.0.1", 0, allow_hosts=["box.local"], token=TOKEN) as server:
        yield server


def not_training(server):
    status, _, out = request(server, "GET", "/api/train")
    return status == 200 and out["status"]["status"] not in ("starting", "running")


GETS = ["/", "/playground", "/train", "/static/style.css", "/static/js/common.js", "/api/health", "/api/models",
        "/api/models/mlp/layers/0/units", "/api/digits/test", "/api/lab/{sid}", "/api/lab/{sid}/stream",
        "/api/lab/{sid}/model.npz", "/api/train", "/api/train/stream"]
POSTS = ["/api/predict", "/api/lab", "/api/lab/{sid}/state", "/api/lab/{sid}/action", "/api/lab/{sid}/points",
         "/api/lab/{sid}/csv", "/api/lab/{sid}/model", "/api/train", "/api/train/stop"]


# ----------------------------------------------------------------------------- Host: DNS rebinding
@pytest.mark.parametrize("path", GETS)
def test_a_foreign_host_reads_nothing(playground, sid, path):
    path = path.format(sid=sid)
    for host in (f"attacker.example:{playground.port}", f"127.0.0.1.attacker.example:{playground.port}",
                 f"localhost:{playground.port + 1}", "localhost"):
        error = refused(playground, "GET", path, 403, host=host)
        assert error.startswith(f"host {host!r} is not this playground")
    assert request(playground, "GET", path if "stream" not in path else "/api/health")[0] == 200


@pytest.mark.parametrize("path", POSTS)
def test_a_foreign_host_changes_nothing(playground, sid, path):
    path = path.format(sid=sid)
    body = b'{"preset": "nielsen", "epochs": 1}'
    headers = same_origin(playground) | {"Origin": f"http://attacker.example:{playground.port}"}
    refused(playground, "POST", path, 403, body=body, headers=headers, host=f"attacker.example:{playground.port}")
    assert not_training(playground)


def test_the_loopback_names_and_allowed_hosts_are_answered(playground, guarded):
    for host in (f"localhost:{playground.port}", f"LOCALHOST:{playground.port}", f"127.0.0.1:{playground.port}",
                 f"[::1]:{playground.port}"):
        assert request(playground, "GET", "/api/health", host=host)[0] == 200
    auth = {"Authorization": f"token {TOKEN}"}
    assert request(guarded, "GET", "/api/health", headers=auth, host="box.local")[0] == 200
    assert request(guarded, "GET", "/api/health", headers=auth, host=f"box.local.:{guarded.port}")[0] == 200
    refused(guarded, "GET", "/api/health", 403, headers=auth, host="other.local")  # the host before the token


def test_a_request_without_a_host_is_refused(playground):
    import socket

    with socket.create_connection(("127.0.0.1", playground.port), timeout=30) as sock:
        sock.sendall(b"GET /api/health HTTP/1.0\r\n\r\n")  # HTTP/1.0 may leave Host out (1.1 may not)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 ") and json.loads(body) == {
        "error": "the request names no host (a Host header is required)"}


def test_host_rules():
    p = Policy("127.0.0.1", 8000, ("Box.Local.",))
    assert p.allow_hosts == ("box.local",)
    assert security.host_error("localhost:8000", p) is None and security.host_error("[0::1]:8000", p) is None
    assert security.host_error("box.local:3000", p) is None  # a name the user allowed, behind a proxy's port
    for bad in ("localhost:8001", "localhost", "evil.example:8000", "localhost:8000@evil", "[::1", None, ""):
        assert security.host_error(bad, p) is not None, bad
    wild = Policy("0.0.0.0", 8000)
    assert security.host_error("192.168.1.20:8000", wild) is None  # an address: never a rebinding name
    assert security.host_error("192.168.1.20:8000", p) is not None and security.host_error("lan.example:8000", wild)
    v6 = Policy("::1", 80)
    assert security.host_error("[::1]:80", v6) is None and security.host_error("[::1]", v6) is None
    with pytest.raises(ValueError, match="--allow-host expects a host name"):
        Policy("127.0.0.1", 8000, ("http://box.local/",))


# ----------------------------------------------------------------------------- cross-site requests
@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_a_cross_origin_post_starts_nothing(playground, sid, content_type):
    body = b'{"preset": "nielsen", "epochs": 1}'
    for origin in (EVIL, "null", f"http://localhost:{playground.port + 1}", f"http://127.0.0.1:{playground.port}.evil",
                   f"ws://127.0.0.1:{playground.port}"):
        for path in POSTS:
            error = refused(playground, "POST", path.format(sid=sid), 403, body=body,
                            headers={"Origin": origin, "Content-Type": content_type})
            assert error.startswith(f"cross-origin request from {origin!r} refused")
    assert not_training(playground)


def test_a_post_without_origin_must_say_same_origin(playground, sid):
    path = f"/api/lab/{sid}/action"
    body = b'{"action": "step"}'
    for site in ("cross-site", "same-site", "none"):
        error = refused(playground, "POST", path, 403, body=body,
                        headers={"Sec-Fetch-Site": site, "Content-Type": "application/json"})
        assert error.startswith(f"{site} request refused (Sec-Fetch-Site)")
    error = refused(playground, "POST", path, 403, body=body, headers={"Content-Type": "application/json"})
    assert "without Origin or Sec-Fetch-Site" in error and f"Origin: http://127.0.0.1:{playground.port}" in error
    before = request(playground, "GET", f"/api/lab/{sid}")[2]["epoch"]
    status, _, frame = request(playground, "POST", path, body,
                               {"Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"})
    assert status == 200 and frame["epoch"] == before + 1  # what a browser sends from the page itself


def test_the_event_streams_are_same_origin_only(playground, sid):
    for path in (f"/api/lab/{sid}/stream", "/api/train/stream"):
        refused(playground, "GET", path, 403, headers={"Origin": EVIL})
        refused(playground, "GET", path, 403, headers={"Sec-Fetch-Site": "cross-site"})
        refused(playground, "GET", path, 403)
        status, headers, _ = request(playground, "GET", path, headers={"Sec-Fetch-Site": "same-origin"})
        assert status == 200 and headers["Content-Type"].startswith("text/event-stream")


def test_same_origin_use_works_under_every_loopback_name(playground):
    for name in ("localhost", "127.0.0.1", "[::1]"):
        origin = f"http://{name}:{playground.port}"
        status, _, frame = request(playground, "POST", "/api/lab", b'{"state": {"hidden": [3]}}',
                                   {"Origin": origin, "Content-Type": "application/json; charset=utf-8"},
                                   host=f"{name}:{playground.port}")
        assert status == 201 and frame["state"]["hidden"] == [3]


def test_each_endpoint_takes_its_own_body_type_only(playground, sid):
    json_body = b'{"action": "step"}'
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = same_origin(playground, kind) if kind else {"Origin": f"http://127.0.0.1:{playground.port}"}
        error = refused(playground, "POST", f"/api/lab/{sid}/action", 415, body=json_body, headers=headers)
        assert error.endswith(f"takes Content-Type: application/json, got {kind or 'none'}")
    for path, own in ((f"/api/lab/{sid}/csv", "text/csv"), (f"/api/lab/{sid}/model", "application/octet-stream")):
        for kind in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
            error = refused(playground, "POST", path, 415, body=b"1,2,0\n", headers=same_origin(playground, kind))
            assert f"takes Content-Type: {own}, got {kind}" in error
    status, _, frame = request(playground, "POST", f"/api/lab/{sid}/csv", b"1,2,0\n-1,-2,1\n",
                               same_origin(playground, "text/csv"))
    assert status == 200 and frame["state"]["dataset"] == "custom"


def test_origin_and_body_type_rules():
    assert security.changes_state("POST", "/api/lab") and security.changes_state("DELETE", "/")
    assert security.changes_state("GET", "/api/train/stream") and not security.changes_state("GET", "/api/train")
    ok = Headers({"origin": "http://localhost:8000"})
    assert security.origin_error(ok, "localhost:8000") is None
    assert security.origin_error(ok, "127.0.0.1:8000") is not None  # another origin, though the same machine
    assert security.origin_error(Headers({"origin": "http://localhost:8000/x"}), "localhost:8000") is not None
    assert security.origin_error(Headers({"origin": "https://box.example"}), "box.example") is None  # a TLS proxy
    assert security.origin_error(Headers({"sec-fetch-site": "same-origin"}), "x:1") is None
    assert security.body_types("/api/lab/abc/csv") == ("text/csv",)
    assert security.body_types("/api/lab/abc/model") == ("application/octet-stream",)
    assert security.body_types("/api/lab/abc/state") == security.body_types("/api/csv") == ("application/json",)


# ----------------------------------------------------------------------------- the token
def test_no_token_no_answer(guarded):
    for path in ("/", "/static/style.css", "/api/health", "/api/train/stream"):
        for headers in ({}, {"Cookie": f"glassnet-token-{guarded.port}=wrong"}, {"Authorization": "token wrong"},
                        {"Cookie": f"glassnet-token-{guarded.port + 1}={TOKEN}"}, {"Authorization": TOKEN}):
            error = refused(guarded, "GET", path, 401, headers=headers)
            assert "needs its token" in error and TOKEN not in error
        refused(guarded, "GET", path + "?token=wrong", 401)
        refused(guarded, "GET", path + f"?token={TOKEN[:-1]}", 401)
    refused(guarded, "POST", "/api/lab", 401, body=b"{}", headers=same_origin(guarded))


def test_the_token_in_the_url_becomes_a_cookie(guarded):
    status, headers, _ = request(guarded, "GET", f"/playground?token={TOKEN}&dataset=xor")
    assert status == 303 and headers["Location"] == "/playground?dataset=xor"  # the clean URL
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"glassnet-token-{guarded.port}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert request(guarded, "GET", f"/?token={TOKEN}")[1]["Location"] == "/"
    jar = {"Cookie": f"other=1; glassnet-token-{guarded.port}={TOKEN}"}
    status, _, page = request(guarded, "GET", "/playground", headers=jar)
    assert status == 200 and b"<html" in page
    status, _, frame = request(guarded, "POST", "/api/lab", b"{}", same_origin(guarded) | jar)
    assert status == 201 and "session" in frame
    refused(guarded, "POST", "/api/lab", 403, body=b"{}", headers={"Origin": EVIL, "Content-Type": "text/plain"} | jar)
    status, _, out = request(guarded, "GET", f"/api/health?token={TOKEN}")  # a script: answered, no redirect
    assert status == 200 and out["status"] == "ok"
    assert request(guarded, "GET", "/api/health", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200


def test_token_rules():
    assert Policy.for_bind("127.0.0.1", 1).token is None and Policy.for_bind("localhost", 1).token is None
    made = {Policy.for_bind("0.0.0.0", 1).token for _ in range(3)}
    assert len(made) == 3 and all(t and len(t) >= 32 for t in made)  # a new one each run
    assert Policy.for_bind("::", 1, token="mine").token == "mine"
    assert security.token_matches(TOKEN, TOKEN) and not security.token_matches(TOKEN + "x", TOKEN)
    assert not security.token_matches(None, TOKEN) and not security.token_matches("", TOKEN)
    for bad in ("", "two words", "a;b", "x" * 257, "é"):
        with pytest.raises(ValueError, match="--token must be 1 to 256 letters"):
            security.check_token(bad)


# ----------------------------------------------------------------------------- files, sizes, headers
@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py",
                                  "/static/js/..%2f..%2fapp.py", "/static/%2e%2e%2f%2e%2e%2fio.py",
                                  "/static/..%5capp.py", "/static/%2fetc%2fpasswd", "/static//etc/passwd",
                                  "/static/js/../../security.py"])
def test_no_path_escapes_the_static_folder(playground, path):
    status, _, out = request(playground, "GET", path)
    assert status in (400, 404) and isinstance(out, dict) and set(out) == {"error"}, (status, out)
    assert "import" not in json.dumps(out) and "root:" not in json.dumps(out)


def test_an_oversized_body_gets_its_413_read_by_urllib(playground, sid):
    origin = f"http://127.0.0.1:{playground.port}"
    for path, kind, size, limit in (("/api/predict", "application/json", 5 << 20, "1,048,576"),
                                    (f"/api/lab/{sid}/csv", "text/csv", 6 << 20, "4,194,304")):
        req = urllib.request.Request(playground.url + path.lstrip("/"), data=b" " * size,
                                     headers={"Content-Type": kind, "Origin": origin})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=30)
        assert info.value.code == 413
        expected = f"request body of {size:,} bytes is over the limit of {limit}"
        assert json.loads(info.value.read()) == {"error": expected}
    req = urllib.request.Request(playground.url + "api/predict", data=b" " * (5 << 20),  # refused before the app
                                 headers={"Content-Type": "text/plain", "Origin": EVIL})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 403 and "cross-origin" in json.loads(info.value.read())["error"]
    assert request(playground, "GET", "/api/health")[0] == 200


@pytest.mark.parametrize(("method", "path", "headers"), [
    ("GET", "/", {}), ("GET", "/train", {}), ("GET", "/static/js/common.js", {}), ("GET", "/api/models", {}),
    ("GET", "/api/nowhere", {}), ("GET", "/api/train/stream", {"Sec-Fetch-Site": "same-origin"}),
    ("GET", "/api/health", {"Host": "attacker.example"}), ("POST", "/api/train", {"Origin": EVIL})])
def test_every_answer_carries_the_security_headers(playground, method, path, headers):
    host = headers.pop("Host", None)
    _, got, _ = request(playground, method, path, b"{}", headers, host=host)
    csp = got["Content-Security-Policy"]
    assert csp.startswith("default-src 'self';") and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert got["X-Content-Type-Options"] == "nosniff" and got["Referrer-Policy"] == "no-referrer"
    assert got["X-Frame-Options"] == "DENY"


def test_the_pages_have_no_inline_script_or_style():
    from glassnet.playground.app import PAGES, STATIC

    for name in PAGES.values():
        html = (STATIC / name).read_text()
        scripts = re.findall(r"<script[^>]*>", html)
        assert scripts and all(' src="/static/js/' in tag for tag in scripts)
        assert "style=" not in html and "<style" not in html and "javascript:" not in html
        assert not re.search(r"\son[a-z]+\s*=", html)  # no onclick= and the like (the CSP refuses them too)


# ----------------------------------------------------------------------------- the command line
def run_cli(*args):
    code = f"import sys\nfrom glassnet.cli import main\nsys.exit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_command_checks_its_new_options_in_one_line():
    out = run_cli("playground", "--no-browser", "--token", "two words")
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert out.stderr.startswith("glassnet playground: error: --token must be 1 to 256 letters")
    out = run_cli("playground", "--no-browser", "--allow-host", "box.local", "--allow-host", "http://x/")
    assert out.returncode == 1 and out.stderr == (
        "glassnet playground: error: --allow-host expects a host name or address such as box.local or "
        "192.168.1.20, got 'http://x/'\n")


def test_the_printed_url_carries_the_token(digit_models, tmp_path):
    import os
    import signal

    digit_models["mlp"].save(tmp_path / "digits.npz")
    env = {k: v for k, v in os.environ.items() if k != "GLASSNET_DATA_DIR"}
    proc = subprocess.Popen([sys.executable, "-m", "glassnet.cli", "playground", str(tmp_path / "digits.npz"),
                             "--port", "0", "--no-browser", "--token", TOKEN], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()  # the process prints this line first, or exits (then it is empty)
        match = re.fullmatch(r"serving on (http://127\.0\.0\.1:\d+/)\?token=(\S+)\n", first)
        assert match and match.group(2) == TOKEN, first
        with urllib.request.urlopen(f"{match.group(1)}api/health?token={TOKEN}", timeout=10) as r:
            assert json.loads(r.read())["models"] == ["digits"]
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(match.group(1) + "api/health", timeout=10)
        assert info.value.code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the playground did not stop within 20 s")
    assert proc.returncode == 0
