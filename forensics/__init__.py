"""Forensic analyzers that need no training on a particular generator's fakes.

blink (eye aspect ratio, blink events, blink-norm score), edges (blending-boundary features, a
small JSON-stored model, heatmap), pulse (remote pulse per skin region and its coherence) and
spectrum (radial power spectrum + logistic regression); train_* fit their JSON models on real faces
and pseudo-fakes (self-blends come from generator.selfblend).
"""
