"""Bundled data and models (shipped inside the wheel as ddpm_desktop.resources)."""
