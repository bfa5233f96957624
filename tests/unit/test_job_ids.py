"""Upstream's job-id vectors (UPSTREAM-WIRE.md §10), held by the server's job_id and the browser's jobid.js.

Each vector is JSON text as the wire document writes it (so `1.0` stays a float on the Python side), with `A`
standing for `"image":"alpine:3.19.1"`.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from asman.core.definition import JobDefinition, canonical_json, hash_blob, job_id
from asman.core.whatwg_url import https_href_without_query

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "src" / "asman" / "web" / "static" / "js"
BUCKET = "https://metaframe-asman-test.s3.us-west-1.amazonaws.com"
# \uff46 (fullwidth f) sorts after 😀 by UTF-16 code units, though before it by code points.
UNSORTED_NAMES = (
    '{A,"command":"ls /inputs","inputs":{"\uff46.txt":{"type":"utf8","value":"a"},'
    '"😀.txt":{"type":"utf8","value":"b"},"Z.txt":{"type":"utf8","value":"c"}}}'
)


def _a(text: str) -> str:
    """The wire document's shorthand: `{A,` opens an object whose first key is the alpine image."""
    return text.replace("{A,", '{"image":"alpine:3.19.1",', 1)


def _url_input(value: str) -> str:
    ref = json.dumps({"type": "url", "value": value, "hash": "abc123"})
    return _a('{A,"command":"wc -c /inputs/data.csv","inputs":{"data.csv":' + ref + "}}")


NOISE = '"entrypoint":null,"workdir":null,"env":{},"inputs":{},"configFiles":{},"build":{},"requirements":{},"x":1'
PARENT_ENV = (
    '"mp-channel":"c1","mp_page":"p","readonly":"true","edit":"1","channel":"x","CHANNEL":"y",'
    '"parent-metapage-id":"abc","fs-path":"/a/b"'
)
ECHO_HI = "bf84d4df36113589bd9f37391696f30f79f4ccf48a49232ce2b3c5b8b31b971d"
DATA_CSV = "3270f6e934287d16ad28c4cd9e163888ea291e744884846d2e5a1c771f6d592a"
BUCKET_FILE = "5e485b3bf81d0f66b74d7232c422bfc998674f1e1570d12270adc8722def789b"
CPUS_ONE = "55b81adf1cc14e2bdeb76adc5757e1b8f04d921efbc8c68a1152d1442c9d2a4d"

VECTORS: list[tuple[str, str]] = [
    (_a('{A,"command":"echo hi"}'), ECHO_HI),
    (_a('{A,"command":"echo hi",' + NOISE + "}"), ECHO_HI),
    (
        _a('{A,"command":"echo $FOO","env":{"FOO":"bar",' + PARENT_ENV + "}}"),
        "5f1ffb683586b849c6353755a72d8f3edc521c52dacc7a3821fde681dfa3808a",
    ),
    (
        _a(
            '{A,"command":"cat /inputs/a.txt","inputs":{"a.txt":{"type":"utf8","value":"hello","hash":"deadbeef"},'
            '"b.bin":{"type":"base64","value":"aGVsbG8=","hash":"cafe"},"c.json":{"type":"json","value":{"z":1,'
            '"a":[2,1]}},"d":{"value":"no type"}}}'
        ),
        "6ada401640521beaa249506864b7c3487f2619657a88ba089de034a35a47ac2f",
    ),
    (_url_input("https://example.com/f/abc123/presignedurl/xyz?X-Amz-Signature=1&b=2"), DATA_CSV),
    (_url_input("https://example.com/f/abc123"), DATA_CSV),
    (
        _url_input("https://example.com/f/abc123?token=1#frag"),
        "ddd815b97afd097c8c7ac9e7dc45d34aab44145c269e0c1de336a0b8b81fe40a",
    ),
    (_url_input(f"{BUCKET}/f/abc 123?X-Amz-Algorithm=AWS4&X-Amz-Credential=k#frag"), BUCKET_FILE),
    (_url_input(f"{BUCKET}/f/abc%20123"), BUCKET_FILE),
    (_a('{A,"command":"echo hi","requirements":{"cpus":1.0,"memory":"1g"}}'), CPUS_ONE),
    (_a('{A,"command":"echo hi","requirements":{"cpus":1,"memory":"1g"}}'), CPUS_ONE),
    (
        _a('{A,"command":"echo hi","requirements":{"cpus":0.5,"gpus":1,"maxDuration":"10m"}}'),
        "a9072eaec0fc86b059c4d5dc4f326f8cc5566b9446e6f2658f0ebced806cf8cb",
    ),
    (
        _a('{A,"command":"echo héllo 世界 🚀 \\"q\\" \\\\ tab\\tend"}'),
        "09fafcb223817aaf7aa9cc02929e4fdc5edb5a744d5e395ebb4585923b8c4baa",
    ),
    (
        _a('{A,"command":"echo hi","tags":["gpu","b","a"]}'),
        "78249e142c1f4a13efbc7ed2c20b2dfb08d30ca502aeee719dfb4cf28ff05745",
    ),
    (
        _a('{A,"command":"echo hi","tags":[]}'),
        "5dbea6b60033a0ff7e598d0b3d42be338e454373eb04bd2458e7e89f016e9d15",
    ),
    (
        _a(
            '{A,"command":"cat /inputs/config.json /etc/app.conf","configFiles":{"config.json":{"type":"utf8",'
            '"value":"{\\"a\\":1}"},"/etc/app.conf":{"type":"utf8","value":"x=1\\n","hash":"ignored"}}}'
        ),
        "50a65bd0d8fb2addd08a7c038da8fdff6bef88927844e992b1cb68e575581ff2",
    ),
    (
        '{"build":{"context":"https://github.com/octocat/Hello-World","dockerfile":"FROM alpine:3.18.5\\nWORKDIR'
        ' /repo\\nCOPY . /repo","buildArgs":["A=1"],"platform":"linux/amd64","futureField":1},"command":"ls /repo",'
        '"maxDuration":"30m","workdir":"/repo","entrypoint":"sh -c","shmSize":"1g","v":1}',
        "b32ddb372ec58f70da2e67af76b5fe52ffe0b0f0fa3272d5ee6e3d71c9dadc0e",
    ),
    (_a(UNSORTED_NAMES), "7a4d371c7c0eb57b0686072b7c5e13315b380728a1687d4097a1ffb25c0a1217"),
]

# Canonical forms the wire document spells out, beside their ids.
CANONICAL = {
    _a('{A,"command":"echo hi"}'): '{"command":"echo hi","image":"alpine:3.19.1"}',
    _a(UNSORTED_NAMES): '{"command":"ls /inputs","image":"alpine:3.19.1","inputs":{"Z.txt":{"type":"utf8",'
    '"value":"c"},"😀.txt":{"type":"utf8","value":"b"},"\uff46.txt":{"type":"utf8","value":"a"}}}',
}


@pytest.mark.parametrize(("text", "expected"), VECTORS)
def test_upstream_vectors(text: str, expected: str) -> None:
    assert job_id(json.loads(text)) == expected


@pytest.mark.parametrize(("text", "expected"), VECTORS)
def test_a_validated_model_hashes_like_its_dict(text: str, expected: str) -> None:
    assert job_id(JobDefinition.model_validate_json(text)) == expected


@pytest.mark.parametrize(("text", "canonical"), CANONICAL.items())
def test_canonical_forms(text: str, canonical: str) -> None:
    assert canonical_json(hash_blob(json.loads(text))) == canonical


def test_the_bucket_url_is_hashed_without_query_and_percent_encoded() -> None:
    blob = hash_blob(json.loads(VECTORS[7][0]))
    assert blob["inputs"]["data.csv"] == {"type": "url", "value": f"{BUCKET}/f/abc%20123"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.00001, "0.00001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e16, "10000000000000000"),
        (1.5e20, "150000000000000000000"),
        (1e21, "1e+21"),
        (-1.25e22, "-1.25e+22"),
        (2**53 + 1, "9007199254740992"),
        (float("nan"), "null"),
    ],
)
def test_numbers_as_javascript_prints_them(value: float, text: str) -> None:
    assert canonical_json(value) == text


def test_lone_surrogates_are_escaped_as_json_stringify_does() -> None:
    assert canonical_json(json.loads('"a\\ud800b"')) == '"a\\ud800b"'


# URLs under upstream's bucket host, each compared against node's own `new URL()` below.
URLS = [
    f"{BUCKET}",
    f"{BUCKET}?q=1",
    f"{BUCKET}:443/x",
    f"{BUCKET}:0080/x",
    f"{BUCKET}:/x",
    f"{BUCKET}:99999/x",
    f"{BUCKET}:8a/x",
    f"{BUCKET}.EVIL.com/x",
    f"{BUCKET}%41/x",
    f"{BUCKET}%zz/x",
    f"{BUCKET}@evil.com/x",
    f"{BUCKET}:pa ss@evil.com/x",
    f"{BUCKET}\t/a\nb ",
    f"{BUCKET}/a/..",
    f"{BUCKET}/a/./b/%2E%2e/c/.",
    f"{BUCKET}\\a\\b",
    f"{BUCKET}/a^b`c{{d}}e|f g\"h<i>j'k[l]m%zz%2e",
    f"{BUCKET}/\x7f\x00/😀/é",
    f"{BUCKET}/f/abc 123?X-Amz-Algorithm=AWS4#frag",
]


def _node(script: str, payload: Any) -> Any:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=JS,
    )
    return json.loads(done.stdout)


_JOB_IDS_IN_NODE = (
    "import { jobId } from './jobid.js';\n"
    "const texts = JSON.parse((await import('node:fs')).readFileSync(0, 'utf8'));\n"
    "console.log(JSON.stringify(await Promise.all(texts.map((text) => jobId(JSON.parse(text))))));"
)


def test_jobid_js_matches_every_vector() -> None:
    computed = _node(_JOB_IDS_IN_NODE, [text for text, _ in VECTORS])
    assert computed == [expected for _, expected in VECTORS]


def _random_definition(rng: random.Random) -> dict[str, Any]:
    alphabet = 'aZ_-.é世{FULLWIDTH_F}😀"\\\n\t\x01'

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))

    def number() -> float | int:
        return rng.choice(
            [rng.randint(-(2**60), 2**60), rng.uniform(-1e25, 1e25), 10.0 ** rng.randint(-9, 22)]
        )

    refs = {
        text(): {"type": rng.choice(["utf8", "json", "url", None]), "value": rng.choice([text(), number()])}
        for _ in range(rng.randint(0, 3))
    }
    return {
        "image": text(),
        "command": text(),
        "tags": [text() for _ in range(rng.randint(0, 2))],
        "env": {text(): text() for _ in range(rng.randint(0, 3))},
        "requirements": {"cpus": number(), "gpus": rng.choice([None, 1])},
        "inputs": refs,
        "configFiles": {name: {"type": "json", "value": {text(): number()}} for name in refs},
    }


def test_jobid_js_and_the_server_agree_on_random_definitions() -> None:
    rng = random.Random(12)
    texts = [json.dumps(_random_definition(rng), ensure_ascii=False) for _ in range(300)]
    assert _node(_JOB_IDS_IN_NODE, texts) == [job_id(json.loads(text)) for text in texts]


def test_the_url_serialisation_matches_node() -> None:
    script = (
        "const urls = JSON.parse((await import('node:fs')).readFileSync(0, 'utf8'));\n"
        "console.log(JSON.stringify(urls.map((url) => {\n"
        "  try { const u = new URL(url); u.search = ''; u.hash = ''; return u.href; } catch { return null; }\n"
        "})));"
    )
    assert [https_href_without_query(url) for url in URLS] == _node(script, URLS)


def _random_plain(rng: random.Random, depth: int = 0) -> Any:
    """Values of the kinds canonical_json renders through orjson, and a few beside them that it must not."""
    alphabet = 'aZ_-./é世\uff46😀"\\\n\t\x01\x1f\x7f\u2028'
    kind = rng.randint(0, 9 if depth < 3 else 5)
    if kind <= 2:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
    if kind == 3:
        return rng.choice([0, -1, 2**53, -(2**53), 2**53 + 1, 2**63, rng.randint(-(2**60), 2**60)])
    if kind == 4:
        return rng.choice([True, False, None, 1.5, 1e21])
    if kind == 5:
        return rng.choice(["a\ud800b", "\udfff"])  # lone surrogates: orjson refuses them
    if kind <= 7:
        return [_random_plain(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["b", "a", "Z", "_x", "é", "😀", "\uff46"]
    return {rng.choice(keys): _random_plain(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def test_the_orjson_rendering_is_the_canonical_walk() -> None:
    from asman.core.definition import _canonical  # the walk, which the fast path must never differ from

    rng = random.Random(7)
    values = [_random_plain(rng) for _ in range(3000)]
    assert [canonical_json(value) for value in values] == [_canonical(value) for value in values]


def test_jobid_js_and_the_server_agree_on_plain_definitions() -> None:
    rng = random.Random(13)
    definitions = [
        {"image": _random_plain(rng), "command": _random_plain(rng), "env": {"A": _random_plain(rng)}}
        for _ in range(300)
    ]
    texts = [json.dumps(d) for d in definitions]  # ASCII: lone surrogates travel to node as escapes
    assert _node(_JOB_IDS_IN_NODE, texts) == [job_id(json.loads(text)) for text in texts]
