"""Reading the structure of deltagrad's DOT output in tests: nodes, edges, clusters, labels.

Drawings are asserted on structure (what is connected to what, which fields a record has),
never on the bytes of an SVG. This parser knows the one-statement-per-line DOT that the
``graphviz`` package writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.pictures.draw import VALUE_SHAPE

VALUE = VALUE_SHAPE  # the shape of a Value's node (an HTML table)

_ATTR = re.compile(r'(\w+)=(<<.*?</TABLE>>|"(?:[^"\\]|\\.)*"|[^\s\]]+)')
_NODE = re.compile(r"^\s*(\w+) \[(.*)\]$")
_EDGE = re.compile(r"^\s*(\w+)(?::\w+)? -> (\w+)(?::\w+)?(?: \[(.*)\])?$")
_KEYWORDS = {"graph", "node", "edge"}


@dataclass
class Dot:
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    cluster_of: dict[str, list[str]] = field(default_factory=dict)  # node -> enclosing clusters
    clusters: dict[str, list[str]] = field(default_factory=dict)  # cluster -> its parents
    cluster_labels: dict[str, str] = field(default_factory=dict)
    hints: list[tuple[str, str]] = field(default_factory=list)  # invisible edges

    def fields(self, node: str) -> list[str]:
        """The fields of a Value's label (an HTML-like table, or a record), unescaped."""
        label = self.nodes[node]["label"].strip()
        if label.startswith("<"):
            import html

            cells = re.findall(r"<TD[^>]*>(.*?)</TD>", label)
            # graphviz reads entities, then backslash escapes (\\ is one backslash) even here
            return [unescape(html.unescape(re.sub(r"<[^>]*>", "", c))).strip() for c in cells]
        if label.startswith("{") and label.endswith("}"):
            label = label[1:-1]
        return [unescape(f).strip() for f in re.split(r"(?<!\\)\|", label)]

    def edge_count(self, tail: str, head: str) -> int:
        return sum(1 for t, h, _ in self.edges if (t, h) == (tail, head))


def parse(source: str) -> Dot:
    dot = Dot()
    stack: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("subgraph "):
            name = stripped.split()[1]
            dot.clusters[name] = list(stack)
            stack.append(name)
        elif stripped == "{":  # an anonymous subgraph (rank=same): not a cluster
            stack.append("")
        elif stripped == "}":
            if stack:
                stack.pop()
        elif m := _EDGE.match(line):
            attrs = _attrs(m[3] or "")
            if attrs.get("style") == "invis":  # a layout hint (keeps an order), not drawn
                dot.hints.append((m[1], m[2]))
            else:
                dot.edges.append((m[1], m[2], attrs))
        elif (m := _NODE.match(line)) and m[1] not in _KEYWORDS:
            dot.nodes[m[1]] = _attrs(m[2])
            dot.cluster_of[m[1]] = [c for c in stack if c]
        elif stack and stack[-1] and "label" in (attrs := _attrs(stripped)):  # a cluster's
            dot.cluster_labels[stack[-1]] = attrs["label"]
    return dot


def _attrs(text: str) -> dict[str, str]:
    return {k: _value(v) for k, v in _ATTR.findall(text)}


def title_lines(source: str) -> list[str]:
    """The lines of a drawing's title (the graph's HTML-like label), unescaped: the caption's
    lines, then the legend's entries, one a line."""
    import html

    found = re.search(r"^\s*(?:fontsize=\S+ )?label=(<<.*</TABLE>>)", source, flags=re.M)
    if found is None:
        return []
    label = found[1]
    lines = []
    innermost = r"<TD[^>]*>((?:(?!<TD).)*?)</TD>"
    for cell in re.findall(innermost, label.replace("<BR/>", "</TD><TD>")):
        text = unescape(html.unescape(re.sub(r"<[^>]*>", "", cell))).strip()
        if text:
            lines.append(text)
    return lines


def _value(v: str) -> str:
    return v[1:-1] if v.startswith('"') and v.endswith('"') else v


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def svg_counts(svg: str) -> tuple[int, int]:
    """(nodes, edges) of a rendered SVG."""
    return svg.count('class="node"'), svg.count('class="edge"')


def svg_texts(svg: str) -> list[str]:
    import html

    return [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)]


def svg_width(svg: str) -> float:
    """The width of a rendered SVG in points (its ``width`` attribute)."""
    return float(re.search(r'<svg width="([\d.]+)pt"', svg)[1])


def svg_places(svg: str) -> dict[str, tuple[float, float]]:
    """Where each node's first text line is drawn: DOT id -> (x, y), y growing downwards."""
    places = {}
    for node in re.finditer(r'<g id="node\d+" class="node">\s*<title>(\w+)</title>(.*?)</g>',
                            svg, flags=re.S):
        text = re.search(r'<text[^>]* x="([-\d.]+)" y="([-\d.]+)"', node[2])
        if text:
            places[node[1]] = (float(text[1]), float(text[2]))
    return places
