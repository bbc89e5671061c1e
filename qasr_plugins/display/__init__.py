"""Pictures and views for notebooks: result timelines, two runs compared, words over a spectrogram, graphs as HTML.

The plots need matplotlib (``pip install qasr-plugins[display]``), imported when a plot is drawn; each returns a
``matplotlib.figure.Figure`` (shown by Jupyter, or saved with ``figure.savefig``). Speaker colours match the
HTML tables of :mod:`qasr_plugins.rich`.

    from qasr_plugins.display import plot_timeline
    plot_timeline(document, start=0, end=15).savefig("timeline.png")
"""

from qasr_plugins.display.graph import pipeline_html
from qasr_plugins.display.plots import plot_alignment, plot_comparison, plot_timeline

__all__ = ["pipeline_html", "plot_alignment", "plot_comparison", "plot_timeline"]
