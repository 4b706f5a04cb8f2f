"""Every resource's creator, kind and year match a list of verified facts, each with evidence.

The list is tests/content/verified_resources.toml; a new resource needs an entry there.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from companion.content import Content, Resource
from companion.schema import URL
from tests.content.seeds import SEEDS, flat, seeds_dir

VERIFIED = Path(__file__).with_name("verified_resources.toml")
FACTS = ("creator", "kind", "year")


def load_verified() -> dict[str, dict[str, Any]]:
    entries = tomllib.loads(VERIFIED.read_text(encoding="utf-8"))["resource"]
    return {entry["id"]: entry for entry in entries}


def mismatches(resources: dict[str, Resource], verified: dict[str, dict[str, Any]]) -> list[str]:
    """Every way the resources and the verified list disagree, one line each."""
    problems = [
        f"{rid}: in the verified list but not a resource"
        for rid in verified.keys() - resources.keys()
    ]
    for rid, resource in resources.items():
        entry = verified.get(rid)
        if entry is None:
            problems.append(f"{rid}: no entry in {VERIFIED.name}: verify its facts and add one")
            continue
        for fact in FACTS:
            have = getattr(resource, fact)
            checked = entry.get(fact)
            if have is None and checked is None:
                continue
            if checked is None:
                problems.append(
                    f"{rid}: {fact} {have!r} is not verified (add it with evidence, or drop it)"
                )
            elif have is None:
                problems.append(f"{rid}: {fact} is verified as {checked['value']!r} but missing")
            elif checked.get("value") != have:
                problems.append(f"{rid}: {fact} is {have!r}, verified as {checked.get('value')!r}")
            if checked is not None and not URL.match(str(checked.get("evidence", ""))):
                problems.append(f"{rid}: {fact} needs an evidence link")
    return problems


def test_every_resource_matches_its_verified_facts(shipped: Content):
    assert mismatches(shipped.resources, load_verified()) == []


def test_the_check_catches_a_wrong_year_a_missing_entry_and_an_unverified_year(shipped: Content):
    verified = load_verified()
    resources = dict(shipped.resources)
    resources["white-supremacy-culture"] = resources["white-supremacy-culture"]._replace(year=2001)
    resources["the-wake-up"] = resources["the-wake-up"]._replace(creator="Michelle Kim")
    resources["code-switch"] = resources["code-switch"]._replace(year=2010)
    resources["new-book"] = resources["caste"]._replace(id="new-book")
    del verified["caste"]["year"]["evidence"]
    problems = mismatches(resources, verified)
    assert problems == [
        "the-wake-up: creator is 'Michelle Kim', verified as 'Michelle MiJung Kim'",
        "white-supremacy-culture: year is 2001, verified as 1999",
        "caste: year needs an evidence link",
        "code-switch: year 2010 is not verified (add it with evidence, or drop it)",
        "new-book: no entry in verified_resources.toml: verify its facts and add one",
    ], problems


def test_the_seeds_state_the_facts_listed_for_them():
    found = seeds_dir()
    if found is None:
        pytest.skip("the seed articles (../shared/seeds/) are not beside this checkout")
    texts = {seed.file: flat((found / seed.file).read_text(encoding="utf-8")) for seed in SEEDS}
    with_seed = [e for e in load_verified().values() if "seed" in e]
    assert len(with_seed) >= 3
    for entry in with_seed:
        text = texts[entry["seed"]]
        assert flat(entry["creator"]["value"]) in text, entry["id"]
        if "year" in entry:
            assert str(entry["year"]["value"]) in text, entry["id"]
