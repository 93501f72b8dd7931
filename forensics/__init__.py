"""Forensic analyzers that need no training on a particular generator's fakes.

blink (eye aspect ratio, blink events, blink-norm score), edges (blending-boundary features, a
small JSON-stored model, heatmap), spectrum (radial power spectrum + logistic regression), and
selfblend (Self-Blended Images, the pseudo-fakes the models are trained on).
"""
