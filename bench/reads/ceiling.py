"""The ceiling of the read bench: a bare aiohttp app answering fixed bytes from memory.

    python -m bench.reads.ceiling PORT FOLDER

Every file FOLDER/<case>.body (with FOLDER/<case>.type holding its content type) is served at
/<case> for any method, with nothing else in the way: no middleware, no database, no JSON. What the
server reaches against this, on the same machine in the same run, is the fraction the table shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web


def ceiling_app(folder: Path) -> web.Application:
    """An app serving each recorded body of `folder` at /<case>."""
    app = web.Application()
    for body in sorted(folder.glob("*.body")):
        payload = body.read_bytes()
        content_type = body.with_suffix(".type").read_text().strip() or "application/json"

        async def answer(_request: web.Request, payload: bytes = payload, content_type: str = content_type
                         ) -> web.Response:
            return web.Response(body=payload, content_type=content_type.split(";")[0])

        app.router.add_route("*", f"/{body.stem}", answer)
    return app


if __name__ == "__main__":
    web.run_app(ceiling_app(Path(sys.argv[2])), host="127.0.0.1", port=int(sys.argv[1]), print=None,
                access_log=None)
