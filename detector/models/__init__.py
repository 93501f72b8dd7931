"""Detector architectures, one file per family (timm's layout); each registers its factories with
detector.registry.register_detector, and the registry imports them on first use."""
