"""The demo gallery: one page that shows what every stage of a demo run produced."""

from __future__ import annotations

from pathlib import Path

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(loader=PackageLoader("pli_pulse", "templates"), autoescape=select_autoescape(["html"]))


def _truth_summary(path: Path) -> dict | None:
    if not path.exists():
        return None
    truth = orjson.loads(path.read_bytes())
    meta = truth["meta"]
    classes = truth["classes"]
    return {
        "classes": len(classes),
        "pli": sum(1 for c in classes.values() if c["is_pli"]),
        "students": len({s for c in classes.values() for s in c["students"]}),
        "school_days": len(meta["school_days"]),
        "term_start": meta["term_start"],
        "term_end": meta["term_end"],
        "timezone": meta["timezone"],
    }


def gallery_context(out: Path) -> dict:
    ingest = out / "ingest-summary.json"
    cards = []
    for png in sorted((out / "cards").glob("*-light.png")) if (out / "cards").exists() else []:
        name = png.name.removesuffix("-light.png")
        for theme in ("light", "dark"):
            cards.append(
                {"name": name, "theme": theme, "png": f"cards/{name}-{theme}.png", "json": f"cards/{name}.json"}
            )
    return {
        "files": sorted(p.name for p in out.iterdir() if p.suffix in {".json", ".jsonl"}),
        "truth": _truth_summary(out / "truth.json"),
        "ingest": orjson.loads(ingest.read_bytes())["runs"] if ingest.exists() else [],
        "measures_present": (out / "measures.json").exists(),
        "cards": cards,
    }


def write_gallery(out: Path) -> Path:
    path = out / "index.html"
    path.write_text(_env.get_template("gallery.html").render(**gallery_context(out)), encoding="utf-8")
    return path
