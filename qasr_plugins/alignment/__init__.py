"""Forced-alignment building blocks shared by aligner stages: text units, windows, timestamp QC and repair,
display-text reprojection, and the flow that ties them to a model backend. Importing this package stays light
(no torch)."""
