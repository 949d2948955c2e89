"""Send a bounded campaign of hostile requests to gunicorn in the production configuration and
check every answer and every log line (`make hostile`; figures in docs/reliability.md,
"Hostile requests").

    .venv/bin/python bench/hostile.py [--requests 20000] [--seconds 300] [--clients 8]
                                      [--seed 8] [--json PATH] [--keep-logs DIR]

Everything runs on this machine and every request goes to 127.0.0.1:
- a PostgreSQL database of its own on the local server (`crm_hostile`), created when missing,
  migrated and seeded (`seed_demo --customers 200` adds only what is missing); Redis database
  13 as the cache, emptied first; admin lockouts reset; two API tokens, one of them revoked;
- two gunicorns with gunicorn.conf.py (tests/servers.py) and production settings: debug off,
  HTTPS expected from the proxy, a random PANEL_TOKEN, hashed static files. One has no Easemob
  key, the other EASEMOB_IFRAME_KEY and EASEMOB_ENCRYPT_SYSTEM_PARAMS, so that both the
  plaintext and the encrypted paths are attacked. Their rate limits are raised so that the
  requests reach the code instead of stopping at a 429;
- `--requests` hostile requests from `--clients` threads, in the classes of CLASSES. Request
  number i is made from the seed and i alone (with this run's tokens and keys), so every run
  sends the same requests. Each goes on a connection of its own with the headers nginx adds
  (X-Forwarded-For, X-Forwarded-Proto). The campaign stops early after `--seconds`;
- a third gunicorn with the default rate limits: failures from one address get 429 with
  Retry-After, valid loads from that address still get 200, and loads past their own budget
  get 429 with Retry-After;
- the gunicorns' logs (access log, error log and the app's log, one file per server) searched
  for the panel token, query strings, raw control characters, forged lines and tracebacks.

An answer fails the run when it is a 5xx, holds a traceback, gives one of the XSS or SQL
payloads back unescaped in anything but JSON (JSON carries text as data, served with nosniff),
is a 429 without Retry-After, or takes longer than 30 s. The run exits 1 if any answer, log
line or rate-limit check fails. It prints Markdown tables either way, writes every figure as
JSON with --json and keeps the logs with --keep-logs. Every server is stopped on every exit
path, Ctrl-C and SIGTERM included.
"""

import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from django.core import signing  # noqa: E402

from iframe_panel import crypto  # noqa: E402
from iframe_panel.signing import SALT as ACTION_SALT  # noqa: E402
from iframe_panel.signing import make as make_action_token  # noqa: E402
from tests.servers import Gunicorn  # noqa: E402

# Text that appears only in query strings: no log line may ever hold it.
CANARY = "hq7canary"
# A line of a log must never start with this: a request tried to write a line of its own.
FORGED = "FORGED-LOG-LINE"
ANSWER_TIMEOUT = 30
# The 加密密钥 of the gunicorn that decrypts Easemob's parameters.
IFRAME_KEY = "hostile-iframe-key"
ACTIONS = {
    "reveal": "POST",
    "lookup": "GET",
    "search": "GET",
    "link": "POST",
    "create": "POST",
    "note": "POST",
    "unlink": "POST",
}
# What no page may give back as it came. Each holds a character HTML escapes, so finding one
# verbatim in a page means it was not escaped. JSON answers carry text as data instead.
XSS = [
    "<script>alert(1)</script>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "</script><script>alert(1)</script>",
    '" onmouseover="alert(1)',
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=javascript:alert(1)></iframe>",
    "<scr<script>ipt>alert(1)</script>",
    "<!--<img src=--><img src=x onerror=alert(1)//>",
    "{{7*7}}<b>ssti</b>",
    "';alert(1);//",
]
SQLI = [
    "' OR '1'='1",
    "' OR 1=1--",
    "1'; DROP TABLE customers_customer;--",
    '" OR ""="',
    "' UNION SELECT username, password FROM auth_user--",
    "'; SELECT pg_sleep(5);--",
    "admin'--",
    "%' OR '%'='",
    "') OR ('a'='a",
    "1' AND (SELECT COUNT(*) FROM pg_catalog.pg_tables) > 0 --",
]
PAYLOADS = XSS + SQLI
# Values that are odd without being attacks: blanks, scripts of other languages, emoji,
# combining and direction marks, control characters, numbers out of range, template syntax.
ODD_TEXT = [
    "",
    " ",
    "\t",
    "张三",
    "😀" * 50,
    "\U00020000\U0002a6d6",
    "\u202eevil",
    "\ufeffbom",
    "\u200b",
    "e\u0301" * 300,
    "Ａｂｃ",
    "\x00",
    "\x01\x02",
    "\x1b[31mred",
    "\x7f",
    "a\nb",
    "a\r\nSet-Cookie: x=1",
    "%",
    "%%",
    "+",
    "null",
    "NaN",
    "-1",
    "9" * 40,
    "1e999",
    "[]",
    "{}",
    "../../etc/passwd",
    "C:\\Windows\\win.ini",
    "${jndi:ldap://127.0.0.1/a}",
    "%(name)s%s%n",
]
# Percent-encoding no decoder should choke on: invalid UTF-8, overlong forms, a surrogate,
# broken escapes.
ODD_WIRE = ["%FF%FE", "%C0%80", "%ED%A0%80", "%zz", "%", "%2", "%00", "%0A%0D", "%E5%BC", "+%2B+"]
AGENTS = ["小王", "小李", "阿杰", "Amy", "Lily", "老周"]
ORIGIN_TYPES = ["webim", "app", "weixin", "weibo", "wecom"]
# Charsets Django cannot read a request in, names that are no charset, and three it reads.
CHARSETS = [
    "rot13",
    "rot_13",
    "hex",
    "base64",
    "zlib",
    "uu",
    "quopri",
    "bz2",
    "punycode",
    "undefined",
    "idna",
    "utf-16",
    "utf-32",
    "utf-7",
    "cp037",
    "unicode_escape",
    "nope",
    "x" * 300,
    "",
    "utf-8",
    "gbk",
    "latin-1",
]


@dataclass
class Context:
    """What the generator knows of the servers it attacks."""

    token: str
    iframe_key: str
    host: str
    # Known visitor ids, with their customer's id.
    visitors: list
    external_ids: list
    order_numbers: list
    api_token: str
    revoked_api_token: str


@dataclass
class Hostile:
    """One request, as its class made it."""

    kind: str
    method: str = "GET"
    # Path and query as sent, already percent-encoded; characters stand for bytes (latin-1).
    target: str = "/"
    headers: list = field(default_factory=list)
    body: bytes = b""
    # For the gunicorn with the Easemob key.
    encrypted: bool = False
    # The whole request as sent, for the malformed ones no HTTP client would write.
    raw: bytes = b""
    # The client address nginx would append to X-Forwarded-For.
    address: str = "127.0.0.10"


def enc(text):
    return quote(text, safe="")


def query_string(pairs):
    """Pairs of (name, value), percent-encoded unless given as Wire; the canary last."""
    parts = [f"{_wire(n)}={_wire(v)}" for n, v in pairs]
    return "&".join([*parts, f"hq={CANARY}"])


class Wire(str):
    """A name or value written to the query string as it is (odd percent-encoding)."""


def _wire(text):
    return text if isinstance(text, Wire) else enc(text)


def seal(text, ctx, encrypted):
    """A value as Easemob sends it: DES-encrypted hex when the server has the key."""
    return crypto.encrypt(text, ctx.iframe_key) if encrypted else text


def unknown_visitor(rng):
    return f"webim-visitor-HOSTILE{rng.getrandbits(64):016X}"


def workbench(rng, ctx, encrypted, visitor=None):
    """The query the workbench sends for a conversation, as (name, value) pairs."""
    if visitor is None:
        visitor = rng.choice(ctx.visitors)[0] if rng.random() < 0.5 else unknown_visitor(rng)
    plain = [
        ("easemobId", "107937"),
        ("visitorImId", visitor),
        ("to", "kefuchannelimid_845326"),
        ("ssid", f"{rng.getrandbits(128):032x}"),
        ("agentId", f"{rng.getrandbits(64):016x}"),
        ("agentName", rng.choice(AGENTS)),
        ("email", f"agent{rng.randrange(50):02d}@kefu.example.com"),
        ("tenantId", "107937"),
        ("originType", rng.choice(ORIGIN_TYPES)),
        ("techChannelName", "官网在线客服"),
    ]
    if rng.random() < 0.4:
        plain += [("name", "张三"), ("phone", f"1380013{rng.randrange(10000):04d}"), ("age", "40")]
    pairs = [(n, seal(v, ctx, encrypted)) for n, v in plain]
    return [*pairs, ("lang", rng.choice(["zh", "en", "zh-CN", "en-US"]))]


def panel_path(ctx, token=None):
    return f"/panel/{ctx.token if token is None else token}/"


def action_token(visitor, customer_id=None):
    """A genuine action token, as the panel page gives its script."""
    return make_action_token(visitor, customer_id=customer_id)


class _Stale(signing.TimestampSigner):
    """Signs with the right key ten days ago: an expired action token."""

    def timestamp(self):
        return signing.b62_encode(int(time.time()) - 10 * 86400)


def odd_action_token(rng, visitor):
    """An action token an attacker could send: none, garbage, signed with another key,
    expired, tampered with, for another visitor, unsigned."""
    genuine = action_token(visitor)
    payload = {"v": visitor, "s": "", "c": None, "a": {}, "o": ""}
    choices = {
        "none": "",
        "garbage": rng.choice(["abc", "a" * 5000, "..", ":::", "%00", "eyJ2IjoiIn0"]),
        "forged": signing.dumps(
            payload, key="not-the-secret-key-" + "x" * 40, salt=ACTION_SALT, compress=True
        ),
        "expired": _Stale(salt=ACTION_SALT).sign_object(payload, compress=True),
        "tampered": genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB"),
        "other visitor": action_token(unknown_visitor(rng)),
        "unsigned": signing.b64_encode(json.dumps(payload).encode()).decode(),
    }
    return rng.choice(list(choices.values()))


def form(fields):
    return "&".join(f"{_wire(n)}={_wire(v)}" for n, v in fields).encode("latin-1")


def multipart(fields, boundary="hostileB0undary", files=()):
    parts = []
    for name, value in fields:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(head.encode() + value.encode("utf-8", "surrogatepass") + b"\r\n")
    for name, filename, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(head.encode("utf-8") + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def multipart_type(boundary="hostileB0undary"):
    return f"multipart/form-data; boundary={boundary}"


# --- the classes of hostile requests ----------------------------------------------------------


def odd_tokens(rng, ctx):
    """Wrong and odd panel tokens: near misses, NUL, very long, unicode, path traversal."""
    token = ctx.token
    variants = [
        "",
        token + "x",
        token[:-1],
        token.upper(),
        token.swapcase(),
        "".join(f"%{b:02X}" for b in token.encode()),
        token + "%00",
        "%00" + token,
        token[:10] + "%2F" + token[10:],
        "A" * rng.choice([1, 64, 1000, 8000]),
        enc("令牌"),
        enc("🔑" * 10),
        enc("\u202e" + token),
        enc("ｔｏｋｅｎ"),
        "..",
        "../../etc/passwd",
        "..%2F..%2Fadmin",
        "%2e%2e",
        ".%00.",
        "%",
        "%zz",
        "%C0%AE%C0%AE",
        "%FF%FE",
        "dev",
        "12345",
        "changeme",
    ]
    method = rng.choice(["GET"] * 6 + ["HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"])
    encrypted = rng.random() < 0.5
    query = query_string(workbench(rng, ctx, encrypted))
    shape = rng.random()
    if shape < 0.1:
        payload = rng.choice(PAYLOADS)
        return Hostile(
            "token",
            method,
            f"{panel_path(ctx, enc(payload))}?{query}",
            encrypted=encrypted,
        )
    if shape < 0.15:
        # The token in the query instead of the path, or the path without its slash.
        target = rng.choice([f"/panel/?token={enc(token)}&{query}", f"/panel/{token}?{query}"])
        return Hostile("token", method, target, encrypted=encrypted)
    if shape < 0.2:
        action = rng.choice(list(ACTIONS))
        return Hostile(
            "token",
            ACTIONS[action],
            f"{panel_path(ctx, rng.choice(variants))}{action}/?{query}",
            encrypted=encrypted,
        )
    return Hostile(
        "token", method, f"{panel_path(ctx, rng.choice(variants))}?{query}", encrypted=encrypted
    )


def _set(pairs, name, value):
    return [(n, value if n == name else v) for n, v in pairs]


def odd_queries(rng, ctx):
    """Panel loads with missing, duplicate, overlong, control-character, unicode, emoji and NUL
    values, too many parameters, invalid and wrong DES hex, odd `lang`, broken encoding."""
    encrypted = rng.random() < 0.5
    pairs = workbench(rng, ctx, encrypted)
    visitor = dict(pairs)["visitorImId"]
    names = [n for n, _ in pairs if n != "lang"]
    mutation = rng.randrange(17)
    if mutation == 0:
        pairs = [(n, v) for n, v in pairs if n != "visitorImId"]
    elif mutation == 1:
        pairs = _set(pairs, "visitorImId", seal(rng.choice(["", " ", "\t", "   "]), ctx, encrypted))
    elif mutation == 2:
        other = seal(unknown_visitor(rng), ctx, encrypted)
        pairs.append(("visitorImId", rng.choice([visitor, other])))
    elif mutation == 3:
        size = rng.choice([2049, 4096, 20000])
        pairs = _set(pairs, rng.choice(names), rng.choice("0123456789abcdef") * size)
    elif mutation == 4:
        pairs = _set(pairs, "visitorImId", seal("v" * rng.choice([256, 300, 2000]), ctx, encrypted))
    elif mutation == 5:
        control = chr(rng.choice([*range(32), 127]))
        text = f"a{control}b" if rng.random() < 0.5 else control
        pairs = _set(pairs, rng.choice(names), seal(text, ctx, encrypted and rng.random() < 0.5))
    elif mutation == 6:
        control = rng.choice(["%00", "%01", "%1B", "%7F", "%0A", "%0D%0A"])
        pairs.append((Wire(f"na{control}me"), "x"))
    elif mutation == 7:
        for name in rng.sample(names, rng.randint(1, 4)):
            pairs = _set(
                pairs, name, seal(rng.choice(ODD_TEXT), ctx, encrypted and rng.random() < 0.5)
            )
    elif mutation == 8:
        count = rng.choice([61, 120, 1001, 3000])
        pairs += [(f"p{i}", "1") for i in range(count)]
    elif mutation == 9:
        bad = [
            "zz",
            "abc",
            "0123456789abcde",
            "00" * 8,
            "g" * 16,
            crypto.encrypt(visitor, "another-iframe-key"),
            crypto.encrypt(visitor, ctx.iframe_key).upper(),
            crypto.encrypt("", ctx.iframe_key),
            crypto.encrypt("\x00\x01", ctx.iframe_key),
            crypto.encrypt("😀" * 200, ctx.iframe_key),
            crypto.encrypt("x" * 1000, ctx.iframe_key),
        ]
        pairs = _set(
            pairs, rng.choice(["visitorImId", "easemobId", "to", "name", "ssid"]), rng.choice(bad)
        )
    elif mutation == 10:
        lang = rng.choice(
            ["xx", "", "EN", "zh_CN", Wire("en%00"), "<b>en</b>", "a" * 1000, "ｅｎ", "\u0435n"]
        )
        pairs = [(n, v) for n, v in pairs if n != "lang"] + [("lang", lang)]
        if rng.random() < 0.3:
            pairs.append(("lang", rng.choice(["en", "zh", "fr"])))
    elif mutation == 11:
        pairs.append((rng.choice(names), Wire(rng.choice(ODD_WIRE))))
    elif mutation == 12:
        pairs.append(
            (rng.choice(["", "=", "a[]", "__proto__", "a" * 65, "名字", Wire("%00"), " "]), "x")
        )
    elif mutation == 13:
        query = query_string(pairs).replace("&", rng.choice([";", "&&&", "&=&", "&?"]))
        return Hostile("query", "GET", f"{panel_path(ctx)}?{query}", encrypted=encrypted)
    elif mutation == 14:
        garbage = "".join(f"%{rng.randrange(256):02X}" for _ in range(rng.randint(1, 500)))
        return Hostile(
            "query", "GET", f"{panel_path(ctx)}?{garbage}&hq={CANARY}", encrypted=encrypted
        )
    elif mutation == 15:
        # Up to the panel's own limits: 58 pushed parameters of 2,048 characters.
        width = rng.choice([64, 2048])
        pairs += [(f"p{i:02d}".ljust(64, "x"), "a" * width) for i in range(58 - len(pairs))]
    else:
        pairs = _set(pairs, rng.choice(names), seal(rng.choice(ODD_TEXT), ctx, encrypted))
    method = "HEAD" if rng.random() < 0.05 else "GET"
    return Hostile("query", method, f"{panel_path(ctx)}?{query_string(pairs)}", encrypted=encrypted)


def injections(rng, ctx):
    """XSS and SQL injection in every parameter, the path, headers, action and API fields."""
    payload = rng.choice(PAYLOADS)
    encrypted = rng.random() < 0.5
    site = rng.randrange(10)
    if site < 5:
        # Known visitors too: what is pushed is stored and shown again on their later loads.
        pairs = workbench(rng, ctx, encrypted)
        names = [n for n, _ in pairs] + ["address", "customUserId", "remark"]
        for name in rng.sample(names, rng.randint(1, 4)):
            value = seal(payload, ctx, encrypted and name != "lang" and rng.random() < 0.7)
            pairs = [(n, v) for n, v in pairs if n != name] + [(name, value)]
        if rng.random() < 0.1 and len(payload) <= 64:
            pairs.append((payload, "x"))
        return Hostile(
            "injection",
            "GET",
            f"{panel_path(ctx)}?{query_string(pairs)}",
            encrypted=encrypted,
        )
    if site == 5:
        target = rng.choice(
            [f"{panel_path(ctx)}{enc(payload)}/", f"/panel/{enc(payload)}/", f"/{enc(payload)}"]
        )
        return Hostile("injection", "GET", f"{target}?hq={CANARY}")
    if site == 6:
        visitor, customer_id = rng.choice(ctx.visitors)
        token = action_token(visitor, customer_id)
        action = rng.choice(["lookup", "search", "note"])
        fields = [("t", token), ("v", visitor), ("lang", "en")]
        if action == "note":
            body = form([*fields, ("body", payload)])
            return Hostile(
                "injection",
                "POST",
                f"{panel_path(ctx)}note/",
                [("Content-Type", "application/x-www-form-urlencoded")],
                body,
            )
        query = query_string([*fields, ("q", payload)])
        return Hostile("injection", "GET", f"{panel_path(ctx)}{action}/?{query}")
    if site == 7:
        target = rng.choice(
            [
                f"/admin/login/?next={enc(payload)}&hq={CANARY}",
                f"/admin/customers/customer/?q={enc(payload)}&hq={CANARY}",
            ]
        )
        return Hostile("injection", "GET", target)
    if site == 8:
        auth = [("Authorization", f"Bearer {ctx.api_token}")]
        if rng.random() < 0.5:
            target = f"/api/v1/customers/?phone={enc(payload)}&hq={CANARY}"
            return Hostile("injection", "GET", target, auth)
        body = json.dumps({"name": payload, "phone": payload, "remarks": payload}).encode()
        return Hostile(
            "injection",
            "PUT",
            f"/api/v1/customers/HOSTILE-{rng.getrandbits(48):012x}/",
            [*auth, ("Content-Type", "application/json")],
            body,
        )
    header = rng.choice(["User-Agent", "Referer", "Accept-Language", "X-Request-ID", "Cookie"])
    pairs = workbench(rng, ctx, encrypted)
    value = payload if header != "Cookie" else f"django_language={payload}"
    return Hostile(
        "injection",
        "GET",
        f"{panel_path(ctx)}?{query_string(pairs)}",
        [(header, value)],
        encrypted=encrypted,
    )


def odd_charsets(rng, ctx):
    """Content-Types in charsets that are no text encoding (rot13, hex, base64…), that Django
    cannot read a request in (utf-16, idna…) or that do not exist, on GET with a query string
    and on POST; RFC 2231 parameters; media types without their boundary."""
    charset = rng.choice(CHARSETS)
    encrypted = rng.random() < 0.5
    kind = rng.randrange(4)
    if kind < 2:
        visitor, customer_id = rng.choice(ctx.visitors)
        targets = [
            f"{panel_path(ctx)}?{query_string(workbench(rng, ctx, encrypted))}",
            f"/admin/login/?next=/admin/&hq={CANARY}",
            f"/api/v1/customers/?page=1&hq={CANARY}",
            f"/healthz?hq={CANARY}",
            f"{panel_path(ctx)}search/?"
            + query_string(
                [("t", action_token(visitor, customer_id)), ("v", visitor), ("q", "张")]
            ),
            f"{panel_path(ctx, 'wrong')}?hq={CANARY}",
        ]
        content_type = rng.choice(
            [
                f"text/plain; charset={charset}",
                f"application/x-www-form-urlencoded; charset={charset}",
                "text/plain; charset*=utf-8''rot13",
                "text/plain; x*=nope''a",
                f'text/plain; charset="{charset}"',
            ]
        )
        headers = [("Content-Type", content_type), ("Authorization", f"Bearer {ctx.api_token}")]
        return Hostile("charset", "GET", rng.choice(targets), headers, encrypted=encrypted)
    visitor, customer_id = rng.choice(ctx.visitors)
    fields = [("t", action_token(visitor, customer_id)), ("v", visitor), ("body", "回访：满意")]
    targets = [
        f"{panel_path(ctx)}note/",
        "/admin/login/",
        f"/api/v1/customers/HOSTILE-{rng.getrandbits(32):08x}/",
    ]
    target = rng.choice(targets)
    method = "PUT" if target.startswith("/api/") else "POST"
    if kind == 2:
        content_type = rng.choice(
            [
                f"{multipart_type()}; charset={charset}",
                "multipart/form-data",
                "multipart/form-data; boundary=",
                f"application/json; charset={charset}",
            ]
        )
        body = multipart(fields)
    else:
        content_type = f"application/x-www-form-urlencoded; charset={charset}"
        body = form(fields)
    headers = [("Content-Type", content_type), ("Authorization", f"Bearer {ctx.api_token}")]
    return Hostile("charset", method, target, headers, body, encrypted=encrypted)


# Values no client should send, by header; a few of them at a time.
ODD_HEADERS = {
    "Host": [
        "evil.example",
        "evil.example:80",
        "127.0.0.1:1@evil.example",
        "",
        "[::1]:80",
        "localhost:99999",
        "a" * 300,
        "exa mple.com",
        "\xe9vil.example",
        "127.0.0.1, evil.example",
        "evil.example%00",
    ],
    # Before the address nginx appends.
    "X-Forwarded-For": [
        "",
        ",",
        "unknown",
        "1.2.3",
        "999.999.999.999",
        "::::",
        "127.0.0.1, , ,",
        "10.0.0.1 10.0.0.2",
        "\xe9",
        ", ".join(["127.0.0.2"] * 2000),
    ],
    "X-Forwarded-Proto": ["http", "https, http", "HTTPS", "gopher", ""],
    "X-Forwarded-Host": ["evil.example", "127.0.0.1:1@evil.example"],
    "X-Request-ID": [
        "",
        " ",
        "a" * 65,
        "a" * 8000,
        "../../etc",
        "id with space",
        "\xe9\xe9",
        "%0d%0a",
        "<script>alert(1)</script>",
    ],
    "Cookie": [
        "sessionid=garbage",
        "sessionid=" + "x" * 4000,
        "csrftoken=" + "?" * 64,
        "a=b=c; ;;=;",
        "django_language=xx",
        "django_language=" + "z" * 500,
        "\xe9=\xe9",
        "sessionid=; sessionid=1; sessionid=2",
    ],
    "Accept-Language": [
        "*;q=xx",
        "zh-Hans-CN-x-" + "a" * 100,
        "a" * 1000,
        "en;q=1.0;q=0.1",
        ",,,,",
        "zh-hans;q=NaN",
        "\xe9",
    ],
    "Authorization": ["Bearer", "Basic %%%", "Bearer " + "a" * 10000, "Negotiate x", "Bearer \xe9"],
    "If-Modified-Since": ["yesterday", "Mon, 99 Foo 2026 99:99:99 GMT", "0"],
    "If-None-Match": ['"', "*, *", "W/" + "x" * 500],
    "Range": ["bytes=999999-1", "bytes=-", "bytes=0-0,0-0,0-0,0-0", "pages=1"],
    "Accept-Encoding": ["gzip;q=x", "*;q=0", "br, br, br", ""],
    "Expect": ["100-continue", "garbage"],
    "User-Agent": ["\xe9" * 200, "u" * 10000, ""],
    "X-" + "a" * 1000: ["1"],
}


def odd_headers(rng, ctx):
    """Hosts not allowed, X-Forwarded-For garbage, huge and numerous headers, invalid request
    ids, odd cookies, languages, proxies' headers and cache validators."""
    encrypted = rng.random() < 0.5
    target = rng.choice(
        [
            f"{panel_path(ctx)}?{query_string(workbench(rng, ctx, encrypted))}",
            f"{panel_path(ctx, 'wrong-token')}?hq={CANARY}",
            "/admin/login/",
            "/api/v1/customers/",
            "/healthz",
            "/static/admin/css/base.css",
            "/static/%2e%2e/%2e%2e/etc/passwd",
            "/simulator/",
            "/",
        ]
    )
    headers = [("Authorization", f"Bearer {ctx.api_token}")] if "/api/" in target else []
    kind = rng.random()
    if kind < 0.1:
        # Up to gunicorn's limit of a header line (128 KiB, as nginx's), and past it.
        name = rng.choice(["X-Big", "Cookie", "User-Agent", "Referer"])
        headers.append((name, "b" * rng.choice([8, 64, 120, 140]) * 1024))
    elif kind < 0.2:
        # gunicorn takes 100 header fields.
        headers += [(f"X-Many-{i}", "1") for i in range(rng.choice([90, 101, 150]))]
    else:
        for name in rng.sample(list(ODD_HEADERS), rng.randint(1, 3)):
            headers = [(n, v) for n, v in headers if n != name]
            headers.append((name, rng.choice(ODD_HEADERS[name])))
        if rng.random() < 0.05:
            headers.append(("Host", ctx.host))
    return Hostile("headers", "GET", target, headers, encrypted=encrypted)


def _action_fields(rng, action):
    """An action's own fields, usually wrong."""
    if action == "reveal":
        return [("field", rng.choice(["phone", "email", "password", "__class__", "", "phone\x00"]))]
    if action in ("lookup", "search"):
        return [("q", rng.choice([*ODD_TEXT, "a" * 5000, "BENCH000001", "13800138000"]))]
    if action == "link":
        value = rng.choice(
            ["abc", "-1", "0", "9" * 30, "1e3", "", "[1]", "1.5", str(rng.randrange(1, 400))]
        )
        return [("customer", value)]
    if action == "create":
        return [
            ("name", rng.choice([*ODD_TEXT, "王" * 300])),
            ("phone", rng.choice(["abc", "1" * 100, "+86 138-0013-8000", "\x00"])),
            ("email", rng.choice(["not-an-email", "a@" + "b" * 300 + ".com", ""])),
            ("external_id", rng.choice(["", "x" * 300, f"HOSTILE-{rng.getrandbits(32):08x}"])),
        ]
    if action == "note":
        return [("body", rng.choice([*ODD_TEXT, "长" * 20000]))]
    return []


def odd_actions(rng, ctx):
    """Panel actions with forged, expired, garbage and misplaced action tokens, wrong methods,
    and JSON, form, multipart and huge bodies."""
    action = rng.choice(list(ACTIONS))
    method = ACTIONS[action]
    known = rng.random() < 0.5
    visitor, customer_id = rng.choice(ctx.visitors) if known else (unknown_visitor(rng), None)
    if rng.random() < 0.35 and not (known and action == "unlink"):
        # A genuine token: the fields and the body are what is hostile. (Unlinking a known
        # visitor would undo the seed data; an unknown visitor has nothing to unlink.)
        token = action_token(visitor, customer_id)
    else:
        token = odd_action_token(rng, visitor)
    fields = [
        ("t", token),
        ("v", visitor),
        ("lang", rng.choice(["en", "zh"])),
        *_action_fields(rng, action),
    ]
    if rng.random() < 0.1:
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "OPTIONS"])
    path = f"{panel_path(ctx)}{action}/"
    if method in ("GET", "OPTIONS", "DELETE"):
        return Hostile("actions", method, f"{path}?{query_string(fields)}")
    shape = rng.randrange(7)
    if shape == 0:
        body = json.dumps(dict(fields)).encode()
        headers = [("Content-Type", "application/json")]
    elif shape == 1:
        body = multipart(
            fields,
            files=[
                ("file", rng.choice(["../../etc/passwd", "a.txt", "\u202etxt.exe"]), b"x" * 1000)
            ],
        )
        headers = [("Content-Type", multipart_type())]
    elif shape == 2:
        # Past DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), or too many fields.
        if rng.random() < 0.5:
            body = form([*fields, ("body", "x" * 3_000_000)])
        else:
            body = form([*fields, *[(f"f{i}", "1") for i in range(1200)]])
        headers = [("Content-Type", "application/x-www-form-urlencoded")]
    elif shape == 3:
        body = rng.choice(
            [b"\xff\xfe\x00garbage", b"t=%FF%FE&v=%C0%80", b"&&&===", b"", b"\x00" * 100]
        )
        headers = [
            ("Content-Type", rng.choice(["application/x-www-form-urlencoded", "text/plain", ""]))
        ]
    elif shape == 4:
        body = b'--b\r\nContent-Disposition: form-data; name="t"\r\n\r\nx'  # never closed
        headers = [("Content-Type", multipart_type("b"))]
    else:
        body = form(fields)
        headers = [("Content-Type", "application/x-www-form-urlencoded")]
    return Hostile("actions", method, path, headers, body)


def odd_api(rng, ctx):
    """The API with no, garbage and revoked tokens, odd paths, methods and garbage JSON."""
    external_id = rng.choice(ctx.external_ids)
    path = rng.choice(
        [
            "/api/v1/customers/",
            f"/api/v1/customers/{external_id}/",
            f"/api/v1/customers/{external_id}/visitor-ids/",
            f"/api/v1/customers/HOSTILE-{rng.getrandbits(32):08x}/visitor-ids/x/",
            f"/api/v1/orders/{rng.choice(ctx.order_numbers)}/",
            "/api/v1/customers/%00/",
            "/api/v1/customers/..%2F..%2F/",
            f"/api/v1/customers/{'x' * rng.choice([300, 10000])}/",
            f"/api/v1/customers/{enc('张三😀')}/",
            "/api/schema/",
            "/api/docs/",
        ]
    )
    auth = rng.choice(
        [
            None,
            "Bearer",
            "Bearer a b",
            "Basic dXNlcjpwYXNz",
            "Bearer " + "a" * rng.choice([10, 5000]),
            "Token \xe9\xe9",
            f"Bearer {ctx.revoked_api_token}",
            f"Bearer {ctx.api_token}x",
            f"bearer {ctx.api_token}",
            f"Bearer\t{ctx.api_token}",
            f"Bearer {ctx.api_token}",
            f"Bearer {ctx.api_token}",
        ]
    )
    valid = auth is not None and auth.endswith(ctx.api_token)
    headers = [("Authorization", auth)] if auth else []
    method = rng.choice(["GET", "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
    if valid and method in ("PUT", "POST", "PATCH", "DELETE"):
        # Writes with a working token touch only customers of this campaign, never the seed.
        path = f"/api/v1/customers/HOSTILE-{rng.getrandbits(32):08x}/" + rng.choice(
            ["", "visitor-ids/"]
        )
    if method == "GET" and rng.random() < 0.5:
        query = rng.choice(
            [
                "page=-1",
                "page=abc",
                "page_size=100000",
                "updated_since=garbage",
                "phone=%00",
                "email=%FF",
                "page=9" * 30,
            ]
        )
        return Hostile("api", method, f"{path}?{query}&hq={CANARY}", headers)
    body = b""
    if method in ("POST", "PUT", "PATCH"):
        body = rng.choice(
            [
                b"{",
                b"[]",
                b"null",
                b'"x"',
                b'{"name": null}',
                b"[" * 100000,
                json.dumps({"name": "x" * 1_000_000}).encode(),
                b'{"name": NaN, "phone": Infinity}',
                b'{"name": "\\u0000", "phone": 123, "email": []}',
                b'{"visitor_im_id": "' + b"v" * 300 + b'", "channel": "nope"}',
                b'{"visitor_im_id": "\\u0000"}',
                b"\xff\xfe{}",
                b'\xef\xbb\xbf{"name": "bom"}',
                b'{"name": "a", "name": "b"}',
                b'{"name": "\\ud800"}',
                b"<xml/>",
            ]
        )
        content_type = rng.choice(
            [
                "application/json",
                "application/json",
                "application/x-www-form-urlencoded",
                "text/plain",
                "application/xml",
                "",
            ]
        )
        headers.append(("Content-Type", content_type))
    return Hostile("api", method, path, headers, body)


# Admin logins come from one address and with a few usernames: django-axes locks each out
# after five failures, as it would an attacker, and keeps the number of password hashes (a
# million PBKDF2 iterations each) small.
ADMIN_ADDRESS = "127.0.0.9"
ADMIN_USERNAMES = ["admin", "root", "boss", "administrator", "管理员", XSS[0], XSS[1], SQLI[0]]


def odd_admin(rng, ctx):
    """Admin login posts with garbage: without CSRF, with mismatched CSRF, missing, huge and
    NUL fields, injection in the username; and odd admin URLs."""
    if rng.random() < 0.2:
        following = enc(rng.choice(["//evil.example", "javascript:alert(1)", "/admin/"]))
        target = rng.choice(
            [
                "/admin/",
                f"/admin/login/?next={following}",
                "/admin/easemob/",
                "/admin/customers/customer/1/change/",
                "/admin/logout/",
                "/admin/%00/",
                "/admin/../../etc/passwd",
            ]
        )
        return Hostile("admin", rng.choice(["GET", "POST"]), target, address=ADMIN_ADDRESS)
    # Django accepts the CSRF cookie's own 32 characters as the form's token.
    secret = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    fields = [
        ("csrfmiddlewaretoken", secret),
        ("username", rng.choice(ADMIN_USERNAMES)),
        ("password", rng.choice(["admin", "123456", "password", "' OR 1=1--"])),
        ("next", "/admin/"),
    ]
    headers = [
        ("Cookie", f"csrftoken={secret}"),
        ("Origin", f"https://{ctx.host}"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ]
    shape = rng.randrange(8)
    if shape == 0:
        headers = headers[2:]
    elif shape == 1:
        headers[0] = ("Cookie", "csrftoken=" + "a" * 32)
    elif shape == 2:
        fields = fields[:1]
    elif shape == 3:
        fields[1] = ("username", rng.choice(["\x00", "a\x00b", "a" * 10000, "", "😀" * 40]))
    elif shape == 4:
        fields[1] = ("username", "")
        fields[2] = ("password", "p" * rng.choice([4096, 100000]))
    elif shape == 5:
        fields += [("username", "second"), ("password", "second")]
    elif shape == 6:
        headers[1] = ("Origin", rng.choice(["https://evil.example", "null", "https://127.0.0.1:1"]))
    body = form(fields)
    if rng.random() < 0.2:
        body = multipart(fields)
        headers[-1] = ("Content-Type", multipart_type())
    return Hostile("admin", "POST", "/admin/login/", headers, body, address=ADMIN_ADDRESS)


# Request lines no HTTP client writes, as latin-1 text (one character per byte): non-ASCII
# bytes, no HTTP version, a newline or an escape in the path, odd methods and versions,
# absolute and asterisk targets, NUL, a 100 KB path.
RAW_LINES = [
    "GET {panel}&name=\xe5\xbc\xa0\xe4\xb8\x89&phone=13800138000 HTTP/1.1",
    "GET /\xff\xfe?hq={canary} HTTP/1.1",
    "GET {panel}",
    "GET {panel} ",
    "GET /nope%0a{forged}%0d%0a/?hq={canary} HTTP/1.1",
    "GET /panel/{token}%0a{forged}/?hq={canary} HTTP/1.1",
    "GET /nope\x1b[31m{forged} HTTP/1.1",
    "get {panel} HTTP/1.1",
    "FOO {panel} HTTP/1.1",
    "GET  {panel}  HTTP/1.1",
    "GET {panel} HTTP/2.0",
    "GET {panel} HTTP/1.9",
    "GET {panel} HTTP/1",
    "GET {panel} FOO/1.1",
    "GET {panel} http/1.1",
    "GET http://evil.example{panel} HTTP/1.1",
    "GET //evil.example{panel} HTTP/1.1",
    "CONNECT 127.0.0.1:22 HTTP/1.1",
    "GET * HTTP/1.1",
    "OPTIONS * HTTP/1.1",
    "GET /?\x00{canary} HTTP/1.1",
    "GET /" + "a" * 100000 + "?hq={canary} HTTP/1.1",
    "GET {panel}\x00 HTTP/1.1",
    "G\x00ET {panel} HTTP/1.1",
    "\xe4\xbd\xa0 {panel} HTTP/1.1",
]
# Header lines gunicorn must refuse or read safely: no colon, folded, NUL, raw bytes, and the
# Content-Length and Transfer-Encoding combinations of request smuggling.
RAW_HEADERS = [
    "Bad Header: 1",
    "NoColon",
    " folded: x",
    "X-Folded: a\r\n continued",
    "X-Nul: a\x00b",
    "X-Bytes: \xe5\xbc\xa0",
    "Content-Length: -1",
    "Content-Length: 1\r\nContent-Length: 2",
    "Content-Length: 99999999999999999999",
    "Content-Length: 4\r\nTransfer-Encoding: chunked",
    "Transfer-Encoding: xchunked",
    "Transfer-Encoding: chunked, identity",
    "Transfer-Encoding: chunked",
]
# Whole requests: bare LF line ends, no Host, no end of headers, nothing at all.
RAW_REQUESTS = [
    "GET {panel} HTTP/1.1\nHost: {host}\n\n",
    "GET {panel} HTTP/1.1\r\nX-Forwarded-Proto: https\r\n\r\n",
    "GET {panel} HTTP/1.0\r\n\r\n",
    "GET {panel} HTTP/1.1\r\nHost: {host}\r\n",
    "\r\n\r\n",
]


def raw_requests(rng, ctx):
    """Malformed request lines and headers on a raw socket: non-ASCII bytes, no HTTP version,
    %0a in the path, odd methods and versions, absolute URIs, smuggling attempts, TLS bytes,
    binary garbage."""
    values = {
        "token": ctx.token,
        "panel": f"{panel_path(ctx)}?visitorImId=webim-visitor-RAW&hq={CANARY}",
        "canary": CANARY,
        "forged": FORGED,
        "host": ctx.host,
    }
    head = "\r\nHost: {host}\r\nX-Forwarded-Proto: https\r\n"
    kind = rng.randrange(4)
    if kind == 0:
        text = rng.choice(RAW_LINES) + head + "Connection: close\r\n\r\n"
    elif kind == 1:
        method = rng.choice(["GET", "POST"])
        body = rng.choice(["", "zz\r\nabc\r\n0\r\n\r\n", "4\r\nabcd\r\n0\r\n\r\n", "abcd"])
        text = f"{method} {{panel}} HTTP/1.1{head}{rng.choice(RAW_HEADERS)}\r\n\r\n{body}"
    elif kind == 2:
        text = rng.choice(RAW_REQUESTS)
    else:
        garbage = rng.choice(
            [
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rng.randbytes(100),  # TLS hello
                rng.randbytes(rng.randint(1, 2000)),
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                b"\x00" * 100,
            ]
        )
        return Hostile("raw", raw=garbage)
    # str.replace, not format: the lines hold braces of their own ("[31m").
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return Hostile("raw", raw=text.encode("latin-1"))


# Class, its share of the requests, what it sends. About 1.5 % raw requests: a few hundred in
# the default campaign.
CLASSES = {
    "token": (10, odd_tokens),
    "query": (20, odd_queries),
    "injection": (18, injections),
    "charset": (6, odd_charsets),
    "headers": (10, odd_headers),
    "actions": (16, odd_actions),
    "api": (12, odd_api),
    "admin": (4, odd_admin),
    "raw": (1.5, raw_requests),
}
DESCRIPTIONS = {name: " ".join(builder.__doc__.split()) for name, (_w, builder) in CLASSES.items()}


def hostile(seed, number, ctx):
    """Request `number` of the campaign: the same for the same seed, whatever ran before."""
    rng = random.Random(f"{seed}:{number}")
    names = list(CLASSES)
    kind = rng.choices(names, weights=[CLASSES[n][0] for n in names])[0]
    return CLASSES[kind][1](rng, ctx)


# --- sending and judging ----------------------------------------------------------------------


def wire(request, host):
    """The bytes of a request, with the headers nginx sets and a connection of its own."""
    if request.raw:
        return request.raw
    given = {name.lower() for name, _value in request.headers}
    lines = [f"{request.method} {request.target} HTTP/1.1"]
    if "host" not in given:
        lines.append(f"Host: {host}")
    if "x-forwarded-proto" not in given:
        lines.append("X-Forwarded-Proto: https")
    forwarded = [v for n, v in request.headers if n.lower() == "x-forwarded-for"]
    # nginx appends the address it saw ($proxy_add_x_forwarded_for).
    lines.append(f"X-Forwarded-For: {', '.join([*forwarded, request.address])}")
    lines += [f"{n}: {v}" for n, v in request.headers if n.lower() != "x-forwarded-for"]
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(request.body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body


@dataclass
class Answer:
    status: object  # an int, or "closed" (no answer) or "timeout"
    content_type: str = ""
    retry_after: str | None = None
    body: str = ""
    seconds: float = 0.0


def send(port, request, host, timeout=ANSWER_TIMEOUT):
    started = time.monotonic()
    data = wire(request, host)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            try:
                sock.sendall(data)
                if request.raw:
                    # Whatever the server waits for, it learns there is no more.
                    sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before it was all sent: the answer may still be there to read
            response = http.client.HTTPResponse(sock, method=request.method)
            response.begin()
            body = response.read()
            return Answer(
                response.status,
                response.getheader("Content-Type", ""),
                response.getheader("Retry-After"),
                body.decode("utf-8", "replace"),
                time.monotonic() - started,
            )
    except TimeoutError:
        return Answer("timeout", seconds=time.monotonic() - started)
    except (http.client.HTTPException, ConnectionError):
        return Answer("closed", seconds=time.monotonic() - started)


TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)|File \"/|Exception Value:|psycopg\.|django\.db\.utils"
)


def judge(request, answer):
    """What is wrong with an answer: a list of problems, empty when it is fine."""
    problems = []
    if answer.status == "timeout":
        problems.append("timeout")
    elif answer.status == "closed":
        # gunicorn drops some malformed raw requests without a word; any other request gets
        # an answer unless a worker died.
        if not request.raw:
            problems.append("no answer")
    else:
        # gunicorn's answer to a Transfer-Encoding it does not implement is a 501, as HTTP/1.1
        # asks (RFC 9112, 6.1); nginx answers those 501 itself, before gunicorn sees them.
        if answer.status >= 500 and not (request.raw and answer.status == 501):
            problems.append("5xx")
        if answer.status == 429 and not answer.retry_after:
            problems.append("429 without Retry-After")
    if TRACEBACK.search(answer.body):
        problems.append("traceback")
    # Every payload, not only the request's own: one stored by an earlier request (a note,
    # pushed visitor info, a customer's name) must not come back unescaped either.
    if "json" not in answer.content_type and any(p in answer.body for p in PAYLOADS):
        problems.append("reflection")
    return problems


@dataclass
class ClassResult:
    count: int = 0
    statuses: Counter = field(default_factory=Counter)
    problems: Counter = field(default_factory=Counter)
    max_seconds: float = 0.0
    # The first few failed requests, to reproduce them.
    examples: list = field(default_factory=list)

    def add(self, request, answer, problems, ctx):
        self.count += 1
        self.statuses[answer.status] += 1
        self.problems.update(problems)
        self.max_seconds = max(self.max_seconds, answer.seconds)
        if problems and len(self.examples) < 5:
            sent = request.raw or wire(request, ctx.host)
            example = {
                "problems": problems,
                "status": answer.status,
                "request": sent[:600].decode("latin-1"),
                "answer": answer.body[:300],
            }
            masked = json.dumps(example).replace(ctx.token, "<PANEL_TOKEN>")
            self.examples.append(json.loads(masked))

    def merge(self, other):
        self.count += other.count
        self.statuses.update(other.statuses)
        self.problems.update(other.problems)
        self.max_seconds = max(self.max_seconds, other.max_seconds)
        self.examples += other.examples[: 5 - len(self.examples)]

    def figures(self):
        return {
            "count": self.count,
            "statuses": {str(s): n for s, n in self.statuses.items()},
            "problems": dict(self.problems),
            "max_seconds": round(self.max_seconds, 3),
            "examples": self.examples,
        }


# --- the campaign -----------------------------------------------------------------------------


def campaign(seed, count, seconds, clients, ctx, plain_port, encrypted_port):
    """Send requests 0..count-1 from `clients` threads until done or `seconds` have passed."""
    results = {name: ClassResult() for name in CLASSES}
    lock = threading.Lock()
    numbers = iter(range(count))
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    stopping = threading.Event()

    def client():
        mine = {name: ClassResult() for name in CLASSES}
        while time.monotonic() < deadline and not stopping.is_set():
            with lock:
                number = next(numbers, None)
            if number is None:
                break
            request = hostile(seed, number, ctx)
            port = encrypted_port if request.encrypted else plain_port
            answer = send(port, request, ctx.host)
            mine[request.kind].add(request, answer, judge(request, answer), ctx)
        with lock:
            for name, result in mine.items():
                results[name].merge(result)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        # Ctrl-C or SIGTERM: no new request while the servers stop.
        stopping.set()
    return results, time.monotonic() - started


# --- rate limits with their defaults ----------------------------------------------------------


def limits_phase(port, ctx):
    """The default limits, 30 failures and 600 loads a minute per address: failures past their
    budget get 429 with Retry-After while valid loads from the same address still get 200;
    loads past theirs get 429 with Retry-After too. Returns (figures, problems)."""
    rng = random.Random("limits")
    failing, loading = "127.0.0.200", "127.0.0.201"
    visitor = ctx.visitors[0][0]

    def load(address):
        query = query_string(workbench(rng, ctx, False, visitor))
        request = Hostile("limits", "GET", f"{panel_path(ctx)}?{query}", address=address)
        return send(port, request, ctx.host)

    def statuses(answers):
        return dict(Counter(a.status for a in answers))

    def retry_after(answers):
        return sorted({a.retry_after for a in answers if a.status == 429})

    # The counts start again every minute: start with one.
    time.sleep(60 - time.time() % 60 + 0.5)
    window = int(time.time() // 60)
    wrong = Hostile("limits", "GET", f"{panel_path(ctx, 'wrong')}?hq={CANARY}", address=failing)
    failures = [send(port, wrong, ctx.host) for _ in range(40)]
    valid = [load(failing) for _ in range(20)]
    reveal = Hostile(
        "limits",
        "POST",
        f"{panel_path(ctx)}reveal/",
        [("Content-Type", "application/x-www-form-urlencoded")],
        form([("t", "garbage"), ("v", visitor), ("field", "phone")]),
        address=failing,
    )
    actions = [send(port, reveal, ctx.host) for _ in range(3)]
    loads = []
    lock = threading.Lock()

    def loader():
        mine = [load(loading) for _ in range(75)]
        with lock:
            loads.extend(mine)

    threads = [threading.Thread(target=loader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    past_budget = [load(loading) for _ in range(5)]
    wrong_from_loader = send(
        port, Hostile("limits", "GET", wrong.target, address=loading), ctx.host
    )
    figures = {
        "40 wrong tokens from address A": statuses(failures),
        "Retry-After of A's 429s": retry_after(failures),
        "then 20 valid loads from A": statuses(valid),
        "then 3 actions with a garbage token from A": statuses(actions),
        "600 valid loads from address B": statuses(loads),
        "5 more loads from B": statuses(past_budget),
        "Retry-After of B's 429s": retry_after(past_budget),
        "then a wrong token from B": wrong_from_loader.status,
    }
    checks = [
        (statuses(failures) == {404: 30, 429: 10}, "40 wrong tokens: not 30 × 404, 10 × 429"),
        (statuses(valid) == {200: 20}, "valid loads from the throttled address: not all 200"),
        (all(a.status == 429 and "json" in a.content_type for a in actions), "actions: not 429"),
        (statuses(loads) == {200: 600}, "600 valid loads from one address: not all 200"),
        (statuses(past_budget) == {429: 5}, "loads past the budget: not 429"),
        (wrong_from_loader.status == 404, "a failure from the loading address: not 404"),
        (
            all(a.retry_after for a in failures + actions + past_budget if a.status == 429),
            "a 429 without Retry-After",
        ),
    ]
    if int(time.time() // 60) != window:
        # A machine too busy for 670 requests in a minute: the counts started again midway.
        return figures, ["the checks took more than a minute: run them again"]
    return figures, [problem for passed, problem in checks if not passed]


# --- logs -------------------------------------------------------------------------------------

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def exceptions(lines):
    """The exception each traceback in a log ends with (the last of a chain), by name."""
    found = Counter()
    inside = False
    for number, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            inside = True
        elif inside and line and not line[0].isspace():
            inside = False
            following = next((x for x in lines[number + 1 : number + 4] if x.strip()), "")
            if not following.startswith(CHAINED):
                found[line.split(":", 1)[0].rsplit(".", 1)[-1]] += 1
    return found


def read_log(path, token):
    """What a server's log (access, error and app lines in one file) holds that it must not."""
    text = path.read_bytes().decode("utf-8", "replace")
    lines = text.splitlines()
    found = exceptions(lines)
    return {
        "lines": len(lines),
        "token": text.count(token),
        "query strings": text.count(CANARY),
        "control characters": sum(bool(CONTROL.search(line)) for line in lines),
        "forged lines": sum(line.startswith(FORGED) for line in lines),
        "tracebacks": sum(found.values()),
        "worker crashes": len(
            re.findall(r"WORKER TIMEOUT|was sent SIGKILL|exited with code", text)
        ),
        "exceptions": dict(found),
    }


# --- setting up -------------------------------------------------------------------------------


def production_env(args, static_root, token, secret_key, encrypted=False, raised=True):
    env = {
        "DJANGO_SETTINGS_MODULE": "crm_project.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secret_key,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_STATIC_ROOT": str(static_root),
        "DATABASE_URL": f"{args.postgres}/{args.database}",
        "CACHE_URL": args.redis,
        "PANEL_TOKEN": token,
        "SIMULATOR_ENABLED": "false",
        "EASEMOB_IFRAME_KEY": IFRAME_KEY if encrypted else "",
        "EASEMOB_ENCRYPT_SYSTEM_PARAMS": "true" if encrypted else "false",
    }
    if raised:
        # Every request comes from a handful of addresses here; at the default limits the
        # campaign would be 429s after the first minute.
        env.update(
            {
                "PANEL_RATE_LIMIT": "100000000",
                "PANEL_FAILURE_RATE_LIMIT": "100000000",
                "API_RATE_LIMIT": "100000000/min",
            }
        )
    return env


def prepare_database(args):
    """Create the database when it is missing; PostgreSQL's version."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [args.database]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.database)))
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def new_api_token(name):
    """An integration token for the API: its record and the token itself."""
    from api.models import IntegrationToken

    record = IntegrationToken(name=name)
    token = record.set_new_token()
    record.save()
    return record, token


def prepare(args):
    """Migrate and seed (only what is missing), reset lockouts and the cache, make the API
    tokens, collect static files; return the generator's context less the token and host."""
    from django.core.cache import cache
    from django.core.management import call_command

    from api.models import IntegrationToken
    from customers.models import Customer, VisitorIdentity
    from orders.models import Order

    call_command("migrate", verbosity=0)
    call_command("seed_demo", customers=args.customers, verbosity=0)
    call_command("axes_reset", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    cache.clear()
    IntegrationToken.objects.filter(name__startswith="hostile").delete()
    api_token = new_api_token("hostile")[1]
    revoked, revoked_api_token = new_api_token("hostile, revoked")
    revoked.revoke()
    visitors = list(
        VisitorIdentity.objects.order_by("pk").values_list("visitor_im_id", "customer_id")[:50]
    )
    return {
        "visitors": visitors,
        "external_ids": list(
            Customer.objects.order_by("pk").values_list("external_id", flat=True)[:50]
        ),
        "order_numbers": list(Order.objects.order_by("pk").values_list("number", flat=True)[:50]),
        "api_token": api_token,
        "revoked_api_token": revoked_api_token,
    }


class App(Gunicorn):
    """tests.servers.Gunicorn, stopped even when it does not come up or hangs on the way out."""

    def __init__(self, env, log_path, workers):
        try:
            super().__init__(env, log_path, workers=workers)
        except BaseException:
            if hasattr(self, "process"):
                self.stop()
            raise

    def stop(self):
        if self.process.poll() is not None:
            return
        try:
            super().stop()
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- report ---------------------------------------------------------------------------------

LOG_FINDINGS = [
    "token",
    "query strings",
    "control characters",
    "forged lines",
    "tracebacks",
    "worker crashes",
]


def status_text(statuses):
    return ", ".join(f"{s} × {n}" for s, n in sorted(statuses.items(), key=lambda i: str(i[0])))


def table(results):
    lines = [
        "| class | requests | statuses | 5xx | tracebacks | reflections | other failures "
        "| slowest |",
        "|---|---|---|---|---|---|---|---|",
    ]
    total = ClassResult()
    for name, r in [*results.items(), ("**all**", total)]:
        if r is not total:
            total.merge(r)
        counts = [r.problems[p] for p in ("5xx", "traceback", "reflection")]
        other = [
            f"{p} × {n}"
            for p, n in r.problems.items()
            if p not in ("5xx", "traceback", "reflection")
        ]
        statuses = status_text(r.statuses) if r is not total else ""
        lines.append(
            f"| {name} | {r.count:,} | {statuses} | {' | '.join(map(str, counts))} | "
            f"{', '.join(other) or 0} | {r.max_seconds:.2f} s |"
        )
    return "\n".join(lines)


def log_table(logs):
    lines = [
        f"| log of | lines | {' | '.join(LOG_FINDINGS)} |",
        "|---|---|" + "---|" * len(LOG_FINDINGS),
    ]
    for name, log in logs.items():
        values = [log[k] for k in ["lines", *LOG_FINDINGS]]
        lines.append(f"| {name} | {' | '.join(f'{v:,}' for v in values)} |")
    return "\n".join(lines)


def run(args, folder):
    """Prepare, attack, check the limits, read the logs: every figure of the run."""
    token = secrets.token_urlsafe(32)
    secret_key = secrets.token_urlsafe(50)
    static_root = folder / "static"

    def env(**options):
        return production_env(args, static_root, token, secret_key, **options)

    os.environ.update(env())
    postgres_version = prepare_database(args)

    import django

    django.setup()
    ctx = Context(token=token, iframe_key=IFRAME_KEY, host="127.0.0.1", **prepare(args))
    servers = {}
    try:
        servers["plain"] = App(env(), folder / "plain.log", workers=2)
        servers["encrypted"] = App(env(encrypted=True), folder / "encrypted.log", workers=2)
        print(f"Sending {args.requests:,} hostile requests from {args.clients} clients ...")
        results, seconds = campaign(
            args.seed,
            args.requests,
            args.seconds,
            args.clients,
            ctx,
            servers["plain"].port,
            servers["encrypted"].port,
        )
        servers["limits"] = App(env(raised=False), folder / "limits.log", workers=1)
        print("Checking the default rate limits ...")
        limits, limit_problems = limits_phase(servers["limits"].port, ctx)
    finally:
        # All at once: each takes a few seconds to stop gracefully.
        for app in servers.values():
            app.process.terminate()
        for app in servers.values():
            app.stop()
    if args.keep_logs:
        for name in servers:
            shutil.copy(folder / f"{name}.log", Path(args.keep_logs) / f"hostile-{name}.log")
    return {
        "postgres": postgres_version,
        "seconds": seconds,
        "results": results,
        "limits": limits,
        "limit_problems": limit_problems,
        "logs": {name: read_log(folder / f"{name}.log", token) for name in servers},
    }


def report(args, figures):
    """Print the tables (and write the JSON); the numbers of failures."""
    results, logs = figures["results"], figures["logs"]
    sent = sum(r.count for r in results.values())
    print(
        f"\n{sent:,} hostile requests in {figures['seconds']:.0f} s from {args.clients} clients "
        f"(seed {args.seed}) to two gunicorns of 2 workers; PostgreSQL {figures['postgres']}."
    )
    if sent < args.requests:
        print(f"Stopped by the time cap ({args.seconds:.0f} s): {sent:,} of {args.requests:,}.")
    print(f"\n{table(results)}\n\n{log_table(logs)}\n")
    for name, log in logs.items():
        if log["exceptions"]:
            print(f"Exceptions in the log of {name}: {status_text(log['exceptions'])}")
    for name, value in figures["limits"].items():
        print(f"- {name}: {value}")
    failures = [
        *(f"rate limits: {p}" for p in figures["limit_problems"]),
        *(
            f"{n}: {json.dumps(e, ensure_ascii=False)}"
            for n, r in results.items()
            for e in r.examples
        ),
        *(f"log of {n}: {k} × {log[k]}" for n, log in logs.items() for k in LOG_FINDINGS if log[k]),
    ]
    for failure in failures:
        print(f"FAILED {failure}")
    if args.json:
        document = {
            "seed": args.seed,
            "requested": args.requests,
            "sent": sent,
            "seconds": round(figures["seconds"], 1),
            "clients": args.clients,
            "classes": {name: r.figures() for name, r in results.items()},
            "descriptions": DESCRIPTIONS,
            "logs": logs,
            "limits": figures["limits"],
            "limit_problems": figures["limit_problems"],
        }
        Path(args.json).write_text(json.dumps(document, indent=2, ensure_ascii=False))
    return {
        "failed answers": sum(sum(r.problems.values()) for r in results.values()),
        "log findings": sum(log[k] for log in logs.values() for k in LOG_FINDINGS),
        "rate limit problems": len(figures["limit_problems"]),
    }


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=20000, help="how many hostile requests")
    parser.add_argument("--seconds", type=float, default=300, help="stop sending after this")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--customers", type=int, default=200, help="seed_demo --customers")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep-logs", help="copy the servers' logs into this folder")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="crm_hostile")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    return parser.parse_args()


def main():
    args = parse_args()
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, through the finally that stops the
    # servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crm-hostile-") as folder:
        figures = run(args, Path(folder))
    failures = report(args, figures)
    print(f"\nTotal {time.monotonic() - started:.0f} s.")
    if any(failures.values()):
        print("FAILED: " + ", ".join(f"{n} {what}" for what, n in failures.items()) + ".")
        sys.exit(1)


if __name__ == "__main__":
    main()
