"""The simulation engine: clock, random streams, column-backed Mesa agents, event logs.

It imports from `populations` and never from `scenarios`; scenarios reach it through the
`synthworld.scenarios` entry-point group.
"""
