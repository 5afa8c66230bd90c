"""A flask-jwt-extended server as its documentation sets one up, for the interop tests.

Access tokens travel in the Authorization header and last a few seconds; the refresh token
lives in the httpOnly `refresh_token_cookie`, guarded by the CSRF double-submit (the readable
`csrf_refresh_token` cookie mirrored in `X-CSRF-TOKEN`). A refresh revokes the presented
token's `jti` and issues a new pair, so a refresh token works once. Also serves the test page
and the package, so the page and the API share an origin.

Usage: python flask_app.py PORT PKG_DIR PAGE_DIR   (prints "listening on http://..." once up)
"""

import logging
import os
import sys
from datetime import timedelta

from flask import Flask, jsonify, request, send_from_directory
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
    set_refresh_cookies,
    unset_jwt_cookies,
)

ACCESS_SECONDS = 3
port, pkg_dir, page_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]

app = Flask(__name__)
app.config.update(
    JWT_SECRET_KEY="interop-test-secret-that-is-long-enough-for-hs256",
    JWT_TOKEN_LOCATION=["headers", "cookies"],
    JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=ACCESS_SECONDS),
    JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=1),
    # Chromium and Firefox keep Secure cookies from http://127.0.0.1; WebKit drops them, so its
    # run turns Secure off (tests/interop/support.mjs).
    JWT_COOKIE_SECURE=os.environ.get("INTEROP_SECURE_COOKIES", "1") == "1",
    JWT_COOKIE_SAMESITE="Strict",
    JWT_COOKIE_CSRF_PROTECT=True,
)
jwt = JWTManager(app)

revoked = set()
counts = {"refresh_calls": 0, "refresh_ok": 0, "revoked_presented": 0, "api_calls": 0}


@jwt.token_in_blocklist_loader
def is_revoked(_header, payload):
    return payload["jti"] in revoked


@jwt.revoked_token_loader
def revoked_answer(_header, payload):
    if payload.get("type") == "refresh":
        counts["revoked_presented"] += 1
    return jsonify(msg="Token has been revoked"), 401


def token_pair_response(identity):
    response = jsonify(
        access_token=create_access_token(identity=identity), expires_in=ACCESS_SECONDS
    )
    set_refresh_cookies(response, create_refresh_token(identity=identity))
    response.headers["Cache-Control"] = "no-store"
    return response


@app.post("/auth/login")
def login():
    body = request.get_json(silent=True) or {}
    if body.get("username") != "demo" or body.get("password") != "demo":
        return jsonify(msg="Bad username or password"), 401
    return token_pair_response(body["username"])


@app.before_request
def count_refreshes():
    if request.path == "/auth/refresh":
        counts["refresh_calls"] += 1


@app.post("/auth/refresh")
@jwt_required(refresh=True)
def refresh():
    revoked.add(get_jwt()["jti"])  # rotation: this refresh token is now spent
    counts["refresh_ok"] += 1
    return token_pair_response(get_jwt_identity())


@app.post("/auth/logout")
@jwt_required(refresh=True, verify_type=True)
def logout():
    revoked.add(get_jwt()["jti"])
    response = jsonify(msg="signed out")
    unset_jwt_cookies(response)
    return response


@app.get("/api/me")
@jwt_required(locations=["headers"])
def me():
    counts["api_calls"] += 1
    return jsonify(user=get_jwt_identity())


@app.get("/test/stats")
def stats():
    return jsonify(counts)


@app.get("/pkg/<path:name>")
def package(name):
    return send_from_directory(pkg_dir, name)


@app.get("/")
def page():
    return send_from_directory(page_dir, "page.html")


if __name__ == "__main__":
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
