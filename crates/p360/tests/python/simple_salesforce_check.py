"""Drive the Salesforce sandbox with simple-salesforce, as an integrator would.

simple-salesforce calls https://{domain}.salesforce.com for the token and
https://{instance}/services/data/... for the API; a requests adapter mounted
on https:// sends every request to the sandbox on loopback instead (plain
HTTP), leaving path and query as the client built them.

Usage: simple_salesforce_check.py SANDBOX_URL CONSUMER_KEY USERNAME KEY_FILE
Prints one JSON object with what the client saw.
"""
import json
import sys
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceMalformedRequest,
)

base, consumer_key, username, key_file = sys.argv[1:5]
sandbox = urlsplit(base)


class ToSandbox(HTTPAdapter):
    def send(self, request, **kwargs):
        u = urlsplit(request.url)
        request.url = urlunsplit(("http", sandbox.netloc, u.path, u.query, ""))
        return super().send(request, **kwargs)


session = requests.Session()
session.mount("https://", ToSandbox())

out = {}
sf = Salesforce(
    username=username,
    consumer_key=consumer_key,
    privatekey_file=key_file,
    domain="login",
    session=session,
)
live = sf.query_all("SELECT Id, Name, Website FROM Account WHERE IsDeleted = false ORDER BY Id")
out["live_total"] = live["totalSize"]
out["live_records"] = len(live["records"])
out["first"] = live["records"][0]["Name"]
out["ids_sorted"] = [r["Id"] for r in live["records"]] == sorted(r["Id"] for r in live["records"])
everything = sf.query_all("SELECT Id, IsDeleted FROM Account", include_deleted=True)
out["all_records"] = len(everything["records"])
out["deleted"] = sum(1 for r in everything["records"] if r["IsDeleted"])
few = sf.query("SELECT Id FROM Account LIMIT 5")
out["limited"] = len(few["records"])
try:
    sf.query("SELECT Id FROM Account WHERE Name = ")
    out["malformed"] = None
except SalesforceMalformedRequest as e:
    out["malformed"] = e.content[0]["errorCode"]
try:
    sf.query("SELECT Id FROM Widget")
    out["unknown_object"] = None
except SalesforceMalformedRequest as e:
    out["unknown_object"] = e.content[0]["errorCode"]
try:
    Salesforce(
        username="someone.else@acme.example",
        consumer_key=consumer_key,
        privatekey_file=key_file,
        domain="login",
        session=session,
    )
    out["other_user"] = None
except SalesforceAuthenticationFailed as e:
    out["other_user"] = e.message
print(json.dumps(out))
