r"""Hierarchical softmax over a binary tree of the classes (Morin & Bengio 2005; Mikolov et al. 2013).

Each inner node :math:`n` has a vector :math:`v_n` and a bias :math:`b_n`;
the probability of class :math:`w` given :math:`h` is the product over the
root-to-leaf path of :math:`\sigma(\pm(\langle h, v_n\rangle + b_n))`, ``+``
for a left turn, ``-`` for a right one. Since
:math:`\sigma(x) + \sigma(-x) = 1` at every node, the leaf probabilities sum
to 1 exactly. A Huffman tree built from class counts puts frequent classes
near the root, so the expected cost per row, O(depth), is minimal.

Reference: Morin & Bengio, "Hierarchical Probabilistic Neural Network
Language Model" (AISTATS 2005); Mikolov et al., "Distributed
Representations of Words and Phrases" (NeurIPS 2013), Huffman codes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ...elementwise import log_sigmoid
from ._common import check_counts, check_reduction, check_targets, reduce_rows
from .huffman import Tree, huffman_tree, tree_from_nested, tree_paths

__all__ = ["HierarchicalSoftmax"]


class HierarchicalSoftmax(torch.nn.Module):
    r"""Hierarchical softmax layer with a Huffman (or given) tree.

    Args:
        in_features: size ``d`` of the hidden vectors.
        class_counts: positive class frequencies (a sequence of length V) for
            a Huffman tree, or an int V for V equally frequent classes (a
            balanced tree).
        tree: instead of counts, a tree as nested pairs of class indices,
            e.g. ``((0, 2), (1, 3))``; every class ``0..V-1`` once.
        bias: whether the inner nodes have biases.
        reduction: ``"mean"`` (over counted rows), ``"sum"`` or ``"none"``
            for :meth:`forward`.
        ignore_index: target value that :meth:`forward` does not count.

    The tree is a function of the constructor's arguments (its buffers are not
    in the ``state_dict``). Parameters: ``weight`` (V-1, d) and ``bias``
    (V-1,), one row per inner node.

    Example:
        >>> import torch
        >>> from actlab.torch.large_output import HierarchicalSoftmax
        >>> hs = HierarchicalSoftmax(4, class_counts=[50, 20, 20, 5, 5])
        >>> hs.code_lengths.tolist()
        [1, 3, 2, 4, 4]
        >>> h = torch.randn(3, 4)
        >>> hs.full_log_prob(h).exp().sum(-1).detach().allclose(torch.ones(3))
        True
        >>> hs(h, torch.tensor([0, 4, -100])).shape
        torch.Size([])
    """

    path_offsets: torch.Tensor
    path_nodes: torch.Tensor
    path_signs: torch.Tensor
    code_lengths: torch.Tensor
    _leaf_order: torch.Tensor
    tree_code: torch.Tensor

    def __init__(self, in_features: int, class_counts: Any = None, tree: Any = None, bias: bool = True,
                 reduction: str = "mean", ignore_index: int = -100) -> None:
        super().__init__()
        owner = "HierarchicalSoftmax"
        if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features < 1:
            raise ValueError(f"{owner}(): in_features must be a positive int, got {in_features!r}")
        if (class_counts is None) == (tree is None):
            raise ValueError(f"{owner}(): give exactly one of class_counts and tree")
        if tree is not None:
            structure = tree_from_nested(tree)
        elif isinstance(class_counts, int) and not isinstance(class_counts, bool):
            if class_counts < 1:
                raise ValueError(f"{owner}(): class_counts as a number of classes must be >= 1, got {class_counts}")
            structure = huffman_tree(np.ones(class_counts))
        else:
            structure = huffman_tree(check_counts(class_counts, owner, "class_counts").numpy())
        self.in_features = in_features
        self.num_classes = structure.num_classes
        self.reduction = check_reduction(reduction, owner)
        self.ignore_index = ignore_index
        self._tree = structure
        paths = tree_paths(structure)
        self.register_buffer("path_offsets", torch.from_numpy(paths.offsets), persistent=False)
        self.register_buffer("path_nodes", torch.from_numpy(paths.nodes), persistent=False)
        self.register_buffer("path_signs", torch.from_numpy(paths.signs), persistent=False)
        self.register_buffer("code_lengths", torch.from_numpy(paths.depth), persistent=False)
        # the tree itself, saved with the weights so that a state dict of another tree cannot load
        code = np.concatenate([paths.offsets, paths.nodes, paths.signs.astype(np.int64)]).astype(np.int64)
        self.register_buffer("tree_code", torch.from_numpy(code))
        # per level: parent positions, branch columns, and the positions of its leaves and of its inner
        # nodes as integer indices (no boolean masks: those would be a data-dependent nonzero per call)
        self._levels = [
            (torch.from_numpy(lv.parent_pos), torch.from_numpy(lv.branch),
             torch.from_numpy(np.flatnonzero(lv.is_leaf)), torch.from_numpy(np.flatnonzero(~lv.is_leaf)))
            for lv in paths.levels
        ]
        order = np.concatenate([lv.classes for lv in paths.levels]) if paths.levels else np.zeros(1, np.int64)
        self.register_buffer("_leaf_order", torch.from_numpy(np.argsort(order)), persistent=False)
        n_inner = self.num_classes - 1
        self.weight = torch.nn.Parameter(torch.empty(n_inner, in_features))
        self.bias = torch.nn.Parameter(torch.empty(n_inner)) if bias else None
        self.reset_parameters()

    def _load_from_state_dict(self, state_dict: Any, prefix: str, local_metadata: Any, strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str]) -> None:
        key = prefix + "tree_code"
        if key in state_dict:
            theirs = state_dict[key]
            if tuple(theirs.shape) != tuple(self.tree_code.shape) or not torch.equal(
                    theirs.to(self.tree_code.device, torch.int64), self.tree_code):
                raise ValueError(
                    "HierarchicalSoftmax.load_state_dict(): the state dict was saved from a layer with another "
                    f"tree ({self.num_classes} classes here; class counts or tree differ), so its node vectors "
                    "would score other paths; build the layer with the same class_counts or tree")
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                          unexpected_keys, error_msgs)
            return
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        if key in missing_keys:  # saved before the tree was stored: nothing to check against
            missing_keys.remove(key)

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)
        torch.nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            torch.nn.init.zeros_(self.bias)

    @torch.no_grad()
    def init_bias_from_counts(self, counts: Any) -> None:
        """Set each inner node's bias to ``log(count of its left subtree /
        count of its right subtree)``: with zero weights the layer is then
        exactly the unigram distribution ``counts / sum(counts)``, the usual
        starting point for a language model's output layer."""
        if self.bias is None:
            raise ValueError("HierarchicalSoftmax.init_bias_from_counts(): the layer has no bias")
        c = check_counts(counts, "HierarchicalSoftmax.init_bias_from_counts", "counts").tolist()
        if len(c) != self.num_classes:
            raise ValueError(f"HierarchicalSoftmax.init_bias_from_counts(): counts must have {self.num_classes} "
                             f"entries, got {len(c)}")
        v = self.num_classes
        lefts, rights = self._tree.left.tolist(), self._tree.right.tolist()
        total = c + [0.0] * (v - 1)  # subtree counts of every vertex; children come first
        for n in range(v - 1):
            total[v + n] = total[lefts[n]] + total[rights[n]]
        log_left = torch.log(torch.tensor([total[a] for a in lefts], dtype=torch.float64))
        log_right = torch.log(torch.tensor([total[b] for b in rights], dtype=torch.float64))
        self.bias.copy_(log_left - log_right)

    @property
    def tree(self) -> Any:
        """The tree as nested pairs of class indices (accepted back by ``tree=``)."""
        return self._tree.nested()

    @property
    def structure(self) -> Tree:
        return self._tree

    def log_prob(self, hidden: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``log P(target | hidden)`` for each row, O(depth of the target) each.

        ``hidden`` (..., d), ``target`` (...) integer classes; returns (...).
        """
        self._check_hidden(hidden, "log_prob")
        check_targets(target, hidden.shape[:-1], self.num_classes, None, "HierarchicalSoftmax.log_prob")
        return self._log_prob(hidden.reshape(-1, self.in_features), target.reshape(-1)).reshape(target.shape)

    def _log_prob(self, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if h.is_meta:
            raise NotImplementedError(
                "HierarchicalSoftmax: the path lengths depend on the target values, which tensors on the meta "
                "device do not have (full_log_prob works on meta)"
            )
        n = h.shape[0]
        lengths = self.code_lengths[t]
        rows = torch.repeat_interleave(torch.arange(n, device=h.device), lengths)
        # step k of row i reads path_nodes[offsets[t_i] + k]
        starts = torch.cumsum(lengths, 0) - lengths
        steps = torch.arange(rows.numel(), device=h.device) - starts[rows]
        at = self.path_offsets[t][rows] + steps
        nodes = self.path_nodes[at]
        signs = self.path_signs[at].to(h.dtype)
        score = torch.linalg.vecdot(h[rows], self.weight[nodes])
        if self.bias is not None:
            score = score + self.bias[nodes]
        terms = log_sigmoid(signs * score)
        return torch.zeros(n, dtype=h.dtype, device=h.device).index_add(0, rows, terms)

    def full_log_prob(self, hidden: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of every class: (..., d) -> (..., V); O(V) per
        row, computed level by level down the tree."""
        self._check_hidden(hidden, "full_log_prob")
        h = hidden.reshape(-1, self.in_features)
        n = h.shape[0]
        if self.num_classes == 1:
            return torch.zeros(*hidden.shape[:-1], 1, dtype=h.dtype, device=h.device)
        score = torch.nn.functional.linear(h, self.weight, self.bias)
        # columns 2n and 2n+1: log sigma(+score_n) (left) and log sigma(-score_n) (right)
        branch = log_sigmoid(torch.stack([score, -score], dim=-1)).reshape(n, -1)
        node_lp = torch.zeros(n, 1, dtype=h.dtype, device=h.device)
        leaves = []
        dev = h.device
        for parent_pos, col, leaf_pos, inner_pos in self._levels:
            vals = node_lp[:, parent_pos.to(dev)] + branch[:, col.to(dev)]
            leaves.append(vals[:, leaf_pos.to(dev)])
            node_lp = vals[:, inner_pos.to(dev)]
        out = torch.cat(leaves, dim=1)[:, self._leaf_order]
        return out.reshape(*hidden.shape[:-1], self.num_classes)

    def forward(self, hidden: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood ``-log P(target | hidden)``, reduced by
        ``self.reduction``; rows with ``target == ignore_index`` count for
        nothing (``mean`` over the counted rows, NaN if none)."""
        owner = "HierarchicalSoftmax"
        self._check_hidden(hidden, "forward")
        keep = check_targets(target, hidden.shape[:-1], self.num_classes, self.ignore_index, owner)
        t = torch.where(keep, target, torch.zeros_like(target)).reshape(-1)
        nll = -self._log_prob(hidden.reshape(-1, self.in_features), t).reshape(target.shape)
        return reduce_rows(nll, keep, self.reduction)

    @torch.no_grad()
    def predict(self, hidden: torch.Tensor, k: int = 1, chunk_rows: int = 1024) -> torch.Tensor:
        """The ``k`` most probable classes of each row (exact, via
        :meth:`full_log_prob` in chunks of rows): shape (...,) for ``k == 1``
        (as ``AdaptiveLogSoftmaxWithLoss.predict``), else (..., k)."""
        self._check_hidden(hidden, "predict")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.num_classes:
            raise ValueError(f"HierarchicalSoftmax.predict(): k must be in [1, {self.num_classes}], got {k!r}")
        h = hidden.reshape(-1, self.in_features)
        top = [self.full_log_prob(h[i:i + chunk_rows]).topk(k, dim=1).indices for i in range(0, h.shape[0], chunk_rows)]
        out = torch.cat(top) if top else torch.zeros(0, k, dtype=torch.long, device=h.device)
        out = out.reshape(*hidden.shape[:-1], k)
        return out[..., 0] if k == 1 else out

    def _check_hidden(self, hidden: Any, method: str) -> None:
        if not isinstance(hidden, torch.Tensor) or not hidden.is_floating_point():
            raise ValueError(f"HierarchicalSoftmax.{method}(): hidden must be a floating-point tensor, got {hidden!r}")
        if hidden.dim() < 1 or hidden.shape[-1] != self.in_features:
            raise ValueError(
                f"HierarchicalSoftmax.{method}(): hidden must have shape (..., {self.in_features}), "
                f"got {tuple(hidden.shape)}"
            )

    def extra_repr(self) -> str:
        depth = self.code_lengths.double()
        return (f"in_features={self.in_features}, num_classes={self.num_classes}, "
                f"bias={self.bias is not None}, max_depth={int(depth.max())}")
