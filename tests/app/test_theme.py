"""The themes' colours, computed: every text at least 4.5:1 against its background in both themes (WCAG 2.1 AA,
1.4.3), captions included, and at least 7:1 under High contrast (1.4.6); the dark theme as a view setting bound to
the URL; one theme per session (app_support.compat.theme_switch); a text alternative before every chart."""

import re
import tomllib
from pathlib import Path

import pytest
from streamlit.proto.NewSession_pb2 import CustomThemeConfig

from app_support.compat import theme_switch
from app_support.kit import view
from tests.attnviz.test_plots_theme_dark import ratio

ROOT = Path(__file__).resolve().parents[2]
THEME = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
CAPTION_OPACITY = 0.6  # Streamlit draws captions (and help, hints, slider ends) in the text colour at 60 % opacity


def over(colour: str, background: str, opacity: float) -> str:
    """``colour`` drawn at ``opacity`` over ``background``, as one colour."""
    fg, bg = ([int(c.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)] for c in (colour, background))
    return "#" + "".join(f"{round(opacity * f + (1 - opacity) * b):02x}" for f, b in zip(fg, bg, strict=True))


@pytest.mark.parametrize("name", ["light", "dark"])
def test_every_text_of_each_theme_is_aa(name):
    colours = THEME[name]
    for background in (colours["backgroundColor"], colours["secondaryBackgroundColor"]):  # the page, the sidebar
        assert ratio(colours["textColor"], background) >= 7, background
        caption = over(colours["textColor"], background, CAPTION_OPACITY)
        assert ratio(caption, background) >= 4.5, f"captions {caption} on {background}"
        assert ratio(colours["linkColor"], background) >= 7, "links: 7:1, so High contrast need not change them"
    assert ratio("#ffffff", colours["primaryColor"]) >= 4.5, "a primary button's white label"


def test_captions_were_below_aa_with_streamlits_own_colours():
    """The reason for the theme: Streamlit's default text colour gave captions 3.81:1 on the sidebar."""
    assert ratio(over("#2f2d2b", "#f8f8f7", CAPTION_OPACITY), "#f8f8f7") < 4.5


def _css_colours(css: str, prop: str) -> list[str]:
    return re.findall(rf"(?<![-\w]){prop}:\s*(#[0-9a-fA-F]{{6}})", css)


PRIMARY_BUTTON = re.compile(r'stBaseButton-primary"\] \{ background-color: (#\w{6}).*?\] \* \{\s*color: (#\w{6})', re.S)


@pytest.mark.parametrize(("name", "css"), [("light", view._CONTRAST_CSS), ("dark", view._CONTRAST_DARK_CSS)])
def test_high_contrast_is_seven_to_one(name, css):
    colours = THEME[name]
    found = PRIMARY_BUTTON.search(css)
    button, label = found.groups()
    texts = set(_css_colours(css[: found.start()] + css[found.end() :], "color"))
    assert texts == {"#ffffff" if name == "dark" else "#000000"}
    for background in (colours["backgroundColor"], colours["secondaryBackgroundColor"]):
        assert all(ratio(text, background) >= 7 for text in texts), background
    assert ratio(label, button) >= 7, "a primary button's label"


def test_the_dark_themes_own_css_uses_its_text_colour():
    assert set(_css_colours(view._DARK_CSS, "color")) == {THEME["dark"]["textColor"]}
    assert ratio(THEME["dark"]["primaryColor"], THEME["dark"]["backgroundColor"]) < 4.5, "why the slider needs it"


def _theme_message() -> CustomThemeConfig:
    """The theme as Streamlit sends it: [theme] and its [theme.light] and [theme.dark] sections."""
    msg = CustomThemeConfig()
    for section, target in (("light", msg.light), ("dark", msg.dark)):
        for option, value in THEME[section].items():
            setattr(target, re.sub(r"(?<!^)(?=[A-Z])", "_", option).lower(), value)
    return msg


@pytest.mark.parametrize("dark", [False, True])
def test_a_session_gets_one_theme(dark):
    msg = _theme_message()
    theme_switch.one_theme(msg, dark)
    chosen = THEME["dark" if dark else "light"]
    assert msg.base == (msg.BaseTheme.DARK if dark else msg.BaseTheme.LIGHT)
    assert (msg.text_color, msg.background_color) == (chosen["textColor"], chosen["backgroundColor"])
    assert not msg.HasField("light") and not msg.HasField("dark"), "two sections: the browser would choose"


def test_the_address_asks_for_the_dark_theme():
    assert theme_switch.asked_in("dark=true&present=true")
    assert theme_switch.asked_in("sentence=a+b&dark=ON")
    assert not theme_switch.asked_in("dark=false") and not theme_switch.asked_in("darker=true")


def test_the_launcher_hooks_the_theme_into_streamlit():
    from streamlit.runtime.app_session import AppSession

    assert theme_switch.install()
    assert getattr(AppSession._create_new_session_message, "attnviz", False)
    assert theme_switch.install(), "a second call leaves the one hook"


@pytest.mark.parametrize("value", ["true", "1"])
def test_dark_theme_is_a_view_setting_in_the_url(app, value):
    at = app("lessons/softmax.py", dark=value)
    assert not at.exception
    assert at.toggle(key=view.DARK).value is True
    assert at.toggle(key=view.DARK).label == "Dark theme"


def test_every_chart_has_its_text_alternative_just_before_it(app):
    at = app("lessons/similarity.py")
    for _ in range(5):  # answer the "predict first" questions by skipping them
        skip = [b for b in at.button if b.label.startswith("Skip")]
        if not skip:
            break
        skip[0].click().run()
    charts = at.get("plotly_chart")
    texts = [t.value for t in at.text if t.value.startswith("Figure")]
    assert len(charts) >= 3 and len(texts) == len(charts)
    assert any("the largest: river → river: 44.2" in t for t in texts), texts
