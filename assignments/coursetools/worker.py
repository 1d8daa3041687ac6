"""A grading worker: runs notebooks' kernels for a parent grader (``--jobs N``).

Started by :class:`coursetools.pipeline.Course` as ``python -m coursetools.worker SETTINGS``
(a plain subprocess, so nothing of the parent's ``__main__`` is imported again). It reads
one request per line on stdin and writes one reply line:

* ``{"nb": notebook text, "path": folder}``: runs the notebook in a sandbox exactly as the
  parent would (:func:`coursetools.execution.worker_execute`); replies ``{"nb": executed}``;
* ``{"feedback": student, "assignment": name}``: writes that student's feedback HTML (it
  reads the gradebook, never writes it); replies ``{"ok": true}``;

or ``{"error": traceback}``. It runs each kernel from its main thread, so a sandbox dies
with it.
"""

from __future__ import annotations

import json
import sys
import traceback


def main() -> int:
    from coursetools import execution

    execution.worker_init(json.loads(sys.argv[1]))
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies on the pipe
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if "feedback" in request:
                reply = {"ok": execution.worker_feedback(request["assignment"], request["feedback"])}
            else:
                reply = {"nb": execution.worker_execute(request["nb"], request["path"])}
        except Exception:  # noqa: BLE001 -- reported to the parent, which records the failure
            reply = {"error": traceback.format_exc()}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
