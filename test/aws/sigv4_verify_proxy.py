"""An HTTP proxy that admits only requests signed with SigV4 for the given credentials, service and region,
as an AWS endpoint does, checked by botocore's signer; admitted requests go on to the upstream. Prints
"listening <port>" once ready, then one JSON line per request: {path, authorization, amzDate, securityToken,
verdict}.
Usage: sigv4_verify_proxy.py <upstream base URL> <region> <service> <access key id> <secret key> [<session token>]"""
import datetime
import http.server
import json
import sys
import urllib.request
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

upstream, region, service, access_key, secret_key = sys.argv[1:6]
session_token = sys.argv[6] if len(sys.argv) > 6 else None
credentials = Credentials(access_key, secret_key, session_token)


def expected_authorization(handler):
    amz_date = handler.headers.get("X-Amz-Date", "")
    when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    signed = [h for h in handler.headers.get("Authorization", "").split("SignedHeaders=")[-1].split(",")[0].split(";") if h]
    headers = {name: handler.headers.get(name, "") for name in signed if name not in ("x-amz-date", "x-amz-security-token")}
    request = AWSRequest(method=handler.command, url="http://" + handler.headers["Host"] + handler.path, headers=headers)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(credentials, service, region).add_auth(request)
    return request.headers["Authorization"]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        record = {
            "path": self.path,
            "authorization": self.headers.get("Authorization"),
            "amzDate": self.headers.get("X-Amz-Date"),
            "securityToken": self.headers.get("X-Amz-Security-Token"),
        }
        try:
            ok = (self.headers.get("X-Amz-Security-Token") == session_token
                  and self.headers.get("Authorization") == expected_authorization(self))
        except (ValueError, KeyError):
            ok = False
        record["verdict"] = "admitted" if ok else "refused"
        print(json.dumps(record), flush=True)
        if not ok:
            body = b'{"message":"The request signature we calculated does not match the signature you provided."}'
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with urllib.request.urlopen(upstream + self.path) as answer:
            body = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening", server.server_address[1], flush=True)
server.serve_forever()
