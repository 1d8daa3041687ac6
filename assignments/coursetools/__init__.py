"""Course tools for the lec4 homework: one authoring source per assignment, generated
nbgrader source notebooks and otter-grader masters, and the instructor's grading pipeline.

Independent of ``lec4lib`` on purpose: the homework must not rely on the library whose
answers it asks students to write.
"""
