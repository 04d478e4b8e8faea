"""The rulesets a service offers: every ruleset file of one folder, indexed once at start.

Clients name a ruleset by its ``id``; the id is looked up in this index and never used to
build a path, so nothing a client sends reaches the file system.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from kpirules.api import LoadedRuleset, check, part_of_rulesets
from kpirules.errors import Problem
from kpirules.periods import Period, PeriodError, choose, in_force, parse_period
from kpirules.service.errors import ServiceError

_SUFFIXES = (".yaml", ".yml")


@attrs.frozen
class Version:
    """One ruleset file: its version, its dates in force and its name inside the folder."""

    ruleset: LoadedRuleset
    file: str


@attrs.frozen
class Catalog:
    """Ruleset versions by id (each id's versions ordered by the day they come into force),
    and the problems of the files that could not be loaded."""

    folder: Path
    by_id: dict[str, tuple[Version, ...]]
    invalid: tuple[Problem, ...]

    @classmethod
    def scan(cls, folder: Path) -> Catalog:
        """Load every ruleset file under ``folder`` (tests files, base rulesets and fragments
        are not rulesets that can be scored)."""
        found: dict[str, list[Version]] = {}
        invalid: list[Problem] = []
        paths = sorted(p for p in folder.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
        for path in paths:
            if path.name.endswith((".tests.yaml", ".tests.yml")):
                continue
            name = path.relative_to(folder).as_posix()
            if part_of_rulesets(path):
                continue  # a base ruleset or fragment: only the rulesets using it are offered
            ruleset, problems = check(path)
            if ruleset is None:
                invalid.extend(
                    attrs.evolve(p, file=name) if p.file == str(path) else p for p in problems
                )
                continue
            # Named as inside the folder: explanations and the ledger never show this
            # machine's paths to clients.
            named = attrs.evolve(
                ruleset,
                file=name,
                sources=tuple(
                    attrs.evolve(f, path=_inside(folder, f.path)) for f in ruleset.sources
                ),
                origins=tuple((i, _inside(folder, f)) for i, f in ruleset.origins),
            )
            found.setdefault(ruleset.id, []).append(Version(named, name))
        by_id = {
            rid: tuple(sorted(versions, key=lambda v: in_force(v.ruleset).start))
            for rid, versions in sorted(found.items())
        }
        return cls(folder, by_id, tuple(invalid))

    def versions(self, ruleset_id: str) -> tuple[Version, ...]:
        """The versions of ``ruleset_id``; 404 when the folder holds no such ruleset."""
        versions = self.by_id.get(ruleset_id)
        if versions is None:
            known = "、".join(self.by_id) or "（没有）"
            raise ServiceError(
                404, "ruleset_not_found", f"没有编号为 “{ruleset_id}” 的规则集（有：{known}）"
            )
        return versions

    def pick(self, ruleset_id: str, period_text: str | None) -> Version:
        """The version in force for the period; without a period, the only version.

        Raises :class:`ServiceError` (404 for an unknown id, 422 when the period cannot
        be read, no version or several are in force, or a period is needed to choose).
        """
        versions = self.versions(ruleset_id)
        period = parse(period_text) if period_text else None
        if period is None:
            if len(versions) == 1:
                return versions[0]
            listed = "；".join(f"{v.file}（版本 {v.ruleset.version}）" for v in versions)
            raise ServiceError(
                422,
                "period_required",
                f"规则集 “{ruleset_id}” 有多个版本（{listed}）：请给出期间 period 以选择施行中的版本",
            )
        try:
            chosen = choose([v.ruleset for v in versions], period)
        except PeriodError as exc:
            raise ServiceError(422, "period", str(exc)) from None
        return next(v for v in versions if v.ruleset is chosen)


def _inside(folder: Path, file: str) -> str:
    """A file a ruleset is made of, named as inside the folder (its bare name if outside)."""
    try:
        return Path(file).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return Path(file).name


def parse(text: str) -> Period:
    """A period, or 422 with the reader's message."""
    try:
        return parse_period(text)
    except PeriodError as exc:
        raise ServiceError(422, "invalid_period", str(exc)) from None
