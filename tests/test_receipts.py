"""Receipts and signatures: checkpoints kept outside the ledger, forged or altered ones refused."""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpirules.cli import run
from kpirules.ledger import Ledger, LedgerError
from kpirules.receipts import INSTALL_HINT, keygen, load_public_key, parse_head, read_receipt

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "a-office-annual.yaml"
EXAMPLE = ROOT / "examples" / "a-offices-2026.csv"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def score(db: Path, *extra: str) -> tuple[int, str, str]:
    return cli("score", str(RULESET), str(EXAMPLE), "--record", str(db), *extra)


def keys(tmp_path: Path, name: str = "signer.key") -> tuple[Path, Path]:
    code, _, err = cli("keygen", "--output", str(tmp_path / name))
    assert code == 0, err
    return tmp_path / name, tmp_path / (name + ".pub")


def test_receipt_holds_the_batch_checkpoint(tmp_path: Path) -> None:
    """`score --receipt` writes the checkpoint the ledger stored, as a small JSON document."""
    db, receipt = tmp_path / "ledger.db", tmp_path / "r.json"
    code, _, err = score(db, "--receipt", str(receipt))
    assert code == 0
    assert err.splitlines()[-1] == f"收据已写入 {receipt}"
    with Ledger.open_readonly(db) as ledger:
        stored = ledger.checkpoint()
        last = list(ledger.entries())[-1]
    assert stored is not None
    data = json.loads(receipt.read_text("utf-8"))
    assert data == {
        "kpirules_receipt": 1,
        "ledger": str(db),
        "ledger_id": stored.ledger_id,
        "size": 4,
        "head": last.hash,
        "time": last.recorded_at,
        "batch": last.batch,
        "first": 1,
        "key_id": None,
        "signature": None,
    }
    assert read_receipt(receipt) == stored
    mask = os.umask(0)
    os.umask(mask)
    assert receipt.stat().st_mode & 0o777 == 0o666 & ~mask  # an ordinary file, not a private one


def test_receipt_is_never_overwritten_without_force(tmp_path: Path) -> None:
    """An existing receipt stops the run before scoring; --force replaces it."""
    db, receipt = tmp_path / "ledger.db", tmp_path / "r.json"
    receipt.write_text("keep me", "utf-8")
    code, _, err = score(db, "--receipt", str(receipt))
    assert (code, err) == (2, f"kpirules: 收据文件 {receipt} 已存在；要覆盖请加 --force\n")
    assert receipt.read_text("utf-8") == "keep me"
    assert not db.exists()  # refused before anything was recorded
    assert score(db, "--receipt", str(receipt), "--force")[0] == 0
    assert json.loads(receipt.read_text("utf-8"))["size"] == 4


def test_receipt_and_sign_key_need_record(tmp_path: Path) -> None:
    """--receipt or --sign-key without --record is a usage error; a receipt cannot be the ledger."""
    code, _, err = cli("score", str(RULESET), str(EXAMPLE), "--receipt", str(tmp_path / "r.json"))
    assert (code, err) == (2, "kpirules: --receipt 需要与 --record 一起使用\n")
    code, _, err = cli("score", str(RULESET), str(EXAMPLE), "--sign-key", "k")
    assert (code, err) == (2, "kpirules: --sign-key 需要与 --record 一起使用\n")
    db = tmp_path / "ledger.db"
    code, _, err = score(db, "--receipt", str(db))
    assert (code, err) == (2, f"kpirules: 收据文件 {db} 就是输入、输出或审计记录，拒绝覆盖\n")


def test_bad_receipts_and_heads_are_named(tmp_path: Path) -> None:
    """A receipt that is not JSON, lacks a field or has a wrong hash is named with the field."""
    db = tmp_path / "ledger.db"
    assert score(db)[0] == 0
    broken = tmp_path / "broken.json"
    broken.write_text('{"kpirules_receipt": 1,', "utf-8")
    code, _, err = cli("verify", str(db), "--receipt", str(broken))
    assert (code, err) == (
        1,
        f"kpirules: {broken}:1:24: 不是 kpirules 收据（JSON 格式错误：Expecting property name enclosed in double quotes）\n",
    )
    other = tmp_path / "other.json"
    other.write_text('{"total": "97.00"}', "utf-8")
    code, _, err = cli("verify", str(db), "--receipt", str(other))
    assert (code, err) == (
        1,
        f'kpirules: {other} 不是 kpirules 收据（没有 "kpirules_receipt": 1）\n',
    )
    short = tmp_path / "short.json"
    short.write_text(
        '{"kpirules_receipt": 1, "ledger_id": "x", "size": 4, "head": "abc", "time": "t"}', "utf-8"
    )
    code, _, err = cli("verify", str(db), "--receipt", str(short))
    assert (code, err) == (
        1,
        f'kpirules: {short}: 收据字段 head 应为 64 位十六进制哈希（得到 "abc"）\n',
    )
    short.write_text(
        json.dumps(
            {
                "kpirules_receipt": 1,
                "ledger_id": "x",
                "size": 4,
                "head": "a" * 64,
                "time": "t",
                "first": "one",
            }
        ),
        "utf-8",
    )
    code, _, err = cli("verify", str(db), "--receipt", str(short))
    assert (code, err) == (1, f'kpirules: {short}: 收据字段 first 应为非负整数（得到 "one"）\n')
    code, _, err = cli("verify", str(db), "--receipt", str(tmp_path / "none.json"))
    assert (code, err) == (1, f"kpirules: 找不到收据文件 {tmp_path / 'none.json'}\n")
    code, _, err = cli("verify", str(db), "--head", "4-abc")
    assert (code, err) == (
        2,
        "kpirules: --head “4-abc” 应写成 条数:哈希（例如 4:3f2a…，哈希为 64 位十六进制）\n",
    )
    assert parse_head("4:" + "AB" * 32) == (4, "ab" * 32)


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    """keygen writes KEYFILE (0600) and KEYFILE.pub, and never overwrites either."""
    private, public = keys(tmp_path)
    assert private.stat().st_mode & 0o777 == 0o600
    assert private.read_text("ascii").startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text("ascii").startswith("-----BEGIN PUBLIC KEY-----")
    before = private.read_bytes()
    code, _, err = cli("keygen", "--output", str(private))
    assert (code, err) == (1, f"kpirules: {private} 已存在：不会覆盖已有的密钥文件\n")
    assert private.read_bytes() == before
    assert load_public_key(public).key_id.startswith("sha256:")


def test_signed_checkpoints_verify_with_the_public_key_alone(tmp_path: Path) -> None:
    """Checkpoints signed at recording, and the receipt, check out with the public key."""
    private, public = keys(tmp_path)
    db, receipt = tmp_path / "ledger.db", tmp_path / "r.json"
    code, _, err = score(db, "--sign-key", str(private), "--receipt", str(receipt))
    assert code == 0
    assert err.splitlines()[-2].endswith("，已签名）")
    assert score(db, "--sign-key", str(private))[0] == 0
    data = json.loads(receipt.read_text("utf-8"))
    assert len(base64.b64decode(data["signature"])) == 64
    assert data["key_id"] == load_public_key(public).key_id
    code, out, _ = cli("verify", str(db), "--public-key", str(public), "--receipt", str(receipt))
    assert code == 0
    assert out.splitlines()[:3] == [
        f"{db}: 8 条记录，哈希链完整",
        f"{db}: 收据 {receipt}：第 1–4 条与收据一致",
        f"{db}: 2 个检查点的签名有效（{public}）",
    ]


def forge(receipt: Path, **changes: object) -> None:
    data = json.loads(receipt.read_text("utf-8"))
    data.update(changes)
    receipt.write_text(json.dumps(data), "utf-8")


def test_altered_or_forged_signatures_are_refused(tmp_path: Path) -> None:
    """An altered signature, an altered signed field, a wrong key and a missing signature fail."""
    private, public = keys(tmp_path)
    _, stranger = keys(tmp_path, "stranger.key")
    db, receipt = tmp_path / "ledger.db", tmp_path / "r.json"
    assert score(db, "--sign-key", str(private), "--receipt", str(receipt))[0] == 0
    good = json.loads(receipt.read_text("utf-8"))

    flipped = base64.b64decode(good["signature"])
    flipped = bytes([flipped[0] ^ 1]) + flipped[1:]
    forge(receipt, signature=base64.b64encode(flipped).decode())
    code, out, _ = cli("verify", str(db), "--public-key", str(public), "--receipt", str(receipt))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{db}: 收据 {receipt} 的签名无效：检查点（条数、哈希、时间或记录文件标识）被改动过，"
        f"或不是 {public} 对应的私钥签的"
    )

    forge(receipt, signature=good["signature"], time="2020-01-01T00:00:00+00:00")
    code, out, _ = cli("verify", str(db), "--public-key", str(public), "--receipt", str(receipt))
    assert code == 1
    assert out.splitlines()[0].startswith(f"{db}: 收据 {receipt} 的签名无效")

    forge(receipt, time=good["time"], signature="not base64!")
    code, out, _ = cli("verify", str(db), "--public-key", str(public), "--receipt", str(receipt))
    assert out.splitlines()[0] == f"{db}: 收据 {receipt} 的签名不是有效的 base64 文本：签名被改动过"

    forge(receipt, signature=None, key_id=None)
    code, out, _ = cli("verify", str(db), "--public-key", str(public), "--receipt", str(receipt))
    assert code == 1
    assert out.splitlines()[0] == f"{db}: 收据 {receipt} 没有签名，而检查时要求签名（--public-key）"

    code, out, _ = cli("verify", str(db), "--public-key", str(stranger))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{db}: 记录中的检查点 4 是用另一把密钥签的（签名密钥 {good['key_id']}，"
        f"{stranger} 是 {load_public_key(stranger).key_id}）"
    )


def test_rewrite_resigned_with_another_key_is_caught(tmp_path: Path) -> None:
    """A ledger rewritten and re-signed with the attacker's key fails under the real public key."""
    private, public = keys(tmp_path)
    attacker, _ = keys(tmp_path, "attacker.key")
    db = tmp_path / "ledger.db"
    assert score(db, "--sign-key", str(private))[0] == 0
    real_id = load_public_key(public).key_id
    # the attacker rebuilds the ledger from scratch with his own key
    db.unlink()
    assert score(db, "--sign-key", str(attacker))[0] == 0
    code, out, _ = cli("verify", str(db), "--public-key", str(public))
    assert code == 1
    assert out.splitlines()[0].startswith(f"{db}: 记录中的检查点 4 是用另一把密钥签的（签名密钥 ")
    assert real_id in out.splitlines()[0]


def test_unsigned_checkpoint_fails_when_signatures_are_required(tmp_path: Path) -> None:
    """With --public-key every stored checkpoint must be signed; a stored signature edited fails."""
    private, public = keys(tmp_path)
    db = tmp_path / "ledger.db"
    assert score(db, "--sign-key", str(private))[0] == 0
    assert score(db)[0] == 0
    code, out, _ = cli("verify", str(db), "--public-key", str(public))
    assert code == 1
    assert (
        out.splitlines()[0] == f"{db}: 记录中的检查点 8 没有签名，而检查时要求签名（--public-key）"
    )
    raw = sqlite3.connect(db)
    raw.execute("DROP TRIGGER checkpoints_no_update")
    raw.execute("UPDATE checkpoints SET made_at = '2020-01-01T00:00:00+00:00' WHERE size = 4")
    raw.commit()
    raw.close()
    code, out, _ = cli("verify", str(db), "--public-key", str(public))
    assert out.splitlines()[0].startswith(f"{db}: 记录中的检查点 4 的签名无效")


def test_key_files_that_are_not_keys(tmp_path: Path) -> None:
    """A missing key file or a file that is not a key is named; nothing is recorded."""
    db = tmp_path / "ledger.db"
    code, _, err = score(db, "--sign-key", str(tmp_path / "none.key"))
    assert (code, err) == (1, f"kpirules: 找不到私钥文件 {tmp_path / 'none.key'}\n")
    _, public = keys(tmp_path)
    code, _, err = score(db, "--sign-key", str(public))
    assert (code, err) == (
        1,
        f"kpirules: {public} 不是 kpirules keygen 生成的私钥（PEM 格式的 Ed25519 私钥）\n",
    )
    assert not db.exists()
    assert score(db)[0] == 0
    code, _, err = cli("verify", str(db), "--public-key", str(RULESET))
    assert (code, err) == (
        1,
        f"kpirules: {RULESET} 不是 kpirules keygen 生成的公钥（PEM 格式的 Ed25519 公钥，文件名以 .pub 结尾）\n",
    )


def test_without_the_sign_extra_keygen_and_sign_key_say_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without cryptography installed, keygen and --sign-key name the extra to install."""
    private, _ = keys(tmp_path)
    for name in list(sys.modules):
        if name == "cryptography" or name.startswith("cryptography."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    assert INSTALL_HINT == "签名需要 cryptography 库：请安装 pip install 'kpirules[sign]'"
    code, _, err = cli("keygen", "--output", str(tmp_path / "new.key"))
    assert (code, err) == (1, f"kpirules: {INSTALL_HINT}\n")
    db = tmp_path / "ledger.db"
    code, _, err = score(db, "--sign-key", str(private))
    assert (code, err) == (1, f"kpirules: {INSTALL_HINT}\n")
    assert not db.exists()
    with pytest.raises(LedgerError) as info:
        keygen(tmp_path / "other.key")
    assert str(info.value) == INSTALL_HINT


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = (
    "kpirules_receipt",
    "ledger_id",
    "size",
    "head",
    "time",
    "batch",
    "first",
    "key_id",
    "signature",
)


@settings(max_examples=200, deadline=None)
@given(
    receipt=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES | st.just(1) | st.just("a" * 64)),
    raw=st.binary(max_size=40),
)
def test_any_receipt_file_reads_or_is_refused_in_words(
    receipt: dict[str, object], raw: bytes
) -> None:
    """Whatever a receipt file holds, reading it gives a checkpoint or a LedgerError, never another exception."""
    with tempfile.TemporaryDirectory() as folder:
        for content in (json.dumps(receipt).encode("utf-8"), raw):
            path = Path(folder) / "r.json"
            path.write_bytes(content)
            try:
                checkpoint = read_receipt(path)
            except LedgerError as exc:
                assert str(exc).startswith(("找不到", str(path)))
            else:
                assert checkpoint.size >= 1 and len(checkpoint.head) == 64
