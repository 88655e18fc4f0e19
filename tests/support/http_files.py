#!/usr/bin/env python3
"""Serves a directory on 127.0.0.1 for the ADD <url> tests, like `python3 -m http.server`
(Last-Modified from the file's mtime, 404 for what is missing), plus three prefixes:

  /nolm/PATH      PATH without a Last-Modified header
  /cd/PATH        PATH with `Content-Disposition: attachment; filename="other-name.txt"`
  /redirect/PATH  a 302 to /PATH
  /stall/PATH     PATH's bytes with a Content-Length 1 MiB larger, then silence until killed

Every request is logged to stderr as `GET /path`.
"""
import argparse
import functools
import http.server
import sys
import threading


class Handler(http.server.SimpleHTTPRequestHandler):
    PREFIXES = ("/nolm/", "/cd/")

    def do_GET(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/redirect"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/stall/"):
            with open(self.translate_path(self.path[len("/stall"):]), "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data) + (1 << 20)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            threading.Event().wait()
            return
        super().do_GET()

    def translate_path(self, path):
        for prefix in self.PREFIXES:
            if path.startswith(prefix):
                path = path[len(prefix) - 1:]
        return super().translate_path(path)

    def send_header(self, keyword, value):
        if keyword == "Last-Modified" and self.path.startswith("/nolm/"):
            return
        super().send_header(keyword, value)

    def end_headers(self):
        if self.path.startswith("/cd/"):
            super().send_header("Content-Disposition", 'attachment; filename="other-name.txt"')
        super().end_headers()

    def log_message(self, fmt, *args):
        pass

    def log_request(self, code="-", size="-"):
        sys.stderr.write(f"{self.command} {self.path} {code}\n")
        sys.stderr.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--directory", required=True)
    args = parser.parse_args()
    handler = functools.partial(Handler, directory=args.directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
