# nbgrader configuration of the lec4 course (this folder is the course directory).
# The grading pipeline (coursetools/pipeline.py) loads this file and adds its own
# settings: the feedback preprocessor that hides hidden tests and tracebacks, and
# the per-cell timeout.
c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "lec4"
c.CourseDirectory.db_assignments = [{"name": "hw1"}, {"name": "hw2"}, {"name": "hw3"}]
# Solutions and hidden tests use single-# delimiters so that otter reads them too.
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
# Test cells a student deleted are put back (edited ones are always overwritten).
c.OverwriteCells.add_missing_cells = True
# Every cell gets at most this many seconds when autograding; a cell that runs longer
# is interrupted (it fails) and the following cells still run.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True
# Huge outputs are cut before they reach the gradebook and the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50
# Every graded notebook runs in a bubblewrap sandbox of its own (coursetools/sandbox.py):
# no network, no course files, nothing left running afterwards, and these caps.
c.ExecuteSurvivingKernelDeath.sandbox = True
c.ExecuteSurvivingKernelDeath.memory = "2GiB"           # per process; for all where a memory cgroup can be made
c.ExecuteSurvivingKernelDeath.disk = "256MiB"           # the writable working directory (a tmpfs)
c.ExecuteSurvivingKernelDeath.max_processes = 128       # processes and threads at once
c.ExecuteSurvivingKernelDeath.notebook_timeout = 600    # wall-clock seconds for one notebook
