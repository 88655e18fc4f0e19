#!/usr/bin/env python3
"""An HTTP proxy in front of a registry that misbehaves on purpose, for the registry tests.

Listens on 127.0.0.1 (port written to --port-file) and forwards every request to --upstream
(http:// or https://, verified with --ca). Every request is appended to --log as
"METHOD PATH host=HOST auth=AUTHORIZATION range=RANGE". Blob GETs (/v2/.../blobs/sha256:...) are changed
by --mode:
  pass           unchanged
  corrupt        one byte of the body flipped (same length)
  truncate-once  the first blob GET without Range sends half the body, then closes
  stall          blob GETs send half the body, log "STALLED", then hang until killed
  drop-layers    blob GETs of gzip data (layers), and every later GET of the same blob, resumed
                 or not, answer 200 with half the body, then close: JSON blobs (configs, cache
                 entries) pass, layers never arrive
  redirect       answered 307 to http://localhost:PORT/direct/<path> (another host name); the
                 /direct/ path is served from upstream with --upstream-auth, like a presigned URL
"""
import argparse
import http.client
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOB = re.compile(r"^/v2/.+/blobs/sha256:[0-9a-f]{64}$")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "host", "content-length"}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--ca", default="")
    p.add_argument("--upstream-auth", default="")
    p.add_argument("--mode", default="pass")
    p.add_argument("--log", required=True)
    args = p.parse_args()
    up = urllib.parse.urlparse(args.upstream)
    lock = threading.Lock()
    state = {"truncated": False, "port": 0, "dropped": set()}

    def connect():
        if up.scheme == "https":
            ctx = ssl.create_default_context(cafile=args.ca or None)
            return http.client.HTTPSConnection(up.hostname, up.port, context=ctx, timeout=60)
        return http.client.HTTPConnection(up.hostname, up.port, timeout=60)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def log(self, line):
            with lock, open(args.log, "a") as f:
                f.write(line + "\n")

        def handle_any(self):
            auth = self.headers.get("Authorization", "")
            self.log(f"{self.command} {self.path} host={self.headers.get('Host', '')} "
                     f"auth={auth or '-'} range={self.headers.get('Range', '-')}")
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length) if length else None
            path = self.path
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            path_only = urllib.parse.urlparse(path).path
            is_blob_get = self.command == "GET" and BLOB.match(path_only)
            if args.mode == "redirect" and is_blob_get:
                self.send_response(307)
                self.send_header("Location",
                                 f"http://localhost:{state['port']}/direct{path}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path.startswith("/direct/"):
                path = path[len("/direct"):]
                headers.pop("Authorization", None)
                if args.upstream_auth:
                    headers["Authorization"] = args.upstream_auth
                is_blob_get = False
            conn = connect()
            conn.request(self.command, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if is_blob_get and resp.status in (200, 206) and args.mode == "drop-layers":
                data = self.drop_layer(path_only, data)
                if data is None:
                    return
            elif is_blob_get and resp.status == 200:
                data = self.mangle(data)
                if data is None:
                    return
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP:
                    self.send_header(k, v)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            else:
                self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        def send_partial(self, data, status=200):
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()

        def drop_layer(self, path, data):
            # A layer (gzip), and every later request for the same blob, resumed or not.
            with lock:
                dropped = path in state["dropped"] or data[:2] == b"\x1f\x8b"
                if dropped:
                    state["dropped"].add(path)
            if not dropped:
                return data
            # A resume is answered 200 with half of what it asked for: a server that ignores
            # Range and cuts short every time (the client must give up, not loop forever).
            self.send_partial(data)
            self.close_connection = True
            self.log("DROPPED")
            return None

        def mangle(self, data):
            mode = args.mode
            if mode == "corrupt" and data:
                mid = len(data) // 2
                return data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
            if mode == "truncate-once" and "Range" not in self.headers:
                with lock:
                    first = not state["truncated"]
                    state["truncated"] = True
                if first and len(data) > 1:
                    self.send_partial(data)
                    self.close_connection = True
                    self.log("TRUNCATED")
                    return None
            if mode == "stall" and len(data) > 1:
                self.send_partial(data)
                self.log("STALLED")
                while True:
                    time.sleep(3600)
            return data

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["port"] = server.server_address[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(state["port"]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
