"""MkDocs hook: the code's docstrings introduce their example with reST's `Example::`; in the API reference
that line reads as a heading, not as two colons before a code block.
"""

from __future__ import annotations

LITERAL = "<p>Example::</p>"
HEADING = '<p class="example"><strong>Example</strong></p>'


def on_page_content(html: str, **_: object) -> str:
    """Each page's HTML with the literal `Example::` paragraphs as example headings."""
    return html.replace(LITERAL, HEADING)
