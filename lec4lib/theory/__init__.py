"""Closed forms and measuring helpers: rates, noise floors, gradient noise, learning-rate scaling."""
