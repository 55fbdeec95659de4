"""The backward pass as a film strip: one frame per node, in the order ``backward()`` uses.

Frame 0 seeds the output's gradient. In frame k the backward pass reaches one node: its gradient
is complete, and it passes it on to each operand with the chain rule,
``operand.grad += local * node.grad``, where ``local`` is the node's local derivative
``d node / d operand`` from ``engine.derivatives``. The frames are the engine's own steps of the
chain rule (``engine.chain_rule_steps``, in ``engine.backward_order``), taken on a table of
their own (the graph is not modified): exactly the numbers of ``zero_grad()`` then
``backward()``.

``film_strip(root)`` returns a :class:`FilmStrip`: frames as drawings (SVG, PNG), a
self-contained HTML player (slider, play/pause, step, keys: arrows, space, Home/End; full size or
fitted; no network needed) and, in Jupyter, that player inline.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from engine.chain_rule import chain_rule_steps
from engine.graph_order import backward_order
from engine.pictures.draw import TEXT_FONT, Cluster, Drawing, Graph, caption_label, fallback_bundle
from engine.pictures.notation import derivative, grouped, number, printable
from engine.pictures.render import render
from engine.value import Value

DEFAULT_MAX_FRAMES = 200
PENDING = "#f0f0f0"  # a node whose gradient is not complete yet


@dataclass(frozen=True)
class Step:
    """One use of the chain rule: ``parent.grad += local * upstream`` (``before`` -> ``after``)."""

    node: Value
    slot: int  # the operand position of ``parent`` in ``node``
    parent: Value
    local: float  # d node / d parent
    upstream: float  # node's complete gradient
    before: float
    after: float
    complete: bool  # this was the last contribution to parent.grad


@dataclass(frozen=True)
class Frame:
    """The state after one node of the backward pass passed its gradient on.

    ``node`` is ``None`` in frame 0 (the seed). ``completed`` are the Values whose gradient became
    final in this frame; ``grads`` holds every running gradient so far (absent: not reached).
    """

    index: int
    node: Value | None
    steps: tuple[Step, ...]
    completed: tuple[Value, ...]
    grads: dict[Value, float]
    done: frozenset[Value]  # Values whose gradient is final


def replay_backward(root: Value, grad: float = 1.0) -> list[Frame]:
    """The frames of a fresh backward pass from ``root`` (as after ``zero_grad()``)."""
    if not isinstance(root, Value):
        raise TypeError(f"film_strip needs an engine.Value, got {type(root).__name__}: "
                        f"{root!r:.60}")
    grad = float(grad)
    order = backward_order(root)  # [] for a leaf
    uses: dict[Value, int] = {}
    for node in order:
        for p in node.parents:
            uses[p] = uses.get(p, 0) + 1
    taken: dict[Value, list[tuple]] = {}  # the engine's steps of the chain rule, by node
    for step in chain_rule_steps(root, grad, order):
        taken.setdefault(step[0], []).append(step)
    grads = {root: grad}
    done = {root}
    frames = [Frame(0, None, (), (root,), dict(grads), frozenset(done))]
    for node in order:
        steps, completed = [], []
        for _, slot, p, d, g, before, after in taken.get(node, ()):
            grads[p] = after
            uses[p] -= 1
            if uses[p] == 0:
                done.add(p)
                completed.append(p)
            steps.append(Step(node, slot, p, d, g, before, after, uses[p] == 0))
        frames.append(Frame(len(frames), node, tuple(steps), tuple(completed), dict(grads),
                            frozenset(done)))
    return frames


def film_strip(root: Value, *, grad: float = 1.0, rankdir: str = "LR",
               parameters: Iterable[Value] = (), clusters: Sequence[Cluster] = (),
               names: Mapping[Value, str] | None = None,
               max_frames: int = DEFAULT_MAX_FRAMES) -> FilmStrip:
    """The backward pass from ``root``, node by node (see the module docstring).

    ``parameters``, ``clusters`` and ``names`` (for unlabelled Values) work as in
    ``draw_graph``; ``nn.film_strip(root, mlp)`` gives an MLP's (``W1[2,1]``, ``z1[2]``).
    ``max_frames`` guards against graphs too big to watch (each frame is a full drawing).
    """
    if not isinstance(root, Value):
        raise TypeError(f"film_strip needs an engine.Value, got {type(root).__name__}: "
                        f"{root!r:.60}")
    steps = len(backward_order(root)) if root.parents else 0
    if steps + 1 > max_frames:
        raise ValueError(f"the backward pass of this graph has {steps} steps, more than "
                         f"max_frames={max_frames}: draw a smaller graph or raise max_frames")
    return FilmStrip(root, replay_backward(root, grad), rankdir=rankdir,
                     parameters=parameters, clusters=clusters, names=dict(names or {}))


class FilmStrip:
    """Frames of a backward pass: ``frames``, ``caption(k)``, ``drawing(k)``, ``save_frames``,
    ``html()`` / ``save_html`` (the player), and the player inline in Jupyter."""

    def __init__(self, root: Value, frames: list[Frame], *, rankdir: str = "LR",
                 parameters: Iterable[Value] = (), clusters: Sequence[Cluster] = (),
                 names: dict[Value, str] | None = None) -> None:
        self.root = root
        self.frames = frames
        self.graph = Graph(root, clusters=clusters, max_nodes=None)
        self.names = self.graph.names(names)
        self.known_names = names or {}
        self.rankdir = rankdir
        self.parameters = list(parameters)
        self._parameter_set = set(self.parameters)
        self._widths = self._grad_widths()
        self._caption_size: tuple[float, float] | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, k: int) -> Frame:
        return self.frames[k]

    @property
    def grads(self) -> dict[Value, float]:
        """The final gradients: what ``zero_grad()`` then ``backward()`` gives every Value."""
        return self.frames[-1].grads

    # -- text -----------------------------------------------------------------------------------
    def caption(self, k: int) -> str:
        """What happens in frame ``k``, with the numbers of the chain rule: frame 0 is the
        start, frame ``k`` is step ``k`` of the backward pass (one per node)."""
        frame = self.frames[k]
        n = len(self.frames) - 1

        def name(v: Value) -> str:
            return grouped(self.names[v])

        def d(of: Value, by: Value) -> str:
            return derivative(self.names[of], self.names[by])

        if frame.node is None:
            return (f"before step 1 of {n}: the backward pass starts at {name(self.root)} with "
                    f"{name(self.root)}.grad = {number(frame.grads[self.root])}")
        node = frame.node
        op = self.graph.folded[node]
        lines = [f"step {k} of {n}: the gradient of {name(node)} (op {op}) is complete, "
                 f"{number(frame.grads[node])}; the chain rule passes it on:"]
        twice = len(set(node.parents)) < len(node.parents)
        for s in frame.steps:
            if s.parent not in self.names:
                continue  # a constant of the operation (an exponent, a slope): no gradient
            slot = f" (operand {s.slot + 1})" if twice else ""
            if self._is_constant(s.parent):
                lines.append(f"  {name(s.parent)}{slot} is a constant: no gradient")
                continue
            state = "complete" if s.complete else "so far"
            lines.append(f"  {name(s.parent)}.grad += {d(node, s.parent)}{slot} x "
                         f"{name(node)}.grad = {number(s.local)} x {number(s.upstream)}"
                         f"  ->  {number(s.after)} ({state})")
        return printable("\n".join(lines))

    def text(self) -> str:
        """Every caption, one frame after the other."""
        return "\n\n".join(self.caption(k) for k in range(len(self.frames)))

    # -- pictures -------------------------------------------------------------------------------
    def drawing(self, k: int, caption: bool = True) -> Drawing:
        """Frame ``k`` as a drawing: grads so far ("?": not reached, "...": not complete yet),
        the current node and the edges it passes its gradient along in red, local derivatives
        on the edges, and the caption above (unless ``caption=False``)."""
        frame = self.frames[k]
        widths = self._widths
        steps = [s for s in frame.steps if not self._is_constant(s.parent)]  # nothing to pass
        marked = [] if frame.node is None else [frame.node, *(s.parent for s in steps)]
        edges = [(s.node, s.slot) for s in steps]

        def grad_text(v: Value) -> str:
            return self._grad_text(frame, v).ljust(widths[v])

        colours = {v: PENDING for v in self.graph.values if v not in frame.done}
        edge_labels = {(s.node, s.slot): number(s.local) for f in self.frames for s in f.steps}
        return self.graph.draw(rankdir=self.rankdir, highlight=marked,
                               title_size=self.caption_size() if caption else None,
                               parameters=self.parameters,
                               title=self.caption(k) if caption else "",
                               label_text=self._label, grad_text=grad_text,
                               node_colour=colours, edge_label=edge_labels,
                               highlight_edges=edges)

    def caption_size(self) -> tuple[float, float] | None:
        """The box (points) that holds the largest caption, as the renderer measures them all
        in one drawing: every frame's caption gets it, so every frame has the same size and
        slides made from them do not jump. ``None`` with no renderer (the DOT is still right)."""
        if self._caption_size is None:
            import graphviz

            dot = graphviz.Digraph(graph_attr={"fontname": TEXT_FONT})
            for k, text in enumerate(dict.fromkeys(map(self.caption, range(len(self))))):
                dot.node(f"c{k}", label=caption_label(text), shape="box", margin="0",
                         fontname=TEXT_FONT, fontsize="13")
            try:
                svg = render(dot.source, "svg").decode("utf-8")
            except (RuntimeError, OSError):
                return None
            boxes = [[tuple(map(float, p.split(","))) for p in points.split()]
                     for points in re.findall(r'<polygon[^>]*points="([^"]+)"', svg)[1:]]
            self._caption_size = (max(max(x for x, _ in b) - min(x for x, _ in b) for b in boxes),
                                  max(max(y for _, y in b) - min(y for _, y in b) for b in boxes))
        return self._caption_size

    def _is_constant(self, v: Value) -> bool:
        """A number an operation was given (``Value.constant``, the 2 of ``x * 2``) that is not
        named or a parameter: the backward pass reaches it, but nothing asks for its gradient,
        so no frame shows one."""
        return v.constant and not v.label and v not in self.known_names \
            and v not in self._parameter_set

    def _label(self, v: Value) -> str:
        return "" if self._is_constant(v) else self.names[v]

    @staticmethod
    def _grad_text(frame: Frame, v: Value) -> str:
        if v not in frame.grads:
            return "?"
        return number(frame.grads[v]) + ("" if v in frame.done else "...")

    def _grad_widths(self) -> dict[Value, int]:
        """The widest grad text of each Value over all frames: every frame then has the same
        layout (Courier is monospaced), and the picture does not jump between frames."""
        return {v: max(len(self._grad_text(f, v)) for f in self.frames) for v in self.graph.values}

    def svg_frames(self, caption: bool = True) -> list[str]:
        """Every frame as SVG text."""
        return [self.drawing(k, caption).svg() for k in range(len(self.frames))]

    def save_frames(self, folder: str | os.PathLike, fmt: str = "svg") -> list[Path]:
        """Write ``frame_000.svg`` (or ``.png``) ... into ``folder``; return the paths."""
        if fmt not in ("svg", "png"):
            raise ValueError(f"fmt must be 'svg' or 'png', got {fmt!r}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        width = len(str(len(self.frames) - 1))
        return [self.drawing(k).save(folder / f"frame_{k:0{max(3, width)}d}.{fmt}")
                for k in range(len(self.frames))]

    # -- the player -----------------------------------------------------------------------------
    def html(self) -> str:
        """A self-contained HTML player (inline SVG frames, CSS and JavaScript)."""
        svgs = self.svg_frames(caption=False)  # the player shows the caption as text
        digest = hashlib.sha1("".join(svgs).encode()).hexdigest()[:10]
        uid = f"dg-film-{digest}-{next(_players)}"
        captions = [html.escape(printable(self.caption(k))) for k in range(len(svgs))]
        frames = "\n".join(
            f'<div class="dg-frame" data-caption="{captions[k]}"'
            f'{"" if k == 0 else " hidden"}>{_inline_svg(svg, f"{uid}-{k}")}</div>'
            for k, svg in enumerate(svgs))
        # every caption, invisible, in the caption's grid cell: the box is as tall as the
        # longest caption at any width, so the frames below never move
        sizers = "".join(f'<pre class="dg-sizer" aria-hidden="true" hidden>{c}</pre>'
                         for c in dict.fromkeys(captions))
        # one pass (string.Template): text put in is never read again as part of the template
        return _PLAYER.substitute(uid=uid, last=len(svgs) - 1, frames=frames, sizers=sizers,
                                  caption0=captions[0])

    def save_html(self, path: str | os.PathLike) -> Path:
        """Write the player as a standalone HTML page."""
        path = Path(path)
        path.write_text("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                        "<title>deltagrad: backward film strip</title></head><body>\n"
                        + self.html() + "\n<script>document.querySelector('.dg-film').focus();"
                        "</script>\n</body></html>\n", encoding="utf-8")
        return path

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter: the player inline; with no renderer, the captions and an install hint."""
        try:
            return {"text/html": self.html(), "text/plain": repr(self)}
        except (RuntimeError, OSError) as error:
            bundle = fallback_bundle(self.drawing(0).source, error)
            hint = bundle["text/plain"].splitlines()[0]
            return {"text/plain": f"{hint}\n\n{self.text()}"}

    def __repr__(self) -> str:
        return f"<FilmStrip: {len(self.frames)} frames of the backward pass from " \
               f"{self.names.get(self.root, 'the output')}>"


_players = itertools.count(1)  # a page may show the same film twice: ids must differ


def _inline_svg(svg: str, prefix: str) -> str:
    """An SVG document as an element inside HTML: no XML prolog, ids made unique."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return re.sub(r'\bid="', f'id="{prefix}-', svg)


_PLAYER = Template("""<div class="dg-film" id="${uid}" tabindex="0"
aria-label="backward film strip">
<style>
#${uid} { font-family: Helvetica, Arial, sans-serif; }
#${uid}:focus-visible { outline: 2px solid #7aa7e0; outline-offset: 2px; }
#${uid} .dg-bar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
#${uid} .dg-bar input { flex: 1; min-width: 120px; max-width: 420px; }
#${uid} .dg-keys { color: #777; font-size: 12px; }
#${uid} .dg-stack { display: grid; }
#${uid} .dg-stack > * { grid-area: 1 / 1; }
#${uid} .dg-stack > [hidden] { display: block; visibility: hidden; }
#${uid} pre { background: #f7f7f7; padding: 6px; margin: 4px 0; white-space: pre-wrap; }
#${uid} .dg-frames { overflow-x: auto; }
#${uid} svg { max-width: 100%; height: auto; }
#${uid}.dg-full svg { max-width: none; }
</style>
<div class="dg-bar">
<button type="button" data-go="first" title="first frame (Home)">|&lt;</button>
<button type="button" data-go="prev" title="previous frame (left arrow)">&lt;</button>
<button type="button" data-go="play" title="play / pause (space)">play</button>
<button type="button" data-go="next" title="next frame (right arrow)">&gt;</button>
<button type="button" data-go="last" title="last frame (End)">&gt;|</button>
<input type="range" min="0" max="${last}" value="0" aria-label="frame">
<span class="dg-count">0 / ${last}</span>
<button type="button" data-go="zoom" title="show the frames at full size or fitted to the width"
>full size</button>
<span class="dg-keys">keys: &larr; &rarr; step, space play/pause, Home/End</span>
</div>
<div class="dg-stack"><pre class="dg-caption" aria-live="polite">${caption0}</pre>
${sizers}</div>
<div class="dg-stack dg-frames">
${frames}
</div>
<script>
(function () {
  var root = document.getElementById("${uid}");
  var frames = root.querySelectorAll(".dg-frame");
  var slider = root.querySelector("input"), count = root.querySelector(".dg-count");
  var caption = root.querySelector(".dg-caption"), play = root.querySelector("[data-go=play]");
  var zoom = root.querySelector("[data-go=zoom]");
  var k = 0, timer = null;
  function show(i) {
    k = Math.max(0, Math.min(frames.length - 1, i));
    for (var j = 0; j < frames.length; j++) { frames[j].hidden = j !== k; }
    slider.value = k; count.textContent = k + " / " + (frames.length - 1);
    caption.textContent = frames[k].getAttribute("data-caption");
  }
  function stop() { if (timer) { clearInterval(timer); timer = null; } play.textContent = "play"; }
  function toggle() {
    if (timer) { stop(); return; }
    if (k === frames.length - 1) { show(0); }
    play.textContent = "pause";
    timer = setInterval(function () {
      if (k >= frames.length - 1) { stop(); } else { show(k + 1); }
    }, 1200);
  }
  function go(where) {
    if (where === "play") { toggle(); return; }
    if (where === "zoom") {
      var full = root.classList.toggle("dg-full");
      zoom.textContent = full ? "fit width" : "full size";
      return;
    }
    stop();
    show({first: 0, prev: k - 1, next: k + 1, last: frames.length - 1}[where]);
  }
  root.querySelector(".dg-bar").addEventListener("click", function (e) {
    var where = e.target.getAttribute && e.target.getAttribute("data-go");
    if (where) { go(where); }
  });
  slider.addEventListener("input", function () { stop(); show(parseInt(slider.value, 10)); });
  var KEYS = {ArrowLeft: "prev", ArrowRight: "next", " ": "play", Home: "first", End: "last"};
  root.addEventListener("keydown", function (e) {
    var where = KEYS[e.key];
    if (!where || e.altKey || e.ctrlKey || e.metaKey) { return; }
    e.preventDefault();  // not the page's scrolling, the slider's own step or a button's click
    if (!e.repeat || where !== "play") { go(where); }
  });
  root.addEventListener("keyup", function (e) {
    if (e.key === " ") { e.preventDefault(); }  // a focused button would click on space's keyup
  });
  show(0);
})();
</script>
</div>""")
