"""The one grammar of HTTP tool templates: `{name}` is an argument, `{{` and `}}` are literal braces."""

from __future__ import annotations

import pytest

from runtime.agentfile.placeholders import Placeholder, TemplateError, names, parse, render, sole_placeholder


def test_doubled_braces_are_literal_and_single_ones_are_placeholders() -> None:
    assert parse("?q={{literal}}&c={city}") == ("?q={literal}&c=", Placeholder("city", 17))
    assert parse("{{{city}}}") == ("{", Placeholder("city", 2), "}")
    assert render("?q={{literal}}&c={city}", str.upper) == "?q={literal}&c=CITY"
    assert render("no braces", str.upper) == "no braces"
    assert [p.name for p in names("/{a}/{b_2}/{{c}}")] == ["a", "b_2"]


def test_a_template_is_the_same_text_for_str_format_and_for_the_tool() -> None:
    for template in ("/{a}/x{{y}}z/{{{a}}}", "}}{{", "{a}{a}"):
        assert render(template, lambda name: f"<{name}>") == template.format(a="<a>")


@pytest.mark.parametrize(
    ("template", "message", "offset"),
    [
        ("/a/{city", "an opening `{` without its pair", 3),
        ("/a/city}", "a closing `}` without its pair", 7),
        ("{a}}", "a closing `}` without its pair", 3),
        ("/{a.b}", "`{a.b}` is not a placeholder", 1),
        ("/{}", "`{}` is not a placeholder", 1),
        ("/{0}", "`{0}` is not a placeholder", 1),
        ('{"city": "x"}', '`{"city": "x"}` is not a placeholder', 0),
    ],
)
def test_any_other_brace_is_an_error_with_its_offset(template: str, message: str, offset: int) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(template)
    assert (caught.value.message, caught.value.offset) == (message, offset)
    assert "`{{`" in caught.value.hint


def test_a_sole_placeholder_is_recognised_for_typed_body_values() -> None:
    assert sole_placeholder("{minutes}") == "minutes"
    assert sole_placeholder("{{minutes}}") is None
    assert sole_placeholder("timer {minutes}") is None
    assert sole_placeholder("{a.b}") is None
