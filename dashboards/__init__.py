"""Streamlit dashboard: thin pages over fakescope's public APIs (scan, audit, report, generator)."""
