"""How accurate are the detectors really: labelled videos in, metrics.json and report.html out.

items (labelled videos from manifests or any CSV), scores (what a scorer says about a video),
scorers (scan-backed scorers), summary (metrics per scorer, method and perturbation), run (the
audit: scoring with a cache, plots, outputs), report (the audit's HTML page).
"""
