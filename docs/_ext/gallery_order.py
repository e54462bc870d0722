"""Order of the examples in the gallery: the quick start first, then by title."""

from sphinx_gallery.sorting import ExampleTitleSortKey


class QuickstartFirst(ExampleTitleSortKey):
    """Sort key of sphinx-gallery: ``plot_quickstart.py`` before every other example."""

    def __call__(self, filename):
        return (filename != "plot_quickstart.py", super().__call__(filename))
