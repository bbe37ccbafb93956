"""Driving a server with wrk from its own process, and reading wrk's figures back."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# wrk sends one request shape per case, given by a Lua script: method, headers and body; a create
# numbers its names so that every request makes a new dataset.
SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
{headers}
local counter = 0
local thread_tag = tostring(math.random(1, 1000000000))
{request}
done = function(summary, latency, requests)
  io.write(string.format("LAT %f %f\\n", latency:percentile(50), latency:percentile(99)))
end
"""
UNIQUE_REQUEST = """
request = function()
  counter = counter + 1
  local body = string.gsub(wrk.body, "@N@", thread_tag .. "_" .. counter)
  return wrk.format(nil, nil, nil, body)
end
"""

# Every other request is a write (a create with a fresh name) and the others read the URL given: each read
# follows a write, so a cache of the list can never answer it.
ALTERNATE_REQUEST = """
local write_body = [==[@BODY@]==]
request = function()
  counter = counter + 1
  if counter % 2 == 1 then
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["Content-Type"] = "application/json"
    local body = string.gsub(write_body, "@N@", thread_tag .. "_" .. counter)
    return wrk.format("POST", "@PATH@", headers, body)
  end
  return wrk.format("GET", nil, nil, nil)
end
"""


@dataclass(frozen=True)
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def ensure_wrk() -> str:
    """The wrk binary, installed from Debian's packages when it is missing (the bench runs as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    return found


def _lua(method: str, headers: dict[str, str], body: str | None, unique: bool,
         write: tuple[str, str] | None = None) -> str:
    quoted = "nil" if body is None else "[==[" + body + "]==]"
    lines = "\n".join(f'wrk.headers["{name}"] = [==[{value}]==]' for name, value in headers.items())
    request = UNIQUE_REQUEST if unique else ""
    if write is not None:
        request = ALTERNATE_REQUEST.replace("@BODY@", write[1]).replace("@PATH@", write[0])
    return SCRIPT.format(method=method, body=quoted, headers=lines, request="@REQUEST@").replace("@REQUEST@", request)


def run_wrk(url: str, *, method: str = "GET", headers: dict[str, str] | None = None, body: str | None = None,
            unique: bool = False, seconds: float = 5.0, connections: int = 16, threads: int = 1,
            write: tuple[str, str] | None = None) -> Figures:
    """Load `url` for `seconds` and return what wrk measured; non-2xx/3xx answers count as errors.

    With `write` (a path and a JSON body with `@N@` where a unique number goes), every other request is
    that POST instead.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(method, headers or {}, body, unique, write))
    try:
        done = subprocess.run([ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s",
                               "--timeout", "10s", "-s",
                               script.name, url], capture_output=True, text=True, check=True)
    finally:
        Path(script.name).unlink()
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(part) for part in socket_errors.groups())
    p50, p99 = (float(v) / 1000 for v in re.search(r"LAT ([\d.]+) ([\d.]+)", out).groups())  # type: ignore[union-attr]
    return Figures(rps=rps, p50_ms=p50, p99_ms=p99, requests=total, errors=failed)
