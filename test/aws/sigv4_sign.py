"""Signs a GET with botocore's SigV4 signer, the independent implementation the adapter's signatures are
checked against. Reads {url, region, service, accessKeyId, secretAccessKey, sessionToken?, date} (date as
YYYYMMDDTHHMMSSZ) as JSON on stdin; prints the signed headers as JSON."""
import datetime
import json
import sys
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

spec = json.load(sys.stdin)
when = datetime.datetime.strptime(spec["date"], "%Y%m%dT%H%M%SZ")
request = AWSRequest(method="GET", url=spec["url"])
credentials = Credentials(spec["accessKeyId"], spec["secretAccessKey"], spec.get("sessionToken"))
with mock.patch("botocore.auth.get_current_datetime", return_value=when):
    SigV4Auth(credentials, spec["service"], spec["region"]).add_auth(request)
print(json.dumps(dict(request.headers.items())))
