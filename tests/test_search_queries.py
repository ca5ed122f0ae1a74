"""Search tokenizer and query builders: exact outputs on hand-made examples."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from recaug import columns as C
from recaug.errors import DataError
from recaug.search import (
    TermVocabulary,
    amazon_category_path,
    amazon_search_log,
    build_item_text,
    category_path_query,
    dedupe_keep_last,
    demo_search_log,
    normalize,
    tokenize,
)


def test_tokenize_lowercase_letters_only():
    got = tokenize(["Creams & Moisturizers", "Men's 5G Phone-Case", None, "", "Crème|Body", "Rock'n'Roll ’em"]).to_list()
    assert got == [["creams", "moisturizers"], ["mens", "g", "phone", "case"], [], [], ["crème", "body"],
                   ["rocknroll", "em"]]


def test_normalize_is_the_query_key():
    assert normalize(["Red  Shoes!", "red shoes", None]).to_list() == ["red shoes", "red shoes", ""]


def test_dedupe_keeps_last_occurrence():
    tokens = pl.Series([["hair", "care", "hair", "color"], ["a", "b", "a", "b", "c"], [], ["x"]])
    assert dedupe_keep_last(tokens).to_list() == [["care", "hair", "color"], ["a", "b", "c"], [], ["x"]]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("Makeup|Nails|Nail Polish", "makeup nails nail polish"),
        ("Hair Care|Hair Color|Hair", "care color hair"),  # 'hair' kept at its last position
        ("Skin Care|Skin Care|Face|Treatments & Masks|Masks", "skin care face treatments masks"),
        ("Hunting & Fishing|Hunting|Gun Maintenance", "fishing hunting gun maintenance"),
        ("Tools & Accessories|Bath & Bathing Accessories", "tools bath bathing accessories"),
        ("Women's|Men's", "womens mens"),
        ("", ""),
        (None, ""),
    ],
)
def test_category_path_query_exact(path, query):
    assert category_path_query(pl.Series([path], dtype=pl.Utf8)).to_list() == [query]


def test_category_path_query_accepts_lists():
    paths = pl.Series([["Hair Care", "Hair Color"], [], None], dtype=pl.List(pl.Utf8))
    assert category_path_query(paths).to_list() == ["care hair color", "", ""]


def test_sports_layout_drops_brand_slot_and_unnamed():
    items = pl.DataFrame({
        C.ITEM: [2, 3, 4],
        "attribute_names": [["Ghost", "<attr:2>", "Hunting & Fishing", "Hunting"], ["<attr:23>", "<attr:2>"],
                            ["", "<attr:2>", "Cycling", "<attr:143>", "Helmets"]],
    })
    paths = amazon_category_path(items)
    assert paths.to_list() == [["Hunting & Fishing", "Hunting"], [], ["Cycling", "Helmets"]]
    assert category_path_query(paths).to_list() == ["fishing hunting", "", "cycling helmets"]


def test_category_path_needs_category_names():
    with pytest.raises(DataError, match="categories"):
        amazon_category_path(pl.DataFrame({C.ITEM: [2], C.TITLE: ["x"]}))


def test_term_vocabulary_sorted_and_encodes():
    tokens = tokenize(["b a b", "c"])
    vocab = TermVocabulary.build(tokens)
    assert vocab.terms.to_list() == ["a", "b", "c"]
    offsets, ids = vocab.encode(tokenize(["b zz a", "", "c c"]))
    assert offsets.tolist() == [0, 2, 2, 4] and ids.tolist() == [1, 0, 2, 2]
    assert vocab.count_matrix(tokenize(["c c b"])).toarray().tolist() == [[0.0, 1.0, 2.0]]
    assert vocab.encode_lists(tokenize(["b zz a", ""])) == [[1, 0], []]


def test_item_text_skips_nulls_and_unnamed():
    items = pl.DataFrame({
        C.ITEM: [2, 3, 4],
        C.BRAND: ["OPI", None, "<attr:23>"],
        "categories": [["Makeup", "Nails"], None, []],
        C.TITLE: ["nail lacquer", "soap", None],
    })
    text = build_item_text(items, (C.BRAND, "categories", C.TITLE))
    assert text.to_list() == ["OPI Makeup Nails nail lacquer", "soap", None]
    with pytest.raises(DataError, match="price"):
        build_item_text(items, ("price",))


def _write_s3rec(folder: Path) -> Path:
    (folder / "Tiny.txt").write_text("1 1 2 3\n2 2 3 4\n", encoding="utf-8")
    (folder / "Tiny_item_meta.tsv").write_text(
        "item_id\tasin\tbrand_guess\ttop_category\tcategories\n"
        "1\tA1\tOPI\tMakeup\tMakeup|Nails|Nail Polish\n"
        "2\tA2\t\tHair Care\tHair Care|Hair Color|Hair\n"
        "3\tA3\tUnknown\tSkin Care\tSkin Care\n"
        "4\tA4\t\t\t\n",
        encoding="utf-8",
    )
    (folder / "Tiny_item_text.tsv").write_text(
        "item_id\tasin\ttext\n1\tA1\tnail lacquer red\n2\tA2\thair dye kit\n3\tA3\tface cream\n4\tA4\tmystery box\n",
        encoding="utf-8",
    )
    return folder / "Tiny.txt"


def test_amazon_search_log_on_a_tiny_file(tmp_path):
    log = amazon_search_log(_write_s3rec(tmp_path))
    rows = log.with_frame(log.frame).dataset.with_original_ids().select(C.USER, C.ITEM, C.QUERY).rows()
    # item 4 has no category path: its two purchases are not search events
    assert rows == [
        ("1", "1", "makeup nails nail polish"), ("1", "2", "care color hair"), ("1", "3", "skin care"),
        ("2", "2", "care color hair"), ("2", "3", "skin care"),
    ]
    text = log.item_text().to_list()
    assert text[:2] == [None, None]  # PAD, MASK
    assert text[2:] == ["OPI Makeup Nails Nail Polish nail lacquer red", "Hair Care Hair Color Hair hair dye kit",
                        "Unknown Skin Care face cream", "mystery box"]
    assert log.items.get_column("path_query").to_list() == ["makeup nails nail polish", "care color hair",
                                                           "skin care", ""]


def test_demo_search_log_is_deterministic_and_has_text():
    a = demo_search_log(n_users=60, n_items=40, seed=3)
    b = demo_search_log(n_users=60, n_items=40, seed=3)
    assert a.frame.equals(b.frame) and len(a) > 0
    assert a.queries.null_count() == 0
    assert a.item_text().slice(2).null_count() == 0
    assert not demo_search_log(n_users=60, n_items=40, seed=4).frame.equals(a.frame)
