"""Receipts and signatures: checkpoints kept outside the ledger file.

A receipt is a small JSON document holding one :class:`~kpirules.ledger.Checkpoint`. Whoever
keeps it can later show that the ledger still holds exactly the entries it covers
(:meth:`~kpirules.ledger.Ledger.check_checkpoint`). A checkpoint may be signed with an
Ed25519 key (the optional ``cryptography`` library, ``pip install 'kpirules[sign]'``): the
signature binds the ledger's id, the number of entries, the head hash and the time, so a
receipt or a stored checkpoint cannot be forged without the private key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from kpirules._core.oscompat import sync_folder
from kpirules.ledger import Checkpoint, LedgerError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ed25519

RECEIPT_FORMAT = 1
INSTALL_HINT = "签名需要 cryptography 库：请安装 pip install 'kpirules[sign]'"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEAD = re.compile(r"([1-9][0-9]*):([0-9a-f]{64})")


def parse_head(text: str) -> tuple[int, str]:
    """``N:HASH`` (as ``kpirules verify`` prints it) as a number and a hash; ValueError if not."""
    found = _HEAD.fullmatch(text.strip().lower())
    if found is None:
        raise ValueError(f"“{text}” 应写成 条数:哈希（例如 4:3f2a…，哈希为 64 位十六进制）")
    return int(found.group(1)), found.group(2)


def receipt_json(checkpoint: Checkpoint, ledger: str) -> str:
    """The receipt for ``checkpoint`` of the ledger named ``ledger``, as JSON text."""
    data = {
        "kpirules_receipt": RECEIPT_FORMAT,
        "ledger": ledger,
        "ledger_id": checkpoint.ledger_id,
        "size": checkpoint.size,
        "head": checkpoint.head,
        "time": checkpoint.time,
        "batch": checkpoint.batch,
        "first": checkpoint.first,
        "key_id": checkpoint.key_id or None,
        "signature": checkpoint.signature or None,
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def write_receipt(path: str | Path, checkpoint: Checkpoint, ledger: str, *, force: bool) -> None:
    """Write the receipt atomically; an existing file is replaced only with ``force``."""
    write_new(Path(path), receipt_json(checkpoint, ledger).encode("utf-8"), force=force)


def write_new(path: Path, data: bytes, *, force: bool, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file, then a link or a rename).

    Without ``force`` an existing file is never replaced, even one that appears while
    writing. ``mode`` defaults to what a plain write would give.
    """
    if mode is None:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o666 & ~mask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise LedgerError(f"无法写入 {path}：{exc.strerror}") from None
    try:
        Path(tmp).chmod(mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            Path(tmp).replace(path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise LedgerError(f"{path} 已存在；要覆盖请加 --force") from None
            except OSError:
                # No hard links here (a FAT-formatted stick): check, then rename.
                if path.exists():
                    raise LedgerError(f"{path} 已存在；要覆盖请加 --force") from None
                Path(tmp).replace(path)
    except OSError as exc:
        raise LedgerError(f"无法写入 {path}：{exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
    sync_folder(path.parent)


def read_receipt(path: str | Path) -> Checkpoint:
    """The checkpoint a receipt file holds; LedgerError naming the file and field if bad."""
    name = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise LedgerError(f"找不到收据文件 {name}") from None
    except IsADirectoryError:
        raise LedgerError(f"{name} 是目录，不是收据文件") from None
    except UnicodeDecodeError:
        raise LedgerError(f"{name} 不是 kpirules 收据（不是 UTF-8 文本）") from None
    except OSError as exc:
        raise LedgerError(f"无法读取收据文件 {name}：{exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LedgerError(
            f"{name}:{exc.lineno}:{exc.colno}: 不是 kpirules 收据（JSON 格式错误：{exc.msg}）"
        ) from None
    if not isinstance(data, dict) or data.get("kpirules_receipt") != RECEIPT_FORMAT:
        raise LedgerError(f'{name} 不是 kpirules 收据（没有 "kpirules_receipt": 1）')

    def field(key: str, ok: bool, expected: str) -> Any:
        if not ok:
            got = json.dumps(data.get(key), ensure_ascii=False)
            raise LedgerError(f"{name}: 收据字段 {key} 应为{expected}（得到 {got}）")
        return data[key]

    size = data.get("size")
    first = data.get("first")
    head = data.get("head")
    signature = data.get("signature")
    key_id = data.get("key_id")
    return Checkpoint(
        ledger_id=field(
            "ledger_id",
            isinstance(data.get("ledger_id"), str) and bool(data["ledger_id"]),
            "记录文件标识",
        ),
        size=field(
            "size",
            isinstance(size, int) and not isinstance(size, bool) and size >= 1,
            "正整数",
        ),
        head=field(
            "head",
            isinstance(head, str) and _HEX64.fullmatch(head) is not None,
            " 64 位十六进制哈希",
        ),
        time=field("time", isinstance(data.get("time"), str), "时间文本"),
        batch=field("batch", isinstance(data.get("batch", ""), str), "批次标识")
        if "batch" in data
        else "",
        first=field(
            "first",
            isinstance(first, int) and not isinstance(first, bool) and first >= 0,
            "非负整数",
        )
        if "first" in data
        else 0,
        key_id=field("key_id", key_id is None or isinstance(key_id, str), "密钥标识或 null") or "",
        signature=field(
            "signature", signature is None or isinstance(signature, str), "签名（base64）或 null"
        )
        or "",
    )


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise LedgerError(INSTALL_HINT) from None
    return ed25519


def _serialization() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise LedgerError(INSTALL_HINT) from None
    return serialization


def _key_id(public: ed25519.Ed25519PublicKey) -> str:
    raw = public.public_bytes(_serialization().Encoding.Raw, _serialization().PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]


@attrs.frozen
class SigningKey:
    """An Ed25519 private key that signs checkpoints (a :class:`~kpirules.ledger.Signer`)."""

    private: ed25519.Ed25519PrivateKey
    key_id: str

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of ``message``."""
        return self.private.sign(message)


@attrs.frozen
class PublicKey:
    """An Ed25519 public key that checks checkpoint signatures."""

    public: ed25519.Ed25519PublicKey
    key_id: str
    file: str

    def check(self, checkpoint: Checkpoint, source: str) -> str | None:
        """None if ``checkpoint`` carries a valid signature by this key, else why not."""
        if not checkpoint.signature:
            return f"{source} 没有签名，而检查时要求签名（--public-key）"
        if checkpoint.key_id and checkpoint.key_id != self.key_id:
            return (
                f"{source} 是用另一把密钥签的（签名密钥 {checkpoint.key_id}，"
                f"{self.file} 是 {self.key_id}）"
            )
        try:
            signature = base64.b64decode(checkpoint.signature, validate=True)
        except (binascii.Error, ValueError):
            return f"{source} 的签名不是有效的 base64 文本：签名被改动过"
        from cryptography.exceptions import InvalidSignature

        try:
            self.public.verify(signature, checkpoint.message())
        except InvalidSignature:
            return (
                f"{source} 的签名无效：检查点（条数、哈希、时间或记录文件标识）被改动过，"
                f"或不是 {self.file} 对应的私钥签的"
            )
        return None


def keygen(output: str | Path) -> tuple[Path, Path]:
    """Make an Ed25519 key pair: the private key at ``output`` (mode 0600), the public key
    beside it at ``output.pub``. Neither file may exist already. Returns both paths."""
    ed25519 = _ed25519()
    serialization = _serialization()
    private_path = Path(output)
    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise LedgerError(f"{path} 已存在：不会覆盖已有的密钥文件")
    if not private_path.parent.is_dir():
        raise LedgerError(f"目录 {private_path.parent} 不存在")
    private = ed25519.Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_new(private_path, private_pem, force=False, mode=0o600)
    write_new(public_path, public_pem, force=False)
    return private_path, public_path


def _read_key_file(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise LedgerError(f"找不到{what}文件 {path}") from None
    except IsADirectoryError:
        raise LedgerError(f"{path} 是目录，不是{what}文件") from None
    except OSError as exc:
        raise LedgerError(f"无法读取{what}文件 {path}：{exc.strerror}") from None


def load_signing_key(path: str | Path) -> SigningKey:
    """The private key written by :func:`keygen`; LedgerError if it is not one."""
    ed25519 = _ed25519()
    serialization = _serialization()
    data = _read_key_file(path, "私钥")
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise LedgerError(
            f"{path} 不是 kpirules keygen 生成的私钥（PEM 格式的 Ed25519 私钥）"
        ) from None
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise LedgerError(f"{path} 不是 Ed25519 私钥（请用 kpirules keygen 生成）")
    return SigningKey(private, _key_id(private.public_key()))


def load_public_key(path: str | Path) -> PublicKey:
    """The public key written by :func:`keygen`; LedgerError if it is not one."""
    ed25519 = _ed25519()
    serialization = _serialization()
    data = _read_key_file(path, "公钥")
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise LedgerError(
            f"{path} 不是 kpirules keygen 生成的公钥（PEM 格式的 Ed25519 公钥，文件名以 .pub 结尾）"
        ) from None
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise LedgerError(f"{path} 不是 Ed25519 公钥（请用 kpirules keygen 生成）")
    return PublicKey(public, _key_id(public), str(path))
