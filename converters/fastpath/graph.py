"""The graph surgery every fast-path pass shares: attributes, constants, who produces and who
reads a tensor, and splicing new nodes in place of old ones."""

import collections

import numpy as np
from onnx import helper, numpy_helper


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def prune(graph):
    """Drop nodes and initializers that no graph output depends on."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    unused = [t for t in graph.initializer if t.name not in needed]
    for t in unused:
        graph.initializer.remove(t)


def splice(graph, nodes):
    """The graph's nodes become ``nodes`` (in order), then what no output needs is dropped."""
    del graph.node[:]
    graph.node.extend(nodes)
    prune(graph)


def replace(graph, replaced):
    """The graph's nodes with node number ``at`` replaced by the list ``replaced[at]``. Nodes
    are keyed by position: protobuf may hand out a new Python object, and reuse an id(), each
    time a node is read."""
    return [n for at, node in enumerate(graph.node) for n in replaced.get(at, [node])]


def initializer(graph, constants, name, value):
    """A new initializer ``name``, also recorded in the passes' shared ``constants``."""
    constants[name] = value = np.asarray(value)
    graph.initializer.append(numpy_helper.from_array(value, name))
    return name


class Index:
    """Who produces and how many consume each tensor of a graph, as it is now."""

    def __init__(self, graph):
        self.nodes = list(graph.node)  # one read: the same objects here and in producers
        self.position = {o: at for at, n in enumerate(self.nodes) for o in n.output}
        self.producers = {o: self.nodes[at] for o, at in self.position.items()}
        self.consumers = collections.Counter(i for n in graph.node for i in n.input)
        self.outputs = {o.name for o in graph.output}

    def only(self, name, op_type):
        """The ``op_type`` node making ``name`` when nothing else reads ``name``, else None."""
        node = self.producers.get(name)
        ok = node is not None and node.op_type == op_type and self.consumers[name] == 1 and name not in self.outputs
        return node if ok else None


def constant_input(node, constants):
    """(the one non-constant input, the one constant's name) of a two-input node, or None."""
    names = [i for i in node.input if i not in constants]
    values = [i for i in node.input if i in constants]
    return (names[0], values[0]) if len(names) == 1 and len(values) == 1 else None


def channel_vector(value, channels, nchw):
    """A per-channel constant of a ``channels``-channel tensor as (channels,), or None."""
    value = np.asarray(value, np.float32)
    if value.size != channels:
        return None
    shapes = [(1, channels, 1, 1), (channels, 1, 1)] if nchw else [(channels,), (1, 1, 1, channels), (1, 1, channels)]
    return value.reshape(channels) if value.shape in shapes or channels == 1 else None
