"""Re-scoring recorded entries from their recorded ruleset text and inputs, compared byte
for byte with what was recorded."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs

from kpirules.errors import KpirulesError
from kpirules.ledger_file import Entry, LedgerError, canonical

if TYPE_CHECKING:
    from kpirules.ledger import Ledger


@attrs.frozen
class Replayed:
    """The outcome of re-scoring one recorded entry."""

    seq: int
    entity: str
    same: bool
    difference: str


def engine_changed(ledger: Ledger, seq: int | None = None) -> str | None:
    """A sentence when the entries (all, or ``seq``) were scored by another engine than now."""
    from kpirules.engine import ENGINE_DIGEST, ENGINE_VERSION

    now = f"{ENGINE_VERSION} {ENGINE_DIGEST}"
    recorded = dict.fromkeys(
        f"{e.engine} {e.engine_digest}"
        for e in ledger.entries(seq)
        if (e.engine, e.engine_digest) != (ENGINE_VERSION, ENGINE_DIGEST)
    )
    if not recorded:
        return None
    return f"评分引擎与记录时不同（记录：{'；'.join(recorded)}，现在：{now}）"


_ENGINE_FIELDS = ("engine", "engine_digest")


def _without_engine(result: Any) -> Any:
    if isinstance(result, dict) and isinstance(result.get("provenance"), dict):
        provenance = {k: v for k, v in result["provenance"].items() if k not in _ENGINE_FIELDS}
        return {**result, "provenance": provenance}
    return result


def replay(ledger: Ledger, seq: int | None = None) -> list[Replayed]:
    """Re-score recorded entries from their recorded ruleset text and inputs.

    Entries scored together are re-scored together (ranks and cohort methods depend on the
    batch). Each result is compared with the recorded canonical JSON, byte for byte. When
    the engine differs from the recording one (:func:`engine_changed` says so), the
    engine's own identity in the provenance is left out of the comparison, so that what
    is reported is what the new engine scores differently.
    """
    from kpirules.api import check  # the ledger sits above the loading stages

    chosen = list(ledger.entries(seq))
    if seq is not None and not chosen:
        raise LedgerError(f"记录中没有第 {seq} 条")
    batches: dict[str, list[Entry]] = {}
    for entry in ledger.entries():
        batches.setdefault(entry.batch, []).append(entry)
    wanted = {e.seq for e in chosen}
    out: list[Replayed] = []
    for batch in dict.fromkeys(e.batch for e in chosen):
        entries = sorted(batches[batch], key=lambda e: e.position)
        text = ledger.ruleset_text(entries[0].text_sha256)
        if text is None:
            out.extend(
                Replayed(e.seq, e.entity, False, "记录的规则集文本缺失")
                for e in entries
                if e.seq in wanted
            )
            continue
        ruleset, problems = check(entries[0].ruleset_file, text=text)
        if ruleset is None:
            why = "记录的规则集今天无法加载：" + "；".join(p.message for p in problems[:3])
            out.extend(Replayed(e.seq, e.entity, False, why) for e in entries if e.seq in wanted)
            continue
        rows = [(e.entity, json.loads(e.metrics)) for e in entries]
        try:
            results = ruleset.evaluate_many(rows)
        except KpirulesError as exc:
            out.extend(
                Replayed(e.seq, e.entity, False, f"今天无法重算：{exc}")
                for e in entries
                if e.seq in wanted
            )
            continue
        for entry, result in zip(entries, results, strict=True):
            if entry.seq not in wanted:
                continue
            now = result.to_json()
            recorded = entry.result
            if (entry.engine, entry.engine_digest) != (
                result.provenance.engine,
                result.provenance.engine_digest,
            ):
                recorded = canonical(_without_engine(json.loads(recorded)))
                now = canonical(_without_engine(json.loads(now)))
            if now == recorded:
                out.append(Replayed(entry.seq, entry.entity, True, ""))
            else:
                out.append(
                    Replayed(
                        entry.seq,
                        entry.entity,
                        False,
                        first_difference(json.loads(recorded), json.loads(now)),
                    )
                )
    return sorted(out, key=lambda r: r.seq)


def first_difference(recorded: Any, now: Any, path: str = "") -> str:
    """The first place two JSON values differ, in words."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        for key in sorted(set(recorded) | set(now)):
            if key not in recorded:
                return f"{path}.{key}：记录中没有，重算得到 {now[key]!r}"
            if key not in now:
                return f"{path}.{key}：记录为 {recorded[key]!r}，重算中没有"
            if recorded[key] != now[key]:
                return first_difference(recorded[key], now[key], f"{path}.{key}")
        return f"{path}：键的顺序或格式不同"
    if isinstance(recorded, list) and isinstance(now, list):
        for i, (a, b) in enumerate(zip(recorded, now, strict=False)):
            if a != b:
                return first_difference(a, b, f"{path}[{i}]")
        return f"{path}：记录有 {len(recorded)} 项，重算有 {len(now)} 项"
    return f"{path.lstrip('.')}：记录为 {recorded}，重算为 {now}"
