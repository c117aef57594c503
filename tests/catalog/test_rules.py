"""Pure catalog rules: grouping with options, category mapping, GTIN keys, variant choice; the sanitiser."""

from __future__ import annotations

import pytest

from dropbridge.domain.catalog import (
    CatalogRow,
    CategoryRule,
    VariantChoice,
    choose_variant,
    group_rows,
    gtin_forms,
    gtin_key,
    image_plan,
    map_category,
    parse_category_rules,
    variant_title,
)
from dropbridge.services.import_catalog import description_text, sanitize_description


def row(line, sku, parent=None, **kw):
    return CatalogRow(line=line, sku=sku, parent_sku=parent, **kw)


def test_variants_group_under_their_parent_with_unified_option_names():
    rows = [
        row(2, "TEE-S-BLK", "TEE", title="Tee", options={"Size": "S", "Color": "Black"}),
        row(3, "MUG", title="Mug"),
        row(4, "TEE-M-BLK", "TEE", options={"size": "M", "colour": "Black"}),
        row(5, "TEE-M-WHT", "TEE", options={"SIZE": "M", "Color": "White"}),
    ]
    groups, issues = group_rows(rows)
    assert issues == []
    assert [(g.key, [r.sku for r in g.variants], g.option_names) for g in groups] == [
        ("TEE", ["TEE-S-BLK", "TEE-M-BLK", "TEE-M-WHT"], ["Size", "Color", "colour"]),
        ("MUG", ["MUG"], []),
    ]
    tee = groups[0]
    assert [dict(r.options) for r in tee.variants] == [
        {"Size": "S", "Color": "Black"}, {"Size": "M", "colour": "Black"}, {"Size": "M", "Color": "White"}]
    assert [variant_title(r, tee.option_names) for r in tee.variants] == ["S / Black", "M / Black", "M / White"]
    assert variant_title(groups[1].variants[0], []) == "Mug"


def test_a_parent_row_gives_content_not_a_variant_and_duplicate_options_are_reported():
    rows = [
        row(2, "HOOD", title="Hoodie", description="Warm", images=("u/front", "u/back")),
        row(3, "HOOD-S", "HOOD", options={"Size": "S"}, images=("u/s",)),
        row(4, "HOOD-S2", "HOOD", options={"Size": "s"}),
    ]
    groups, issues = group_rows(rows)
    assert len(groups) == 1
    g = groups[0]
    assert (g.parent_row.sku, [r.sku for r in g.variants], g.first("title")) == ("HOOD", ["HOOD-S", "HOOD-S2"],
                                                                              "Hoodie")
    assert [(i.line, i.field, i.reason) for i in issues] == [(4, "options", "same options as line 3 in product HOOD")]
    assert image_plan(g) == [("u/front", None, 2), ("u/back", None, 2), ("u/s", "HOOD-S", 3)]


def test_an_image_every_variant_lists_belongs_to_the_product():
    g = group_rows([row(2, "A1", "A", options={"c": "red"}, images=("all", "red")),
                    row(3, "A2", "A", options={"c": "blue"}, images=("all", "blue"))])[0][0]
    assert image_plan(g) == [("all", None, 2), ("red", "A1", 2), ("blue", "A2", 3)]


RULES = parse_category_rules([
    {"path": "Apparel > Tops > Hoodies", "category": "Hoodies"},
    {"path": "Apparel/Tops", "category": "Tops"},
    {"keyword": "mug", "category": "Kitchen"},
    {"keyword": "t-shirt", "category": "Tops"},
])


def test_category_rules_parse_and_first_match_wins():
    assert [
        CategoryRule("Hoodies", path=("apparel", "tops", "hoodies")),
        CategoryRule("Tops", path=("apparel", "tops")),
        CategoryRule("Kitchen", keyword="mug"),
        CategoryRule("Tops", keyword="t-shirt"),
    ] == RULES
    assert map_category(RULES, "apparel › tops › hoodies › zip").category == "Hoodies"
    m = map_category(RULES, "Apparel | Tops | Tees")
    assert (m.category, m.rule_index) == ("Tops", 1)
    assert map_category(RULES, "Apparel > Topshop") is None  # segments, not prefixes of words
    m = map_category(RULES, "Home", "Big MUG, 11oz")
    assert (m.category, m.rule_index, m.reason) == ("Kitchen", 2, "keyword 'mug' found")
    assert map_category(RULES, None, "Smuggler's hat") is None  # whole words only
    assert map_category(RULES, "Gifts", "Cotton T-Shirt").category == "Tops"
    assert map_category([], "Apparel") is None


@pytest.mark.parametrize("raw,message", [
    ({"path": "x"}, "category_rules must be a list of {path|keyword, category}"),
    ([{"path": "x"}], "category rule 1: needs a category"),
    ([{"category": "c"}], "category rule 1: give exactly one of path or keyword"),
    ([{"path": "a", "keyword": "b", "category": "c"}], "category rule 1: give exactly one of path or keyword"),
])
def test_bad_category_rules_are_refused(raw, message):
    with pytest.raises(ValueError) as exc:
        parse_category_rules(raw)
    assert str(exc.value) == message


def test_gtin_keys_and_forms():
    assert gtin_key("036000291452") == "00036000291452"  # UPC-A
    assert gtin_key("36000291452") == "00036000291452"  # lost its leading zero
    assert gtin_key("4006381333931") == "04006381333931"  # EAN-13
    assert gtin_key("00036000291452") == "00036000291452"
    assert gtin_key("036000291453") is None  # check digit
    assert gtin_key("0000000000000") is None
    assert gtin_key("12345") is None
    assert gtin_key("abc") is None
    assert gtin_forms("00036000291452") == ["00036000291452", "0036000291452", "036000291452"]
    assert gtin_forms("04006381333931") == ["04006381333931", "4006381333931"]


def test_choose_variant():
    g = "00036000291452"
    assert choose_variant(g, 7, [3], (9, None)) == VariantChoice("linked", 7)
    assert choose_variant(g, None, [5, 3], (9, None)) == VariantChoice("gtin", 3, f"GTIN {g}")
    assert choose_variant(g, None, [], (9, None)) == VariantChoice("sku", 9)
    assert choose_variant(None, None, [], (9, g)) == VariantChoice("sku", 9)
    assert choose_variant(g, None, [], (9, "04006381333931")) == VariantChoice(
        "conflict", None, f"SKU already names a variant with GTIN 04006381333931, this row has GTIN {g}")
    assert choose_variant(None, None, [], None) == VariantChoice("new")


@pytest.mark.parametrize("raw,safe", [
    ('<p onclick="steal()">Soft <b>cotton</b> tee<script>alert(1)</script></p>', "<p>Soft <b>cotton</b> tee</p>"),
    ('<style>p{color:red}</style><img src=x onerror=alert(1)><p style="color:red">Hi</p>', "<p>Hi</p>"),
    ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'),
    ('<a href="JaVaScRiPt:alert(1)">j</a><a href="data:text/html;base64,PHNjcmlwdD4=">d</a>',
     '<a rel="noopener noreferrer nofollow">j</a><a rel="noopener noreferrer nofollow">d</a>'),
    ('<a href="https://ex.com/a" target="_blank" onmouseover="x()">y</a>',
     '<a href="https://ex.com/a" rel="noopener noreferrer nofollow">y</a>'),
    ('<iframe src="https://evil.example"></iframe><svg><script>alert(1)</script></svg><!-- hidden -->ok', "ok"),
    ('<table><tr><td colspan="2" onmouseover="x">a</td></tr></table>',
     '<table><tbody><tr><td colspan="2">a</td></tr></tbody></table>'),
    ("<div><h1>Tee</h1><ul><li>One</li><li>Two &amp; three</li></ul></div>",
     "<div><h1>Tee</h1><ul><li>One</li><li>Two &amp; three</li></ul></div>"),
    ("Line one\nline two\n\nSize 5 < 6 & more", "<p>Line one<br>line two</p><p>Size 5 &lt; 6 &amp; more</p>"),
    ("", ""),
])
def test_sanitiser_exact_output(raw, safe):
    assert sanitize_description(raw) == safe


def test_plain_text_of_a_description():
    assert description_text("<div><h1>Tee</h1><ul><li>One</li><li>Two &amp; three</li></ul></div>") == (
        "Tee\nOne\nTwo & three")
    assert description_text("<p>Line one<br>line two</p><p>5 &lt; 6</p>") == "Line one\nline two\n5 < 6"
