"""The HTML pages (a run's report, a pipeline's history, a segmented run's ranking), from
the Jinja2 templates in ``templates/``: autoescaped, one base page, everything embedded so
that a page opens offline."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup


def cell(value: Any) -> str:
    """A table cell's text: a float to 6 significant digits, nothing for None."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


@cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tasks.export", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = cell
    return env


@cache
def plotlyjs() -> Markup:
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    return Markup(get_plotlyjs())


def figure_html(figure: Any) -> Markup:
    """A plotly figure as a div of the page (plotly.js comes once, from the base page)."""
    from markupsafe import Markup

    return Markup(figure.to_html(full_html=False, include_plotlyjs=False))


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(plotlyjs=plotlyjs(), **context)
