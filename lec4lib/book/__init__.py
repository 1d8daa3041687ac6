"""Book plumbing: gluing values into pages, the figure style, the slide map."""
