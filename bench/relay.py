"""The second hop alone, for bench/files_bench.py: a minimal ASGI app served as the API is
(uvicorn, uvloop, httptools, the API's protocol options) that relays a raw body to the
S3 server and an object back, the same way the desk's own code does (one streamed PUT
to a URL obstore signs, sent with httpx; obstore's streamed get in 1 MiB pieces), with
no credential, sealing, hashing, ticket or limits. What any design that passes a file
through an API process costs on the machine the bench runs on. ``/sealed/{key}`` also
seals and hashes the body on its way up, and opens it on its way down (``?size=`` the
file's), as the desk does (a key of its own): the second hop and sealing, without the
ticket.

    .venv/bin/python bench/relay.py PORT   (TEMPODESK_S3_BUCKET and _ENDPOINT set)
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import httpx
import obstore
import uvicorn
from obstore.store import S3Store
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.file_store import READ_CHUNK_BYTES, SIGNED_PUT_VALID
from activities.sealed_file import FileSealer
from api.limits import uvicorn_options
from desk.files import SEND_BYTES


def relay_app(store: S3Store) -> Starlette:
    http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None))
    sealer = FileSealer({"relay": os.urandom(32)}, "relay")

    async def put(request: Request) -> Response:
        url = await obstore.sign_async(store, "PUT", request.path_params["key"],
                                       SIGNED_PUT_VALID)
        body, length = request.stream(), int(request.headers["content-length"])
        if request.url.path.startswith("/sealed/"):
            body = sealer.seal(body, READ_CHUNK_BYTES, hashlib.sha256())
            length = sealer.sealed_size(length)
        answer = await http.put(url, content=body, headers={"Content-Length": str(length)})
        return Response("{}", status_code=201 if answer.status_code < 300 else 502)

    async def get(request: Request) -> Response:
        got = await obstore.get_async(store, request.path_params["key"])
        chunks, size = got.stream(min_chunk_size=READ_CHUNK_BYTES), got.meta["size"]
        if request.url.path.startswith("/sealed/"):  # opened as the desk opens a file
            chunks, size = sealer.open(chunks, SEND_BYTES), int(request.query_params["size"])
        return StreamingResponse(chunks, headers={"Content-Length": str(size)})

    return Starlette(routes=[Route("/relay/{key}", put, methods=["POST"]),
                             Route("/sealed/{key}", put, methods=["POST"]),
                             Route("/relay/{key}", get, methods=["GET"]),
                             Route("/sealed/{key}", get, methods=["GET"])])


if __name__ == "__main__":
    store = S3Store(os.environ["TEMPODESK_S3_BUCKET"],
                    endpoint=os.environ["TEMPODESK_S3_ENDPOINT"], access_key_id="local",
                    secret_access_key="local", region="us-east-1",
                    client_options={"allow_http": True}, unsigned_payload=True)
    uvicorn.run(relay_app(store), host="127.0.0.1", port=int(sys.argv[1]),
                log_level="warning", access_log=False, loop="uvloop", **uvicorn_options())
