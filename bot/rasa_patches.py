"""Changes made to Rasa's own code at start, each for a measured reason (checked on Rasa 3.6.21).

- `RemoteAction._validate_action_result`: Rasa validates every action server reply with
  `jsonschema.validate`, which checks the schema against its meta-schema and builds a new
  validator on every call. Under load that was 29-33% of the Rasa server's time
  (docs/performance.md, profile). The schema never changes, so it is checked and compiled once;
  a reply is validated against the same schema, and a bad reply raises the same ValidationError.
- The model's prediction graph runs in a cached topological order instead of through dask
  (bot/graph_runner.py): the same nodes, inputs and results, without dask's per-call bookkeeping.
"""

from __future__ import annotations

import functools
from typing import Any, Dict

DOCS_HINT = (
    ". Failed to validate Action server response from API, make sure your response from the "
    "Action endpoint is valid. For more information about the format visit "
    "https://rasa.com/docs/rasa/custom-actions"
)


@functools.lru_cache(maxsize=1)
def action_reply_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match

    error = best_match(action_reply_validator().iter_errors(result))
    if error is None:
        return True
    if isinstance(error, ValidationError):
        error.message += DOCS_HINT
    raise error


def install() -> None:
    import rasa.core.processor
    from rasa.core.actions.action import RemoteAction

    from bot.graph_runner import SequentialGraphRunner

    RemoteAction._validate_action_result = validate_action_result
    # MessageProcessor loads every model (start, model server pull, PUT /model) with this class.
    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner
