#!/usr/bin/env python3
"""A tiny token issuer for docker-registry's `auth: token` mode, used by the registry tests.

GET /token?service=S&scope=repository:NAME:pull,push answers {"token": JWT} signed RS256 with
--key (its certificate --cert is the registry's rootcertbundle, sent in the x5c header).
Basic credentials must equal --user/--password (401 otherwise); an anonymous request gets a
token that grants nothing. Every request is appended to --log. The bound port is written to
--port-file once the server listens.
"""
import argparse
import base64
import json
import subprocess
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der_b64(cert_path: str) -> str:
    der = subprocess.run(["openssl", "x509", "-in", cert_path, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return base64.b64encode(der).decode()


def sign(key_path: str, data: bytes) -> bytes:
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path], input=data,
                          check=True, capture_output=True).stdout


def main() -> None:
    p = argparse.ArgumentParser()
    for name in ("port-file", "key", "cert", "user", "password", "issuer", "service", "log"):
        p.add_argument("--" + name, required=True)
    args = p.parse_args()
    x5c = cert_der_b64(args.cert)

    def make_token(scopes):
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                           "actions": parts[-1].split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
        claims = {"iss": args.issuer, "sub": args.user, "aud": args.service, "exp": now + 600,
                  "nbf": now - 60, "iat": now, "jti": str(time.time_ns()), "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        return signing_input.decode() + "." + b64url(sign(args.key, signing_input))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def reply(self, code, body: bytes, ctype="application/json"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            query = urllib.parse.parse_qs(url.query)
            auth = self.headers.get("Authorization", "")
            with open(args.log, "a") as log:
                log.write(f"GET {self.path} auth={auth or '-'}\n")
            if url.path != "/token":
                return self.reply(404, b"{}")
            scopes = query.get("scope", [])
            if auth:
                expected = "Basic " + base64.b64encode(
                    f"{args.user}:{args.password}".encode()).decode()
                if auth != expected:
                    return self.reply(401, b'{"details":"invalid credentials"}')
            else:
                scopes = []  # anonymous: a valid token that grants nothing
            if query.get("service", [""])[0] != args.service:
                return self.reply(400, b'{"details":"unknown service"}')
            token = make_token(scopes)
            body = json.dumps({"token": token, "access_token": token, "expires_in": 600})
            self.reply(200, body.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
