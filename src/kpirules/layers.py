"""What one file contributes to a ruleset made of several files, and how it is put together.

A :class:`Layer` holds a file's settings (``rounding``…) and its items (metrics, categories,
grades…) as :class:`Entry` values, each with the positions of everything inside it relative
to itself, so that items can move between files' lists and keep their source positions.
:mod:`kpirules.compose` merges layers; :func:`assemble` turns the merged layer back into one
document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from kpirules.loader import Document, PathKey, Position

#: The keys that say how files are put together; none of them reaches validation.
COMPOSE_KEYS = ("extends", "include", "remove", "replace", "base", "fragment")
#: Header keys: each ruleset writes its own; they are never inherited.
IDENTITY = ("kpirules", "id", "title", "version", "source", "description")
#: Settings inherited whole; a file that sets one again lists it in ``replace:``.
SETTINGS = ("in_force", "cycle", "total_points", "rounding", "weighting", "money", "show", "data")
_ADJ_SETTINGS = ("max_bonus", "max_penalty")
#: Sections whose items are inherited one by one, by id.
FRAGMENT_KINDS = ("metrics", "categories", "vetoes", "outcomes", "grades", "adjustments")
LISTS: dict[str, PathKey] = {
    "categories": ("categories",),
    "vetoes": ("vetoes",),
    "outcomes": ("outcomes",),
    "grades": ("grades",),
    "rules": ("adjustments", "rules"),
}


@attrs.define
class Entry:
    """One inheritable thing: a setting or an item, with positions relative to it."""

    key: str | None
    value: Any
    pos: dict[PathKey, Position]
    kpos: dict[PathKey, Position]
    #: Where the entry is written in its own file.
    path: PathKey = ()

    @property
    def where(self) -> Position:
        return self.kpos.get(()) or self.pos.get(()) or Position(1, 1)


@attrs.define
class Layer:
    """Everything one file contributes once its own bases and fragments are merged in."""

    settings: dict[str, Entry] = attrs.Factory(dict)
    #: Keys the format does not know: passed on, for validation to name them.
    extras: dict[str, Entry] = attrs.Factory(dict)
    sections: dict[str, list[Entry]] = attrs.Factory(dict)
    containers: dict[PathKey, tuple[Position, Position | None]] = attrs.Factory(dict)


def under(positions: dict[PathKey, Position], prefix: PathKey) -> dict[PathKey, Position]:
    """The positions at or below ``prefix``, with ``prefix`` cut off their paths."""
    n = len(prefix)
    return {p[n:]: v for p, v in positions.items() if p[:n] == prefix}


def tagged(doc: Document, via: str, main: bool) -> Document:
    """``doc`` with each position naming its file and how it was brought in."""
    if main:
        return doc

    def tag(positions: dict[PathKey, Position]) -> dict[PathKey, Position]:
        return {p: attrs.evolve(v, file=doc.file, via=via) for p, v in positions.items()}

    return Document(doc.file, doc.data, tag(doc.positions), tag(doc.key_positions))


def entry_at(doc: Document, path: PathKey, key: str | None, value: Any) -> Entry:
    kpos = under(doc.key_positions, path)
    if path in doc.key_positions:
        kpos[()] = doc.key_positions[path]
    return Entry(key, value, under(doc.positions, path), kpos, path)


def _item_key(section: str, value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    key = value.get("grade" if section == "grades" else "id")
    if not isinstance(key, str):
        return None
    return f"grade:{key}" if section == "grades" else key


def explode(doc: Document) -> Layer:
    """One file's own settings and items, each with its positions."""
    data: dict[str, Any] = doc.data
    layer = Layer()
    for name in SETTINGS:
        if name in data:
            layer.settings[name] = entry_at(doc, (name,), name, data[name])
    known = {*IDENTITY, *SETTINGS, *FRAGMENT_KINDS, *COMPOSE_KEYS, "tests", "include"}
    for name in data:
        if name not in known:
            layer.extras[name] = entry_at(doc, (name,), name, data[name])
    adj = data.get("adjustments")
    if isinstance(adj, dict):
        for name in adj:
            path: PathKey = ("adjustments", name)
            if name in _ADJ_SETTINGS:
                layer.settings[f"adjustments.{name}"] = entry_at(doc, path, name, adj[name])
            elif name != "rules":
                layer.extras[f"adjustments.{name}"] = entry_at(doc, path, name, adj[name])
    elif "adjustments" in data:
        layer.extras["adjustments"] = entry_at(doc, ("adjustments",), "adjustments", adj)
    metrics = data.get("metrics")
    if "metrics" in data and not isinstance(metrics, dict):
        layer.extras["metrics"] = entry_at(doc, ("metrics",), "metrics", metrics)
    if isinstance(metrics, dict):
        layer.sections["metrics"] = [
            entry_at(doc, ("metrics", k), k, v) for k, v in metrics.items()
        ]
    for section, where in LISTS.items():
        if section == "rules":
            items = adj.get("rules") if isinstance(adj, dict) else None
        else:
            items = data.get(section)
        if items is not None and not isinstance(items, list):
            layer.extras[".".join(map(str, where))] = entry_at(doc, where, str(where[-1]), items)
        if isinstance(items, list):
            layer.sections[section] = [
                entry_at(doc, (*where, i), _item_key(section, v), v) for i, v in enumerate(items)
            ]
    for container in (("metrics",), *LISTS.values(), ("adjustments",)):
        if container in doc.positions and get_in(data, container) is not None:
            layer.containers[container] = (
                doc.positions[container],
                doc.key_positions.get(container),
            )
    return layer


def get_in(data: Any, path: PathKey) -> Any:
    for step in path:
        if not isinstance(data, dict):
            return None
        data = data.get(step)
    return data


def assemble(doc: Document, layer: Layer) -> Document:
    """One ruleset document: the main file's header and tests, the merged rest."""
    data: dict[str, Any] = {}
    pos: dict[PathKey, Position] = {(): doc.position(())}
    kpos: dict[PathKey, Position] = {}
    main: dict[str, Any] = doc.data

    def put(path: PathKey, entry: Entry) -> None:
        pos.update({(*path, *p): v for p, v in entry.pos.items()})
        kpos.update({(*path, *p): v for p, v in entry.kpos.items()})

    for key in (*IDENTITY, "tests"):
        if key in main:
            data[key] = main[key]
            put((key,), entry_at(doc, (key,), key, main[key]))
    for name, entry in [*layer.settings.items(), *layer.extras.items()]:
        if name.startswith("adjustments."):
            data.setdefault("adjustments", {})[name.split(".")[1]] = entry.value
            put(("adjustments", name.split(".")[1]), entry)
        else:
            data[name] = entry.value
            put((name,), entry)
    for container, (at, key_at) in layer.containers.items():
        pos[container] = at
        if key_at is not None:
            kpos[container] = key_at
    for section, entries in layer.sections.items():
        if section == "metrics":
            data["metrics"] = {e.key: e.value for e in entries}
            for e in entries:
                put(("metrics", str(e.key)), e)
            continue
        where = LISTS[section]
        target = data.setdefault("adjustments", {}) if section == "rules" else data
        target[str(where[-1])] = [e.value for e in entries]
        for i, e in enumerate(entries):
            put((*where, i), e)
    return Document(doc.file, data, pos, kpos)


def origins(layer: Layer) -> Iterator[tuple[str, str]]:
    """(id, file) for every item written in another file than the main one."""
    for section, entries in layer.sections.items():
        if section == "grades":
            yield from ((str(e.key), e.where.file) for e in entries if e.key and e.where.file)
    for name, _, here in entry_ids(layer):
        if here.file:
            yield name, here.file


def take_replace(entry: Entry) -> object:
    """Strip ``replace`` from an item (and its positions); return what it said."""
    if not isinstance(entry.value, dict) or "replace" not in entry.value:
        return None
    value = dict(entry.value)
    flag = value.pop("replace")
    replace_pos = entry.pos.get(("replace",))
    entry.value = value
    entry.pos = {p: v for p, v in entry.pos.items() if p[:1] != ("replace",)}
    if replace_pos is not None:
        entry.kpos[("replace",)] = replace_pos
    return flag


def entry_ids(layer: Layer) -> Iterator[tuple[str, PathKey, Position]]:
    """Every id of a layer with its path and position in the file that writes it."""
    for section, entries in layer.sections.items():
        if section == "grades":
            continue
        for entry in entries:
            if section == "metrics":
                if entry.key is not None:
                    yield entry.key, entry.path, entry.where
                continue
            yield from _nested_ids(entry, entry.value, ())


def _nested_ids(
    entry: Entry, value: object, rel: PathKey
) -> Iterator[tuple[str, PathKey, Position]]:
    if not isinstance(value, dict):
        return
    if isinstance(value.get("id"), str):
        at = entry.pos.get((*rel, "id")) or entry.where
        yield value["id"], (*entry.path, *rel, "id"), at
    for key in ("categories", "indicators"):
        items = value.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            yield from _nested_ids(entry, item, (*rel, key, i))


def nested_replaces(layer: Layer) -> Iterator[tuple[PathKey, Position]]:
    """``replace`` written on a sub-category, where it means nothing (path in its file)."""

    def below(entry: Entry, value: object, rel: PathKey) -> Iterator[tuple[PathKey, Position]]:
        subs = value.get("categories") if isinstance(value, dict) else None
        for i, sub in enumerate(subs if isinstance(subs, list) else []):
            at: PathKey = (*rel, "categories", i)
            if isinstance(sub, dict) and "replace" in sub:
                where = entry.kpos.get((*at, "replace")) or entry.where
                yield (*entry.path, *at, "replace"), where
            yield from below(entry, sub, at)

    for entry in layer.sections.get("categories", []):
        yield from below(entry, entry.value, ())


def drop(layer: Layer, rid: str) -> bool:
    """Remove the inherited item ``rid`` (at any depth of the categories); True if found."""
    for entries in layer.sections.values():
        for i, entry in enumerate(entries):
            if entry.key == rid:
                del entries[i]
                return True
    for entry in layer.sections.get("categories", []):
        if _drop_nested(entry, entry.value, (), rid):
            return True
    return False


def _drop_nested(entry: Entry, value: object, path: PathKey, rid: str) -> bool:
    if not isinstance(value, dict):
        return False
    for key in ("indicators", "categories"):
        items = value.get(key)
        if not isinstance(items, list):
            continue
        for j, item in enumerate(items):
            if isinstance(item, dict) and item.get("id") == rid:
                del items[j]
                entry.pos = _shifted(entry.pos, (*path, key), j)
                entry.kpos = _shifted(entry.kpos, (*path, key), j)
                return True
            if _drop_nested(entry, item, (*path, key, j), rid):
                return True
    return False


def _shifted(
    positions: dict[PathKey, Position], where: PathKey, gone: int
) -> dict[PathKey, Position]:
    """Positions after item ``gone`` of the list at ``where`` was deleted."""
    n = len(where)
    out: dict[PathKey, Position] = {}
    for p, v in positions.items():
        step = p[n] if p[:n] == where and len(p) > n else None
        if isinstance(step, int):
            if step == gone:
                continue
            if step > gone:
                p = (*where, step - 1, *p[n + 1 :])
        out[p] = v
    return out
