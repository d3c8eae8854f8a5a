"""Studies: a grid of presets x models x competitions x seeds, run concurrently and aggregated.

See ``docs/studies.md``. The submodules are imported when used, so that importing this package
stays cheap (the plots import matplotlib only when drawn).
"""
