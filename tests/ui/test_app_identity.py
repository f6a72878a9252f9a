"""The window is the menu entry's: the same WM class, desktop file name and icon."""
from PySide6.QtGui import QIcon

from ddpm_desktop import desktop_entry, resources_path
from ddpm_desktop.ui.app import set_identity


def test_the_app_carries_the_entry_names_and_the_svg_icon(qapp):
    # create_app calls this (the installed-wheel test runs create_app itself, in a fresh
    # process: its theme would leak into the other tests here)
    set_identity(qapp)
    app = qapp
    assert app.applicationName() == desktop_entry.WM_CLASS  # Qt's xcb: WM_CLASS's class
    assert app.desktopFileName() == desktop_entry.APP_ID    # Wayland: the app_id
    image = app.windowIcon().pixmap(48, 48).toImage()
    assert not image.isNull() and image.width() == 48
    # Drawn from the SVG (Qt's svg image plugin): opaque inside, transparent rounded corners.
    assert image.pixelColor(24, 24).alpha() == 255 and image.pixelColor(0, 0).alpha() == 0
    svg = QIcon(str(resources_path(desktop_entry.ICON_FILE)))
    assert svg.pixmap(48, 48).toImage() == image
