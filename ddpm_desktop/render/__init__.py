"""The renderer: exported frames composed from chains, shared by the app's export and the CLI.

numpy, core and Qt's QtGui (QPainter on a QImage over a numpy buffer, offscreen); never
QtWidgets, pyqtgraph, ui/ or commands/. frames: which frames an animation shows; compose: a
frame of chain panels (image, histogram, KL curve) and key-frame strips; export_job: an export
as a cancellable generator that writes the file once; toy2d: the 2-D animation's frames;
palette: the theme's colour roles and palettes; gui: the QGuiApplication and fonts painting needs.
"""
