"""Binary trees over classes for hierarchical softmax: Huffman construction
and the root-to-leaf paths the layer uses (NumPy only, no torch).

A tree over ``V`` classes has the classes as leaves ``0..V-1`` and ``V-1``
inner nodes numbered ``0..V-2`` in post-order (left subtree, right subtree,
node; the root is node ``V-2``), so a tree and its nested-pairs form
(:meth:`Tree.nested`, :func:`tree_from_nested`) number the nodes alike. ``left[n]``/``right[n]`` hold child vertices, where a
vertex ``v < V`` is leaf ``v`` and ``v >= V`` is inner node ``v - V``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["Tree", "huffman_tree", "tree_from_nested", "tree_paths"]


class Tree(NamedTuple):
    num_classes: int
    left: np.ndarray  # (V-1,) child vertices
    right: np.ndarray

    def nested(self) -> Any:
        """The tree as nested pairs of class indices, e.g. ``((0, 1), 2)``."""
        v = self.num_classes
        if v == 1:
            return 0
        built: list[Any] = [None] * (v - 1)
        for n in range(v - 1):  # children come before their parent
            a, b = int(self.left[n]), int(self.right[n])
            built[n] = (a if a < v else built[a - v], b if b < v else built[b - v])
        return built[-1]


def huffman_tree(counts: np.ndarray) -> Tree:
    """Huffman tree of positive ``counts``: minimal ``sum(count * depth)``.

    Deterministic tie-breaking: leaves are taken in order of (count, class
    index); when a leaf and a merged node weigh the same the leaf is taken
    first; the first node taken becomes the left child. Linear time after a
    sort (the two-queue method, van Leeuwen 1976).

    Example:
        >>> import numpy as np
        >>> from actlab.torch.large_output.huffman import huffman_tree
        >>> huffman_tree(np.array([5.0, 1.0, 1.0, 2.0])).nested()
        ((3, (1, 2)), 0)
    """
    counts = np.asarray(counts, dtype=np.float64)
    v = counts.size
    order = np.argsort(counts, kind="stable")
    leaf_w = counts[order].tolist()
    leaf_id = order.tolist()
    left = np.empty(max(v - 1, 0), dtype=np.int64)
    right = np.empty(max(v - 1, 0), dtype=np.int64)
    merged_w: list[float] = []
    i = j = 0  # heads of the leaf queue and the merged queue

    def take() -> tuple[int, float]:
        nonlocal i, j
        if i < v and (j >= len(merged_w) or leaf_w[i] <= merged_w[j]):
            i += 1
            return leaf_id[i - 1], leaf_w[i - 1]
        j += 1
        return v + j - 1, merged_w[j - 1]

    for n in range(v - 1):
        a, wa = take()
        b, wb = take()
        left[n], right[n] = a, b
        merged_w.append(wa + wb)
    return _postorder(Tree(v, left, right))


def _postorder(tree: Tree) -> Tree:
    """The same tree with its inner nodes renumbered in post-order."""
    v = tree.num_classes
    if v < 2:
        return tree
    lefts, rights = tree.left.tolist(), tree.right.tolist()
    new_id = [0] * (v - 1)
    count = 0
    stack = [v - 2]  # a node n to expand, or ~n when its children are numbered
    while stack:
        n = stack.pop()
        if n < 0:
            new_id[~n] = count
            count += 1
            continue
        stack.append(~n)
        if rights[n] >= v:
            stack.append(rights[n] - v)
        if lefts[n] >= v:
            stack.append(lefts[n] - v)
    perm = np.array(new_id)
    new_left, new_right = np.empty(v - 1, dtype=np.int64), np.empty(v - 1, dtype=np.int64)
    for old, new in ((tree.left, new_left), (tree.right, new_right)):
        inner = old >= v
        new[perm] = np.where(inner, v + perm[np.where(inner, old - v, 0)], old)
    return Tree(v, new_left, new_right)


def tree_from_nested(tree: Any) -> Tree:
    """A :class:`Tree` from nested pairs whose leaves are the class indices
    ``0..V-1``, each exactly once (e.g. ``((0, 2), (1, 3))``)."""
    leaves: list[int] = []
    left: list[int] = []
    right: list[int] = []
    pending: list[tuple[Any, bool]] = [(tree, False)]
    stack: list[int] = []  # vertex codes of finished subtrees: leaf c -> c, inner n -> -(n + 1)
    while pending:
        node, expanded = pending.pop()
        if isinstance(node, (int, np.integer)) and not isinstance(node, bool):
            leaves.append(int(node))
            stack.append(int(node))
        elif isinstance(node, (tuple, list)) and len(node) == 2:
            if expanded:
                b, a = stack.pop(), stack.pop()
                left.append(a)
                right.append(b)
                stack.append(-len(left))
            else:
                pending.extend([(node, True), (node[1], False), (node[0], False)])
        else:
            raise ValueError(
                f"tree: every node must be a class index or a pair of subtrees, got {node!r}"
            )
    v = len(leaves)
    if sorted(leaves) != list(range(v)):
        missing = sorted(set(range(v)) - set(leaves))
        dup = sorted({c for c in leaves if leaves.count(c) > 1}) if len(set(leaves)) < v else []
        raise ValueError(
            f"tree: leaves must be the classes 0..{v - 1}, each once "
            f"(missing {missing[:5]}, repeated {dup[:5]}, got {sorted(set(leaves))[:10]}...)"
        )

    def vertex(code: int) -> int:
        return code if code >= 0 else v + (-code - 1)

    return Tree(v, np.array([vertex(a) for a in left], dtype=np.int64),
                np.array([vertex(b) for b in right], dtype=np.int64))


class Level(NamedTuple):
    """The vertices at one depth, in a fixed order: the position of each
    one's parent among the previous depth's inner nodes, the column
    ``2 * parent + side`` of the interleaved (left, right) log-sigmoids, which
    of them are leaves, and those leaves' classes. The inner ones, in this
    order, are the next depth's parents."""

    parent_pos: np.ndarray
    branch: np.ndarray
    is_leaf: np.ndarray
    classes: np.ndarray


class Paths(NamedTuple):
    offsets: np.ndarray  # (V+1,) class c's steps are nodes[offsets[c]:offsets[c+1]]
    nodes: np.ndarray  # (sum of depths,) the inner node of each step from the root
    signs: np.ndarray  # (sum of depths,) int8: +1 left, -1 right
    depth: np.ndarray  # (V,) code lengths
    levels: list[Level]  # per depth, from 1


def tree_paths(tree: Tree) -> Paths:
    """Root-to-leaf paths of every class (ragged, class-ordered) and the
    vertices grouped by depth, built level by level from the root in time
    proportional to the total path length."""
    v = tree.num_classes
    depth = np.zeros(v, dtype=np.int64)
    levels: list[Level] = []
    pieces = []
    inner = np.array([v - 2]) if v > 1 else np.zeros(0, dtype=np.int64)
    prev_nodes = np.zeros((inner.size, 0), dtype=np.int64)
    prev_signs = np.zeros((inner.size, 0), dtype=np.int8)
    d = 0
    while inner.size:
        d += 1
        k = inner.size
        children = np.concatenate([tree.left[inner], tree.right[inner]])
        parent_pos = np.concatenate([np.arange(k), np.arange(k)])
        side = np.repeat(np.array([0, 1]), k)
        parent = inner[parent_pos]
        nodes_d = np.hstack([prev_nodes[parent_pos], parent[:, None]])
        signs_d = np.hstack([prev_signs[parent_pos], (1 - 2 * side).astype(np.int8)[:, None]])
        is_leaf = children < v
        classes = children[is_leaf]
        levels.append(Level(parent_pos, 2 * parent + side, is_leaf, classes))
        depth[classes] = d
        pieces.append((classes, nodes_d[is_leaf], signs_d[is_leaf]))
        inner = children[~is_leaf] - v
        prev_nodes, prev_signs = nodes_d[~is_leaf], signs_d[~is_leaf]
    offsets = np.concatenate([[0], np.cumsum(depth)]).astype(np.int64)
    nodes = np.zeros(int(offsets[-1]), dtype=np.int64)
    signs = np.zeros(int(offsets[-1]), dtype=np.int8)
    for classes, nodes_d, signs_d in pieces:
        at = offsets[classes][:, None] + np.arange(nodes_d.shape[1])
        nodes[at] = nodes_d
        signs[at] = signs_d
    return Paths(offsets, nodes, signs, depth, levels)
