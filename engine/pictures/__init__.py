"""The pictures of a graph: what students look at, built on the core and never changing it.

- :mod:`~engine.pictures.draw`: the graph as boxes ``label | data | grad`` (``draw_graph``).
- :mod:`~engine.pictures.render`: DOT to SVG or PNG, through Graphviz.
- :mod:`~engine.pictures.filmstrip`: the backward pass frame by frame, with an offline player.
- :mod:`~engine.pictures.explain`: one gradient as a sum over paths of local derivatives.
- :mod:`~engine.pictures.trace`: the evaluation trace and its adjoint, as a table.
- :mod:`~engine.pictures.gradient_names`: names for the nodes of a gradient's own graph.
- :mod:`~engine.pictures.notation`: how every picture writes numbers, derivatives and ops.
"""
