"""An nbgrader ``Execute`` preprocessor that survives a kernel death.

nbgrader stops autograding a notebook when its kernel dies (a student's ``os._exit``,
a segfault): the whole submission fails. Here the cell that killed the kernel gets an
error output (it fails), the kernel is restarted, the non-test code cells before it are
run again (to rebuild the student's definitions) and execution goes on, so the other
cells are still graded. After ``max_restarts`` deaths in one notebook, or a death while
replaying, the error propagates and the pipeline records the submission as failed.
"""

from __future__ import annotations

import copy

from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Integer


class ExecuteSurvivingKernelDeath(Execute):
    """``Execute`` (same configuration: timeout, ...) that restarts a dead kernel."""

    max_restarts = Integer(3, help="kernel restarts allowed per notebook").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            counts = self.__dict__.setdefault("_lec4_restarts", {})
            key = id(self.nb)
            if counts.get(key, 0) >= self.max_restarts:
                raise
            counts[key] = counts.get(key, 0) + 1
            self.log.warning("kernel died in cell %d; restarting it and replaying the cells before", index)
            cell.outputs.append(NotebookNode(
                output_type="error", ename="KernelDied",
                evalue="the kernel died while running this cell (it was restarted)",
                traceback=["KernelDied: the kernel died while running this cell (it was restarted)"]))
            run_sync(self.km.restart_kernel)(now=True)
            self.wait_for_reply(self.kc.kernel_info())
            for j, previous in enumerate(self.nb.cells[:index]):
                if previous.cell_type == "code" and not utils.is_grade(previous):
                    self.execute_cell(copy.deepcopy(previous), j, store_history=False)
            return cell, self.resources
