from __future__ import annotations

import json

from cards.demo_data import demo_views
from cards.render.demo import demo_images, write_demo_cards
from cards.validate import validate_card


def test_write_demo_cards_writes_a_valid_json_card_for_every_scenario(tmp_path):
    paths = write_demo_cards(tmp_path, render=False)
    assert sorted(p.name for p in paths) == sorted(f"{n}.json" for n in demo_views())
    for p in paths:
        assert validate_card(json.loads(p.read_text(encoding="utf-8"))) == []


def test_demo_images_serve_the_sparkline_the_class_card_points_at():
    images = demo_images()
    _kind, view = demo_views()["class-summary"]
    assert list(images) == [view.sparkline.url]
    assert images[view.sparkline.url][:4] == b"\x89PNG"
