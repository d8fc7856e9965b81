"""Department recommendation from a category prediction; the mapping file and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from jiesu.engine.assist.classify.category import CategoryPrediction, ScoredLabel
from jiesu.engine.assist.classify.departments import DepartmentConfigError, DepartmentRouter
from jiesu.engine.assist.loaders import load_category_model, load_departments

SHIPPED = Path(__file__).resolve().parents[4] / "sip_config" / "departments.toml"

CONFIG = """
[threshold]
auto_dispatch = 0.5

[level1."劳动和社会保障"]
"人社局" = 3
"总工会" = 1

[level1."教育文体"]
"教育局" = 1

[level2."劳动和社会保障/城镇职工社会保险"]
"医保局" = 1
"""


def prediction(
    p_labour: float, path: tuple[str, ...] = ("劳动和社会保障", "工资福利", "拖欠工资")
) -> CategoryPrediction:
    return CategoryPrediction(
        (ScoredLabel("劳动和社会保障", p_labour), ScoredLabel("教育文体", 1 - p_labour)),
        path,
        p_labour / 2,
    )


def router(tmp_path: Path, text: str = CONFIG) -> DepartmentRouter:
    path = tmp_path / "departments.toml"
    path.write_text(text, encoding="utf-8")
    return load_departments(path)


def test_probabilities_follow_the_weights_and_the_threshold(tmp_path: Path) -> None:
    rec = router(tmp_path).route(prediction(0.8))
    assert [(d.label, d.probability) for d in rec.top3] == [
        ("人社局", 0.6),
        ("总工会", 0.2),
        ("教育局", 0.2),
    ]
    assert rec.ready_to_dispatch and rec.threshold == 0.5
    unsure = router(tmp_path).route(prediction(0.6))
    assert unsure.top3[0].label == "人社局" and unsure.top3[0].probability == pytest.approx(0.45)
    assert not unsure.ready_to_dispatch


def test_a_level2_entry_refines_the_best_label(tmp_path: Path) -> None:
    rec = router(tmp_path).route(
        prediction(0.9, ("劳动和社会保障", "城镇职工社会保险", "养老保险"))
    )
    assert rec.top3[0].label == "医保局" and rec.top3[0].probability == pytest.approx(0.9)


def test_unmapped_categories_give_an_empty_list_not_ready(tmp_path: Path) -> None:
    pred = CategoryPrediction((ScoredLabel("政法", 1.0),), ("政法",), 1.0)
    rec = router(tmp_path).route(pred)
    assert rec.top3 == () and not rec.ready_to_dispatch


def test_shipped_mapping_covers_every_trained_label() -> None:
    shipped = load_departments(SHIPPED)
    for label in load_category_model().labels:
        assert label in shipped.level1, label


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[threshold]\nauto_dispatch = 2\n[level1."a"]\n"x" = 1\n', "threshold.auto_dispatch"),
        ('[level1."a"]\n"x" = -1\n', r"level1\.a\.x"),
        ("[threshold]\nauto_dispatch = 0.5\n", "level1"),
        ('[level1."a"]\n"x" = 1\n[level2."a"]\n"y" = 1\n', "level2.a"),
        ("not toml [", "departments.toml"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DepartmentConfigError, match=message) as err:
        router(tmp_path, text)
    assert "departments.toml" in str(err.value)
