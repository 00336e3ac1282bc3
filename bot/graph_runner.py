"""Runs a trained model's prediction graph in plain topological order, without dask.

Rasa runs the graph three times per FAQ turn (one parse, two action predictions) through
`dask.get`, which on every call cuts the schema down to the targets, builds a dask graph, orders
it and schedules it on a synchronous executor. On a graph of a dozen nodes that bookkeeping was
about a tenth of the Rasa server's time under load (docs/performance.md, profile). The order
only depends on the targets, so it is worked out once per target list and reused.

Each node is called exactly as dask calls it: with the `(node name, output)` pairs of the nodes
it needs (a placeholder the caller did not provide is passed as its bare name, which the node
reports), and errors surface as Rasa's own graph errors.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

# One step of a plan: the node to call and the names of the nodes (or inputs) it needs, in order.
Step = Tuple[str, Tuple[str, ...]]


class SequentialGraphRunner(DaskGraphRunner):
    """`DaskGraphRunner` with the same nodes and results, run in a cached topological order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: Dict[Tuple[str, ...], List[Step]] = {}

    def run(
        self,
        inputs: Optional[Dict[str, Any]] = None,
        targets: Optional[List[str]] = None,
    ) -> Dict[str, Any]:
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        plan = self._plans.get(run_targets)
        if plan is None:
            plan = self._plans[run_targets] = self._plan(run_targets)
        results: Dict[str, Any] = {}
        for input_name, input_value in (inputs or {}).items():
            if isinstance(input_value, str) and input_value in self._graph_schema.nodes:
                raise GraphRunError(
                    f"Input value '{input_value}' clashes with a node name. Make sure that none "
                    f"of the input names passed to the `run` method are the same as node names "
                    f"in the graph schema."
                )
            results[input_name] = (input_name, input_value)
        try:
            for node_name, needs in plan:
                node = self._instantiated_nodes[node_name]
                results[node_name] = node(*(results.get(need, need) for need in needs))
        except RuntimeError as error:  # what DaskGraphRunner.run turns into a GraphRunError
            raise GraphRunError("Error running runner.") from error
        return dict(results[target] for target in run_targets)

    def _plan(self, targets: Tuple[str, ...]) -> List[Step]:
        """The nodes the targets depend on, each after everything it needs (depth first)."""
        nodes = self._graph_schema.nodes
        plan: List[Step] = []
        placed: set = set()
        visiting: set = set()

        def place(name: str) -> None:
            if name in placed or name not in nodes:  # not a node: an input placeholder
                return
            if name in visiting:
                raise GraphRunError(f"The graph has a cycle through node '{name}'.")
            visiting.add(name)
            needs = tuple(nodes[name].needs.values())
            for need in needs:
                place(need)
            visiting.discard(name)
            placed.add(name)
            plan.append((name, needs))

        for target in targets:
            place(target)
        return plan
