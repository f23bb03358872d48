"""One module per user-facing operation; each function takes a repo and returns a result, printing nothing.

The convention (dvc's ``dvc/repo/<op>.py`` is the model): ``hitrec/ops/<op>.py`` defines the operation as a
function named after it (``add``, ``show``, ``log``, ``lineage``, ``checkout``, ``cat``, ``fsck``,
``render``, ``remix``, ``verify``, ``credits``, ``push``, ``pull``, ``clone``, ``config``, ``remote``)
and a ``@dataclass`` result named ``<Op>Result`` with a ``to_json() -> dict`` method giving its ``--json``
form. CLI command modules parse options, call one operation, and render its result; they build no JSON and
run no git of their own. Progress comes in as a ``hitrec.progress.ProgressFn``.
"""
